"""Load against the real server: gunicorn (4 workers × 4 threads) on loopback, N connections
(default 32), bounded in time AND in requests; prints p50/p95/p99 per page and the error count.

    .venv/bin/python bench/load.py [--seconds 10] [--max-requests 3000] [--connections 32]
                                   [--pg postgresql://postgres@127.0.0.1:5432/test]

It makes a fresh database (a temporary SQLite file, or a scratch PostgreSQL database created
next to ``--pg`` and dropped afterwards), seeds two teams, a person per role and a ledger
history of ``--entries`` allocations, starts gunicorn on a free loopback port, measures each
scenario in turn, stops the server, and runs ``ledger verify`` (load is a correctness test too).
Nothing is sent anywhere but 127.0.0.1.

Hooks for what arrives later (issue #8, item 9):

* ballot casting — add a ``Scenario`` with ``method="POST"`` whose ``body(i)`` returns a
  ballot form for a different voter each time (seed the voters in ``prepare``); count ballots/s
  from ``ok`` and check afterwards that the ballot table holds exactly one row per voter
  (0 lost, 0 duplicated). Goal: ≥ 300 ballots/s on SQLite.
* idea list vs a raw page — add a ``Scenario`` for the idea list with 50 ideas, and a
  ``baseline`` server: a tiny WSGI app in this file that reads the same 50 rows with
  ``sqlite3`` and renders them with a bare Jinja template, served by the same gunicorn command
  (``Server(app="bench.load:baseline_app()")``); print the ratio of requests/s (goal ≥ 1.0×).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import make_url, text  # noqa: E402

from community.db import make_engine, make_null_pool_engine  # noqa: E402
from community.migrate import upgrade  # noqa: E402
from tests.prove.harness import Browser, Server, fund, minted_browser, seed, verify  # noqa: E402


@dataclass
class Scenario:
    """One page (or form) measured on its own."""

    name: str
    path: str
    role: str | None = None  # None: anonymous
    method: str = "GET"
    body: Callable[[int], dict] | None = None  # POST: the form for request i
    ok_statuses: tuple[int, ...] = (200,)


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def scenarios(world) -> list[Scenario]:
    """The main pages today. Votes and ideas add theirs here after they merge (see above)."""
    return [
        Scenario("home", "/"),
        Scenario("team page", f"/teams/{world.team_a}"),
        Scenario("public ledger", f"/teams/{world.team_a}/ledger"),
        Scenario("sign-in page", "/sign-in"),
        Scenario("staff home", "/staff", role="member"),
        Scenario("finance home", "/finance", role="finance"),
    ]


def run(scenario: Scenario, served_url: str, database_url: str, world, *, connections: int, seconds: float,
        max_requests: int) -> Result:
    result = Result(scenario.name)
    lock = threading.Lock()
    counter = iter(range(max_requests))
    actor = world.actors[scenario.role] if scenario.role else None
    browsers = [minted_browser(served_url, database_url, actor) if actor else Browser(served_url)
                for _ in range(connections)]
    if scenario.method == "POST":
        for b in browsers:
            b.csrf(scenario.path)
    deadline = time.monotonic() + seconds + 5  # reset when the barrier opens

    began = time.monotonic()

    def start_clock():
        nonlocal deadline, began
        began = time.monotonic()
        deadline = began + seconds

    barrier = threading.Barrier(connections, action=start_clock)

    def worker(browser: Browser):
        barrier.wait()
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            start = time.perf_counter()
            try:
                if scenario.method == "POST":
                    response = browser.post(scenario.path, scenario.body(i) if scenario.body else {})
                else:
                    response = browser.get(scenario.path)
                good = response.status_code in scenario.ok_statuses
            except Exception:  # a refused or reset connection counts as an error, not a crash of the bench
                good = False
            elapsed = time.perf_counter() - start
            with lock:
                result.latencies.append(elapsed)
                if good:
                    result.ok += 1
                else:
                    result.errors += 1

    threads = [threading.Thread(target=worker, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 60)
    result.seconds = time.monotonic() - began
    return result


def _fresh_database(pg: str | None) -> tuple[str, Callable[[], None]]:
    if not pg:
        folder = Path(tempfile.mkdtemp(prefix="thriving-load-"))
        url = f"sqlite:///{folder / 'load.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url, lambda: shutil.rmtree(folder, ignore_errors=True)
    name = f"thriving_load_{uuid.uuid4().hex[:10]}"
    admin = make_null_pool_engine(pg).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, drop


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario (upper bound)")
    parser.add_argument("--max-requests", type=int, default=3000, help="per scenario (upper bound)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--entries", type=int, default=200, help="ledger history of team A")
    parser.add_argument("--pg", help="a PostgreSQL URL to create a scratch database next to")
    args = parser.parse_args(argv)
    if not 1 <= args.connections <= 256 or args.seconds > 600 or args.max_requests > 1_000_000:
        parser.error("keep it bounded: 1–256 connections, ≤ 600 s and ≤ 1,000,000 requests per scenario")

    database_url, cleanup = _fresh_database(args.pg)
    workdir = Path(tempfile.mkdtemp(prefix="thriving-load-server-"))
    server = None
    try:
        world = seed(database_url)
        finance = world.actors["finance"].person_id
        for i in range(args.entries):
            fund(database_url, world.team_a_id, 100 + i, finance, key=f"load-{i}")
        server = Server(database_url, workdir).start()
        backend = "PostgreSQL" if args.pg else "SQLite"
        print(f"{backend}, gunicorn 4×4 on {server.url}, {args.connections} connections, "
              f"≤ {args.seconds:g} s and ≤ {args.max_requests} requests per scenario")
        print(f"{'scenario':<18}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        results = []
        for scenario in scenarios(world):
            r = run(scenario, server.url, database_url, world, connections=args.connections,
                    seconds=args.seconds, max_requests=args.max_requests)
            results.append(r)
            rate = (r.ok + r.errors) / r.seconds if r.seconds else 0
            print(f"{r.name:<18}{r.ok + r.errors:>9}{r.errors:>8}{rate:>9.1f}{r.percentile(50):>9.1f}"
                  f"{r.percentile(95):>9.1f}{r.percentile(99):>9.1f}")
        server.stop()
        report = verify(database_url)
        print(report.summary())
        if not report.ok or any(r.errors for r in results):
            raise SystemExit(1)
        return results
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        cleanup()


if __name__ == "__main__":
    main()
