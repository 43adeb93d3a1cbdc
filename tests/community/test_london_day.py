"""The council's day is Europe/London's: between midnight and 01:00 in summer the UTC date is
still yesterday, and a month closes at London's midnight, not UTC's."""

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from community.db import london_midnight, london_today
from ledger import services
from ledger.models import Hold
from statements import figures

# 00:30 on 1 October 2026 in London (BST): still 30 September in UTC.
LONDON_OCTOBER_FIRST = dt.datetime(2026, 9, 30, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def fran(session, place_and_team, make_person):  # noqa: F811
    return make_person("fran@example.org", role="finance")


def test_london_today_and_midnight_follow_summer_time():
    with time_machine.travel(LONDON_OCTOBER_FIRST, tick=False):
        assert london_today() == dt.date(2026, 10, 1)
    with time_machine.travel(dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC), tick=False):
        assert london_today() == dt.date(2026, 12, 1)  # winter: London is UTC
    assert london_midnight(dt.date(2026, 10, 1)) == dt.datetime(2026, 9, 30, 23, 0, tzinfo=dt.UTC)
    assert london_midnight(dt.date(2026, 11, 1)) == dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)


def test_september_can_be_closed_once_it_has_ended_in_london(session, fran):
    with time_machine.travel(LONDON_OCTOBER_FIRST, tick=False):
        period = services.close_month(session=session, month=dt.date(2026, 9, 1), actor_id=fran.id)
    assert period.month_start == dt.date(2026, 9, 1)


def test_a_commitment_made_after_london_midnight_belongs_to_the_next_month(session, place_and_team, fran):  # noqa: F811
    team = place_and_team[1]
    services.allocate(gl_code="R1000", session=session, team=team, amount_pence=10_000, actor_id=fran.id,
                      effective_date=dt.date(2026, 9, 1), idempotency_key="alloc")
    with time_machine.travel(LONDON_OCTOBER_FIRST, tick=False):
        services.hold(session=session, team=team, amount_pence=3_000, category="venue",
                      description="Room for the AGM", actor_id=fran.id, idempotency_key="hold")
    session.commit()
    assert session.execute(select(Hold.created_at)).scalar_one() == LONDON_OCTOBER_FIRST
    now = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)
    september = figures.build_statement(session=session, team=team, month=dt.date(2026, 9, 1), now=now)
    october = figures.build_statement(session=session, team=team, month=dt.date(2026, 10, 1), now=now)
    assert [c.description for c in september.commitments] == []
    assert [(c.description, c.created) for c in october.commitments] == [("Room for the AGM", dt.date(2026, 10, 1))]
