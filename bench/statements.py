"""Statements benchmark (SQLite, one run):

1. A 1,000-line team statement (figures + HTML + PDF) against a bare WeasyPrint table of the
   same 1,000 rows and columns, rendered in the same process; prints both and the ratio
   (goal ≤ 1.1×, issue 18).
2. Serving a closed month's stored (frozen) statement against building it (goal ≥ 100×).
3. The county pack (40 teams, ~12 lines each) with every team's PDF and CSV, through
   ``flask statements build`` with a process pool on every core, and with ``--jobs 1``.

    .venv/bin/python -m bench.statements [--lines 1000] [--teams 40]
"""

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import weasyprint
from markupsafe import escape

from community.db import get_engine, open_session
from community.migrate import upgrade
from community.models import Person, Place, Team
from ledger import services
from statements import figures, render, store

TODAY = dt.date.today()
THIS_MONTH = TODAY.replace(day=1)
PACK_MONTH = (THIS_MONTH - dt.timedelta(days=1)).replace(day=1)  # closed: the county pack
BIG_MONTH = (PACK_MONTH - dt.timedelta(days=1)).replace(day=1)  # closed: the 1,000-line statement
CATEGORIES = ["equipment", "venue", "food", "printing", "activity materials", "grants"]

BARE = """<!doctype html><html><head><meta charset="utf-8"><style>
@page {{ size: A4 landscape; margin: 14mm 12mm 16mm 12mm; }}
body {{ font-family: sans-serif; font-size: 8pt; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 0.8mm 1.2mm; border-bottom: 0.3pt solid #b1b4b6; font-size: 7pt; }}
</style></head><body><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></body></html>"""


def _app(path: Path):
    from wsgi import create_app

    app = create_app({"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": "bench-" + "x" * 40,
                      "DATABASE_URL": f"sqlite:///{path}", "RATELIMIT_ENABLED": False})
    upgrade(get_engine(app))
    return app


def _key() -> str:
    return uuid.uuid4().hex


def seed(app, lines: int, teams: int) -> None:
    with app.app_context(), open_session(get_engine(app), write=True) as s:
        place = Place(slug="bench", name="Bench", district="Bench")
        s.add(place)
        s.flush()
        fran = Person(email="fran@example.org", name="Fran Finance", is_finance=True)
        approver = Person(email="abe@example.org", name="Abe Approver")
        s.add_all([fran, approver])
        all_teams = [Team(slug=f"team-{n:02d}", name=f"Team {n:02d}", place_id=place.id, cost_centre=f"TC{n:04d}")
                     for n in range(1, teams + 1)]
        s.add_all(all_teams)
        s.flush()

        def spend(team, pence, n, day):
            held = services.hold(session=s, team=team, amount_pence=pence, category=CATEGORIES[n % len(CATEGORIES)],
                                 description=f"Purchase {n} for the community project", payee=f"Supplier {n % 37}",
                                 actor_id=fran.id, idempotency_key=_key())
            services.settle_hold(session=s, hold_id=held.id, actual_pence=pence, actor_id=fran.id, effective_date=day,
                                 idempotency_key=_key(), method="p-card" if n % 3 else "invoice",
                                 receipt_ref=f"R-{n}", gl_code="5200", proposer_id=fran.id, approver_id=approver.id)

        big = all_teams[0]
        services.allocate(session=s, team=big, amount_pence=50_000_000, actor_id=fran.id, effective_date=BIG_MONTH,
                          idempotency_key=_key(), gl_code="R1000")
        for n in range(lines - 1):
            spend(big, 1_000 + n % 900, n, BIG_MONTH.replace(day=1 + n % 28))
        for team in all_teams:
            services.allocate(session=s, team=team, amount_pence=1_200_000, actor_id=fran.id, effective_date=PACK_MONTH,
                              idempotency_key=_key(), gl_code="R1000")
            for n in range(11):
                spend(team, 2_000 + 37 * n, n, PACK_MONTH.replace(day=1 + 2 * n))
        services.close_month(session=s, month=PACK_MONTH, actor_id=fran.id)
        s.commit()


CPU: dict[str, float] = {}  # median CPU seconds of the last _median call, by label


def _median(fn, runs: int, label: str = "") -> tuple[float, object]:
    """Median wall time of ``runs`` calls (and, under ``label`` in CPU, their median CPU time:
    steadier than wall time when the machine is shared)."""
    times, cpu, result = [], [], None
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    CPU[label] = statistics.median(cpu)
    return statistics.median(times), result


def bench_big(app, runs: int) -> float:
    with app.test_request_context(), open_session(get_engine(app), write=False) as s:
        team = s.get(Team, 1)
        report = services.verify(session=s)

        def statement():
            st = figures.build_statement(session=s, team=team, month=BIG_MONTH, verify_report=report)
            return render.render_pdf(st), st

        statement()  # warm up fonts, templates and caches
        st = figures.build_statement(session=s, team=team, month=BIG_MONTH, verify_report=report)
        head = "".join(f"<th>{h}</th>" for h in ("Date", "Entry", "Description", "Payee", "Category", "GL code",
                                                  "Method", "Proposer", "Approver", "Receipt", "Flags", "Amount",
                                                  "Balance"))
        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in (
                line.date.isoformat(), line.reference, line.description, line.payee, line.category, line.gl_code,
                line.method, line.proposer, line.approver, line.receipt, line.flags,
                render.pounds(line.amount_pence), render.pounds(line.balance_after_pence))) + "</tr>"
            for line in st.lines
        )
        bare_html = BARE.format(head=head, rows=rows)

        def bare():
            return weasyprint.HTML(string=bare_html).write_pdf()

        bare()
        t_figures, _ = _median(lambda: figures.build_statement(session=s, team=team, month=BIG_MONTH,
                                                                   verify_report=report), runs)
        t_statement, (pdf, st) = _median(statement, runs, "statement")
        t_bare, bare_pdf = _median(bare, runs, "bare")
        pages = len(weasyprint.HTML(string=render.render_html(st)).render().pages)
        bare_pages = len(weasyprint.HTML(string=bare_html).render().pages)
        print(f"1. {len(st.lines)}-line statement: {t_statement:.2f} s ({pages} pages, {len(pdf) // 1024} KiB; "
              f"figures {t_figures * 1000:.0f} ms, verify {_time(lambda: services.verify(session=s)) * 1000:.0f} ms "
              f"once per run)")
        print(f"   bare WeasyPrint table, same {len(st.lines)} rows: {t_bare:.2f} s ({bare_pages} pages, "
              f"{len(bare_pdf) // 1024} KiB)")
        print(f"   ratio statement / bare table: {t_statement / t_bare:.2f}x wall, "
              f"{CPU['statement'] / CPU['bare']:.2f}x CPU ({CPU['statement']:.1f} s / {CPU['bare']:.1f} s) "
              "(goal <= 1.1x)")
        return t_statement


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_serve(app, runs: int) -> None:
    engine = get_engine(app)
    with app.test_request_context(), open_session(engine, write=False) as s:
        team = s.get(Team, 2)
        t_build, _ = _median(lambda: store.team_files(
            figures.build_statement(session=s, team=team, month=PACK_MONTH)), 3)
        store.get_team_files(engine, s, team, PACK_MONTH)  # freeze (first request)

    def serve():  # what a download does: a new session, find the frozen row, check its SHA-256
        with open_session(engine, write=False) as s:
            return store.get_team_files(engine, s, s.get(Team, 2), PACK_MONTH)

    with app.test_request_context():
        t_serve, files = _median(serve, runs)
        assert files.frozen
        print(f"3. closed month, team statement: build {t_build * 1000:.0f} ms; serve stored bytes "
              f"{t_serve * 1000:.2f} ms (SHA-256 re-checked); {t_build / t_serve:.0f}x faster (goal >= 100x)")


def bench_pack(app, db: Path, teams: int) -> None:
    copy = db.with_name("serial.sqlite3")
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # a plain file copy would miss pages still in the WAL
    out = Path(tempfile.mkdtemp())
    cores = os.cpu_count() or 1
    month = PACK_MONTH.strftime("%Y-%m")
    start = time.perf_counter()
    result = app.test_cli_runner().invoke(args=["statements", "build", "--month", month, "--out", str(out / "pool")])
    t_pool = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    serial_app = _app(copy)
    start = time.perf_counter()
    result = serial_app.test_cli_runner().invoke(
        args=["statements", "build", "--month", month, "--out", str(out / "serial"), "--jobs", "1"])
    t_serial = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    pack = out / "pool" / f"county-pack-{month}.pdf"
    pages = _pages(pack)
    print(f"2. county pack, {teams} teams (+{teams} team PDFs and CSVs, frozen): {t_pool:.1f} s with a pool of "
          f"{cores} processes; {t_serial:.1f} s with --jobs 1 ({pages} pack pages, {pack.stat().st_size // 1024} KiB)")
    start = time.perf_counter()
    app.test_cli_runner().invoke(args=["statements", "build", "--month", month, "--out", str(out / "again")])
    print(f"   again (all frozen: stored bytes written): {time.perf_counter() - start:.2f} s")
    shutil.rmtree(out, ignore_errors=True)


def _pages(path: Path) -> int:
    import subprocess

    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=False).stdout  # noqa: S603,S607 - fixed argv, poppler on PATH
    return int(next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "0"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--teams", type=int, default=40)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    db = folder / "bench.sqlite3"
    app = _app(db)
    start = time.perf_counter()
    seed(app, args.lines, args.teams)
    print(f"seeded {args.lines} lines + {args.teams} teams in {time.perf_counter() - start:.1f} s; "
          f"WeasyPrint {weasyprint.__version__}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    bench_big(app, args.runs)
    bench_pack(app, db, args.teams)
    bench_serve(app, 50)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
