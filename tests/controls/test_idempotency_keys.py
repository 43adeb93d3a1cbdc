"""Issue 14 finding 5: an idempotency key names one request. Sent again with the same request
it gives the same outcome; sent with another request it is refused clearly and nothing is
written — spend approval, spend cancel and round opening (each form that carries a key)."""

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from community.db import open_session, utcnow
from ledger.errors import DomainError
from ledger.models import Hold
from spend import services as spend
from spend.models import SpendRequest
from tests.date_parts import moment_parts
from tests.support.factories import feasible_idea
from votes import services as votes
from votes.models import Round


def count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def ask(session, world):
    """Two requests alike in every detail but their id (the bug needs them identical)."""
    return spend.request_spend(session=session, team=world["team"], requester=world["member"], amount_pence=4_500,
                               payee="Stagecoach", payee_is_individual=False, purpose="Bus pass",
                               category="travel")


@pytest.fixture
def twins(session, world):
    first, second = ask(session, world), ask(session, world)
    session.commit()
    return first.id, second.id


def approve(session, world, request_id, key):
    return spend.approve(session=session, team=world["team"], request_id=request_id, approver=world["enabler"],
                         auth_session=None, idempotency_key=key)


def test_the_same_key_on_the_same_approval_gives_the_same_outcome(session, world, twins):
    first = approve(session, world, twins[0], "k-approve")
    session.commit()
    again = approve(session, world, twins[0], "k-approve")
    session.commit()
    assert again.id == first.id and again.hold_id == first.hold_id and again.status == "approved"
    assert count(session, Hold) == 1


def test_the_same_key_on_another_approval_is_refused_and_nothing_written(session, world, twins):
    approve(session, world, twins[0], "k-approve")
    session.commit()
    with pytest.raises(DomainError, match="already used for another"):
        approve(session, world, twins[1], "k-approve")
    session.rollback()
    assert count(session, Hold) == 1
    assert session.get(SpendRequest, twins[1]).status == "pending"


def _key(page: str) -> str:
    return re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page).group(1)


def test_reusing_an_approval_form_on_another_request_says_why_not_500(client, session, world, twins, sign_in, engine):
    slug = world["team"].slug
    sign_in(world["enabler"])
    key = _key(client.get(f"/teams/{slug}/spend/{twins[0]}").get_data(as_text=True))
    assert client.post(f"/teams/{slug}/spend/{twins[0]}/approve", data={"idempotency_key": key}).status_code < 400
    again = client.post(f"/teams/{slug}/spend/{twins[0]}/approve", data={"idempotency_key": key},
                        follow_redirects=True)
    assert again.status_code == 200 and "already used for another" not in again.get_data(as_text=True)
    other = client.post(f"/teams/{slug}/spend/{twins[1]}/approve", data={"idempotency_key": key},
                        follow_redirects=True)
    assert other.status_code < 500
    assert "already used for another" in other.get_data(as_text=True)
    with open_session(engine, write=False) as reader:
        assert count(reader, Hold) == 1
        assert reader.get(SpendRequest, twins[1]).status == "pending"


def test_cancel_with_the_same_key_again_gives_the_same_outcome(session, world, twins):
    approve(session, world, twins[0], "a-1")
    session.commit()
    cancel = dict(session=session, team=world["team"], request_id=twins[0], actor=world["member"],
                  idempotency_key="c-1")
    assert spend.cancel(**cancel).status == "cancelled"
    session.commit()
    assert spend.cancel(**cancel).status == "cancelled"  # the same form again: the same outcome


def test_cancel_with_a_key_used_for_another_request_is_refused(session, world, twins):
    approve(session, world, twins[0], "a-1")
    approve(session, world, twins[1], "a-2")
    spend.cancel(session=session, team=world["team"], request_id=twins[0], actor=world["member"],
                 idempotency_key="c-1")
    session.commit()
    with pytest.raises(DomainError, match="already used for another"):
        spend.cancel(session=session, team=world["team"], request_id=twins[1], actor=world["member"],
                     idempotency_key="c-1")
    session.rollback()
    assert session.get(SpendRequest, twins[1]).status == "approved"


def _open(session, world, ideas, key, title="Spring round"):
    now = utcnow().replace(second=0, microsecond=0)
    return votes.open_round(session=session, team=world["team"], actor_id=world["member"].id, title=title,
                            budget_pence=150_000, opens_at=now - dt.timedelta(hours=1),
                            closes_at=now + dt.timedelta(days=7), idea_ids=[i.id for i in ideas],
                            ballot_type="approval", rule="greedy", idempotency_key=key)


def test_opening_a_round_with_the_same_key_again_gives_the_same_round(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000)]
    first = _open(session, world, ideas, "round-k")
    session.commit()
    again = _open(session, world, ideas, "round-k")
    session.commit()
    assert again.id == first.id and count(session, Round) == 1 and count(session, Hold) == 1


def test_the_same_round_key_for_another_round_is_refused_and_nothing_written(session, world):
    bench, mural = feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)
    _open(session, world, [bench], "round-k")
    session.commit()
    with pytest.raises(DomainError, match="already used for another"):
        _open(session, world, [mural], "round-k")  # same title and budget: the hold alone would replay
    session.rollback()
    assert count(session, Round) == 1 and count(session, Hold) == 1


def test_reposting_the_round_form_shows_the_first_round(client, session, world, sign_in, engine):
    idea = feasible_idea(session, world, "Bench", 100_000)
    session.commit()
    slug = world["team"].slug
    sign_in(world["member"])
    key = _key(client.get(f"/teams/{slug}/rounds/new").get_data(as_text=True))
    data = {"idempotency_key": key, "title": "Spring", "budget": "1500", **moment_parts("opens", "2026-01-01 09:00"),
            **moment_parts("closes", (utcnow() + dt.timedelta(days=7)).strftime("%Y-%m-%d %H:%M")), "ideas": [idea.id],
            "ballot_type": "approval", "rule": "greedy"}
    first = client.post(f"/teams/{slug}/rounds/new", data=data)
    assert first.status_code == 302
    again = client.post(f"/teams/{slug}/rounds/new", data=data)
    assert again.status_code == 302 and again.headers["Location"] == first.headers["Location"]
    with open_session(engine, write=False) as reader:
        assert count(reader, Round) == 1
