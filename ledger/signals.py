"""What the ledger tells the layers above it, as blinker signals (Flask's own mechanism): they
connect their receivers in ``create_app``; the ledger never imports them."""

from blinker import Namespace

_signals = Namespace()

month_closed = _signals.signal("month-closed")
"""Sent by the close-month request once the close is committed. Sender: the app. Keyword
arguments: ``month`` (the first day of the month closed) and ``response`` (the redirect about to
be sent). Statements freeze the closed months' files (statements/freeze.py)."""
