"""``flask --app wsgi backup --out FILE`` and ``flask --app wsgi restore FILE`` (security.md L2).

SQLite: through SQLite's online backup API (``sqlite3.Connection.backup``), never a file copy
of a live database, so a backup taken while the server runs is a consistent snapshot. A backup
is checked (``PRAGMA integrity_check`` and ``ledger verify``) before it is reported as good,
and again before it is restored. Restore keeps a safety copy of the database it replaces.

PostgreSQL: these commands refuse and print the ``pg_dump`` / ``pg_restore`` commands to use
instead (custom format, plus WAL archiving for point-in-time recovery in production).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from community.db import get_engine, make_engine, normalise_url, open_session


class BackupError(click.ClickException):
    """A backup or restore that cannot be done; the message says what to do instead."""


def postgres_commands(database_url: str) -> str:
    """How to back up and restore a PostgreSQL database (printed; never run by the app)."""
    url = make_url(normalise_url(database_url)).set(drivername="postgresql")
    safe = url.render_as_string(hide_password=True)
    name = url.database or "thriving"
    return (
        "This database is PostgreSQL: use PostgreSQL's own tools (run them where the server's "
        "credentials are available, e.g. PGPASSWORD or ~/.pgpass):\n"
        f"  backup:  pg_dump --format=custom --file={name}.dump '{safe}'\n"
        f"  restore: pg_restore --clean --if-exists --no-owner --dbname='{safe}' {name}.dump\n"
        "  then:    flask --app wsgi ledger verify\n"
        "In production also archive the WAL (archive_mode=on) for point-in-time recovery."
    )


def sqlite_path(database_url: str) -> Path:
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() != "sqlite":
        raise BackupError(postgres_commands(database_url))
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory database cannot be backed up.")
    return Path(url.database)


def _copy(source: Path, target: Path) -> None:
    """Copy one SQLite database into another with the online backup API."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst, pages=1024, sleep=0.005)
    finally:
        dst.close()
        src.close()


def check(path: Path) -> str:
    """Integrity check and ledger verify of a database file; the verify summary, or raise."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist.")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a SQLite database ({error}).") from None
    if result != "ok":
        raise BackupError(f"{path} failed the integrity check: {result}")
    from ledger import services

    engine = make_engine(f"sqlite:///{path}")
    try:
        with open_session(engine, write=False) as session:
            report = services.verify(session=session)
    except Exception as error:  # a file that is SQLite but not one of ours
        raise BackupError(f"{path} is not a Thriving Communities database ({type(error).__name__}).") from None
    finally:
        engine.dispose()
    if not report.ok:
        raise BackupError(f"{path} does not pass ledger verify: {report.summary()}")
    return report.summary()


def backup(database_url: str, out: Path) -> str:
    """Back up the SQLite database to ``out`` (refuses to overwrite); returns the verify summary."""
    source = sqlite_path(database_url)
    out = Path(out)
    if out.exists():
        raise BackupError(f"{out} already exists; choose a new file name.")
    out.parent.mkdir(parents=True, exist_ok=True)
    _copy(source, out)
    return check(out)


def restore(database_url: str, backup_file: Path) -> tuple[str, Path | None]:
    """Replace the SQLite database with a checked backup; returns (verify summary, safety copy)."""
    target = sqlite_path(database_url)
    backup_file = Path(backup_file)
    check(backup_file)
    safety = None
    if target.exists():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        safety = target.with_name(f"{target.name}.before-restore-{stamp}")
        _copy(target, safety)
    _copy(backup_file, target)
    return check(target), safety


@click.command("backup")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The file to write the backup to (must not exist).")
@with_appcontext
def backup_command(out: Path) -> None:
    """Back up the database (SQLite online backup API) and check the copy."""
    summary = backup(current_app.config["DATABASE_URL"], out)
    click.echo(f"Backed up to {out}. {summary}")


@click.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(backup_file: Path) -> None:
    """Replace the database with a checked backup. Stop the server first."""
    get_engine().dispose()
    summary, safety = restore(current_app.config["DATABASE_URL"], backup_file)
    if safety:
        click.echo(f"The previous database was kept as {safety}.")
    click.echo(f"Restored from {backup_file}. {summary}")
