"""Votes fixtures: a place with its team and £5,000 allocated, residents, team staff, and
helpers to make feasible ideas and open rounds through the real services."""

import datetime as dt
import itertools

import pytest

from community.db import utcnow
from community.models import Person, Place
from ledger import services as ledger
from tests.community.conftest import make_person, place_and_team, sign_in  # noqa: F401 - fixtures
from tests.votes import pabulib_data
from votes import services

SECRET = "test-secret-" + "x" * 40  # the app's SECRET_KEY in tests/conftest.py


@pytest.fixture
def pabulib():
    """The Pabulib sample data folder: skip (with the reason) when it is missing, fail under CI."""
    return pabulib_data.require()


@pytest.fixture
def world(session, place_and_team, make_person):  # noqa: F811 - fixtures imported above
    place, team = place_and_team
    finance = make_person("fran@example.org", role="finance")
    member = make_person("mo@example.org", role="member", team=team)
    enabler = make_person("eve@example.org", role="enabler", team=team)
    residents = [make_person(f"res{i}@example.org") for i in range(5)]
    elsewhere = Place(name="Gamesley", slug="gamesley", district="High Peak")
    session.add(elsewhere)
    session.flush()
    outsider = make_person("out@example.org")
    outsider.place_id = elsewhere.id
    session.add(outsider)
    ledger.allocate(gl_code="R1000", session=session, team=team, amount_pence=500_000, actor_id=finance.id,
                    effective_date=dt.date.today(), idempotency_key="alloc-1")
    session.commit()
    return dict(place=place, team=team, finance=finance, member=member, enabler=enabler,
                residents=residents, outsider=outsider)


_keys = itertools.count(1)


def feasible_idea(session, world, title, cost_pence, proposer=None):
    idea = services.propose_idea(session=session, team=world["team"], proposer=proposer or world["residents"][0],
                                 title=title, description=f"{title} for everyone", estimated_cost_pence=cost_pence)
    services.review_idea(session=session, team=world["team"], idea_id=idea.id, reviewer_id=world["member"].id,
                         decision="feasible", team_cost_pence=cost_pence)
    return idea


def open_round(session, world, ideas, *, budget=150_000, ballot_type="approval", rule="greedy", k=None,
               closes_in=dt.timedelta(days=7)):
    now = utcnow()
    return services.open_round(session=session, team=world["team"], actor_id=world["member"].id, title="Spring round",
                               budget_pence=budget, opens_at=now - dt.timedelta(hours=1), closes_at=now + closes_in,
                               idea_ids=[i.id for i in ideas], ballot_type=ballot_type, rule=rule, max_choices=k,
                               idempotency_key=f"round-{next(_keys)}")


def person(session, p) -> Person:
    return session.get(Person, p.id)
