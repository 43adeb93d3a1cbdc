"""``flask pledges …`` commands."""

import click
from flask.cli import AppGroup

from community.db import get_engine, london_today, open_session
from pledges import services

pledges_cli = AppGroup("pledges", help="Maintain pledges.")


@pledges_cli.command("lapse-due")
def lapse_due_command() -> None:
    """Lapse every open pledge whose date has passed (safe to run daily, and again)."""
    with open_session(get_engine(), write=True) as session:
        lapsed = services.lapse_due(session=session, today=london_today())
        session.commit()
        for pledge in lapsed:
            click.echo(f"{pledge.reference} lapsed: {pledge.status_reason}")
    click.echo(f"{len(lapsed)} pledge(s) lapsed.")
