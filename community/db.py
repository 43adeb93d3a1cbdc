"""The database engine (one per app) and the database session (one per request, on ``g``).

SQLite is the embedded default. It gets WAL, a busy timeout and foreign keys, and every
transaction opened for a write (any non-GET request, any CLI command, any service test) starts
with ``BEGIN IMMEDIATE`` so that read-then-write checks cannot interleave (security.md §5.4);
a view marked :func:`writes_in_short_transactions` reads in its request session and writes in
a short transaction of its own.
PostgreSQL is production: services that read then write lock rows with ``SELECT … FOR UPDATE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Session, create_engine

_ENGINE_KEY = "thriving.engine"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


LONDON = ZoneInfo("Europe/London")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def london_today() -> dt.date:
    """Today's date in Europe/London: the council's day, whatever the server's zone. Between
    midnight and 01:00 in summer the UTC date is still yesterday."""
    return dt.datetime.now(LONDON).date()


def london_midnight(day: dt.date) -> dt.datetime:
    """The UTC instant at which ``day`` begins in Europe/London (a month's boundary for times
    stored in UTC)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=LONDON).astimezone(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str) -> Engine:
    """Create an engine with the settings this project relies on."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A request may hold two connections (its own and a short write transaction's), so the
        # pool keeps enough for every thread of a worker: an overflow connection is opened and
        # closed per use (file open, WAL set-up, pragmas).
        database = parsed.database
        in_memory = not database or database == ":memory:" or "mode=memory" in url
        pool = {} if in_memory else {"pool_size": 10, "max_overflow": 20}  # memory: one shared connection
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def make_null_pool_engine(url: str) -> Engine:
    """An engine that keeps no connections open (for scripts that drop databases)."""
    return create_engine(normalise_url(url), poolclass=NullPool)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the pysqlite recipe), so that
        # we can choose IMMEDIATE for writes.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("sqlite_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_sqlite(session: Session) -> bool:
    """True when the session talks to SQLite."""
    return session.get_bind().dialect.name == "sqlite"


def init_app(app: Flask) -> None:
    """Create the app's engine and close the request's session at teardown."""
    app.extensions[_ENGINE_KEY] = make_engine(app.config["DATABASE_URL"])
    app.teardown_appcontext(close_session)


def get_engine(app: Flask | None = None) -> Engine:
    """The app's engine."""
    return (app or current_app).extensions[_ENGINE_KEY]


def _writing(engine: Engine) -> Engine:
    """The engine whose transactions take SQLite's write lock at BEGIN: made once per engine."""
    writing = engine.__dict__.get("_thriving_writing")
    if writing is None:
        writing = engine.__dict__["_thriving_writing"] = engine.execution_options(sqlite_write=True)
    return writing


def open_session(engine: Engine, *, write: bool) -> Session:
    """A new session; ``write=True`` makes SQLite take the write lock at BEGIN
    (``session.info["write"]`` says which kind it is)."""
    return Session(_writing(engine) if write else engine, expire_on_commit=False, info={"write": write})


def write_transaction(engine: Engine) -> AbstractContextManager[Connection]:
    """A short write transaction on a plain connection, no ORM session (a third of the cost):
    ``with write_transaction(engine) as connection:`` begins (SQLite: ``BEGIN IMMEDIATE``),
    commits at the end of the block, rolls back if it raises. For the few statements of a
    :func:`writes_in_short_transactions` view (a ballot and its receipt)."""
    return _writing(engine).begin()


def writes_in_short_transactions(view: Callable) -> Callable:
    """Mark a POST view whose request session only reads; the view writes in a transaction of
    its own (``open_session(engine, write=True)``), so SQLite's single write lock is held for
    the write alone, not for the whole request (loading the signed-in person, checking the
    form, building the response). Only for a write that does not depend on what the request
    read, or whose conditions the database re-checks (a constraint or trigger). Used by ballot
    casting, the one form a whole place may submit in the same hour."""
    view.short_writes = True
    return view


def _request_writes() -> bool:
    if request.method in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, "short_writes", False)


def get_session() -> Session:
    """The session of this request or command, created on first use."""
    if "db_session" not in g:
        write = not has_request_context() or _request_writes()
        g.db_session = open_session(get_engine(), write=write)
    return g.db_session


def read_columns(session: Session, statement, params: dict | None = None):
    """Run a select of columns (no entities) through Core on the session's connection: the
    ORM's execution path costs 40–100 µs a statement on top and gives such a read nothing. The
    session's pending changes are flushed first when it autoflushes, as ``session.execute``
    would do, so the read sees them; it is the session's transaction either way."""
    if session.autoflush:
        session.flush()  # nothing to do, and cheap, when nothing is pending
    return session.connection().execute(statement, params or {})


def close_session(_exc: BaseException | None = None) -> None:
    """Close the session; anything not committed is rolled back."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def check_in(column: str, values: Iterable[str]) -> str:
    """A CHECK's text that ``column`` holds one of ``values`` (an enum class or strings), built from
    them so the rule and the enum cannot drift (tests/community/test_migrations.py compares every
    CHECK with its migration)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"
