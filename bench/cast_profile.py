"""In-process profile of casting a ballot over HTTP (issue 18): the real view, CSRF on.

    .venv/bin/python -m bench.cast_profile [--voters 600] [--top 40] [--rate-limits] [--pg URL]
                                           [--callers PATTERN] [--dump FILE]

A fresh database (as ``bench.load`` makes it: two teams, a person per role, an open approval
round of ``--ideas`` ideas), ``--voters`` residents of team A's place each signed in with a
session row and a signed cookie, then each POSTs ``…/rounds/<id>/ballot`` once through the
Flask test client (the 302 is not followed, as ``bench.load`` does not follow it). Prints:

* wall and CPU time per ballot, the commit's time, the WAL's size and how long the write lock
  is held (SQLite: from ``BEGIN IMMEDIATE`` to the end of ``COMMIT``);
* the SQL statements per ballot, by text (counted with a ``before_cursor_execute`` listener on
  the app's engine), with the time spent in each (cursor execute to after execute);
* the top functions of a cProfile of the casts (cumulative, then own time; ``--dump FILE`` keeps
  the statistics for ``pstats``), then the same figures as the first without any listener but
  the commit and lock timers.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from sqlalchemy import event

from bench.load import _fresh_database
from tests.prove.harness import COOKIE, SECRET, minted_residents, open_round, seed


def _shape(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip()[:150]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=600)
    parser.add_argument("--ideas", type=int, default=50)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--dump", help="write the cProfile statistics to this file too")
    parser.add_argument("--callers", help="also print the callers of the functions matching this pattern")
    parser.add_argument("--rate-limits", action="store_true", help="as production: limiter on (memory storage)")
    parser.add_argument("--pg", help="a PostgreSQL URL to create a scratch database next to")
    args = parser.parse_args(argv)

    from community.db import get_engine
    from wsgi import create_app

    database_url, cleanup = _fresh_database(args.pg)
    workdir = Path(tempfile.mkdtemp(prefix="thriving-cast-profile-"))
    try:
        world = seed(database_url)
        round_id, ideas = open_round(database_url, world, ideas=args.ideas, title="Profile round")
        people = minted_residents("http://localhost", database_url, world, args.voters + 1)
        app = create_app({"ENV_NAME": "testing", "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
                          "RATELIMIT_ENABLED": args.rate_limits, "RATELIMIT_STORAGE_URI": "memory://",
                          "OUTBOX_DIR": str(workdir / "outbox"), "MAIL_DELIVERY": "queue"})
        engine = get_engine(app)
        path = f"/teams/{world.team_a}/rounds/{round_id}/ballot"
        client = app.test_client()

        def cast(i: int) -> None:
            voter = people[i]
            client.set_cookie(COOKIE, voter.http.cookies.get(COOKIE), domain="localhost")
            chosen = [ideas[(i + k) % len(ideas)] for k in range(1 + i % 3)]
            response = client.post(path, data={"csrf_token": voter.token, "idea": chosen})
            assert response.status_code == 302 and "/receipt" in response.headers["Location"], \
                (response.status_code, response.get_data(as_text=True)[:500])

        cast(args.voters)  # warm up: the round's rules, compiled statements, templates
        wal = Path(engine.url.database + "-wal") if engine.dialect.name == "sqlite" else None
        commits: list[float] = []
        do_commit = engine.dialect.do_commit

        def timed_commit(dbapi_connection):
            began = time.perf_counter()
            do_commit(dbapi_connection)
            commits.append(time.perf_counter() - began)

        engine.dialect.do_commit = timed_commit
        held: list[float] = []
        locked_at: dict[int, float] = {}

        @event.listens_for(engine, "begin")
        def _locked(conn):
            if conn.get_execution_options().get("sqlite_write"):
                locked_at[id(conn.connection.dbapi_connection)] = time.perf_counter()

        @event.listens_for(engine, "commit")
        def _unlocking(conn):
            began = locked_at.pop(id(conn.connection.dbapi_connection), None)
            if began is not None:
                held.append(time.perf_counter() - began)  # to the COMMIT's start (plus the commit below)

        def phase(label: str, first: int, last: int) -> None:
            commits.clear()
            held.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(first, last):
                cast(i)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            size = f", WAL {wal.stat().st_size / 1e6:.1f} MB" if wal and wal.exists() else ""
            print(f"{last - first} ballots, {label}: {wall / (last - first) * 1000:.2f} ms wall, "
                  f"{cpu / (last - first) * 1000:.2f} ms CPU each; commit {sum(commits) / len(commits) * 1000:.3f} ms "
                  f"(max {max(commits) * 1000:.1f}){size}; write lock held "
                  f"{(sum(held) + sum(commits)) / len(held) * 1000:.3f} ms a ballot", flush=True)

        counts: Counter[str] = Counter()
        spent: defaultdict[str, float] = defaultdict(float)
        started: dict[int, float] = {}

        def before(_conn, cursor, statement, *_a):
            counts[_shape(statement)] += 1
            started[id(cursor)] = time.perf_counter()

        def after(_conn, cursor, statement, *_a):
            spent[_shape(statement)] += time.perf_counter() - started.pop(id(cursor), time.perf_counter())

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        n = args.voters // 2
        phase("with statement listeners", 0, n)
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        print(f"SQL statements per ballot: {sum(counts.values()) / n:.2f}")
        for shape, count in counts.most_common():
            print(f"  {count / n:5.2f}× {spent[shape] / count * 1000:6.3f} ms  {shape}")

        profile = cProfile.Profile()
        began = time.perf_counter()
        profile.enable()
        for i in range(n, 2 * n):
            cast(i)
        profile.disable()
        wall = time.perf_counter() - began
        print(f"\n{n} ballots under cProfile, {wall / n * 1000:.2f} ms each")
        if args.dump:
            profile.dump_stats(args.dump)
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        if args.callers:
            stats.print_callers(args.callers)
        print(out.getvalue())

        people[:n] = minted_residents("http://localhost", database_url, world, n)
        phase("without the statement listeners or cProfile", 0, n)
        get_engine(app).dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        cleanup()


if __name__ == "__main__":
    main()
