"""``flask spend …`` commands (run ``spend expire`` daily from cron)."""

import click
from flask import current_app
from flask.cli import AppGroup

from community import jobs
from community.db import get_engine, utcnow
from spend import services as spend

spend_cli = AppGroup("spend", help="Quick-spend housekeeping.")


@spend_cli.command("expire")
def expire_command() -> None:
    """Expire requests undecided after SPEND_EXPIRE_PENDING_DAYS (14) and flag approvals unpaid
    after SPEND_FLAG_UNPAID_DAYS (30); each request is claimed, so every host may run it."""
    pending_days = int(current_app.config["SPEND_EXPIRE_PENDING_DAYS"])
    unpaid_days = int(current_app.config["SPEND_FLAG_UNPAID_DAYS"])
    engine, now = get_engine(), utcnow()
    counts = {"expired": 0, "flagged": 0}
    for session, request_id in jobs.claimed(engine, spend.expirable(now, pending_days)):
        spend.expire_one(session=session, request_id=request_id, now=now)
        session.commit()
        counts["expired"] += 1
    for session, request_id in jobs.claimed(engine, spend.unpaid_to_flag(now, unpaid_days)):
        spend.flag_unpaid(session=session, request_id=request_id, now=now)
        session.commit()
        counts["flagged"] += 1
    click.echo(f"expired {counts['expired']} request(s) waiting over {pending_days} days; "
               f"flagged {counts['flagged']} approval(s) unpaid after {unpaid_days} days")
