"""Pledge pages: making pledges, refusals with nothing written, fulfilment by the team (404 for
another team), privacy of contact details, withdrawal, community pledges, reminders, finance's
rate, lapsing on page load and the ``pledges lapse-due`` command."""

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from community.db import london_today as today
from community.db import open_session
from ledger import services as ledger
from ledger.models import JournalEntry
from pledges import services
from pledges.models import CommunityPledge, Pledge, PledgeFulfilment, PledgeSignature
from tests.date_parts import date_parts
from tests.pledges.conftest import money_pledge


def _read(engine):
    return open_session(engine, write=False)


def _count(engine, model) -> int:
    with _read(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _pledge(engine, pledge_id) -> Pledge:
    with _read(engine) as s:
        return s.get(Pledge, pledge_id)


def _other_team_pledge(session, world):
    pledge = services.make_pledge(session=session, team=world["other"], made_by=world["other_staff"], kind="time",
                                  today=today(), description="Gardening", minutes=60, frequency="once")
    session.commit()
    return pledge


def test_a_resident_pledges_money_to_a_team(client, engine, world, sign_in):
    sign_in(world["resident"])
    choose = client.get("/teams/shirebrook/pledges/new").get_data(as_text=True)
    assert "A room or space" in choose and "/teams/shirebrook/pledges/new/money" in choose
    form = client.get("/teams/shirebrook/pledges/new/money").get_data(as_text=True)
    assert 'name="amount"' in form and 'name="on_behalf_name"' not in form and 'name="hours"' not in form
    response = client.post("/teams/shirebrook/pledges/new/money", data={
        "description": "£20 towards the youth space", "amount": "20", "visibility": "public_named",
        **date_parts("due_on", today() + dt.timedelta(days=10)), "on_behalf_name": "Sneaky Ltd"})
    assert response.status_code == 302
    pledge = _pledge(engine, int(response.headers["Location"].rsplit("/", 1)[1]))
    assert pledge.amount_pence == 2_000 and pledge.pledger_person_id == world["resident"].id
    assert pledge.pledger_name == "Rita Morgan" and pledge.contact_email == "rita@example.org"
    assert _count(engine, JournalEntry) == 0  # a promise is not money
    wall = client.get("/teams/shirebrook/pledges").get_data(as_text=True)
    assert "£20 towards the youth space" in wall and "£20.00" in wall


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("money", {"amount": "-5"}, "The amount must be more than £0"),
        ("money", {"amount": "0"}, "The amount must be more than £0"),
        ("money", {"amount": "lots"}, "Enter the amount in pounds and pence"),
        ("money", {"amount": "5", **date_parts("due_on", "2020-01-01")}, "The date must be today or in the future"),
        ("money", {"amount": "5", "idea_id": "-2"}, "Choose an idea from the list"),
        ("money", {"amount": "5", "idea_id": "２"}, "Choose an idea from the list"),
        ("time", {"hours": "0", "frequency": "once"}, "The hours must be more than 0"),
        ("time", {"hours": "-3", "frequency": "once"}, "The hours must be more than 0"),
        ("time", {"hours": "25", "frequency": "once"}, "A day has 24 hours"),
        ("time", {"hours": "2", "frequency": "week"}, "Say until when"),
        ("goods", {"quantity": "0"}, "The number must be 1 or more"),
        ("goods", {"quantity": "1", "estimated_value": "-10"}, "The amount must be more than £0"),
        ("space", {"room": ""}, "Name the room or hall"),
    ],
)
def test_bad_pledges_are_refused_clearly_and_nothing_is_written(client, engine, world, sign_in, kind, data, message):
    sign_in(world["resident"])
    response = client.post(f"/teams/shirebrook/pledges/new/{kind}",
                           data={"description": "Something", "visibility": "public_named", **data})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page and "There is a problem" in page
    assert _count(engine, Pledge) == 0


def test_signing_in_is_needed_to_pledge(client, world):
    assert client.get("/teams/shirebrook/pledges/new/money").status_code == 302
    assert client.get("/teams/nowhere/pledges").status_code == 404


def test_staff_pledge_on_behalf_and_contact_details_stay_with_the_team(client, app, engine, world, sign_in):
    sign_in(world["staff"])
    response = client.post("/teams/shirebrook/pledges/new/space", data={
        "description": "The church hall on Fridays", "room": "Church hall", "when_text": "Fridays",
        "estimated_value": "30", "visibility": "public_named", "on_behalf_name": "St Mary's Church",
        "on_behalf_is_organisation": "y", "contact_email": "hall@example.org", "contact_phone": "01234 567890"})
    assert response.status_code == 302
    url = response.headers["Location"]
    pledge = _pledge(engine, int(url.rsplit("/", 1)[1]))
    assert pledge.pledger_name == "St Mary's Church" and pledge.pledger_person_id is None
    assert "hall@example.org" in client.get(url).get_data(as_text=True)
    public = app.test_client()
    page = public.get(url).get_data(as_text=True)
    assert "St Mary&#39;s Church" in page and "hall@example.org" not in page and "01234" not in page
    assert "hall@example.org" not in public.get("/teams/shirebrook/pledges").get_data(as_text=True)


def test_private_and_anonymous_pledges(client, app, engine, session, world, sign_in):
    private = money_pledge(session, world, visibility="private")
    anonymous = money_pledge(session, world, pence=500, visibility="public_anonymous")
    public = app.test_client()
    assert public.get(f"/teams/shirebrook/pledges/{private.id}").status_code == 404
    page = public.get(f"/teams/shirebrook/pledges/{anonymous.id}").get_data(as_text=True)
    assert "Anonymous" in page and "Shirebrook Co-op" not in page
    wall = public.get("/teams/shirebrook/pledges").get_data(as_text=True)
    assert "£200.00" not in wall and "Shirebrook Co-op" not in wall
    sign_in(world["staff"])
    assert client.get(f"/teams/shirebrook/pledges/{private.id}").status_code == 200
    assert "Shirebrook Co-op" in client.get("/teams/shirebrook/pledges").get_data(as_text=True)


def test_the_team_records_money_received_into_the_ledger(client, engine, session, world, sign_in):
    pledge = money_pledge(session, world)
    sign_in(world["staff"])
    url = f"/teams/shirebrook/pledges/{pledge.id}/fulfil"
    form = client.get(url).get_data(as_text=True)
    assert 'name="idempotency_key"' in form and "restricted fund" in form
    data = {"amount": "150", **date_parts("effective_date", today()), "method": "bank transfer",
            "receipt_ref": "BACS 118", "idempotency_key": "k-1"}
    assert client.post(url, data=data).status_code == 302
    assert client.post(url, data=data).status_code == 302  # a double submit records it once
    with _read(engine) as s:
        received = s.get(Pledge, pledge.id)
        assert received.status == "partly_fulfilled"
        assert ledger.balance_of(session=s, account_id=received.restricted_account_id) == 15_000
    assert _count(engine, JournalEntry) == 1
    over = client.post(url, data={**data, "amount": "80", "idempotency_key": "k-2"})
    assert over.status_code == 200 and "more than the £50.00 still promised" in over.get_data(as_text=True)
    assert _count(engine, JournalEntry) == 1 and _count(engine, PledgeFulfilment) == 1
    gift = client.post(url, data={**data, "amount": "80", "idempotency_key": "k-3", "extra_as_gift": "y"})
    assert gift.status_code == 302
    assert _count(engine, JournalEntry) == 3 and _pledge(engine, pledge.id).status == "fulfilled"
    page = client.get(f"/teams/shirebrook/pledges/{pledge.id}").get_data(as_text=True)
    assert "BACS 118" in page


def test_bad_fulfilment_is_refused_and_nothing_is_written(client, engine, session, world, sign_in):
    pledge = services.make_pledge(session=session, team=world["team"], made_by=world["resident"], kind="time",
                                  today=today(), description="Café", minutes=600, frequency="week",
                                  due_on=today() + dt.timedelta(days=60))
    session.commit()
    sign_in(world["staff"])
    url = f"/teams/shirebrook/pledges/{pledge.id}/fulfil"
    for hours, message in (("25", "A day has 24 hours"), ("0", "more than 0"), ("-2", "more than 0")):
        response = client.post(url, data={"hours": hours, **date_parts("effective_date", today()),
                                          "idempotency_key": f"h-{hours}"})
        assert response.status_code == 200 and message in response.get_data(as_text=True)
    future = today() + dt.timedelta(days=2)
    response = client.post(url, data={"hours": "2", **date_parts("effective_date", future), "idempotency_key": "h-f"})
    assert "Date must be today or in the past" in response.get_data(as_text=True)
    assert _count(engine, PledgeFulfilment) == 0
    ok = client.post(url, data={"hours": "1.5", **date_parts("effective_date", today()), "given_by": "Rita",
                                "idempotency_key": "h-ok"})
    assert ok.status_code == 302 and _count(engine, PledgeFulfilment) == 1


def test_fulfilment_against_another_teams_pledge_is_404(client, engine, session, world, sign_in):
    ours = money_pledge(session, world)
    theirs = _other_team_pledge(session, world)
    sign_in(world["staff"])
    data = {"hours": "1", "amount": "10", **date_parts("effective_date", today()), "receipt_ref": "x",
            "method": "cash", "idempotency_key": "k"}
    assert client.post(f"/teams/shirebrook/pledges/{theirs.id}/fulfil", data=data).status_code == 404
    assert client.post(f"/teams/gamesley/pledges/{theirs.id}/fulfil", data=data).status_code == 404
    assert client.post(f"/teams/gamesley/pledges/{ours.id}/fulfil", data=data).status_code == 404
    assert _count(engine, PledgeFulfilment) == 0 and _count(engine, JournalEntry) == 0


def test_residents_cannot_record_fulfilment(client, session, world, sign_in):
    pledge = money_pledge(session, world)
    sign_in(world["resident"])
    assert client.get(f"/teams/shirebrook/pledges/{pledge.id}/fulfil").status_code == 403


def test_the_pledger_withdraws_with_a_reason(client, engine, session, world, sign_in, app):
    pledge = services.make_pledge(session=session, team=world["team"], made_by=world["resident"], kind="goods",
                                  today=today(), description="A fridge", quantity=1)
    session.commit()
    url = f"/teams/shirebrook/pledges/{pledge.id}/withdraw"
    stranger = app.test_client()
    stranger.post("/sign-in", data={"email": world["neighbour"].email, "password": "correct horse battery"})
    assert stranger.post(url, data={"reason": "Because"}).status_code == 404
    sign_in(world["resident"])
    empty = client.post(url, data={"reason": ""})
    assert "Say why the pledge is being withdrawn" in empty.get_data(as_text=True)
    assert client.post(url, data={"reason": "It broke"}).status_code == 302
    withdrawn = _pledge(engine, pledge.id)
    assert withdrawn.status == "withdrawn" and withdrawn.status_reason == "It broke"


def test_signing_a_community_pledge(client, engine, world, sign_in):
    sign_in(world["resident"])
    response = client.post("/teams/shirebrook/community-pledges/new", data={
        "title": "Being Kind in Shirebrook", "promise": "We will check on a neighbour every week"})
    assert response.status_code == 302
    url = response.headers["Location"]
    assert client.post(url + "/sign", data={"anonymous": "y"}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "<strong>1</strong> person has signed" in page and "You signed this anonymously" in page
    twice = client.post(url + "/sign", data={}, follow_redirects=True).get_data(as_text=True)
    assert "You have already signed this pledge" in twice
    assert _count(engine, PledgeSignature) == 1
    assert client.post(url + "/unsign", data={}).status_code == 302
    assert "<strong>0</strong> people have signed" in client.get(url).get_data(as_text=True)
    assert client.post(url + "/sign", data={}).status_code == 302
    assert "Rita Morgan" in client.get(url).get_data(as_text=True)
    with _read(engine) as s:
        cp = s.execute(select(CommunityPledge)).scalar_one()
        assert services.signature_count(s, cp.id) == 1


def test_a_reminder_button_emails_the_pledger(client, app, session, world, sign_in):
    pledge = money_pledge(session, world, due_on=today() + dt.timedelta(days=3))
    sign_in(world["staff"])
    due = client.get("/teams/shirebrook/pledges/reminders").get_data(as_text=True)
    assert "Due in the next 7 days" in due and pledge.description in due
    response = client.post(f"/teams/shirebrook/pledges/{pledge.id}/remind", data={"next_page": "reminders"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/pledges/reminders")
    outbox = list(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    assert len(outbox) == 1 and "coop@example.org" in outbox[0].read_text()


def test_finance_sets_the_hourly_rate(client, app, world, sign_in):
    sign_in(world["finance"])
    page = client.get("/finance/pledges/rate").get_data(as_text=True)
    assert "£12.71" in page
    assert "more than £0" in client.post("/finance/pledges/rate", data={"rate": "0"}).get_data(as_text=True)
    assert client.post("/finance/pledges/rate", data={"rate": "13.50"}).status_code == 302
    assert "£13.50" in client.get("/finance/pledges/rate").get_data(as_text=True)
    staff = app.test_client()
    staff.post("/sign-in", data={"email": world["staff"].email, "password": "correct horse battery"})
    assert staff.get("/finance/pledges/rate").status_code in (302, 403)


def test_pledges_lapse_on_page_load_and_by_command(client, runner, engine, session, world):
    early = today() - dt.timedelta(days=20)
    first = services.make_pledge(session=session, team=world["team"], made_by=world["resident"], kind="money",
                                 today=early, description="£5", amount_pence=500, due_on=today() - dt.timedelta(days=1))
    second = services.make_pledge(session=session, team=world["other"], made_by=world["resident"], kind="money",
                                  today=early, description="£6", amount_pence=600, due_on=today() - dt.timedelta(days=2))
    session.commit()
    page = client.get("/teams/shirebrook/pledges").get_data(as_text=True)
    assert _pledge(engine, first.id).status == "lapsed"
    assert "Withdrawn or lapsed" in page
    assert _pledge(engine, second.id).status == "promised"  # another team's page did not touch it
    result = runner.invoke(args=["pledges", "lapse-due"])
    assert result.exit_code == 0 and "1 pledge(s) lapsed" in result.output
    assert _pledge(engine, second.id).status == "lapsed"


# --------------------------------------------------------------------------- issue 20, item 12


def _idea(session, world, team_key: str, title: str):
    from votes import services as votes

    idea = votes.propose_idea(session=session, team=world[team_key], proposer=world["resident"], title=title,
                              description="Somewhere for young people", estimated_cost_pence=50_000)
    session.commit()
    return idea


def test_the_pledge_form_asks_for_the_date_in_three_boxes_and_marks_the_wrong_one(client, engine, world, sign_in):
    sign_in(world["resident"])
    form = client.get("/teams/shirebrook/pledges/new/money").get_data(as_text=True)
    for part in ("day", "month", "year"):
        assert f'name="due_on-{part}"' in form
    assert 'name="due_on"' not in form and "2026-12-31" not in form
    response = client.post("/teams/shirebrook/pledges/new/money", data={
        "description": "Towards the youth space", "amount": "20", "visibility": "public_named",
        "due_on-day": "31", "due_on-month": "2", "due_on-year": str(today().year + 1)})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and _count(engine, Pledge) == 0
    assert "The date must be a real date" in body[body.index('id="due_on-error"'):][:300]
    day = body[:body.index('id="due_on-day"')][-250:]
    year = body[:body.index('id="due_on-year"')][-250:]
    assert "govuk-input--error" in day and "govuk-input--error" not in year
    assert 'href="#due_on-day"' in body  # the error summary links to the box that is wrong


def test_a_pledge_is_towards_an_idea_chosen_by_title_and_another_teams_idea_is_refused(
        client, engine, session, world, sign_in):
    ours, theirs = _idea(session, world, "team", "Youth space"), _idea(session, world, "other", "Gamesley bench")
    sign_in(world["resident"])
    form = client.get(f"/teams/shirebrook/pledges/new/money?idea={ours.id}").get_data(as_text=True)
    select = form[form.index('name="idea_id"'):form.index("</select>", form.index('name="idea_id"'))]
    assert select.index("Not towards a particular idea") < select.index("Youth space")
    assert f'value="{ours.id}" selected' in select and "Gamesley bench" not in select
    data = {"description": "Towards the youth space", "amount": "20", "visibility": "public_named"}
    refused = client.post("/teams/shirebrook/pledges/new/money", data={**data, "idea_id": str(theirs.id)})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 200 and _count(engine, Pledge) == 0
    assert "Choose an idea from the list" in body[body.index('id="idea_id-error"'):][:300]
    made = client.post("/teams/shirebrook/pledges/new/money", data={**data, "idea_id": str(ours.id)})
    assert made.status_code == 302
    assert _pledge(engine, int(made.headers["Location"].rsplit("/", 1)[1])).idea_id == ours.id
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert f">{ours.title}</a>" in page[page.index("Towards idea"):][:400]  # by title, not "Idea 7"
    none = client.post("/teams/shirebrook/pledges/new/money", data={**data, "idea_id": ""})
    assert _pledge(engine, int(none.headers["Location"].rsplit("/", 1)[1])).idea_id is None


def test_a_money_pledge_is_told_how_to_hand_the_money_over_and_who_will_be_in_touch(client, world, sign_in):
    sign_in(world["resident"])
    response = client.post("/teams/shirebrook/pledges/new/money", data={
        "description": "Towards the youth space", "amount": "20", "visibility": "public_named"}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "a member of the Shirebrook Connected Team will contact you within 5 working days" in body
    assert "arrange how you give the money" in body and "do not send cash by post" in body
    time = client.post("/teams/shirebrook/pledges/new/time", data={
        "description": "Café", "hours": "2", "frequency": "once", "visibility": "public_named"}, follow_redirects=True)
    assert "arrange how you give the money" not in time.get_data(as_text=True)
