"""What the statement pages list: a team's months with their status, and a month's statements for
every team with the county pack (queries only; the views render them)."""

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from community.models import Team
from ledger.models import JournalEntry
from statements import figures, freeze, store
from statements.models import COUNTY_SCOPE, team_scope

MONTHS_LISTED = 24


def team_months(*, session: Session, team: Team, today: dt.date, limit: int = MONTHS_LISTED) -> list[dict]:
    """The team's months from its first entry to this one, newest first (at most ``limit``), each
    closed or not and, once frozen, with its stored files' digests."""
    first = session.execute(
        select(func.min(JournalEntry.effective_date)).where(JournalEntry.team_id == team.id)
    ).scalar_one()
    this_month = today.replace(day=1)
    start = (first or this_month).replace(day=1)
    months, month = [], this_month
    while month >= start and len(months) < limit:
        months.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    rows = []
    for m in months:
        closed = figures.is_closed(session, m)
        frozen = store.frozen_hashes(session, m).get(team_scope(team.id)) if closed else None
        rows.append({"month": m, "text": m.strftime("%Y-%m"), "closed": closed, "frozen": frozen})
    return rows


@dataclass(frozen=True)
class MonthStatements:
    rows: list[dict]  # {"team": Team, "frozen": digests or None}
    closed: bool
    pack: object | None  # the county pack's digests once frozen
    preparing: object | None  # the freeze's progress while it is under way


def month_statements(*, session: Session, month: dt.date) -> MonthStatements:
    teams = session.execute(select(Team).order_by(Team.name)).scalars().all()
    closed = figures.is_closed(session, month)
    frozen = store.frozen_hashes(session, month) if closed else {}
    status = freeze.month_status(session, month) if closed else None
    return MonthStatements(
        rows=[{"team": t, "frozen": frozen.get(team_scope(t.id))} for t in teams], closed=closed,
        pack=frozen.get(COUNTY_SCOPE), preparing=status if status is not None and not status.frozen else None)
