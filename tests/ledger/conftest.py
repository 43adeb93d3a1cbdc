"""Ledger fixtures: a place, two teams and a finance officer, built in the test database."""

import datetime as dt

import pytest

from community.models import Person, Place, Team

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def people(session):
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
