"""Statements of real quick spend: refused approvals listed as exceptions for their own team and
month, GL codes on paid spend lines (PDF and CSV), and one set of payment-method codes."""

import csv
import datetime as dt
import io
import re
import uuid

import pytest
from sqlalchemy import select, text

from community.db import make_engine, make_null_pool_engine, open_session
from community.migrate import upgrade
from community.models import AuditEvent, Team
from demo.spend import tiny_png
from ledger import codes, services
from ledger.models import JournalEntry
from statements import figures, store
from tests.conftest import scratch_pg_database
from tests.spend.test_views import approve, make_request, new_request, pay, w  # noqa: F401 - w is a fixture
from tests.support.clock import today

from .test_statements import pdf_text


def _statement(engine, team_id: int, month: dt.date | None = None):
    with open_session(engine, write=False) as s:
        team = s.get(Team, team_id)
        return figures.build_statement(session=s, team=team, month=month or today())


def _files(app, st):
    with app.test_request_context():
        return store.team_files(st)


def _pledge_fund(w, pence: int) -> int:  # noqa: F811 - the fixture's value
    """A restricted fund with ``pence`` of a money pledge actually received."""
    with open_session(w["engine"], write=True) as s:
        team = s.get(Team, w["team"].id)
        fund = services.open_restricted_fund(session=s, team=team, label="Friends of the Park pledge")
        services.receive_into_fund(session=s, team=team, account_id=fund.id, amount_pence=pence,
                                   actor_id=w["fran"].id, effective_date=today(), idempotency_key=uuid.uuid4().hex,
                                   description="Pledge paid: Friends of the Park", payee="Friends of the Park",
                                   method="bank transfer", receipt_ref="BANK-1")
        s.commit()
        return fund.id


def test_refused_approvals_are_listed_on_their_teams_statement(w, app, engine):  # noqa: F811
    # More than the budget has available: £900 of £1,000 committed, then £200 refused.
    approve(w, make_request(w, amount="900.00"), who="erin")
    small = make_request(w, amount="200.00", who="ben")
    assert "Not approved" in approve(w, small, who="asha").get_data(as_text=True)
    # More than a pledge fund holds: £60 from a £50 fund.
    fund = _pledge_fund(w, 5_000)
    response = new_request(w, amount="60.00", account_id=str(fund))
    assert response.status_code == 302, response.get_data(as_text=True)
    from_fund = int(response.headers["Location"].rsplit("/", 1)[1])
    assert "Not approved" in approve(w, from_fund, who="ben").get_data(as_text=True)

    st = _statement(engine, w["team"].id)
    assert [a.subject for a in st.overspend_refused] == [
        f"Shirebrook Connected Team: £200.00 for spend request {small}",
        f"Shirebrook Connected Team: £60.00 for spend request {from_fund}",
    ]
    assert st.has_exceptions and st.overspend_refused[0].actor
    with open_session(engine, write=False) as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == codes.OVERSPEND_REFUSED)
                           .order_by(AuditEvent.id)).scalars().all()
    assert [e.team_id for e in events] == [w["team"].id, w["team"].id]
    # Another team's statement, and the next month's, do not list them.
    assert _statement(engine, w["other"].id).overspend_refused == []
    next_month = (today().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    assert _statement(engine, w["team"].id, next_month).overspend_refused == []
    pdf = _files(app, st).pdf
    page = pdf_text(pdf)
    assert page.count("Overspend attempt refused") == 2 and f"spend request {from_fund}" in page


def test_paid_spend_carries_its_categorys_gl_code_into_the_pdf_and_csv(w, app, engine):  # noqa: F811
    bus = make_request(w, amount="45.00")  # category travel
    approve(w, bus)
    assert pay(w, bus, data=tiny_png(), amount="42.00").status_code == 302
    fund = _pledge_fund(w, 5_000)
    response = new_request(w, amount="30.00", account_id=str(fund), category="food", payee="Co-op",
                           purpose="Refreshments")
    tea = int(response.headers["Location"].rsplit("/", 1)[1])
    approve(w, tea)
    assert pay(w, tea, data=tiny_png(), amount="30.00", method="petty cash").status_code == 302

    with open_session(engine, write=False) as s:
        spent = {e.category: e.gl_code for e in s.execute(
            select(JournalEntry).where(JournalEntry.kind == "spend")).scalars()}
    assert spent == {"travel": codes.spend_gl_code("travel"), "food": codes.spend_gl_code("food")}
    assert spent["travel"] != spent["food"] and all(spent.values())

    st = _statement(engine, w["team"].id)
    assert [line.gl_code for line in st.lines if line.kind == "spend"] == [spent["travel"]]
    assert [line.gl_code for line in st.restricted_lines if line.kind == "spend"] == [spent["food"]]
    assert {spent["travel"], spent["food"]} <= set(st.default_gl_codes)
    files = _files(app, st)
    rows = list(csv.DictReader(io.StringIO(files.csv.decode("utf-8"))))
    assert {(row["Category"], row["GL code"]) for row in rows if row["Entry kind"] == "spend"} == {
        ("Travel", spent["travel"]), ("Food", spent["food"])}
    page = pdf_text(files.pdf)
    assert spent["travel"] in page and spent["food"] in page


def test_payment_methods_group_under_one_code_whatever_the_spelling(w, app, engine):  # noqa: F811
    """Quick spend stores "purchase card"; older ledger entries say "p-card" or "imprest"."""
    bus = make_request(w, amount="45.00")
    approve(w, bus)
    assert pay(w, bus, data=tiny_png(), amount="42.00").status_code == 302  # "purchase card"
    with open_session(engine, write=True) as s:
        team = s.get(Team, w["team"].id)
        for method in ("p-card", "imprest", "petty-cash"):
            held = services.hold(session=s, team=team, amount_pence=1_000, category="equipment",
                                 description="Tools", actor_id=w["fran"].id,
                                 idempotency_key=uuid.uuid4().hex)
            services.settle_hold(session=s, hold_id=held.id, actual_pence=1_000, actor_id=w["fran"].id,
                                 effective_date=today(), idempotency_key=uuid.uuid4().hex, method=method,
                                 receipt_ref=f"R-{method}")
        s.commit()

    st = _statement(engine, w["team"].id)
    assert st.payments_by_method == {codes.PURCHASE_CARD: -(4_200 + 1_000), codes.PETTY_CASH: -2_000}
    assert [line.p_card for line in st.lines if line.kind == "spend"] == [True, True, False, False]
    files = _files(app, st)
    rows = list(csv.DictReader(io.StringIO(files.csv.decode("utf-8"))))
    assert [row["Payment method"] for row in rows if row["Entry kind"] == "spend"] == [
        "purchase card", "purchase card", "petty cash", "petty cash"]
    page = pdf_text(files.pdf)
    assert re.findall(r"^\s*by (.+?)\s{2,}-?£", page, re.MULTILINE) == [
        "imprest / petty cash", "purchase card (P-card)"]


def test_method_codes_map_old_spellings_and_keep_unknown_ones():
    assert [codes.method_code(m) for m in ("p-card", " Purchase card ", "PCARD", "imprest", "petty-cash",
                                           "invoice", None, "", "bank transfer")] == [
        "purchase card", "purchase card", "purchase card", "petty cash", "petty cash", "invoice", "", "",
        "bank transfer"]
    assert {code for code, _ in codes.METHODS} <= set(codes.STATEMENT_LABELS)


@pytest.fixture
def at_0008(request, tmp_path):
    """An empty database migrated only up to 0008 (before audit events named their team)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
        upgrade(engine, "0008_one_head")
        yield engine
        engine.dispose()
        return
    with scratch_pg_database("thriving_m") as url:
        engine = make_null_pool_engine(url)
        upgrade(engine, "0008_one_head")
        yield engine
        engine.dispose()


@pytest.mark.parametrize("at_0008", ["sqlite", "postgresql"], indirect=True)
def test_migration_links_refusals_already_logged_to_their_team(at_0008):
    now = dt.datetime.now(dt.UTC)
    with at_0008.begin() as conn:
        conn.execute(text("INSERT INTO place (id, slug, name, district) VALUES (1, 'p', 'P', 'D')"))
        conn.execute(text("INSERT INTO team (id, slug, name, place_id, cost_centre, member_limit_pence, "
                          "enabler_limit_pence, created_at) VALUES (7, 'seven', 'Team: Seven', 1, 'CC7', 1, 2, :t),"
                          " (8, 'eight', 'Eight', 1, 'CC8', 1, 2, :t)"), {"t": now})
        conn.execute(text("INSERT INTO person (id, email, name, password_hash, is_finance, is_admin, is_demo, totp_last_step, "
                          "is_active, created_at) VALUES (1, 'a@example.org', 'A', 'x', false, false, false, 0, true, :t)"),
                     {"t": now})
        conn.execute(text("INSERT INTO spend_request (id, team_id, requester_id, amount_pence, payee, "
                          "payee_is_individual, purpose, category, status, created_at) "
                          "VALUES (42, 8, 1, 6000, 'Co-op', false, 'Tea', 'food', 'pending', :t)"), {"t": now})
        conn.execute(text("INSERT INTO audit_event (actor_id, action, subject, created_at) VALUES "
                          "(1, 'ledger.overspend_refused', 'Team: Seven: £60.00 for spend request 42', :t), "
                          "(1, 'ledger.overspend_refused', 'team:7 quick spend refused', :t), "
                          "(1, 'ledger.overspend_refused', 'something else', :t), "
                          "(1, 'sign_in', 'team:7', :t)"), {"t": now})
    upgrade(at_0008, "head")
    with at_0008.connect() as conn:
        linked = conn.execute(text("SELECT subject, team_id FROM audit_event ORDER BY id")).all()
    assert [row[1] for row in linked] == [8, 7, None, None]


def test_refusals_fall_in_the_london_month_they_were_made(session, place_and_team):  # noqa: F811
    """00:30 on 1 June in London is 23:30 UTC on 31 May: the June statement lists it."""
    team = place_and_team[1]
    session.add(AuditEvent(action=codes.OVERSPEND_REFUSED, team_id=team.id, subject="£60.00 for spend request 1",
                           created_at=dt.datetime(2026, 5, 31, 23, 30, tzinfo=dt.UTC)))
    session.commit()
    june = figures.build_statement(session=session, team=team, month=dt.date(2026, 6, 1))
    may = figures.build_statement(session=session, team=team, month=dt.date(2026, 5, 1))
    assert ([a.subject for a in june.overspend_refused], may.overspend_refused) == (
        ["£60.00 for spend request 1"], [])
