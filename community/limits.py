"""Rate limits on sign-in and password reset, shared across workers when ``RATELIMIT_STORAGE_URI`` is Redis."""

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def account_key() -> str:
    """Rate-limit key for the account being signed in to (the submitted email)."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


# Documented thresholds (security.md A3): per address and per account, soft (429, then recovers).
SIGN_IN_PER_ADDRESS = "20 per 5 minutes"
SIGN_IN_PER_ACCOUNT = "5 per 5 minutes"
CODE_PER_ADDRESS = "10 per 5 minutes"
# Asking for a password-reset link: per address, and per email typed (whether or not it has an
# account, so a 429 says nothing about who has one). The service also sends at most three links
# per person in 30 minutes, counted in the database (community/services.py).
RESET_PER_ADDRESS = "10 per 15 minutes"
RESET_PER_ACCOUNT = "3 per 15 minutes"
# Sign-up: per address (each sign-up hashes a password and sends an email).
SIGN_UP_PER_ADDRESS = "10 per hour"
CONFIRM_RESEND_PER_ADDRESS = "5 per 15 minutes"
# Voting codes typed at "Vote with a code": per address (a code is 10 characters of 31, ~49 bits).
VOTING_CODE_PER_ADDRESS = "10 per 15 minutes"
