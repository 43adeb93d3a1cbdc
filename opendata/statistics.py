"""Statistics at a glance, for one team or the county (every team): turnout per round, ideas by
stage, spend by category and by month over the financial year, time from a spend request to its
decision, and pledges promised against given. Counts and sums only: no names, no person ids.

Figures are computed here (queries only); :mod:`opendata.charts` turns them into bars and the
templates show each chart with a table of the same numbers.
"""

from __future__ import annotations

import datetime as dt
import statistics as stats
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlmodel import Session

from community.db import london_midnight, london_today
from community.formatting import gbp, month_year
from community.i18n import _
from community.models import Person, Team
from ledger import codes
from ledger.models import EntryKind, JournalEntry, LedgerAccount, Posting
from opendata.charts import Chart, bar_chart
from pledges.services import memorandum
from spend.models import SpendRequest
from statements.figures import financial_period, next_month
from votes.models import IDEA_STATUSES, STATUS_LABELS, Idea, IdeaStatus, Round

PUBLIC_STAGES = tuple(s for s in IDEA_STATUSES if s != IdeaStatus.HIDDEN.value)


@dataclass(frozen=True)
class Turnout:
    team: str
    round_id: int
    title: str
    closed: dt.date
    online: int  # online and imported ballots
    paper: int
    eligible: int  # residents who may vote in the team's rounds today

    @property
    def total(self) -> int:
        return self.online + self.paper

    def share(self, n: int) -> Decimal:
        """``n`` as a percentage of the eligible residents, to one place (0 when none are)."""
        if not self.eligible:
            return Decimal(0)
        return (Decimal(100 * n) / self.eligible).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class DecisionTimes:
    count: int
    median_hours: Decimal | None
    fastest_hours: Decimal | None
    slowest_hours: Decimal | None
    within_two_days: int


@dataclass(frozen=True)
class Pledges:
    money_promised_pence: int
    money_received_pence: int
    hours_promised: Decimal
    hours_given: Decimal


@dataclass
class Figures:
    scope: str  # a team's name, or "Derbyshire"
    financial_year: str
    fy_start: dt.date
    turnout: list[Turnout] = field(default_factory=list)
    ideas_by_stage: list[tuple[str, str, int]] = field(default_factory=list)  # (status, label, count)
    spend_by_category: list[tuple[str, int]] = field(default_factory=list)  # (label, pence), largest first
    spend_by_month: list[tuple[dt.date, int]] = field(default_factory=list)  # April … March
    decisions: DecisionTimes | None = None
    pledges: Pledges | None = None

    @property
    def spend_total_pence(self) -> int:
        return sum(p for _, p in self.spend_by_category)


def _eligible(session: Session, place_ids: set[int]) -> dict[int, int]:
    """Place id → active, confirmed residents (as votes.services.eligible_residents counts them)."""
    return dict(session.execute(
        select(Person.place_id, func.count()).where(
            Person.place_id.in_(place_ids), Person.is_active.is_(True), Person.email_confirmed_at.is_not(None))
        .group_by(Person.place_id)).all())


def _turnout(session: Session, teams: list[Team]) -> list[Turnout]:
    by_id = {t.id: t for t in teams}
    eligible = _eligible(session, {t.place_id for t in teams})
    rounds = session.execute(select(Round).where(Round.team_id.in_(by_id), Round.status == "closed")
                             .order_by(Round.closed_at, Round.id)).scalars().all()
    return [Turnout(team=by_id[r.team_id].name, round_id=r.id, title=r.title,
                    closed=(r.closed_at or r.closes_at).date(), online=r.online_ballots, paper=r.paper_ballots,
                    eligible=eligible.get(by_id[r.team_id].place_id, 0)) for r in rounds]


def _ideas(session: Session, team_ids: list[int]) -> list[tuple[str, str, int]]:
    counts = dict(session.execute(select(Idea.status, func.count()).where(Idea.team_id.in_(team_ids))
                                  .group_by(Idea.status)).all())
    return [(s, STATUS_LABELS[s], int(counts.get(s, 0))) for s in PUBLIC_STAGES]


def _spend(session: Session, team_ids: list[int], start: dt.date, end: dt.date):
    """Spend net of its reversals on the teams' accounts (budget and restricted funds), dated in
    [start, end): by category label and by month."""
    rows = session.execute(
        select(JournalEntry.category, Posting.effective_date, Posting.amount_pence)
        .join(Posting, Posting.entry_id == JournalEntry.id)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .where(LedgerAccount.team_id.in_(team_ids), LedgerAccount.kind.in_(("budget", "restricted")),
               JournalEntry.kind.in_((EntryKind.SPEND.value, EntryKind.REVERSAL.value)),
               JournalEntry.category.is_not(None), Posting.effective_date >= start, Posting.effective_date < end)
    ).all()
    by_category: dict[str, int] = defaultdict(int)
    by_month: dict[dt.date, int] = defaultdict(int)
    for category, day, amount in rows:
        by_category[codes.category_label(category)] -= int(amount)
        by_month[day.replace(day=1)] -= int(amount)
    months, month = [], start
    while month < end:
        months.append((month, by_month.get(month, 0)))
        month = next_month(month)
    categories = sorted(((c, p) for c, p in by_category.items() if p), key=lambda cp: (-cp[1], cp[0]))
    return categories, months


def _hours(delta: dt.timedelta) -> Decimal:
    return (Decimal(delta.total_seconds()) / 3600).quantize(Decimal("0.1"))


def _decisions(session: Session, team_ids: list[int], start: dt.date, end: dt.date) -> DecisionTimes:
    """Requests decided (approved or refused by someone) in the financial year: request → decision."""
    pairs = session.execute(select(SpendRequest.created_at, SpendRequest.decided_at).where(
        SpendRequest.team_id.in_(team_ids), SpendRequest.decided_by_id.is_not(None),
        SpendRequest.decided_at >= london_midnight(start), SpendRequest.decided_at < london_midnight(end))).all()
    waits = sorted(decided - created for created, decided in pairs)
    if not waits:
        return DecisionTimes(0, None, None, None, 0)
    median = stats.median(waits)
    return DecisionTimes(count=len(waits), median_hours=_hours(median), fastest_hours=_hours(waits[0]),
                         slowest_hours=_hours(waits[-1]),
                         within_two_days=sum(1 for w in waits if w <= dt.timedelta(days=2)))


def _pledges(session: Session, team_ids: list[int], start: dt.date, end: dt.date) -> Pledges:
    found = [memorandum(session, t, start, end) for t in team_ids]
    return Pledges(money_promised_pence=sum(m.money_promised_pence for m in found),
                   money_received_pence=sum(m.money_received_pence for m in found),
                   hours_promised=sum((m.hours_promised for m in found), Decimal(0)),
                   hours_given=sum((m.hours_given for m in found), Decimal(0)))


def figures(*, session: Session, team: Team | None, today: dt.date | None = None) -> Figures:
    """The statistics of ``team`` (None: the county, every team) for the financial year of ``today``."""
    teams = [team] if team is not None else list(session.execute(select(Team).order_by(Team.name)).scalars())
    team_ids = [t.id for t in teams]
    label, _period, fy_start = financial_period((today or london_today()).replace(day=1))
    fy_end = fy_start.replace(year=fy_start.year + 1)
    found = Figures(scope=team.name if team else _("Derbyshire"), financial_year=label, fy_start=fy_start)
    found.turnout = _turnout(session, teams)
    found.ideas_by_stage = _ideas(session, team_ids)
    found.spend_by_category, found.spend_by_month = _spend(session, team_ids, fy_start, fy_end)
    found.decisions = _decisions(session, team_ids, fy_start, fy_end)
    found.pledges = _pledges(session, team_ids, fy_start, fy_end)
    return found


def charts(found: Figures) -> dict[str, Chart]:
    """The page's charts, from the same figures as its tables."""
    turnout = []
    for t in found.turnout:
        name = t.title if t.team == found.scope else f"{t.team}: {t.title}"
        turnout.append((_("Online: %(round)s", round=name), float(t.share(t.online)), f"{t.share(t.online)}%"))
        turnout.append((_("Paper: %(round)s", round=name), float(t.share(t.paper)), f"{t.share(t.paper)}%"))
    return {
        "turnout": bar_chart("chart-turnout", _("Turnout per round"),
                             _("Online and paper ballots in each closed round, as a share of the residents "
                               "who may vote."), turnout),
        "ideas": bar_chart("chart-ideas", _("Ideas by stage"), _("How many ideas are at each stage."),
                           [(label, n, str(n)) for _s, label, n in found.ideas_by_stage]),
        "categories": bar_chart("chart-categories", _("Spend by category, %(year)s", year=found.financial_year),
                                _("Money spent in each category this financial year, net of refunds."),
                                [(codes.shown_category(c), p, gbp(p)) for c, p in found.spend_by_category]),
        "months": bar_chart("chart-months", _("Spend by month, %(year)s", year=found.financial_year),
                            _("Money spent in each month from April to March, net of refunds."),
                            [(month_year(m), p, gbp(p)) for m, p in found.spend_by_month]),
    }
