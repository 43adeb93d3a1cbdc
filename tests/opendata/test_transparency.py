"""The Transparency Code files: built from the frozen statements (same rows and totals as the
statement figures), the Code's columns, byte-identical downloads (also after later activity),
redaction of people, and the bad addresses."""

import csv
import datetime as dt
import hashlib
import io
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from community.db import open_session
from community.models import Team
from ledger import services as ledger
from ledger.models import JournalEntry
from opendata import transparency
from statements.figures import build_statement
from tests.support.clock import last_month, today


def _url(kind: str) -> str:
    """Last month's file of ``kind``: "spend" (over £500) or "card" (purchase card)."""
    name = "spend-over-500" if kind == "spend" else "purchase-card"
    return f"/transparency/{last_month():%Y-%m}/{name}.csv"


def _rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def _expected(db, kind: str) -> list:
    """From the statement figures of every team: the lines the file of ``kind`` must hold."""
    lines = []
    for team in db.execute(select(Team).order_by(Team.name, Team.slug)).scalars():
        st = build_statement(session=db, team=team, month=last_month())
        for line in (*st.lines, *st.restricted_lines):
            spend = line.kind == "spend" or (line.kind == "reversal" and line.category)
            if spend and (line.over_500 if kind == "spend" else line.p_card):
                lines.append(line)
    return lines


@pytest.mark.parametrize("kind", ["spend", "card"])
def test_each_file_has_the_statement_figures_rows_and_totals(world, db, kind):
    response = world["client"].get(_url(kind))
    assert response.status_code == 200
    rows = _rows(response.data)
    expected = _expected(db, kind)
    assert len(rows) == len(expected) > 0
    assert sum(Decimal(r["Amount"]) for r in rows) == Decimal(-sum(line.amount_pence for line in expected)) / 100
    assert [r["Transaction number"] for r in rows] == [line.reference for line in expected]
    assert {r["Date"] for r in rows} == {line.date.strftime("%d/%m/%Y") for line in expected}


def test_the_fixture_sorts_as_the_code_says(world):
    spend = _rows(world["client"].get(_url("spend")).data)
    card = _rows(world["client"].get(_url("card")).data)
    # over £500 (either way: the refund is a credit note); not £499.99 nor exactly £500; no virement
    assert sorted(r["Amount"] for r in spend) == ["-750.00", "500.01", "620.00", "750.00"]
    assert sorted(r["Amount"] for r in card) == ["12.34", "500.01", "620.00"]  # every card spend, any value


def test_headers_are_the_codes_columns(world):
    spend = world["client"].get(_url("spend")).data.decode().splitlines()[0].split(",")
    card = world["client"].get(_url("card")).data.decode().splitlines()[0].split(",")
    assert tuple(spend) == transparency.SPEND_COLUMNS
    assert tuple(card) == transparency.CARD_COLUMNS
    for header, fields in ((spend, transparency.CODE_FIELDS["spend"]), (card, transparency.CODE_FIELDS["card"])):
        assert header[:4] == ["Body name", "Body", "Date", "Transaction number"]  # the LGA guidance's order
        assert set(fields.values()) <= set(header)
    # the Code's mandatory fields, as the 2015 Code lists them, each mapped
    assert set(transparency.CODE_FIELDS["spend"]) == {
        "date incurred", "department", "beneficiary", "summary of purpose", "amount", "irrecoverable VAT",
        "merchant category"}
    assert set(transparency.CODE_FIELDS["card"]) == {
        "date of transaction", "department", "beneficiary", "amount", "irrecoverable VAT", "summary of purpose",
        "merchant category"}
    rows = _rows(world["client"].get(_url("spend")).data)
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", r["Date"]) for r in rows)
    assert {r["Body name"] for r in rows} == {"Derbyshire County Council"}


def test_the_page_lists_each_file_with_its_sha256_and_size_and_the_licence(world):
    page = world["client"].get("/transparency").get_data(as_text=True)
    for url in (_url("spend"), _url("card")):
        body = world["client"].get(url).data
        assert url in page
        assert hashlib.sha256(body).hexdigest() in page
        assert f"{len(body)} bytes" in page
    assert "Open Government Licence v3.0" in page and "open-government-licence/version/3" in page
    response = world["client"].get(_url("spend"))
    assert 'rel="license"' in response.headers["Link"]
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(response.data).hexdigest()


def test_downloads_are_byte_identical_and_stay_so_after_later_activity(world):
    client = world["client"]
    first = {url: client.get(url).data for url in (_url("spend"), _url("card"))}
    assert {url: client.get(url).data for url in first} == first
    with open_session(world["engine"], write=True) as session:
        shire = session.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        held = ledger.hold(session=session, team=shire, amount_pence=90_000, category="venue", description="Hall",
                           payee="Hall Ltd", actor_id=world["finance_id"], idempotency_key=uuid.uuid4().hex)
        entry = ledger.settle_hold(session=session, hold_id=held.id, actual_pence=90_000,
                                   actor_id=world["finance_id"], effective_date=today(), method="purchase card",
                                   receipt_ref="R-later", idempotency_key=uuid.uuid4().hex)
        # and a refund, this month, of a spend of the published month
        last = session.execute(select(JournalEntry).where(JournalEntry.kind == "spend",
                                                                 JournalEntry.payee == "Co-op",
                                                                 JournalEntry.effective_date < today().replace(day=1))
                               ).scalars().first()
        ledger.reverse(session=session, entry_id=last.id, reason="Refund", actor_id=world["finance_id"],
                       effective_date=today(), idempotency_key=uuid.uuid4().hex)
        session.commit()
    assert entry.id
    assert {url: client.get(url).data for url in first} == first
    etag = client.get(_url("spend")).headers["ETag"]
    assert client.get(_url("spend"), headers={"If-None-Match": etag}).status_code == 304


PAYEE_KINDS = [
    # (payee as entered, is a person, what the files show)
    ("Bolsover Print", False, "Bolsover Print"),
    ("Rita Morgan", True, transparency.REDACTED),
    ('=HYPERLINK("x")', False, "'=HYPERLINK(\"x\")"),  # an organisation, its formula neutralised
]


@pytest.mark.parametrize("payee, person, shown", PAYEE_KINDS)
def test_people_are_redacted_organisations_named(world, payee, person, shown):
    rows = _rows(world["client"].get(_url("spend")).data) + _rows(world["client"].get(_url("card")).data)
    mine = [r for r in rows if r["Purpose"].startswith("Kit from") and r["Supplier name" if "Supplier name" in r
                                                                        else "Merchant name"] == shown]
    assert mine, rows
    if person:
        assert all(payee not in " ".join(r.values()) for r in rows)
        assert all(r["Purpose"] == f"Kit from {transparency.REDACTED}" for r in mine)


@pytest.mark.parametrize("text, name, expected", [
    ("Mileage for Rita Morgan", "Rita Morgan", "Mileage for Redacted – personal data"),
    ("Mileage for rita", "Rita Morgan", "Mileage for Redacted – personal data"),
    ("Mileage for MORGAN and co", "Rita Morgan", "Mileage for Redacted – personal data and co"),
    ("Margarita's cafe", "Rita Morgan", "Margarita's cafe"),  # a word boundary: not part of a word
    ("Payment to an individual", "Individual", "Payment to an individual"),  # the form's placeholder name
    ("Volunteer expenses", None, "Volunteer expenses"),
    ("Jo's fee", "Jo", "Jo's fee"),  # parts under 3 letters are not searched for alone
])
def test_scrub_takes_a_persons_name_out_of_the_purpose(text, name, expected):
    assert transparency.scrub(text, name) == expected


@pytest.mark.parametrize("url", [
    "/transparency/2026-13/spend-over-500.csv",
    "/transparency/abc/spend-over-500.csv",
    "/transparency/2026-1/purchase-card.csv",
    "/transparency/{next_year:%Y-%m}/spend-over-500.csv",
    "/transparency/{today:%Y-%m}/purchase-card.csv",  # this month: still open
])
def test_unknown_months_are_404_with_a_sentence(world, url):
    response = world["client"].get(url.format(today=today(), next_year=today() + dt.timedelta(days=400)))
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "only closed months are published" in text or "months look like 2026-10" in text


def test_an_unknown_kind_of_file_is_404(world):
    assert world["client"].get(f"/transparency/{last_month():%Y-%m}/salaries.csv").status_code == 404
