"""Ledger benchmark: postings per second through the services, and the time of ``verify``,
the public ledger page (page 1 of ``list_entries``) and ``balance_of`` at 100 and 100,000
entries, on SQLite and (with THRIVING_TEST_DATABASE_URL or --pg URL) on PostgreSQL.

The 100,000-entry history is bulk-inserted directly (not through the services, which would
take minutes): valid rows, postings first then headers so the database triggers still check
every entry, hashes chained exactly as the services chain them. Twelve months are then closed
through ``close_month`` so sealed opening balances exist, as in production.

    .venv/bin/python -m bench.ledger [--pg postgresql://…/db]
"""

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

from sqlalchemy import insert, make_url, text, update

from community.db import make_engine, make_null_pool_engine, open_session, utcnow
from community.migrate import upgrade
from community.models import Person, Place, Team
from ledger import services
from ledger.models import ChainHead, JournalEntry, Posting

TODAY = dt.date(2026, 11, 23)
FIRST = dt.date(2025, 11, 1)


def _fresh(kind: str, pg_url: str | None):
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp()) / "bench.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        return engine, lambda: engine.dispose()
    name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    admin = make_null_pool_engine(pg_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)

    def drop():
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return engine, drop


def _setup(session):
    place = Place(slug="p", name="P", district="D")
    session.add(place)
    session.flush()
    team = Team(slug="t", name="Bench team", place_id=place.id, cost_centre="CC1")
    finance = Person(email="f@example.org", name="Finance", is_finance=True)
    session.add_all([team, finance])
    session.commit()
    return team, finance


def postings_per_second(engine, n=300) -> float:
    session = open_session(engine, write=True)
    team, finance = _setup(session)
    start = time.perf_counter()
    for i in range(n):
        services.allocate(gl_code="R1000",
            session=session,
            team=team,
            amount_pence=100,
            actor_id=finance.id,
            effective_date=TODAY,
            idempotency_key=f"pps-{i}",
        )
        session.commit()
    elapsed = time.perf_counter() - start
    session.close()
    return 2 * n / elapsed


def bulk_history(session, team, finance, entries: int) -> None:
    """Insert ``entries`` valid chained entries: all but 50 over 12 closed months, 50 in this one."""
    council = services.council_fund_id(session=session)
    budget = services.budget_account_id(session=session, team=team)
    spend = services.spend_account_id(session=session, team_id=team.id, category="supplies")
    session.commit()
    # A production-like shape: the history is in closed months, the open month holds a
    # fixed number of entries whatever the history length.
    open_entries = min(50, entries // 2)
    span = (TODAY.replace(day=1) - FIRST).days
    prev = services.GENESIS_HASH
    batch_p, batch_e = [], []
    now = utcnow()
    for i in range(1, entries + 1):
        if i > entries - open_entries:
            day = TODAY.replace(day=1) + dt.timedelta(days=(i % 20))
        else:
            day = FIRST + dt.timedelta(days=(i - 1) * span // (entries - open_entries))
        if i % 2:
            kind, legs = "allocation", [(council, -1_000), (budget, 1_000)]
        else:
            kind, legs = "spend", [(budget, -700), (spend, 700)]
        header = dict(
            id=i,
            effective_date=day,
            kind=kind,
            reason=None,
            actor_id=finance.id,
            reverses_entry_id=None,
            idempotency_key=f"bulk-{i}",
            request_hash="0" * 64,
            team_id=team.id,
            description=f"Bulk {kind} {i}",
            payee=None,
            payee_is_individual=False,
            cost_centre="CC1",
            gl_code=None,
            category=None,
            method=None,
            receipt_ref=None,
            proposer_id=None,
            approver_id=None,
            created_at=now,
        )
        header["prev_hash"] = prev
        header["hash"] = prev = services.entry_hash(prev, header, legs)
        batch_p += [dict(entry_id=i, account_id=a, amount_pence=p, effective_date=day) for a, p in legs]
        batch_e.append(header)
        if len(batch_e) == 5_000 or i == entries:
            session.execute(insert(Posting), batch_p)
            session.execute(insert(JournalEntry), batch_e)
            batch_p, batch_e = [], []
    session.execute(update(ChainHead).where(ChainHead.id == 1).values(entry_id=entries, hash=prev))
    session.commit()
    month = FIRST
    while month < TODAY.replace(day=1):
        services.close_month(session=session, month=month, actor_id=finance.id, today=TODAY)
        month = services.next_month(month)
    session.commit()


def _best(fn, repeat=5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(kind: str, pg_url: str | None) -> None:
    engine, drop = _fresh(kind, pg_url)
    try:
        print(
            f"[{kind}] postings/s through services (allocate, commit each): "
            f"{postings_per_second(engine):,.0f}"
        )
    finally:
        drop()
    figures = {}
    for entries in (100, 100_000):
        engine, drop = _fresh(kind, pg_url)
        try:
            session = open_session(engine, write=True)
            team, finance = _setup(session)
            start = time.perf_counter()
            bulk_history(session, team, finance, entries)
            setup = time.perf_counter() - start
            verify = _best(partial(services.verify, session=session), repeat=1 if entries > 1000 else 5)
            page = _best(partial(services.list_entries, session=session, team=team, page=1, per_page=50))
            balance = _best(partial(services.balance_of, session=session, team=team))
            assert services.verify(session=session).ok
            figures[entries] = (page, balance)
            print(
                f"[{kind}] {entries:>7,} entries: setup {setup:6.2f}s  verify {verify * 1000:9.1f} ms  "
                f"page 1 {page * 1000:6.2f} ms  balance_of {balance * 1000:6.2f} ms"
            )
            session.close()
        finally:
            drop()
    (p1, b1), (p2, b2) = figures[100], figures[100_000]
    print(f"[{kind}] ratio 100k/100: page 1 {p2 / p1:.2f}x  balance_of {b2 / b1:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default=os.environ.get("THRIVING_TEST_DATABASE_URL"))
    args = parser.parse_args()
    run("sqlite", None)
    if args.pg:
        run("postgresql", args.pg)


if __name__ == "__main__":
    main()
