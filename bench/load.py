"""Load against the real server: gunicorn (4 workers × 4 threads) on loopback, N connections
(default 32), bounded in time AND in requests; prints p50/p95/p99 per page and the error count.

    .venv/bin/python -m bench.load [--seconds 10] [--max-requests 3000] [--connections 32]
                                   [--pg postgresql://postgres@127.0.0.1:5432/test]

It makes a fresh database (a temporary SQLite file, or a scratch PostgreSQL database created
next to ``--pg`` and dropped afterwards), seeds two teams, a person per role and a ledger
history of ``--entries`` allocations, starts gunicorn on a free loopback port, measures each
scenario in turn, stops the server, and runs ``ledger verify`` (load is a correctness test too).
Nothing is sent anywhere but 127.0.0.1.

Issue #8, item 9, measured in the same run:

* ballot casting — ``--voters`` new residents of team A's place (default 2000), each signed in,
  cast one ballot each on an open round over HTTP (``--connections`` at once, bounded by
  ``--seconds`` and by the number of voters); prints ballots/s and, read back from the
  database, lost ballots (acknowledged but no row), duplicated ballots (more than one row for a
  voter) and unacknowledged ones (a row but no 302). Goal: ≥ 300 ballots/s on SQLite.
* idea list vs a raw page — the idea list with 50 ideas, and ``baseline_app()`` below: the same
  50 rows (and their support counts) read with the raw driver (``sqlite3`` / ``psycopg``) and
  rendered with a bare Jinja template, served by the same gunicorn command on the same database
  in the same run; prints the ratio of requests/s (goal ≥ 1.0×).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url, text

from community.db import make_engine, make_null_pool_engine
from community.migrate import upgrade
from tests.prove.harness import COOKIE, Browser, Server, fund, minted_browser, open_round, seed, verify


@dataclass
class Scenario:
    """One page (or form) measured on its own."""

    name: str
    path: str
    role: str | None = None  # None: anonymous
    method: str = "GET"
    body: Callable[[int], dict] | None = None  # POST: the form for request i
    ok_statuses: tuple[int, ...] = (200,)
    # A visitor with some unrelated cookie: never served from the public-page micro-cache
    # (community/cache.py), so the page is built for every request.
    uncached: bool = False


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds of the server's processes, when the server was given

    @property
    def rate(self) -> float:
        return (self.ok + self.errors) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


@dataclass
class Driven:
    """What :func:`drive` measured: (item, succeeded, seconds) per request, in completion order."""

    outcomes: list[tuple[int, bool, float]] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server's processes used meanwhile (0 without a server)
    client_cpu: float = 0.0  # CPU seconds this process (the load generator) used meanwhile


SIGNED_IN = ("staff home", "finance home", "spend dashboard", "team ledger")


def scenarios(world) -> list[Scenario]:
    """The main pages today. Votes and ideas add theirs here after they merge (see above)."""
    return [
        Scenario("home", "/"),
        Scenario("team page", f"/teams/{world.team_a}"),
        Scenario("public ledger", f"/teams/{world.team_a}/ledger"),
        Scenario("sign-in page", "/sign-in"),
        Scenario("staff home", "/staff", role="member"),
        Scenario("finance home", "/finance", role="finance"),
        Scenario("spend dashboard", f"/teams/{world.team_a}/spend", role="member"),
        Scenario("team ledger", f"/teams/{world.team_a}/ledger", role="member"),  # signed in: the detail
    ]


def drive(base_url: str, *, connections: int, seconds: float, items: int,
          attempt: Callable[[Connection, int, int], bool], server: Server | None = None) -> Driven:
    """The load loop shared by every measurement: ``connections`` threads, each with its own
    keep-alive :class:`Connection`, take items 0, 1, … in turn until ``items`` run out or
    ``seconds`` pass; the clock starts when every thread is ready. ``attempt(http, item,
    thread)`` sends one request and says whether it succeeded; anything it raises counts as a
    failure (a refused or reset connection), and that thread's connection is reopened."""
    lock = threading.Lock()
    counter = iter(range(items))
    driven = Driven()
    deadline = time.monotonic() + seconds + 5  # reset when the barrier opens
    began = time.monotonic()
    cpu_at_start = [0.0, 0.0]

    def start_clock():
        nonlocal deadline, began
        cpu_at_start[:] = [server.cpu_seconds() if server else 0.0, time.process_time()]
        began = time.monotonic()
        deadline = began + seconds

    barrier = threading.Barrier(connections, action=start_clock)

    def worker(thread: int):
        http = Connection(base_url)
        barrier.wait()
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            start = time.perf_counter()
            try:
                good = attempt(http, i, thread)
            except Exception:  # noqa: BLE001 - a failed request is a figure of the bench, not a crash of it
                good = False
                http.close()
            elapsed = time.perf_counter() - start
            with lock:
                driven.outcomes.append((i, good, elapsed))
        http.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    driven.seconds = time.monotonic() - began
    driven.server_cpu = (server.cpu_seconds() if server else 0.0) - cpu_at_start[0]
    driven.client_cpu = time.process_time() - cpu_at_start[1]
    return driven


def run(scenario: Scenario, served_url: str, database_url: str, world, *, connections: int, seconds: float,
        max_requests: int, server: Server | None = None) -> Result:
    actor = world.actors[scenario.role] if scenario.role else None
    browsers = [minted_browser(served_url, database_url, actor) if actor else Browser(served_url)
                for _ in range(connections)]
    if scenario.method == "POST":
        for b in browsers:
            b.csrf(scenario.path)
    cookies = [b.http.cookies.get(COOKIE) for b in browsers]

    def attempt(http: Connection, i: int, thread: int) -> bool:
        form = None
        if scenario.method == "POST":
            form = {**(scenario.body(i) if scenario.body else {}), "csrf_token": browsers[thread].token}
        status, _headers, _body = http.request(scenario.method, scenario.path, cookie=cookies[thread], form=form,
                                               other_cookie=scenario.uncached)
        return status in scenario.ok_statuses

    driven = drive(served_url, connections=connections, seconds=seconds, items=max_requests, attempt=attempt,
                   server=server)
    ok = sum(good for _i, good, _t in driven.outcomes)
    return Result(scenario.name, [t for _i, _good, t in driven.outcomes], ok=ok,
                  errors=len(driven.outcomes) - ok, seconds=driven.seconds, server_cpu=driven.server_cpu)


# --------------------------------------------------------------------------- the client


class Connection:
    """One keep-alive HTTP/1.1 connection on loopback (``http.client``), one per load thread.

    The load generator shares the 2 CPUs with the server it measures, so it must be cheap:
    ``requests`` spends a few milliseconds of CPU per request on its cookie jar and adapters,
    which would be measured as the server's slowness. This sends a fixed cookie header, reads
    the whole body, and reconnects when the server closes the connection."""

    def __init__(self, base_url: str):
        from urllib.parse import urlsplit

        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.conn = None

    def request(self, method: str, path: str, *, cookie: str | None = None, form: dict | None = None,
                other_cookie: bool = False) -> tuple[int, dict[str, str], bytes]:
        import http.client
        from urllib.parse import urlencode

        headers = {"Host": f"{self.host}:{self.port}"}
        body = None
        if cookie or other_cookie:
            headers["Cookie"] = "; ".join(([f"{COOKIE}={cookie}"] if cookie else [])
                                          + (["seen-banner=1"] if other_cookie else []))
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2 or method != "GET":  # never resend a POST: it may have been applied
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --------------------------------------------------------------------------- the raw baseline

BASELINE_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Ideas – {{ team }}</title>
<link rel="stylesheet" href="/static/css/app.css"></head>
<body><main><h1>Ideas for {{ team }}</h1><ul>
{% for idea in ideas %}<li><h2><a href="/teams/{{ slug }}/ideas/{{ idea.id }}">{{ idea.title }}</a></h2>
<p>{{ idea.description }}</p><p>{{ idea.status }} · £{{ "%.2f"|format(idea.cost / 100) }} ·
{{ idea.supporters }} supporters</p></li>{% endfor %}
</ul></main></body></html>"""
BASELINE_SQL = """SELECT i.id, i.title, i.description, i.status, i.estimated_cost_pence,
       (SELECT COUNT(*) FROM vote_idea_support s WHERE s.idea_id = i.id)
  FROM vote_idea i JOIN team t ON t.id = i.team_id
 WHERE t.slug = {p} AND i.status <> 'hidden'
 ORDER BY i.created_at DESC, i.id DESC"""


def _raw_connection(url, local):
    """One raw driver connection per worker thread (as a pool would give) and its placeholder."""
    import sqlite3

    if getattr(local, "conn", None) is None:
        if url.drivername.startswith("sqlite"):
            local.conn, local.param = sqlite3.connect(url.database, check_same_thread=False), "?"
        else:
            import psycopg

            local.conn = psycopg.connect(host=url.host, port=url.port, user=url.username,
                                         password=url.password, dbname=url.database, autocommit=True)
            local.param = "%s"
    return local.conn, local.param


def _answer(start_response, path: str, render: Callable[[str], bytes | None]) -> list[bytes]:
    if path == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    parts = path.strip("/").split("/")
    body = render(parts[1]) if len(parts) == 3 and parts[0] == "teams" and parts[2] == "ideas" else None
    if body is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def baseline_app():
    """A bare WSGI app: ``GET /teams/<slug>/ideas`` → every idea of the team via the raw driver and
    a bare Jinja template of a dozen lines (no layout, no navigation, no pagination): the floor of
    any page, not the same work as the app's page. ``/healthz`` → ok."""
    from jinja2 import Environment

    template = Environment(autoescape=True).from_string(BASELINE_TEMPLATE)
    url = make_url(os.environ["THRIVING_DATABASE_URL"])
    local = threading.local()

    def render(slug: str) -> bytes:
        conn, param = _raw_connection(url, local)
        rows = conn.execute(BASELINE_SQL.format(p=param), (slug,)).fetchall()
        ideas = [{"id": r[0], "title": r[1], "description": r[2], "status": r[3], "cost": r[4],
                  "supporters": r[5]} for r in rows]
        return template.render(team=slug, slug=slug, ideas=ideas).encode()

    return lambda environ, start_response: _answer(start_response, environ.get("PATH_INFO", ""), render)


SAME_TEAM_SQL = "SELECT id, name, slug FROM team WHERE slug = {p}"
SAME_COUNT_SQL = "SELECT COUNT(*) FROM vote_idea WHERE team_id = {p} AND status <> 'hidden'"
SAME_ROWS_SQL = """SELECT i.id, i.title, i.status, i.category, i.team_cost_pence, i.estimated_cost_pence,
       (SELECT COUNT(*) FROM vote_idea_support s WHERE s.idea_id = i.id)
  FROM vote_idea i WHERE i.team_id = {p} AND i.status <> 'hidden'
 ORDER BY i.created_at DESC, i.id DESC LIMIT {per_page}"""
SAME_ROUNDS_SQL = "SELECT id, title, closes_at FROM vote_round WHERE team_id = {p} AND status = 'open'"


def same_template_app():
    """The issue's baseline (#18): the same rows read with the raw driver (``sqlite3`` /
    ``psycopg``, no ORM, no session, no sign-in, no hooks) and rendered by the *same* Jinja
    template as the app's idea list (templates/votes/ideas.html with its layout, through the
    app's own Jinja environment in a bare request context, so its globals and filters resolve).
    The page is byte for byte the app's page for a visitor (tests/test_bench.py checks it), so
    the ratio measures what the framework, the ORM and the app's hooks cost on top."""
    import datetime as dt
    from types import SimpleNamespace

    from flask import render_template

    from community.i18n import labels
    from votes import search
    from votes.models import IDEA_CATEGORIES, STATUS_LABELS
    from wsgi import create_app

    app = create_app()
    url = make_url(os.environ["THRIVING_DATABASE_URL"])
    local = threading.local()
    asked = {"q": "", "status": "", "category": ""}

    def when(value):
        value = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=None)

    def page(slug: str) -> str | None:
        conn, p = _raw_connection(url, local)
        found = conn.execute(SAME_TEAM_SQL.format(p=p), (slug,)).fetchone()
        if found is None:
            return None
        team = SimpleNamespace(id=found[0], name=found[1], slug=found[2])
        total = conn.execute(SAME_COUNT_SQL.format(p=p), (team.id,)).fetchone()[0]
        rows = [SimpleNamespace(id=r[0], title=r[1], status=r[2], category=r[3], team_cost_pence=r[4],
                                estimated_cost_pence=r[5], supporters=r[6])
                for r in conn.execute(SAME_ROWS_SQL.format(p=p, per_page=search.PER_PAGE), (team.id,))]
        rounds = [SimpleNamespace(id=r[0], title=r[1], closes_at=when(r[2]))
                  for r in conn.execute(SAME_ROUNDS_SQL.format(p=p), (team.id,))]
        listed = SimpleNamespace(rows=rows, page=1, pages=max(-(-total // search.PER_PAGE), 1), total=total,
                                 per_page=search.PER_PAGE)
        return render_template("votes/ideas.html", team=team, found=listed, asked=asked, notes=[], ideas=rows,
                               open_rounds=rounds, is_team_staff=False, categories=labels(IDEA_CATEGORIES),
                               status_labels=labels(STATUS_LABELS), statuses=search.FILTER_STATUSES,
                               can_propose=False)

    def wsgi(environ, start_response):
        with app.request_context(environ):
            return _answer(start_response, environ.get("PATH_INFO", ""),
                           lambda slug: (html := page(slug)) and html.encode())

    return wsgi


# --------------------------------------------------------------------------- ballots


@dataclass
class BallotResult:
    voters: int
    cast: int = 0  # acknowledged (302 to the receipt)
    refused: int = 0  # any other answer, or no answer
    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server's processes used while casting
    client_cpu: float = 0.0  # CPU seconds this process (the load generator) used meanwhile
    lost: int = 0
    duplicated: int = 0
    unacknowledged: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.cast / self.seconds if self.seconds else 0.0


def run_ballots(server, database_url: str, world, round_id: int, ideas: list[int], *, voters: int,
                connections: int, seconds: float) -> BallotResult:
    """Each voter casts once; connections share keep-alive HTTP sessions and take voters in turn."""
    from tests.prove.harness import SECRET, ballots_of, minted_residents
    from votes.services import _encode, voter_key

    people = minted_residents(server.url, database_url, world, voters)
    path = f"/teams/{world.team_a}/rounds/{round_id}/ballot"
    choices = {}

    def attempt(http: Connection, i: int, _thread: int) -> bool:
        voter = people[i]
        chosen = [ideas[(i + k) % len(ideas)] for k in range(1 + i % 3)]
        choices[voter.person_id] = chosen
        status, headers, _body = http.request("POST", path, cookie=voter.http.cookies.get(COOKIE),
                                              form={"csrf_token": voter.token, "idea": chosen})
        return status == 302 and "/receipt" in headers.get("location", "")

    driven = drive(server.url, connections=connections, seconds=seconds, items=voters, attempt=attempt,
                   server=server)
    acknowledged = {people[i].person_id for i, good, _t in driven.outcomes if good}
    result = BallotResult(voters, cast=len(acknowledged), refused=len(driven.outcomes) - len(acknowledged),
                          seconds=driven.seconds, server_cpu=driven.server_cpu, client_cpu=driven.client_cpu,
                          latencies=[t for _i, _good, t in driven.outcomes])

    rows = ballots_of(database_url, round_id)
    by_key: dict[str, list[str]] = {}
    for key, encoded in rows:
        by_key.setdefault(key, []).append(encoded)
    result.duplicated = sum(len(v) - 1 for v in by_key.values())
    for voter in people:
        key = voter_key(SECRET, round_id, voter.person_id)
        if voter.person_id in acknowledged:
            if by_key.get(key) != [_encode(choices[voter.person_id])]:
                result.lost += 1
        elif key in by_key:
            result.unacknowledged += 1
    return result


def deliver_receipts(database_url: str, outbox: Path, expected: int) -> tuple[int, float]:
    """What cron's ``flask mail deliver`` does with the receipts the casts queued (the server ran
    with ``MAIL_DELIVERY=queue``, as production does): returns (messages sent, seconds)."""
    from community import mail
    from wsgi import create_app

    app = create_app({"ENV_NAME": "testing", "SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": database_url,
                      "OUTBOX_DIR": str(outbox), "MAIL_DELIVERY": "queue"})
    began = time.perf_counter()
    with app.app_context():
        report = mail.deliver_pending(app, limit=expected + 10)
    return report.sent, time.perf_counter() - began


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
    parser.add_argument("--voters", type=int, default=2000, help="residents casting one ballot each")
    parser.add_argument("--ideas", type=int, default=50, help="ideas on the idea list (and the ballot)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (make run: 4)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (make run: 4)")
    parser.add_argument("--page-cache-seconds", type=int, default=2,
                        help="the server's PUBLIC_PAGE_CACHE_SECONDS (production default 2; 0 = off)")
    parser.add_argument("--only", choices=("pages", "ballots", "ideas"), action="append",
                        help="measure only these parts (repeatable; default all)")
    args = parser.parse_args(argv)
    parts = set(args.only or ("pages", "ballots", "ideas"))
    if (not 1 <= args.connections <= 256 or not 1 <= args.workers <= 32 or not 1 <= args.threads <= 32 or args.seconds > 600 or args.max_requests > 1_000_000
            or not 0 <= args.voters <= 20_000 or not 1 <= args.ideas <= 500):
        parser.error("keep it bounded: 1–256 connections, ≤ 600 s and ≤ 1,000,000 requests per scenario, "
                     "≤ 20,000 voters, 1–500 ideas")

    database_url, cleanup = _fresh_database(args.pg)
    workdir = Path(tempfile.mkdtemp(prefix="thriving-load-server-"))
    server = None
    try:
        world = seed(database_url)
        finance = world.actors["finance"].person_id
        for i in range(args.entries):
            fund(database_url, world.team_a_id, 100 + i, finance, key=f"load-{i}")
        round_id, ideas = open_round(database_url, world, ideas=args.ideas, title="Load round")
        # The server as production runs it: public pages micro-cached for cookie-less visitors
        # (the test suite's "testing" environment turns that off).
        server = Server(database_url, workdir, workers=args.workers, threads=args.threads,
                        env={"THRIVING_PUBLIC_PAGE_CACHE_SECONDS": str(args.page_cache_seconds),
                             "THRIVING_MAIL_DELIVERY": "queue"}).start()
        backend = "PostgreSQL" if args.pg else "SQLite"
        print(f"{backend}, gunicorn {args.workers}×{args.threads} on {server.url}, {args.connections} connections, "
              f"≤ {args.seconds:g} s and ≤ {args.max_requests} requests per scenario")
        header = f"{'scenario':<18}{'requests':>9}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        results = []

        def measure(scenario, url):
            r = run(scenario, url, database_url, world, connections=args.connections,
                    seconds=args.seconds, max_requests=args.max_requests)
            results.append(r)
            print(f"{r.name:<18}{r.ok + r.errors:>9}{r.errors:>8}{r.rate:>9.1f}{r.percentile(50):>9.1f}"
                  f"{r.percentile(95):>9.1f}{r.percentile(99):>9.1f}", flush=True)
            return r

        # Calibration: this machine's speed varies a lot from run to run (shared cores), so every
        # run first measures the cheapest request there is; compare figures across runs with it.
        calibration = run(Scenario("/healthz", "/healthz"), server.url, database_url, world, server=server,
                          connections=args.connections, seconds=min(args.seconds, 4.0), max_requests=args.max_requests)
        done = calibration.ok + calibration.errors
        print(f"calibration: /healthz (one SELECT 1) {calibration.rate:.0f} req/s, server CPU "
              f"{calibration.server_cpu / max(done, 1) * 1000:.2f} ms per request", flush=True)
        if parts & {"pages", "ideas"}:
            print(header)
        if "pages" in parts:
            for scenario in scenarios(world):
                measure(scenario, server.url)
        ideas_page = Scenario(f"idea list ({args.ideas})", f"/teams/{world.team_a}/ideas")
        app_list = measure(ideas_page, server.url) if "ideas" in parts else None
        uncached_list = None
        if "ideas" in parts and args.page_cache_seconds:
            uncached_list = measure(Scenario(f"  … uncached ({args.ideas})", ideas_page.path, uncached=True),
                                    server.url)
        ballots = None
        if "ballots" in parts and args.voters:
            ballots = run_ballots(server, database_url, world, round_id, ideas, voters=args.voters,
                                  connections=args.connections, seconds=args.seconds)
            lat = Result("ballots", ballots.latencies)
            print(f"ballots: {ballots.cast} cast by {args.voters} voters in {ballots.seconds:.1f} s = "
                  f"{ballots.rate:.1f} ballots/s (p50 {lat.percentile(50):.1f} ms, p95 {lat.percentile(95):.1f} ms); "
                  f"refused/failed {ballots.refused}, lost {ballots.lost}, duplicated {ballots.duplicated}, "
                  f"unacknowledged {ballots.unacknowledged}", flush=True)
            if ballots.cast:
                print(f"  CPU per ballot: server {ballots.server_cpu / ballots.cast * 1000:.1f} ms, "
                      f"load generator {ballots.client_cpu / ballots.cast * 1000:.1f} ms "
                      f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})", flush=True)
                delivered, took = deliver_receipts(database_url, workdir / "outbox", ballots.cast)
                print(f"  receipts queued by the casts, then sent by `mail deliver` (cron; here to .eml files): "
                      f"{delivered} in {took:.1f} s = {delivered / took:.0f}/s", flush=True)
        server.stop()
        if app_list is not None:
            raws = {}
            for label, entry in (("same template", "bench.load:same_template_app()"),
                                 ("bare template", "bench.load:baseline_app()")):
                baseline = Server(database_url, workdir / entry.split(":")[1][:-2], app=entry,
                                  workers=args.workers, threads=args.threads).start()
                try:
                    raws[label] = measure(Scenario(f"raw, {label}", ideas_page.path), baseline.url).rate
                finally:
                    baseline.stop()
            for label, raw in raws.items():
                floor = "the issue's measure (#18)" if label == "same template" else "a floor, not the same work"
                print(f"vs raw sqlite3/psycopg + the {label} ({floor}): raw {raw:.1f} req/s")
                print(f"  idea list, from the micro-cache: {app_list.rate / raw:.2f}×")
                if uncached_list is not None:
                    print(f"  idea list built for every request (a visitor with a cookie): "
                          f"{uncached_list.rate / raw:.2f}× (goal ≥ 0.9×)")
                for r in results:
                    if r.name in SIGNED_IN:
                        print(f"  {r.name}: {r.rate / raw:.2f}× (goal ≥ 0.6×)")
        bad_ballots = ballots is not None and (ballots.lost or ballots.duplicated)
        server.stop()
        report = verify(database_url)
        print(report.summary())
        if not report.ok or any(r.errors for r in results) or bad_ballots:
            raise SystemExit(1)
        return results
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        cleanup()


if __name__ == "__main__":
    main()
