"""Work claiming for the cron jobs, so the same cron can run on every app server at once.

Production runs several gunicorn hosts on one PostgreSQL and the same crontab on each of them
(README, "Operating"). Every job claims its work here, so that two runners never do the same
thing twice (one email, one closed round, one rendered statement):

- :func:`claimed` — rows: each candidate row in a write transaction of its own, taken with
  ``SELECT … FOR UPDATE SKIP LOCKED`` (PostgreSQL: another runner's row is skipped, not waited
  for) and re-selected *inside* that transaction, so a row another runner has finished no longer
  matches. On SQLite the write transaction is ``BEGIN IMMEDIATE``: runners take turns, and the
  re-select after the lock sees what the previous one committed. The caller commits per item.
- :func:`exclusive` — a unit of work that has no row to lock yet (a month's statements, stored
  only once rendered): ``pg_try_advisory_xact_lock`` on PostgreSQL, an ``flock`` on a file next
  to the database on SQLite (one host: a lock file is enough, and no database write lock is held
  for the seconds the work takes). The holder re-checks the state after taking it; a runner that
  does not get it skips the work, which the holder is doing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from community.db import open_session

# Test seam (tests/prove/test_jobs.py): False reads the candidates once, before any lock, and
# hands them out without claiming — the naive cron job the negative tests show to be unsafe.
_CLAIMING = True
_AFTER_CANDIDATES: Callable[[], None] | None = None  # called after the naive read (a race test's pause)

_memory_locks: dict[str, threading.Lock] = {}
_memory_locks_guard = threading.Lock()


def claimed(engine: Engine, candidates: Select, *, limit: int | None = None) -> Iterator[tuple[Session, object]]:
    """Yield ``(session, id)`` for each row this runner claims, oldest first.

    ``candidates`` selects the ids of the rows still to do (its first column is the id), ordered;
    it is run again for every item, in that item's write transaction, so it must describe what
    is *left* to do (a round still open, a message not sent). The caller does the work in
    ``session`` and commits; anything it leaves uncommitted is rolled back when the next item is
    asked for. An id is handed out at most once per run, even if the work leaves it a candidate."""
    key = candidates.selected_columns[0]
    if not _CLAIMING:
        with open_session(engine, write=False) as session:
            ids = list(session.execute(candidates.limit(limit)).scalars())
        if _AFTER_CANDIDATES is not None:
            _AFTER_CANDIDATES()
        for item in ids:
            with open_session(engine, write=True) as session:
                yield session, item
        return
    seen: list[object] = []
    while limit is None or len(seen) < limit:
        query = candidates.where(key.not_in(seen)) if seen else candidates
        with open_session(engine, write=True) as session:
            item = session.execute(query.limit(1).with_for_update(skip_locked=True)).scalar()
            if item is None:
                return
            seen.append(item)
            yield session, item


def _lock_id(key: str) -> int:
    """A stable signed 64-bit advisory lock id for ``key``."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


@contextlib.contextmanager
def exclusive(engine: Engine, key: str) -> Iterator[bool]:
    """Hold the lock named ``key`` for the block if nobody else holds it: yields True if this
    runner holds it, False if another does (skip the work). Never waits."""
    if not _CLAIMING:
        yield True
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, conn.begin():
            yield bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _lock_id(key)}).scalar())
        return
    database = engine.url.database
    if not database or database == ":memory:" or "mode=memory" in str(engine.url):
        with _memory_locks_guard:
            lock = _memory_locks.setdefault(f"{id(engine)}:{key}", threading.Lock())
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    # Next to the database, not in /tmp: a service with a private /tmp must see the same file.
    path = Path(f"{database}.job-{hashlib.blake2b(key.encode(), digest_size=6).hexdigest()}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the flock
