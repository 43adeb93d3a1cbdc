"""``flask statements build`` writes a month's statements: each team's PDF and CSV and, for
every team, the county pack (PDF + CSV), plus SHA256SUMS. ``flask statements freeze-pending``
(cron) freezes the statements of every closed month that still lacks some
(ledger/freeze.py).

The work runs in a pool of processes (every core by default): one job per team statement and
one for the county pack, so the pack (the longest job) renders while the team statements
render on the other cores. A closed month's files are the frozen, stored bytes; those not yet
frozen are built in the pool and frozen (race-safe) before they are written.
"""

import datetime as dt
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from community.db import get_engine, open_session, utcnow
from community.models import Team
from ledger import services
from statements import county, figures, freeze, render, store
from statements.models import COUNTY_SCOPE, team_scope

statements_cli = AppGroup("statements", help="Build monthly finance statements.")

_worker_app = None  # the app of a pool worker process (made once by _init_worker)


def _init_worker(factory, config: dict) -> None:
    global _worker_app
    _worker_app = factory(config)


def _job(kind: str, team_id: int | None, month: dt.date, now: dt.datetime, report) -> tuple:
    """Build one team's files (kind "team") or the county pack ("county"); runs in a worker
    (or in-process when ``--jobs 1``). Returns (scope, team id, Files)."""
    app = _worker_app or current_app._get_current_object()
    with app.app_context():
        session = open_session(get_engine(), write=False)
        try:
            if kind == "team":
                team = session.get(Team, team_id)
                st = figures.build_statement(session=session, team=team, month=month, now=now, verify_report=report)
                return team_scope(team_id), team_id, store.team_files(st)
            closed = figures.is_closed(session, month)
            frozen = store.frozen_hashes(session, month) if closed else {}
            sts = []
            for team in session.execute(select(Team).order_by(Team.name, Team.slug)).scalars():
                st = figures.build_statement(session=session, team=team, month=month, now=now, verify_report=report)
                stored = frozen.get(team_scope(team.id))
                st.csv_sha256 = stored[2] if stored else render.sha256(render.render_csv(st).encode("utf-8"))
                sts.append(st)
            pack = county.build_county_pack(sts, month=month, closed=closed, now=now)
            return COUNTY_SCOPE, None, store.pack_files(pack)
        finally:
            session.close()


def _worker_config() -> dict:
    config = current_app.config
    return {
        "ENV_NAME": config["ENV_NAME"],
        "SECRET_KEY": config["SECRET_KEY"],
        "DATABASE_URL": config["DATABASE_URL"],
        "TESTING": bool(config.get("TESTING")),
    }


@statements_cli.command("build")
@click.option("--month", required=True, help="The month, as YYYY-MM.")
@click.option("--team", "slug", default=None, help="One team's slug (default: every team and the county pack).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--jobs", type=click.IntRange(1, 64), default=None, help="Processes to use (default: every core).")
def build_command(month: str, slug: str | None, out_dir: Path, jobs: int | None) -> None:
    """Write statement-<team>-<month>.pdf/.csv (and county-pack-<month>.pdf/.csv) into OUT."""
    try:
        month_start = figures.parse_month(month)
    except ValueError:
        raise click.BadParameter("use YYYY-MM, like 2026-10", param_hint="--month") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    engine = get_engine()
    session = open_session(engine, write=False)
    try:
        query = select(Team).order_by(Team.name)
        if slug:
            query = query.where(Team.slug == slug)
        teams = session.execute(query).scalars().all()
        if not teams:
            raise click.ClickException(f"No team {slug!r}." if slug else "No teams.")
        closed = figures.is_closed(session, month_start)
        frozen = {}
        if closed:
            for team in teams:
                row = store.frozen_row(session, month_start, team_scope(team.id))
                if row is not None:
                    frozen[team_scope(team.id)] = store.files_of(row, f"statement-{team.slug}-{month}")
            if not slug and (row := store.frozen_row(session, month_start, COUNTY_SCOPE)) is not None:
                frozen[COUNTY_SCOPE] = store.files_of(row, f"county-pack-{month}")
        todo = [("county", None)] if not slug and COUNTY_SCOPE not in frozen else []
        todo += [("team", t.id) for t in teams if team_scope(t.id) not in frozen]
        now = utcnow()
        report = services.verify(session=session) if todo else None
    finally:
        session.close()
    jobs = jobs or os.cpu_count() or 1
    written: list[store.Files] = list(frozen.values())
    with click.progressbar(length=len(todo) + len(frozen), label=f"Statements {month}") as bar:
        bar.update(len(frozen))
        for scope, team_id, files in _run(todo, month_start, now, report, jobs):
            if closed:  # freeze first; write what is stored (the first writer's bytes)
                files = store.store_frozen(
                    engine, month=month_start, scope=scope, team_id=team_id, files=files, at_close=False
                )
            written.append(files)
            bar.update(1)
    sums = []
    for files in sorted(written, key=lambda f: f.filename):
        (out_dir / f"{files.filename}.pdf").write_bytes(files.pdf)
        (out_dir / f"{files.filename}.csv").write_bytes(files.csv)
        sums += [f"{files.pdf_sha256}  {files.filename}.pdf", f"{files.csv_sha256}  {files.filename}.csv"]
    (out_dir / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    state = "closed: frozen files" if closed else "open: DRAFT"
    click.echo(f"Wrote {len(written)} statement(s) for {month} ({state}) to {out_dir} using {jobs} process(es)")


def _run(todo, month_start, now, report, jobs):
    """Yield (scope, team id, Files) as jobs finish, in a process pool unless ``jobs`` is 1."""
    if jobs == 1 or len(todo) <= 1:
        for kind, team_id in todo:
            yield _job(kind, team_id, month_start, now, report)
        return
    context = get_context("spawn")  # fresh interpreters: no inherited DB connections or locks
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)), mp_context=context, initializer=_init_worker,
        initargs=(current_app.extensions["app_factory"], _worker_config()),
    ) as pool:
        futures = [pool.submit(_job, kind, team_id, month_start, now, report) for kind, team_id in todo]
        for future in as_completed(futures):
            yield future.result()


@statements_cli.command("freeze-pending")
def freeze_pending_command() -> None:
    """Freeze every closed month's statements not frozen yet (cron; idempotent, safe to overlap)."""
    run = freeze.freeze_pending(get_engine())
    for status in run.frozen:
        pack = "and the county pack" if status.pack_ready else "but not yet the county pack"
        click.echo(f"{status.month:%Y-%m}: frozen: {status.teams_ready} of {status.teams_total} team statements {pack}.")
    for month, error in run.failed:
        click.echo(f"{month:%Y-%m}: not frozen, will be tried again: {error}", err=True)
    for month in run.elsewhere:
        click.echo(f"{month:%Y-%m}: being frozen by another runner; left to it.")
    if not run.frozen and not run.failed and not run.elsewhere:
        click.echo("Nothing to freeze: every closed month's statements are frozen.")
    if run.failed:
        raise SystemExit(1)
