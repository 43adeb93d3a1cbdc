"""The same app with its race guards switched off: only to show that the race tests have teeth.

gunicorn runs ``tests.prove.unsafe_app:create_app()`` instead of ``wsgi:create_app()`` for the
xfail(strict) variants of the races. This module lives in tests/ and is never imported by the
app, so production cannot switch a guard off; it also refuses anything but testing mode.

The ledger: ``THRIVING_PROVE_PAUSE`` (seconds) is the pause between reading the available
balance and writing (``ledger.journal._BETWEEN_READ_AND_WRITE``), so the bad interleaving is
forced rather than hoped for. On SQLite the write transactions become plain deferred ``BEGIN``
(no ``BEGIN IMMEDIATE``); on PostgreSQL the ``FOR UPDATE`` on the budget account is skipped.

Ballots (``THRIVING_PROVE_UNSAFE_BALLOTS=1``): ``votes.services._write_ballot`` is replaced by
what a naive implementation does instead of the one upsert: read the voter's ballot, pause (the
same ``THRIVING_PROVE_PAUSE``), then update the row it found or insert a new one. The test drops
the unique (round_id, voter_key) from its database first (:func:`drop_one_ballot_per_voter`),
as a schema without that rule would be. On PostgreSQL (READ COMMITTED) the read and the write
sit in the request's one transaction. On SQLite that alone cannot lose the race: in WAL mode a
deferred transaction whose snapshot is older than another writer's commit is refused the write
lock (SQLITE_BUSY_SNAPSHOT, "database is locked", a 500), so no duplicate is ever written. The
naive version therefore reads outside the write transaction, as Python's stock ``sqlite3``
transaction handling does (a SELECT opens no transaction; BEGIN comes just before the first
INSERT or UPDATE): the request's read transaction is committed after the pause and a new
deferred one begun for the write.
"""

import os
import re
import time

from sqlalchemy import insert, select, text, update

import community.db
import wsgi
from ledger import journal

BALLOT_RULE = "uq_vote_ballot_round_voter"  # migrations/versions/0004_votes.py, both databases


def create_app():
    app = wsgi.create_app()
    if app.config["ENV_NAME"] != "testing":
        raise wsgi.ConfigurationError("The unlocked ledger exists only in testing mode.")
    pause = float(os.environ.get("THRIVING_PROVE_PAUSE", "0.3"))
    journal._LOCKING = False
    journal._BETWEEN_READ_AND_WRITE = lambda: time.sleep(pause)
    try:  # quick spend's own seams: no FOR UPDATE on the request row, and the same pause
        from spend import services as spend
    except ImportError:  # a branch without quick spend
        spend = None
    if spend is not None:
        spend._LOCKING = False
        spend._BETWEEN_READ_AND_WRITE = lambda: time.sleep(pause)
    if os.environ.get("THRIVING_PROVE_UNSAFE_BALLOTS") == "1":
        from votes import services as votes

        votes._BETWEEN_READ_AND_WRITE = lambda: time.sleep(pause)
        votes._write_ballot = _read_then_write_ballot
    plain = community.db.open_session
    community.db.open_session = lambda engine, *, write: plain(engine, write=False)
    community.db.write_transaction = lambda engine: engine.begin()  # a deferred BEGIN on SQLite
    # Views that open a write session (or transaction) of their own imported the name: point them at the same.
    import votes.views

    votes.views.open_session = community.db.open_session
    votes.views.write_transaction = community.db.write_transaction
    return app


def _read_then_write_ballot(connection, params: dict) -> tuple[int, str]:
    """The naive ballot write: look for the voter's ballot, pause, then update it or insert."""
    from votes import services as votes
    from votes.models import Ballot

    table = Ballot.__table__
    found = connection.execute(select(table.c.id, table.c.reference).where(
        table.c.round_id == params["round_id"], table.c.voter_key == params["voter_key"])).first()
    votes._BETWEEN_READ_AND_WRITE()
    if connection.dialect.name == "sqlite":  # the read was outside the write transaction
        connection.exec_driver_sql("COMMIT")
        connection.exec_driver_sql("BEGIN")
    if found is not None:
        connection.execute(update(table).where(table.c.id == found.id)
                           .values(choices=params["choices"], cast_at=params["cast_at"]))
        return found.id, found.reference
    row = connection.execute(insert(table).values(
        round_id=params["round_id"], voter_key=params["voter_key"], choices=params["choices"],
        cast_at=params["cast_at"], reference=votes._new_reference(), source="online",
    ).returning(table.c.id, table.c.reference)).one()
    return row[0], row[1]


def drop_one_ballot_per_voter(database_url: str) -> None:
    """Drop the unique (round_id, voter_key) on vote_ballot, before the server starts.

    PostgreSQL: ``ALTER TABLE … DROP CONSTRAINT``. SQLite cannot drop a table constraint, so
    the table is remade without it (the documented recipe: create the new table, copy, drop,
    rename, then its indexes and triggers again), everything else in its definition unchanged.
    No table refers to vote_ballot, and this engine has no connect hook (foreign keys off).
    """
    engine = community.db.make_null_pool_engine(database_url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"ALTER TABLE vote_ballot DROP CONSTRAINT {BALLOT_RULE}"))
                left = conn.execute(text("SELECT count(*) FROM pg_constraint WHERE conname = :n"),
                                    {"n": BALLOT_RULE}).scalar_one()
            else:
                table_sql = conn.execute(text(
                    "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'vote_ballot'")).scalar_one()
                others = conn.execute(text(
                    "SELECT sql FROM sqlite_master WHERE tbl_name = 'vote_ballot' "
                    "AND type IN ('index', 'trigger') AND sql IS NOT NULL")).scalars().all()
                without, dropped = re.subn(rf",\s*CONSTRAINT {BALLOT_RULE} UNIQUE \(round_id, voter_key\)",
                                           "", table_sql)
                assert dropped == 1, table_sql
                conn.exec_driver_sql(without.replace("CREATE TABLE vote_ballot", "CREATE TABLE vote_ballot_new", 1))
                conn.exec_driver_sql("INSERT INTO vote_ballot_new SELECT * FROM vote_ballot")
                conn.exec_driver_sql("DROP TABLE vote_ballot")
                conn.exec_driver_sql("ALTER TABLE vote_ballot_new RENAME TO vote_ballot")
                for sql in others:
                    conn.exec_driver_sql(sql)
                left = conn.execute(text("SELECT count(*) FROM sqlite_master WHERE tbl_name = 'vote_ballot' "
                                         "AND sql LIKE :n"), {"n": f"%{BALLOT_RULE}%"}).scalar_one()
            assert left == 0, f"{BALLOT_RULE} is still there"
    finally:
        engine.dispose()
