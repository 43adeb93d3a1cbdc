"""Rate limits on sign-in and password reset, and the storage their counters live in, shared by every worker.

``RATELIMIT_STORAGE_URI`` says where the counters live. Left at ``auto`` (the default in every
environment) it is chosen once at start-up (:func:`choose_storage`): the Redis on the local
address (``RATELIMIT_LOCAL_REDIS``) when one answers, otherwise a SQLite file in ``instance/``
(:class:`SQLiteStorage`) that every worker on the machine shares. Flask-Limiter's ``memory://``
is per process, so under gunicorn's N workers it allows N times the limit: it is only used
when asked for by name (the unit tests do). Several machines behind one address need a Redis
they all reach, named in ``THRIVING_RATELIMIT_STORAGE_URI``.
"""

import socket
import sqlite3
import time
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import Storage

limiter = Limiter(key_func=get_remote_address, default_limits=[])

AUTO = "auto"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
SQLITE_FILE = "ratelimits.sqlite3"


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


# --------------------------------------------------------------------------- choosing the storage


def redis_answers(uri: str, timeout: float = 0.5) -> bool:  # ok: not money (seconds)
    """Whether a Redis answers PING at ``uri``'s host and port (no client library needed)."""
    parts = urlsplit(uri)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def choose_storage(configured: str | None, *, instance_path: str, local_redis: str = LOCAL_REDIS) -> str:
    """The storage URI to use: ``configured`` as it is unless it is empty or ``auto``; then the
    local Redis when it answers, otherwise the SQLite file in ``instance_path``."""
    if configured and configured != AUTO:
        return configured
    if redis_answers(local_redis):
        return local_redis
    return "sqlite:///" + str(Path(instance_path).resolve() / SQLITE_FILE)


def describe_storage(uri: str, *, enabled: bool = True) -> str:
    """The start-up log line: which storage the counters use and whether workers share it."""
    if not enabled:
        return "Rate limits: off (RATELIMIT_ENABLED is false)."
    scheme = urlsplit(uri).scheme
    if scheme.startswith("redis"):
        parts = urlsplit(uri)
        return f"Rate limits: Redis at {parts.hostname}:{parts.port or 6379}, shared by every worker."
    if scheme == "sqlite":
        return f"Rate limits: SQLite file {SQLiteStorage.path_of(uri)}, shared by the workers on this machine."
    if scheme == "memory":
        return ("Rate limits: memory of each worker process — NOT shared: with N workers each limit "
                "allows N times as much (set THRIVING_RATELIMIT_STORAGE_URI=auto or redis://…).")
    return f"Rate limits: {scheme} storage."


# --------------------------------------------------------------------------- the SQLite storage


class SQLiteStorage(Storage):
    """Fixed-window counters in one SQLite file (``sqlite:////absolute/path``), for the limiter.

    Each hit is one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` in a ``BEGIN IMMEDIATE``
    transaction, so the processes and threads that share the file count every hit once. A
    connection per call keeps it safe across gunicorn's fork and its threads; sign-in posts are
    the only callers, so the cost (well under a millisecond) does not matter. Only the
    fixed-window strategy (Flask-Limiter's default) is supported.
    """

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = self.path_of(uri or "")
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS hit (key TEXT PRIMARY KEY, count INTEGER NOT NULL,"
                         " expires_at REAL NOT NULL)")

    @staticmethod
    def path_of(uri: str) -> str:
        if not uri.startswith("sqlite:///") or uri == "sqlite:///":
            raise ValueError("the rate-limit SQLite storage needs sqlite:///PATH")
        return uri.removeprefix("sqlite:///")

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    @contextmanager
    def _write(self):
        with closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:  # ok: not money (seconds)
        now = time.time()
        with self._write() as conn:
            conn.execute("DELETE FROM hit WHERE expires_at <= ?", (now,))
            (count,) = conn.execute(
                "INSERT INTO hit (key, count, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET count = count + excluded.count RETURNING count",
                (key, amount, now + expiry),
            ).fetchone()
        return count

    def get(self, key: str) -> int:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT count FROM hit WHERE key = ? AND expires_at > ?", (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT expires_at FROM hit WHERE key = ? AND expires_at > ?", (key, now)).fetchone()
        return row[0] if row else now

    def check(self) -> bool:
        try:
            with closing(self._connect()) as conn:
                conn.execute("SELECT 1 FROM hit LIMIT 1").fetchall()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self._write() as conn:
            return conn.execute("DELETE FROM hit").rowcount

    def clear(self, key: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM hit WHERE key = ?", (key,))
