"""The factories every package's tests build on, loaded for the whole suite as a pytest plugin
(``pytest_plugins`` in tests/conftest.py), so no conftest re-exports another's fixtures.

Everything is built through the real services (sign-up, team creation, allocation, review,
opening a round), as a user would get there:

* ``place_and_team`` — Shirebrook, its NG20 postcode district and its Connected Team;
* ``make_person(email, role=..., team=...)`` — a signed-up resident, optionally staff
  (member/enabler of ``team``), finance or admin, with a TOTP secret for staff;
* ``sign_in(person)`` — through the real forms, including the TOTP step;
* ``people`` — the ledger's world: a place, two teams, a finance officer and a member;
* ``votes_world`` — the votes world: the team with £5,000 allocated, finance, a member, an
  enabler, five residents and one resident of another place (``world`` in the votes and
  controls tests);
* ``feasible_idea`` / ``open_round`` — plain helpers over the votes services.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pyotp
import pytest

from community import services
from community.db import open_session, utcnow
from community.models import Membership, Person, Place, PostcodeDistrict, Team
from ledger import services as ledger
from tests.support.clock import today
from votes import services as votes

PASSWORD = "correct horse battery"
TODAY = dt.date(2026, 11, 23)
SECRET = "test-secret-" + "x" * 40  # the app's SECRET_KEY in tests/conftest.py


# --------------------------------------------------------------------------- community


@pytest.fixture
def place_and_team(session):
    place = Place(name="Shirebrook", slug="shirebrook", district="Bolsover")
    session.add(place)
    session.flush()
    session.add(PostcodeDistrict(outward_code="NG20", place_id=place.id))
    team = services.create_team(session, actor_id=None, name="Shirebrook Connected Team",
                                slug="shirebrook", place_id=place.id, cost_centre="TC1001")
    session.commit()
    return place, team


@pytest.fixture
def make_person(session):
    def make(email="rita@example.org", *, role=None, team: Team | None = None, totp=True) -> Person:
        person = services.sign_up_resident(session, name="Rita Morgan", email=email,
                                           password=PASSWORD, postcode="NG20 8AA")
        if role in ("member", "enabler"):
            session.add(Membership(team_id=team.id, person_id=person.id, role=role))
        elif role == "finance":
            person.is_finance = True
        elif role == "admin":
            person.is_admin = True
        if role and totp:
            person.totp_secret = pyotp.random_base32()
        session.add(person)
        session.commit()
        return person

    return make


@pytest.fixture
def sign_in(client, engine):
    """Sign in through the real forms, including the TOTP step for staff."""

    def do(person: Person, password: str = PASSWORD):
        response = client.post("/sign-in", data={"email": person.email, "password": password})
        if response.headers.get("Location", "").endswith("/sign-in/code"):
            # A separate read-only session: the test's write session would hold SQLite's lock.
            with open_session(engine, write=False) as reader:
                secret = reader.get(Person, person.id).totp_secret
            response = client.post("/sign-in/code", data={"code": pyotp.TOTP(secret).now()})
        return response

    return do


# --------------------------------------------------------------------------- ledger


@pytest.fixture
def people(session):
    """A place, two teams and a finance officer (and a member), built in the test database."""
    place = Place(slug="shirebrook", name="Shirebrook", district="Bolsover")
    session.add(place)
    session.flush()
    teams = [
        Team(slug=f"team-{i}", name=f"Team {i}", place_id=place.id, cost_centre=f"CC{i:03d}") for i in (1, 2)
    ]
    finance = Person(email="finance@example.org", name="Fran Finance", is_finance=True)
    member = Person(email="member@example.org", name="Mo Member")
    session.add_all([*teams, finance, member])
    session.commit()
    return {"teams": teams, "finance": finance, "member": member}


# --------------------------------------------------------------------------- votes


@pytest.fixture
def votes_world(session, place_and_team, make_person):
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
                    effective_date=today(), idempotency_key="alloc-1")
    session.commit()
    return dict(place=place, team=team, finance=finance, member=member, enabler=enabler,
                residents=residents, outsider=outsider)


_keys = itertools.count(1)


def feasible_idea(session, world, title, cost_pence, proposer=None):
    idea = votes.propose_idea(session=session, team=world["team"], proposer=proposer or world["residents"][0],
                              title=title, description=f"{title} for everyone", estimated_cost_pence=cost_pence)
    votes.review_idea(session=session, team=world["team"], idea_id=idea.id, reviewer_id=world["member"].id,
                      decision="feasible", team_cost_pence=cost_pence)
    return idea


def open_round(session, world, ideas, *, budget=150_000, ballot_type="approval", rule="greedy", k=None,
               closes_in=dt.timedelta(days=7)):
    now = utcnow()
    return votes.open_round(session=session, team=world["team"], actor_id=world["member"].id, title="Spring round",
                            budget_pence=budget, opens_at=now - dt.timedelta(hours=1), closes_at=now + closes_in,
                            idea_ids=[i.id for i in ideas], ballot_type=ballot_type, rule=rule, max_choices=k,
                            idempotency_key=f"round-{next(_keys)}")
