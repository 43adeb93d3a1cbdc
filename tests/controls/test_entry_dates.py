"""Issue 14 finding 4: allocations, virements and reversals are dated in an open month and not
after today in Europe/London — refused by the ledger (every entry) with the message beside
the date field; the date fields say so in their label."""

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select

from community.db import london_today, open_session
from community.models import Team
from ledger import reversals
from ledger import services as ledger
from ledger.errors import PeriodClosed
from ledger.models import JournalEntry
from ledger.reversals import ReversalRequest
from tests.date_parts import date_parts
from tests.support.clock import tomorrow

FAR = dt.date(2999, 1, 1)


def _entries(session) -> int:
    return session.execute(select(func.count()).select_from(JournalEntry)).scalar_one()


@pytest.fixture
def two_teams(session, world):
    other = Team(slug="gamesley", name="Gamesley Connected Team", place_id=world["place"].id, cost_centre="TC1002")
    session.add(other)
    session.commit()
    return world["team"], other


def _first_entry(session) -> JournalEntry:
    return session.execute(select(JournalEntry).order_by(JournalEntry.id)).scalars().first()


@pytest.mark.parametrize("day", [tomorrow, lambda: FAR], ids=["tomorrow", "2999"])
@pytest.mark.parametrize("kind", ["allocate", "virement", "reverse", "reverse-held"])
def test_no_entry_is_dated_after_today(session, world, two_teams, kind, day):
    team, other = two_teams
    day = day()  # worked out now: the suite may have started yesterday
    fran = world["finance"].id
    key = uuid.uuid4().hex
    before = _entries(session)
    with pytest.raises(PeriodClosed, match="up to today"):
        if kind == "allocate":
            ledger.allocate(gl_code="R1000", session=session, team=team, amount_pence=100, actor_id=fran, effective_date=day,
                            idempotency_key=key)
        elif kind == "virement":
            ledger.transfer(session=session, from_team=team, to_team=other, amount_pence=100, reason="Help",
                            actor_id=fran, effective_date=day, idempotency_key=key)
        elif kind == "reverse":
            ledger.reverse(session=session, entry_id=_first_entry(session).id, reason="Wrong team", actor_id=fran,
                           effective_date=day, idempotency_key=key)
        else:  # £5,000: held for a second finance person, and still refused at the request
            reversals.request_reversal(session=session, entry_id=_first_entry(session).id, reason="Wrong team",
                                       actor_id=fran, effective_date=day, idempotency_key=key)
    session.rollback()
    assert _entries(session) == before
    assert session.execute(select(func.count()).select_from(ReversalRequest)).scalar_one() == 0


def test_today_in_london_is_accepted(session, world, two_teams):
    team, other = two_teams
    entry = ledger.transfer(session=session, from_team=team, to_team=other, amount_pence=100, reason="Help",
                            actor_id=world["finance"].id, effective_date=london_today(), idempotency_key="v-today")
    session.commit()
    assert entry.effective_date == london_today()


def _key(page: str) -> str:
    return re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page).group(1)


def test_a_virement_dated_2999_is_refused_beside_the_date(client, session, world, two_teams, sign_in, engine):
    team, other = two_teams
    sign_in(world["finance"])
    page = client.get("/finance/virement").get_data(as_text=True)
    assert "an open month, up to today" in page
    response = client.post("/finance/virement", data={
        "from_team_id": team.id, "to_team_id": other.id, "amount": "10.00", "reason": "Help",
        **date_parts("effective_date", "2999-01-01"), "idempotency_key": _key(page)})
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 400)
    beside = body[body.index('id="effective_date-error"'):][:300]
    assert "up to today" in beside
    with open_session(engine, write=False) as reader:
        assert _entries(reader) == 1  # the world's allocation only


@pytest.mark.parametrize("url", ["/finance/allocate", "/finance/virement", "/finance/reverse?entry=L000001"])
def test_every_entry_date_field_says_open_month_up_to_today(client, world, sign_in, url):
    sign_in(world["finance"])
    assert "an open month, up to today" in client.get(url).get_data(as_text=True)


def test_a_reversal_dated_tomorrow_is_refused_beside_the_date(client, session, world, sign_in, engine):
    sign_in(world["finance"])
    page = client.get("/finance/reverse?entry=L000001").get_data(as_text=True)
    response = client.post("/finance/reverse", data={
        "entry_id": "L000001", "reason": "Wrong team", **date_parts("effective_date", tomorrow()),
        "idempotency_key": _key(page)})
    body = response.get_data(as_text=True)
    assert "up to today" in body[body.index('id="effective_date-error"'):][:300]
    with open_session(engine, write=False) as reader:
        assert _entries(reader) == 1
        assert reader.execute(select(func.count()).select_from(ReversalRequest)).scalar_one() == 0
