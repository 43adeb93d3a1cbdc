"""``flask pledges …`` commands."""

import click
from flask.cli import AppGroup

from community import jobs
from community.db import get_engine, london_today
from pledges import services

pledges_cli = AppGroup("pledges", help="Maintain pledges.")


@pledges_cli.command("lapse-due")
def lapse_due_command() -> None:
    """Lapse every open pledge whose date has passed (daily, on every host: each pledge is claimed)."""
    lapsed = 0
    for session, pledge_id in jobs.claimed(get_engine(), services.due_to_lapse(london_today())):
        pledge = services.lapse(session=session, pledge_id=pledge_id)
        session.commit()
        lapsed += 1
        click.echo(f"{pledge.reference} lapsed: {pledge.status_reason}")
    click.echo(f"{lapsed} pledge(s) lapsed.")
