"""The double-entry, append-only, tamper-evident ledger of every team's money."""
