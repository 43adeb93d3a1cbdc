"""Months: an entry is dated in an open month, up to today (Europe/London); closing a month
seals every account's balance and the chain head, county-wide."""

import calendar
import datetime as dt

from sqlalchemy import func, insert, select
from sqlmodel import Session

from community.db import london_today, utcnow
from community.formatting import long_date, month_year
from community.i18n import _
from ledger.errors import PeriodClosed
from ledger.models import ChainHead, LedgerAccount, LedgerPeriod, PeriodBalance, Posting


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    days = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1) + dt.timedelta(days=days)


def closed_until(*, session: Session) -> dt.date | None:
    """The first date not in a closed month, or None when no month is closed."""
    return session.execute(select(func.max(LedgerPeriod.next_month_start))).scalar_one()


def check_open_date(*, session: Session, effective_date: dt.date) -> None:
    """Every entry is dated in an open month and not after today in Europe/London (issue 14)."""
    today = london_today()
    if effective_date > today:
        raise PeriodClosed(_("%(date)s is after today. Choose a date in an open month, up to today (%(today)s).",
                             date=long_date(effective_date), today=long_date(today)))
    boundary = closed_until(session=session)
    if boundary is not None and effective_date < boundary:
        raise PeriodClosed(_("%(month)s is closed. Choose a date in an open month, up to today: on or after "
                             "%(boundary)s.", month=month_year(effective_date), boundary=long_date(boundary)))



def close_month(
    *, session: Session, month: dt.date, actor_id: int, today: dt.date | None = None
) -> LedgerPeriod:
    """Close ``month`` (any day in it) and every month before it, county-wide.

    Stores each account's closing balance (the next month's sealed opening balance) and the
    chain head. Closing the same month again returns the first close. Raises PeriodClosed
    for the current or a future month, or a month before the last one closed.
    """
    today = today or london_today()
    start, end = month_start(month), next_month(month)
    if start >= month_start(today):
        raise PeriodClosed(_("Only months that have ended can be closed."))
    # The chain-head lock orders the close after every entry written before it.
    head = session.execute(
        select(ChainHead.entry_id, ChainHead.hash).where(ChainHead.id == 1).with_for_update()
    ).one()
    last = session.execute(
        select(LedgerPeriod).order_by(LedgerPeriod.month_start.desc()).limit(1)
    ).scalar_one_or_none()
    if last is not None and start == last.month_start:
        return last
    if last is not None and start < last.month_start:
        raise PeriodClosed(_("%(month)s is already closed.", month=month_year(start)))
    opening: dict[int, int] = {}
    query = select(Posting.account_id, func.sum(Posting.amount_pence)).where(Posting.effective_date < end)
    if last is not None:
        opening = dict(
            session.execute(
                select(PeriodBalance.account_id, PeriodBalance.balance_pence).where(
                    PeriodBalance.month_start == last.month_start
                )
            ).all()
        )
        query = query.where(Posting.effective_date >= last.next_month_start)
    movement = dict(session.execute(query.group_by(Posting.account_id)).all())
    period = LedgerPeriod(
        month_start=start,
        next_month_start=end,
        closed_at=utcnow(),
        closed_by_id=actor_id,
        chain_head_entry_id=head.entry_id,
        chain_head_hash=head.hash,
    )
    session.add(period)
    session.flush()
    account_ids = session.execute(select(LedgerAccount.id)).scalars().all()
    rows = [
        {
            "month_start": start,
            "account_id": a,
            "balance_pence": int(opening.get(a, 0)) + int(movement.get(a, 0)),
        }
        for a in account_ids
    ]
    if rows:
        session.execute(insert(PeriodBalance), rows)
    return period

