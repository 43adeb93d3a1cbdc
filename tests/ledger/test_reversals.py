"""Reversing an entry (issue 20, item 5): the entry is named as the app shows it, the page shows
what it would reverse before anything is written, and above the threshold a second finance
person approves it — never the one who asked (the service and the database both refuse)."""

import re
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from community.db import open_session
from ledger import reversals, services
from ledger.errors import InvalidRequest, ReversalRefused
from ledger.models import JournalEntry, ReversalRequest
from tests.date_parts import date_parts
from tests.support.clock import today


def _key() -> str:
    return uuid.uuid4().hex


def count(engine, model=JournalEntry) -> int:
    with open_session(engine, write=False) as reader:
        return reader.execute(select(func.count()).select_from(model)).scalar_one()


def _allocate(session, team, person, pence):
    entry = services.allocate(gl_code="R1000", session=session, team=team, amount_pence=pence, actor_id=person.id,
                              effective_date=today(), idempotency_key=_key(), description="Budget for the year")
    session.commit()
    return entry


@pytest.mark.parametrize(("typed", "entry_id"), [("L000341", 341), ("l341", 341), ("341", 341), (" L000341 ", 341)])
def test_the_entry_reference_is_accepted_as_the_ledger_shows_it(typed, entry_id):
    assert reversals.parse_reference(typed) == entry_id


@pytest.mark.parametrize("typed", ["", "L", "L0", "X341", "L-3", "3.4", "L000341x", "３４１"])
def test_anything_else_is_refused_with_a_sentence(typed):
    with pytest.raises(InvalidRequest, match="like L000341"):
        reversals.parse_reference(typed)


def test_the_page_shows_the_entry_before_anything_is_reversed(client, engine, session, place_and_team, make_person,  # noqa: F811
                                                              sign_in):  # noqa: F811
    team = place_and_team[1]
    fran = make_person("fran@example.org", role="finance")
    entry = _allocate(session, team, fran, 1_200_000)
    sign_in(fran)
    page = client.get(f"/finance/reverse?entry={services.reference(entry.id)}").get_data(as_text=True)
    shown = page[page.index('id="entry-to-reverse"'):]
    assert services.reference(entry.id) in shown and team.name in shown and "Budget for the year" in shown
    assert "£12,000.00" in shown and "second finance person" in page
    bad = client.get("/finance/reverse?entry=L12x")
    assert bad.status_code == 200 and "like L000341" in bad.get_data(as_text=True)
    assert count(engine) == 1  # looking writes nothing


def test_a_small_reversal_is_made_at_once_after_the_confirmation(client, engine, session, place_and_team,  # noqa: F811
                                                                 make_person, sign_in):  # noqa: F811
    team = place_and_team[1]
    fran = make_person("fran@example.org", role="finance")
    entry = _allocate(session, team, fran, 50_000)
    sign_in(fran)
    page = client.get(f"/finance/reverse?entry={entry.id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page).group(1)
    data = {"entry_id": services.reference(entry.id), "reason": "Wrong team", **date_parts("effective_date", today()),
            "idempotency_key": key}
    assert client.post("/finance/reverse", data=data).status_code == 302
    assert client.post("/finance/reverse", data=data).status_code in (200, 302)  # a double click
    assert count(engine) == 2 and count(engine, ReversalRequest) == 0


def test_above_the_threshold_a_second_finance_person_approves(client, app, engine, session, place_and_team,  # noqa: F811
                                                              make_person, sign_in):  # noqa: F811
    team = place_and_team[1]
    fran = make_person("fran@example.org", role="finance")
    fred = make_person("fred@example.org", role="finance")
    entry = _allocate(session, team, fran, 1_200_000)
    sign_in(fran)
    page = client.get(f"/finance/reverse?entry={entry.id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page).group(1)
    response = client.post("/finance/reverse", data={
        "entry_id": services.reference(entry.id), "reason": "Allocated to the wrong team",
        **date_parts("effective_date", today()), "idempotency_key": key})
    assert response.status_code == 302 and response.headers["Location"].endswith("/finance/reversals")
    assert count(engine) == 1 and count(engine, ReversalRequest) == 1  # nothing reversed yet
    with open_session(engine, write=False) as reader:
        held = reader.execute(select(ReversalRequest)).scalar_one()
    waiting = client.get("/finance/reversals").get_data(as_text=True)
    assert "Another finance person must decide" in waiting and "£12,000.00" in waiting
    refused = client.post(f"/finance/reversals/{held.id}/approve", follow_redirects=True)
    assert "you asked for it" in refused.get_data(as_text=True)
    assert count(engine) == 1
    client.post("/sign-out")
    sign_in(fred)
    assert client.post(f"/finance/reversals/{held.id}/approve").status_code == 302
    with open_session(engine, write=False) as reader:
        made = reader.execute(select(JournalEntry).where(JournalEntry.reverses_entry_id == entry.id)).scalar_one()
        assert (made.proposer_id, made.approver_id, made.actor_id) == (fran.id, fred.id, fred.id)
        assert reader.get(ReversalRequest, held.id).status == "reversed"
    assert client.post(f"/finance/reversals/{held.id}/approve").status_code == 302  # again: nothing more
    assert count(engine) == 2


def test_the_one_who_asked_cannot_decide_and_the_database_refuses_it_too(session, place_and_team, make_person):  # noqa: F811
    team = place_and_team[1]
    fran = make_person("fran@example.org", role="finance")
    entry = _allocate(session, team, fran, 1_200_000)
    outcome = reversals.request_reversal(session=session, entry_id=entry.id, reason="Wrong", effective_date=today(),
                                         actor_id=fran.id, idempotency_key=_key())
    session.commit()
    assert outcome.reversal is None and outcome.request is not None
    with pytest.raises(ReversalRefused, match="second finance person"):
        reversals.approve(session=session, request_id=outcome.request.id, approver_id=fran.id)
    with pytest.raises(ReversalRefused, match="already waiting"):
        reversals.request_reversal(session=session, entry_id=entry.id, reason="Again", effective_date=today(),
                                   actor_id=fran.id, idempotency_key=_key())
    session.rollback()
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE reversal_request SET decided_by_id = requested_by_id WHERE id = :id"),
                        {"id": outcome.request.id})
        session.flush()
    session.rollback()


def test_a_refused_reversal_reverses_nothing(session, place_and_team, make_person):  # noqa: F811
    team = place_and_team[1]
    fran = make_person("fran@example.org", role="finance")
    fred = make_person("fred@example.org", role="finance")
    entry = _allocate(session, team, fran, 1_200_000)
    held = reversals.request_reversal(session=session, entry_id=entry.id, reason="Wrong", effective_date=today(),
                                      actor_id=fran.id, idempotency_key=_key()).request
    reversals.refuse(session=session, request_id=held.id, approver_id=fred.id)
    session.commit()
    assert session.execute(select(func.count()).select_from(JournalEntry)).scalar_one() == 1
    with pytest.raises(ReversalRefused, match="already refused"):
        reversals.approve(session=session, request_id=held.id, approver_id=fred.id)
