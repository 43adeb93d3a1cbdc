"""Crash safety (security.md §4.3, L1): finance posts allocations continuously through gunicorn;
the master and all workers are SIGKILLed mid-stream several times and restarted. Every entry
whose request got a success response is there exactly once, nothing is half-written, retries
of the unanswered requests with the same idempotency key land at most once, ``ledger verify``
is green and (SQLite) ``PRAGMA integrity_check`` is ok."""

import sqlite3
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import func, select

from community.db import make_engine, open_session
from tests.date_parts import date_parts
from tests.prove.conftest import serve
from tests.prove.harness import verify
from tests.support.clock import today

KILLS = 3
CLIENTS = 4
RUN_BETWEEN_KILLS = 1.5  # seconds of traffic before each kill


def _allocation(served, key: str) -> dict:
    return {"team_id": served.world.team_a_id, "amount": "1.00", **date_parts("effective_date", today()),
            "cost_centre": "", "gl_code": "R1000", "description": f"crash stream {key[:8]}", "idempotency_key": key}


def _entries(database_url: str) -> dict[str, int]:
    """idempotency key → number of postings of that entry."""
    from ledger.models import JournalEntry, Posting

    engine = make_engine(database_url)
    try:
        with open_session(engine, write=False) as s:
            rows = s.execute(
                select(JournalEntry.idempotency_key, func.count(Posting.id), func.sum(Posting.amount_pence))
                .join(Posting, Posting.entry_id == JournalEntry.id, isouter=True)
                .group_by(JournalEntry.id, JournalEntry.idempotency_key)
            ).all()
            orphans = s.execute(
                select(func.count(Posting.id)).where(Posting.entry_id.not_in(select(JournalEntry.id)))
            ).scalar_one()
    finally:
        engine.dispose()
    assert orphans == 0, f"{orphans} postings without their entry (half-written)"
    for key, n, total in rows:
        assert n >= 2 and total == 0, f"entry {key}: {n} postings summing to {total}"
    return {key: n for key, n, _ in rows}


@pytest.mark.prove_heavy
def test_sigkill_mid_stream_loses_nothing_acknowledged(make_db, tmp_path_factory, backend):
    served = serve(make_db, tmp_path_factory)
    acknowledged: list[str] = []
    unanswered: list[str] = []
    refused: list[tuple[str, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client():
        browser = served.browser("finance")
        while not stop.is_set():
            key = uuid.uuid4().hex
            try:
                if browser.token is None:
                    browser.csrf("/finance/allocate")
                r = browser.post("/finance/allocate", _allocation(served, key), timeout=10)
            except requests.ConnectionError as error:
                if "refused" not in str(error).lower():  # refused: never sent, nothing to check
                    with lock:
                        unanswered.append(key)
                browser.token = None
                time.sleep(0.2)  # the server is restarting
                continue
            except requests.RequestException:  # sent, no answer (e.g. timed out): check it later
                with lock:
                    unanswered.append(key)
                browser.token = None
                continue
            with lock:
                (acknowledged.append(key) if r.status_code == 302 else refused.append((key, r.status_code)))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        for _ in range(KILLS):
            time.sleep(RUN_BETWEEN_KILLS)
            served.server.kill()  # SIGKILL to the whole process group, mid-request
            time.sleep(0.3)
            served.server.start()
        time.sleep(RUN_BETWEEN_KILLS)
        stop.set()
        for t in threads:
            t.join(timeout=30)

        assert len(acknowledged) > 20, "the stream was too short to mean anything"
        assert all(status < 500 for _, status in refused), refused[:5]
        entries = _entries(served.database_url)
        missing = [k for k in acknowledged if k not in entries]
        assert missing == [], f"{len(missing)} acknowledged allocations lost"

        # The unanswered ones either landed completely or not at all; retrying with the same key
        # lands each exactly once.
        browser = served.browser("finance")
        browser.csrf("/finance/allocate")
        for key in unanswered:
            assert browser.post("/finance/allocate", _allocation(served, key)).status_code == 302
        after = _entries(served.database_url)
        assert all(k in after for k in unanswered)
        assert len(after) == len(set(acknowledged) | set(unanswered)) + 0  # nothing else, nothing twice

        report = verify(served.database_url)
        assert report.ok, report.summary()
        if backend == "sqlite":
            path = served.database_url.removeprefix("sqlite:///")
            with sqlite3.connect(path) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        print(f"\ncrash[{backend}]: {len(acknowledged)} acknowledged, {len(unanswered)} unanswered "
              f"(retried), {KILLS} SIGKILLs, {len(after)} entries, {report.summary()}")
    finally:
        stop.set()
        served.server.stop()
