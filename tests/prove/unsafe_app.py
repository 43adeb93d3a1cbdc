"""The same app with the ledger's lock switched off: only to show that the race test has teeth.

gunicorn runs ``tests.prove.unsafe_app:create_app()`` instead of ``wsgi:create_app()`` for the
xfail(strict) variant of the race. This module lives in tests/ and is never imported by the
app, so production cannot switch the lock off; it also refuses anything but testing mode.

``THRIVING_PROVE_PAUSE`` (seconds) is the pause between reading the available balance and
writing (``ledger.services._BETWEEN_READ_AND_WRITE``), so the bad interleaving is forced rather
than hoped for. On SQLite the write transactions become plain deferred ``BEGIN`` (no
``BEGIN IMMEDIATE``); on PostgreSQL the ``FOR UPDATE`` on the budget account is skipped.
"""

import os
import time

import community.db
import wsgi
from ledger import services


def create_app():
    app = wsgi.create_app()
    if app.config["ENV_NAME"] != "testing":
        raise wsgi.ConfigurationError("The unlocked ledger exists only in testing mode.")
    pause = float(os.environ.get("THRIVING_PROVE_PAUSE", "0.3"))
    services._LOCKING = False
    services._BETWEEN_READ_AND_WRITE = lambda: time.sleep(pause)
    try:  # quick spend's own seams: no FOR UPDATE on the request row, and the same pause
        from ledger import spend
    except ImportError:  # a branch without quick spend
        spend = None
    if spend is not None:
        spend._LOCKING = False
        spend._BETWEEN_READ_AND_WRITE = lambda: time.sleep(pause)
    plain = community.db.open_session
    community.db.open_session = lambda engine, *, write: plain(engine, write=False)
    return app
