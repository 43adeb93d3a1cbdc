"""Factories for community tests, built through the real services."""

import pyotp
import pytest

from community import services
from community.db import open_session
from community.models import Membership, Person, Place, PostcodeDistrict, Team

PASSWORD = "correct horse battery"


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
