"""Monthly statements and the county pack: figures, rendering, the frozen store, freezing,
the finance and team pages, and the CLI. Sits above pledges (the pledges memorandum)."""
