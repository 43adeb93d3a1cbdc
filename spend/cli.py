"""``flask spend …`` commands (run ``spend expire`` daily from cron)."""

import click
from flask import current_app
from flask.cli import AppGroup

from community.db import get_engine, open_session
from spend import services as spend

spend_cli = AppGroup("spend", help="Quick-spend housekeeping.")


@spend_cli.command("expire")
def expire_command() -> None:
    """Expire requests undecided after SPEND_EXPIRE_PENDING_DAYS (14) and flag approvals unpaid
    after SPEND_FLAG_UNPAID_DAYS (30)."""
    pending_days = int(current_app.config["SPEND_EXPIRE_PENDING_DAYS"])
    unpaid_days = int(current_app.config["SPEND_FLAG_UNPAID_DAYS"])
    session = open_session(get_engine(), write=True)
    try:
        counts = spend.expire(session=session, pending_days=pending_days, unpaid_days=unpaid_days)
        session.commit()
    finally:
        session.close()
    click.echo(f"expired {counts['expired']} request(s) waiting over {pending_days} days; "
               f"flagged {counts['flagged']} approval(s) unpaid after {unpaid_days} days")
