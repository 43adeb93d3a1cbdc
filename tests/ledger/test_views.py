"""Ledger views: the public ledger, the finance pages, permissions and nothing written on refusal."""

import re
import uuid

import pytest
from sqlmodel import func, select

from community.db import open_session
from ledger import services
from ledger.models import JournalEntry, LedgerPeriod
from tests.date_parts import date_parts
from tests.support.clock import end_of_last_month, today


def count(engine, model=JournalEntry) -> int:
    """Rows in a table, read in a separate read session (the test's write session would block SQLite)."""
    with open_session(engine, write=False) as reader:
        return reader.exec(select(func.count()).select_from(model)).one()


def key_on(page: str) -> str:
    return re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page).group(1)


@pytest.fixture
def team(place_and_team):  # noqa: F811
    return place_and_team[1]


@pytest.fixture
def finance(make_person, sign_in):  # noqa: F811
    person = make_person("fran@example.org", role="finance")
    assert sign_in(person).status_code == 302
    return person


def _allocate(session, team, person, pence=50_000, date=None):
    entry = services.allocate(gl_code="R1000", session=session, team=team, amount_pence=pence, actor_id=person.id,
                              effective_date=date or today(), idempotency_key=uuid.uuid4().hex)
    session.commit()
    return entry


def _post_allocate(client, team, amount="1,234.50", date=None, key=None, **extra):
    if key is None:
        key = key_on(client.get("/finance/allocate").get_data(as_text=True))
    data = {"team_id": team.id, "amount": amount, **date_parts("effective_date", (date or today())),
            "description": "Budget allocation", "cost_centre": "", "gl_code": "4100",
            "idempotency_key": key, **extra}
    return client.post("/finance/allocate", data=data)


# ---- the public ledger -----------------------------------------------------------------


def test_public_ledger_withholds_individuals_and_finance_and_members_see_them(
        app, client, session, team, make_person, sign_in):  # noqa: F811
    fran = make_person("fran@example.org", role="finance")
    member = make_person("mo@example.org", role="member", team=team)
    _allocate(session, team, fran)
    held = services.hold(session=session, team=team, amount_pence=2_000, category="equipment",
                         description="Litter pickers", actor_id=fran.id, idempotency_key="h1",
                         payee="Jo Bloggs", payee_is_individual=True)
    services.settle_hold(session=session, hold_id=held.id, actual_pence=2_000, actor_id=fran.id,
                         effective_date=today(), idempotency_key="s1")
    services.hold(session=session, team=team, amount_pence=1_000, category="venue",
                  description="Hall hire", actor_id=fran.id, idempotency_key="h2")
    session.commit()

    body = client.get("/teams/shirebrook/ledger").get_data(as_text=True)
    assert "individual (withheld)" in body and "Jo Bloggs" not in body
    assert "Litter pickers" in body and "£500.00" in body and "£20.00" in body
    assert "£480.00" in body and "£470.00" in body  # balance and available (balance − commitments)
    assert "Reverse" not in body

    sign_in(make_person("rita@example.org"))  # a resident who is not in the team
    assert "Jo Bloggs" not in client.get("/teams/shirebrook/ledger").get_data(as_text=True)

    fin_client = app.test_client()
    _sign_in_with(fin_client, session, fran)
    body = fin_client.get("/teams/shirebrook/ledger").get_data(as_text=True)
    assert "Jo Bloggs" in body and "Reverse" in body
    mem_client = app.test_client()
    _sign_in_with(mem_client, session, member)
    body = mem_client.get("/teams/shirebrook/ledger").get_data(as_text=True)
    assert "Jo Bloggs" in body and "Reverse" not in body


def _sign_in_with(client, session, person):
    import pyotp

    from community.models import Person
    from tests.support.factories import PASSWORD

    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    with open_session(session.get_bind().engine, write=False) as reader:
        secret = reader.get(Person, person.id).totp_secret
    assert client.post("/sign-in/code", data={"code": pyotp.TOTP(secret).now()}).status_code == 302


def test_unknown_team_ledger_is_404(client, team):
    assert client.get("/teams/nowhere/ledger").status_code == 404
    assert client.get("/teams/shirebrook/ledger").status_code == 200  # no entries yet, nothing written
    assert "No money has been allocated" in client.get("/teams/shirebrook/ledger").get_data(as_text=True)


def test_ledger_is_paginated_newest_first(client, session, team, make_person):  # noqa: F811
    fran = make_person("fran@example.org", role="finance")
    for i in range(1, 53):
        _allocate(session, team, fran, pence=i * 100)
    first = client.get("/teams/shirebrook/ledger").get_data(as_text=True)
    assert first.count("<td class=\"govuk-table__cell\" data-label=\"Reference\">L0") == 50
    assert "L000052" in first and "L000002" not in first and "page=2" in first
    assert "govuk-pagination" in first
    second = client.get("/teams/shirebrook/ledger?page=2").get_data(as_text=True)
    assert "L000002" in second and "L000001" in second and "L000052" not in second
    assert "£1.00" in second  # the oldest entry's running balance
    assert client.get("/teams/shirebrook/ledger?page=3").status_code == 404
    assert client.get("/teams/shirebrook/ledger?page=abc").status_code == 200


# ---- finance pages ---------------------------------------------------------------------


def test_finance_overview_lists_teams_with_balances(client, session, team, finance):
    _allocate(session, team, finance, pence=12_345)
    body = client.get("/finance").get_data(as_text=True)
    assert "Shirebrook Connected Team" in body and "£123.45" in body


def test_allocate_works_and_shows_on_the_public_page(client, engine, team, finance):
    response = _post_allocate(client, team)
    assert response.status_code == 302 and response.headers["Location"].endswith("/teams/shirebrook/ledger")
    assert count(engine) == 1
    body = client.get("/teams/shirebrook/ledger").get_data(as_text=True)
    assert "£1,234.50" in body and "Budget allocation" in body


def test_allocate_form_carries_a_fresh_idempotency_key(client, team, finance):
    first = key_on(client.get("/finance/allocate").get_data(as_text=True))
    second = key_on(client.get("/finance/allocate").get_data(as_text=True))
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("12.345", "at most two decimal places"),
        ("-5", "more than £0"),
        ("0", "more than £0"),
        ("1e3", "pounds and pence"),
        ("£", "Enter an amount"),
        ("", "Enter an amount"),
        ("1000000.01", "£1,000,000 or less"),
    ],
)
def test_bad_amounts_are_refused_beside_the_field_and_nothing_written(client, engine, team, finance,
                                                                        amount, message):
    response = _post_allocate(client, team, amount=amount, key="k" * 32)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in body and "govuk-error-summary" in body
    beside = body[body.index('id="amount-error"'):][:300]  # the message beside the amount field
    assert message in beside
    assert key_on(body) == "k" * 32  # the same key goes back with the form
    assert count(engine) == 0


def test_replaying_the_same_key_creates_one_entry(client, engine, team, finance):
    key = uuid.uuid4().hex
    assert _post_allocate(client, team, key=key).status_code == 302
    assert _post_allocate(client, team, key=key).status_code == 302
    assert count(engine) == 1
    conflict = _post_allocate(client, team, key=key, amount="99.00")
    body = conflict.get_data(as_text=True)
    assert conflict.status_code == 200 and "already submitted with different details" in body
    assert count(engine) == 1


def test_closing_a_month_then_allocating_into_it_is_refused(client, engine, team, finance):
    refused = client.post("/finance/close-month", data={"month": end_of_last_month().strftime("%Y-%m")})
    assert refused.status_code == 200 and "Confirm that you want to close" in refused.get_data(as_text=True)
    assert count(engine, LedgerPeriod) == 0
    closed = client.post("/finance/close-month", data={"month": end_of_last_month().strftime("%Y-%m"), "confirm": "y"})
    assert closed.status_code == 302
    assert count(engine, LedgerPeriod) == 1
    response = _post_allocate(client, team, date=end_of_last_month())
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and f"{end_of_last_month():%B %Y} is closed" in body
    assert f"{end_of_last_month():%B %Y} is closed" in body[body.index('id="effective_date-error"'):][:300]
    assert count(engine) == 0


@pytest.mark.parametrize(("month", "message"), [("2026-13", "real month"), ("March", "year-month"),
                                                 ("this month", "Only months that have ended")])
def test_bad_months_cannot_be_closed(client, engine, finance, month, message):
    month = f"{today():%Y-%m}" if month == "this month" else month
    response = client.post("/finance/close-month", data={"month": month, "confirm": "y"})
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert count(engine, LedgerPeriod) == 0


def test_reversing_twice_is_refused(client, engine, session, team, finance):
    entry = _allocate(session, team, finance)
    ref = services.reference(entry.id)
    page = client.get(f"/finance/reverse?entry={entry.id}").get_data(as_text=True)
    assert f'value="{ref}"' in page
    data = {"entry_id": ref, "reason": "Wrong team", **date_parts("effective_date", today()),
            "idempotency_key": key_on(page)}
    assert client.post("/finance/reverse", data=data).status_code == 302
    assert count(engine) == 2
    again = client.post("/finance/reverse", data={**data, "idempotency_key": uuid.uuid4().hex})
    assert again.status_code == 200 and f"{ref} was already reversed by" in again.get_data(as_text=True)
    reversal = client.post("/finance/reverse", data={**data, "entry_id": services.reference(entry.id + 1),
                                                      "idempotency_key": uuid.uuid4().hex})
    assert "cannot itself be reversed" in reversal.get_data(as_text=True)
    missing = client.post("/finance/reverse",
                          data={**data, "entry_id": "L000999", "idempotency_key": uuid.uuid4().hex})
    assert "There is no entry L000999" in missing.get_data(as_text=True)
    assert count(engine) == 2


def test_virement_moves_money_and_refuses_more_than_available(
        client, engine, session, place_and_team, finance):  # noqa: F811
    from community import services as community

    place, first = place_and_team
    second = community.create_team(session, actor_id=None, name="Bolsover Team", slug="bolsover",
                                   place_id=place.id, cost_centre="TC1002")
    session.commit()
    _allocate(session, first, finance, pence=10_000)
    page = client.get("/finance/virement").get_data(as_text=True)
    data = {"from_team_id": first.id, "to_team_id": second.id, "amount": "100.01", "reason": "Shared event",
            **date_parts("effective_date", today()), "idempotency_key": key_on(page)}
    too_much = client.post("/finance/virement", data=data)
    assert too_much.status_code == 200 and 'id="amount-error"' in too_much.get_data(as_text=True)
    assert count(engine) == 1
    same = client.post("/finance/virement", data={**data, "to_team_id": first.id, "amount": "1.00"})
    assert "different teams" in same.get_data(as_text=True)
    assert count(engine) == 1
    assert client.post("/finance/virement", data={**data, "amount": "40.00"}).status_code == 302
    assert count(engine) == 2
    assert "£40.00" in client.get("/teams/bolsover/ledger").get_data(as_text=True)


# ---- permissions -----------------------------------------------------------------------

FINANCE_PAGES = ["/finance", "/finance/allocate", "/finance/virement", "/finance/reverse",
                 "/finance/close-month"]


@pytest.mark.parametrize("role", ["resident", "member", "admin"])
def test_finance_pages_are_403_for_everyone_else_and_write_nothing(client, engine, team, make_person,  # noqa: F811
                                                                    sign_in, role):  # noqa: F811
    person = make_person("x@example.org", role=None if role == "resident" else role, team=team)
    sign_in(person)
    for url in FINANCE_PAGES:
        assert client.get(url).status_code == 403, url
    assert _post_allocate(client, team, key=uuid.uuid4().hex).status_code == 403
    assert client.post("/finance/close-month", data={"month": end_of_last_month().strftime("%Y-%m"),
                                                     "confirm": "y"}).status_code == 403
    reverse = {"entry_id": "L000001", "reason": "x", **date_parts("effective_date", today()), "idempotency_key": "k"}
    assert client.post("/finance/reverse", data=reverse).status_code == 403
    assert count(engine) == 0 and count(engine, LedgerPeriod) == 0


def test_finance_pages_send_anonymous_visitors_to_sign_in(client, engine, team):
    for url in FINANCE_PAGES:
        response = client.get(url)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"], url
    response = _post_allocate(client, team, key=uuid.uuid4().hex)
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert count(engine) == 0


def test_public_ledger_lists_restricted_funds_without_their_labels(client, session, team, make_person):  # noqa: F811
    person = make_person("fran@example.org", role="finance")
    fund = services.open_restricted_fund(session=session, team=team, label="Pledge P-1: private donor's gift")
    services.receive_into_fund(session=session, team=team, account_id=fund.id, amount_pence=20_000,
                               actor_id=person.id, effective_date=today(), idempotency_key="rcv-1",
                               description="Money pledge received")
    services.hold(session=session, team=team, amount_pence=5_000, category="equipment", description="A fridge",
                  actor_id=person.id, idempotency_key="h-1", account_id=fund.id)
    session.commit()
    page = client.get(f"/teams/{team.slug}/ledger").get_data(as_text=True)
    funds = page[page.index('id="funds"'):]
    assert "Pledge P-1" in funds and "£200.00" in funds and "£150.00" in funds
    assert "private donor" not in page


def test_public_ledger_publishes_every_movement_of_every_fund_individuals_withheld(client, session, team,
                                                                                  make_person):  # noqa: F811
    """Issue 20 item 8: money pledges received and spend from a pledge fund appear on the public
    ledger, labelled by the pledge; a fund spent down to £0 does not disappear."""
    person = make_person("fran@example.org", role="finance")
    fund = services.open_restricted_fund(session=session, team=team, label="Pledge P-7: gift for the café")
    services.receive_into_fund(session=session, team=team, account_id=fund.id, amount_pence=8_000,
                               actor_id=person.id, effective_date=today(), idempotency_key="rcv-7",
                               description="Pledge P-7 received", payee="Jo Bloggs", payee_is_individual=True)
    held = services.hold(session=session, team=team, amount_pence=8_000, category="equipment", description="A fridge",
                         actor_id=person.id, idempotency_key="h-7", account_id=fund.id, payee="Currys")
    services.settle_hold(session=session, hold_id=held.id, actual_pence=8_000, actor_id=person.id,
                         effective_date=today(), idempotency_key="s-7", method="invoice", receipt_ref="R-7")
    session.commit()
    page = client.get(f"/teams/{team.slug}/ledger").get_data(as_text=True)
    funds = page[page.index('id="funds"'):]
    assert "Pledge P-7" in funds and "gift for the café" not in page
    assert "Pledge P-7 received" in funds and "£80.00" in funds and "A fridge" in funds and "Currys" in funds
    assert "-£80.00" in funds and "£0.00" in funds  # spent down to nothing, still listed
    assert "Jo Bloggs" not in page and "individual (withheld)" in funds


@pytest.mark.parametrize(("gl_code", "message"), [
    ("", "Enter the GL code for this allocation"),
    ("   ", "Enter the GL code for this allocation"),
    ("R 1000", "letters A to Z and digits 0 to 9 only"),
    ("R１０００", "letters A to Z and digits 0 to 9 only"),
])
def test_an_allocation_without_a_gl_code_is_refused_beside_the_field(client, engine, team, finance, gl_code, message):
    """Issue 20 item 9: every allocation carries finance's income code; none, nothing written."""
    response = _post_allocate(client, team, gl_code=gl_code)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "govuk-error-summary" in body
    assert message in body[body.index('id="gl_code-error"'):][:300]
    assert count(engine) == 0


def test_the_allocation_form_offers_the_income_code_and_stores_it_upper_cased(client, engine, team, finance):
    page = client.get("/finance/allocate").get_data(as_text=True)
    assert re.search(r'name="gl_code"[^>]*value="R1000"', page)
    assert _post_allocate(client, team, gl_code=" r2000 ").status_code == 302
    with open_session(engine, write=False) as s:
        assert s.execute(select(JournalEntry.gl_code)).scalar_one() == "R2000"
