"""Pledge fixtures: two teams in Shirebrook, staff of each, a resident and finance."""

import pytest

from community import services as community
from community.models import Team
from pledges import services
from tests.support.factories import TODAY


@pytest.fixture
def world(session, place_and_team, make_person):  # noqa: F811  (pytest fixture injection)
    place, team = place_and_team
    other = community.create_team(session, actor_id=None, name="Gamesley Connected Team", slug="gamesley",
                                  place_id=place.id, cost_centre="TC1002")
    session.commit()
    people = {
        "team": session.get(Team, team.id),
        "other": session.get(Team, other.id),
        "staff": make_person("ben@example.org", role="member", team=team),
        "other_staff": make_person("dev@example.org", role="member", team=other),
        "resident": make_person("rita@example.org"),
        "neighbour": make_person("tom@example.org"),
        "finance": make_person("fran@example.org", role="finance"),
    }
    return people


def money_pledge(session, world, pence=20_000, **extra):
    pledge = services.make_pledge(
        session=session, team=world["team"], made_by=world["staff"], kind="money", today=TODAY,
        description="£200 towards the youth space", on_behalf_name="Shirebrook Co-op",
        on_behalf_is_organisation=True, contact_email="coop@example.org", amount_pence=pence, **extra)
    session.commit()
    return pledge


def receive(session, world, pledge, pence, key, **extra):
    rows = services.record_money(
        session=session, team=world["team"], pledge_id=pledge.id, amount_pence=pence, effective_date=TODAY,
        actor_id=world["staff"].id, idempotency_key=key, today=TODAY, method="bank transfer",
        receipt_ref="BACS-1", **extra)
    session.commit()
    return rows
