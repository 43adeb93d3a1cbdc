"""Quick spend's council-wide defaults, each written once. ``wsgi.configure`` declares the
configuration keys with these values (``SPEND_*``); the services use them when a caller passes
nothing. Kept free of imports so reading the configuration stays cheap."""

MEMBER_LIMIT_PENCE = 25_000  # SPEND_MEMBER_LIMIT_DEFAULT_PENCE (the same as Team's column default)
ENABLER_LIMIT_PENCE = 100_000  # SPEND_ENABLER_LIMIT_DEFAULT_PENCE
FRESH_ABOVE_PENCE = 25_000  # SPEND_FRESH_ABOVE_PENCE: approving more needs a recent sign-in
FRESH_MINUTES = 15  # SPEND_FRESH_MINUTES
EXPIRE_PENDING_DAYS = 14  # SPEND_EXPIRE_PENDING_DAYS: undecided requests lapse
FLAG_UNPAID_DAYS = 30  # SPEND_FLAG_UNPAID_DAYS: approved but unpaid requests are flagged
