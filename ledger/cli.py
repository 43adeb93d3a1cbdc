"""``flask ledger …`` commands."""

import click
from flask.cli import AppGroup

from community.db import get_engine, open_session
from ledger import services

ledger_cli = AppGroup("ledger", help="Check and maintain the ledger.")


@ledger_cli.command("verify")
def verify_command() -> None:
    """Recompute the hash chain and balances; exit 1 naming the first bad entry."""
    session = open_session(get_engine(), write=False)
    try:
        report = services.verify(session=session)
    finally:
        session.close()
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)
