"""Statistics at a glance, checked against the database: turnout per round (online and paper
against the eligible residents), ideas by stage, spend by category and month over the financial
year, time to a decision, pledges; each chart an SVG with a title and a description beside a
table of the same numbers."""

import datetime as dt
import re
import statistics as stats
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import select

from community.db import london_today
from community.formatting import gbp
from community.models import Person, Team
from opendata.statistics import figures
from spend.models import SpendRequest
from statements.figures import financial_period
from votes.models import Idea, Round


def _team(db, slug):
    return db.execute(select(Team).where(Team.slug == slug)).scalar_one()


@pytest.mark.parametrize("slug", ["shirebrook", "gamesley", None])
def test_figures_match_the_database(db, slug):
    team = _team(db, slug) if slug else None
    teams = [team] if team else db.execute(select(Team)).scalars().all()
    ids = {t.id for t in teams}
    found = figures(session=db, team=team)
    _label, _p, fy_start = financial_period(london_today().replace(day=1))
    # turnout: every closed round of the teams, its ballots, its place's confirmed active residents
    closed = db.execute(select(Round).where(Round.status == "closed", Round.team_id.in_(ids))).scalars().all()
    assert [(t.round_id, t.online, t.paper) for t in found.turnout] == [
        (r.id, r.online_ballots, r.paper_ballots) for r in sorted(closed, key=lambda r: (r.closed_at, r.id))]
    for t, r in zip(found.turnout, sorted(closed, key=lambda r: (r.closed_at, r.id)), strict=True):
        place = db.get(Team, r.team_id).place_id
        eligible = [p for p in db.execute(select(Person).where(Person.place_id == place)).scalars()
                    if p.is_active and p.email_confirmed_at]
        assert t.eligible == len(eligible)
        assert t.share(t.total) == (Decimal(100 * t.total) / len(eligible)).quantize(Decimal("0.1"))
    # ideas by stage, hidden ones left out
    counts = Counter(i.status for i in db.execute(select(Idea).where(Idea.team_id.in_(ids))).scalars())
    assert {s: n for s, _label, n in found.ideas_by_stage if n} == {s: n for s, n in counts.items() if s != "hidden"}
    # spend: the months are April to March; categories and months add up to the same total
    assert [m for m, _ in found.spend_by_month] == [
        dt.date(fy_start.year + (fy_start.month + k - 1) // 12, (fy_start.month + k - 1) % 12 + 1, 1) for k in range(12)]
    assert sum(p for _, p in found.spend_by_month) == found.spend_total_pence
    # decisions: created → decided of the requests decided this financial year
    waits = sorted(r.decided_at - r.created_at for r in db.execute(select(SpendRequest).where(
        SpendRequest.team_id.in_(ids), SpendRequest.decided_by_id.is_not(None))).scalars()
        if r.decided_at.date() >= fy_start)
    assert found.decisions.count == len(waits)
    if waits:
        assert found.decisions.median_hours == (Decimal(stats.median(waits).total_seconds()) / 3600).quantize(
            Decimal("0.1"))


def test_shirebrook_spend_this_year_is_its_ledger_spend(db):
    from ledger.models import JournalEntry, LedgerAccount, Posting

    team = _team(db, "shirebrook")
    found = figures(session=db, team=team)
    _label, _p, fy_start = financial_period(london_today().replace(day=1))
    net = db.execute(select(Posting.amount_pence).join(JournalEntry, JournalEntry.id == Posting.entry_id)
                     .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
                     .where(LedgerAccount.team_id == team.id, LedgerAccount.kind.in_(("budget", "restricted")),
                            JournalEntry.kind.in_(("spend", "reversal")),
                            JournalEntry.category.is_not(None), Posting.effective_date >= fy_start)).scalars().all()
    assert found.spend_total_pence == -sum(net) > 0


def _table(page: str, table_id: str) -> list[list[str]]:
    table = page[page.index(f'id="{table_id}"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows[1:]]


def _svg(page: str, chart_id: str) -> str:
    start = page.index(f'aria-labelledby="{chart_id}-title {chart_id}-desc"')
    return page[page.rindex("<svg", 0, start):page.index("</svg>", start)]


@pytest.mark.parametrize("url, slug", [("/teams/shirebrook/statistics", "shirebrook"), ("/statistics", None)])
def test_each_chart_is_an_accessible_svg_beside_a_table_of_the_same_numbers(world, db, url, slug):
    page = world["client"].get(url).get_data(as_text=True)
    assert "<script" not in page.split("</main>")[0].split("<main")[1]
    found = figures(session=db, team=_team(db, slug) if slug else None)
    for chart_id in ("chart-turnout", "chart-ideas", "chart-categories", "chart-months"):
        svg = _svg(page, chart_id)
        assert 'role="img"' in svg and f'<title id="{chart_id}-title">' in svg and f'<desc id="{chart_id}-desc">' in svg
    ideas = _table(page, "table-ideas")
    assert ideas == [[label, str(n)] for _s, label, n in found.ideas_by_stage]
    svg = _svg(page, "chart-ideas")
    assert [t for t in re.findall(r">([^<>]+)</text>", svg)][1::2] == [str(n) for _s, _l, n in found.ideas_by_stage]
    months = _table(page, "table-months")
    assert months == [[m.strftime("%B %Y"), gbp(p)] for m, p in found.spend_by_month]
    assert all(gbp(p) in _svg(page, "chart-months") for _m, p in found.spend_by_month)
    categories = _table(page, "table-categories")
    assert categories == [[c, gbp(p)] for c, p in found.spend_by_category]
    turnout = _table(page, "table-turnout")
    assert [row[-1] for row in turnout] == [f"{t.share(t.total)}%" for t in found.turnout]
    for t in found.turnout:
        assert f"{t.share(t.online)}%" in _svg(page, "chart-turnout")
    pledges = _table(page, "table-pledges")
    assert pledges[0] == ["Money", gbp(found.pledges.money_promised_pence), gbp(found.pledges.money_received_pence)]


def test_statistics_are_linked_from_the_team_page_and_the_footer(world):
    team_page = world["client"].get("/teams/shirebrook").get_data(as_text=True)
    assert 'href="/teams/shirebrook/statistics"' in team_page and 'href="/teams/shirebrook/ledger.csv"' in team_page
    assert 'href="/statistics"' in team_page and 'href="/transparency"' in team_page
    assert world["client"].get("/teams/nowhere/statistics").status_code == 404
