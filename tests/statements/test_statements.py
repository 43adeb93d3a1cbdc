"""Monthly statements: figures equal the ledger's, the CSV agrees, the PDF shows the balances,
hostile text is printed as text with nothing fetched, and only the right people download."""

import csv
import datetime as dt
import io
import re
import subprocess
import uuid
from decimal import Decimal

import pytest
import weasyprint
from sqlalchemy import select, text

from community.db import open_session
from community.models import Team
from ledger import services
from ledger.errors import InsufficientFunds
from ledger.models import PeriodBalance
from spend import services as quick_spend
from spend.models import SpendRequest
from statements import figures, render, store
from tests.support.clock import end_of_last_month, this_month, today

HOSTILE = '<img src="file:///etc/passwd"> see http://evil.example/x.png'


def _key() -> str:
    return uuid.uuid4().hex


def pdf_text(pdf: bytes) -> str:
    result = subprocess.run(  # noqa: S603 - fixed arguments, our own bytes on stdin
        ["pdftotext", "-layout", "-", "-"],  # noqa: S607 - Debian poppler-utils found on PATH
        input=pdf,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode("utf-8")


@pytest.fixture
def team(place_and_team):  # noqa: F811
    return place_and_team[1]


@pytest.fixture
def history(session, engine, team, make_person):  # noqa: F811
    """Last month: an allocation. This month: allocation, paid spend with and without a receipt
    (one over £500 with no approver), a reversal, an open hold, and a hostile payee."""
    fran = make_person("fran@example.org", role="finance")
    services.allocate(gl_code="R1000", session=session, team=team, amount_pence=100_000, actor_id=fran.id,
                      effective_date=end_of_last_month(), idempotency_key=_key())
    services.allocate(session=session, team=team, amount_pence=50_000, actor_id=fran.id,
                      effective_date=today(), idempotency_key=_key(), gl_code="4100")

    def spend(pence, category, description, payee, receipt=None, approver=None, individual=False):
        held = services.hold(session=session, team=team, amount_pence=pence, category=category,
                             description=description, actor_id=fran.id, idempotency_key=_key(),
                             payee=payee, payee_is_individual=individual)
        return services.settle_hold(session=session, hold_id=held.id, actual_pence=pence, actor_id=fran.id,
                                    effective_date=today(), idempotency_key=_key(), method="p-card",
                                    receipt_ref=receipt, gl_code="5200", proposer_id=fran.id,
                                    approver_id=approver)

    spend(2_500, "equipment", "Litter pickers", "Jo Bloggs", receipt="R-1", approver=fran.id, individual=True)
    big = spend(60_000, "venue", "Hall hire for the year", "Village Hall", approver=None)
    spend(1_234, "printing", HOSTILE, HOSTILE, receipt="R-3", approver=fran.id)
    services.reverse(session=session, entry_id=big.id, reason="Booked twice", actor_id=fran.id,
                     effective_date=today(), idempotency_key=_key())
    services.hold(session=session, team=team, amount_pence=3_000, category="venue",
                  description="Room for the AGM", actor_id=fran.id, idempotency_key=_key())
    # A money pledge actually received into a restricted fund, part spent without a receipt.
    fund = services.open_restricted_fund(session=session, team=team, label="Friends of the Park pledge")
    services.receive_into_fund(session=session, team=team, account_id=fund.id, amount_pence=20_000,
                               actor_id=fran.id, effective_date=today(), idempotency_key=_key(),
                               description="Pledge paid: Friends of the Park", payee="Friends of the Park",
                               method="bank transfer", receipt_ref="BANK-1")
    paint = services.hold(session=session, team=team, amount_pence=5_000, category="equipment",
                          description="Paint for the park benches", actor_id=fran.id, idempotency_key=_key(),
                          account_id=fund.id)
    services.settle_hold(session=session, hold_id=paint.id, actual_pence=4_500, actor_id=fran.id,
                         effective_date=today(), idempotency_key=_key(), method="invoice")
    session.commit()
    # A quick-spend approval refused for lack of money (£200 asked of the fund's £155), logged
    # as the spend views do it, in a request's own session: roll the approval back, record the
    # refusal, commit.
    asha = make_person("asha@example.org", role="member", team=team)
    erin = make_person("erin@example.org", role="enabler", team=team)
    with open_session(engine, write=True) as request:
        own_team = request.get(Team, team.id)
        asked = quick_spend.request_spend(session=request, team=own_team, requester=asha, amount_pence=20_000,
                                          payee="Wickes", payee_is_individual=False, purpose="Benches",
                                          category="equipment", account_id=fund.id)
        request.commit()
        with pytest.raises(InsufficientFunds):
            quick_spend.approve(session=request, team=own_team, request_id=asked.id, approver=erin,
                                auth_session=None, idempotency_key=_key())
        request.rollback()
        quick_spend.record_overspend_refused(session=request, team=own_team, request_id=asked.id,
                                             actor_id=erin.id, amount_pence=20_000)
        request.commit()
    return fran


def test_statement_figures_equal_the_ledger(app, session, team, history):
    st = figures.build_statement(session=session, team=team, month=today())
    balance = services.balance_of(session=session, team=team)
    available = services.available_of(session=session, team=team)
    assert st.opening_pence == 100_000
    assert st.closing_pence == balance == 100_000 + 50_000 - 2_500 - 60_000 - 1_234 + 60_000
    assert st.available_pence == available == balance - 3_000
    assert (st.commitments_count, st.commitments_pence) == (1, 3_000)
    assert st.allocations_pence == 50_000
    assert st.payments_out_pence == -(2_500 + 60_000 + 1_234)
    assert (st.reversals_count, st.reversals_pence) == (1, 60_000)
    assert st.opening_pence + sum(line.amount_pence for line in st.lines) == st.closing_pence
    assert st.lines[-1].balance_after_pence == st.closing_pence
    assert st.ytd_net_pence == balance if end_of_last_month().month != 3 else True
    assert not st.closed and st.status == "OPEN"
    assert st.verify_ok and st.chain_head_entry_id == len(st.lines) + 1 + len(st.restricted_lines)
    payees = {line.payee for line in st.lines}
    assert services.WITHHELD in payees and "Jo Bloggs" not in payees
    assert [line.description for line in st.no_receipt] == ["Hall hire for the year", "Paint for the park benches"]
    assert [line.description for line in st.over_500_one_approval] == ["Hall hire for the year"]
    assert st.payments_by_method == {"purchase card": -(2_500 + 60_000 + 1_234)}
    assert all(line.p_card for line in st.lines if line.kind == "spend")
    assert [line.receipt for line in st.lines if line.kind == "allocation"] == ["n/a"]
    # Money pledges received sit in restricted funds, never in the budget balance.
    assert st.pledges_received_pence == 20_000
    assert [(f.received_pence, f.spent_pence, f.closing_pence) for f in st.restricted] == [(20_000, -4_500, 15_500)]
    assert st.restricted_closing_pence == services.balance_of(session=session, account_id=services.restricted_funds(
        session=session, team=team)[0].id) == 15_500
    asked = session.execute(select(SpendRequest.id)).scalar_one()
    assert [a.subject for a in st.overspend_refused] == [f"{team.name}: £200.00 for spend request {asked}"]
    assert st.pledges is None  # the seam until the pledges domain is merged
    assert st.entries_count == len(st.lines) + len(st.restricted_lines) and st.debits_pence == st.credits_pence
    assert {bar.category: bar.amount_pence for bar in st.by_category} == {"Equipment": 2_500, "Printing and publicity": 1_234}


def test_financial_period_numbers_start_in_april():
    assert figures.financial_period(dt.date(2026, 4, 1))[:2] == ("2026/27", 1)
    assert figures.financial_period(dt.date(2026, 11, 1))[:2] == ("2026/27", 8)
    assert figures.financial_period(dt.date(2027, 3, 1))[:2] == ("2026/27", 12)


def pence_of(text: str) -> int:
    """"-£1,234.56" → -123456."""
    negative = text.startswith("-")
    value = int(Decimal(text.lstrip("-").lstrip("£").replace(",", "")) * 100)
    return -value if negative else value


def amount_after(text: str, label: str) -> int:
    """The first £ amount printed on the same line after ``label`` in pdftotext output."""
    match = re.search(re.escape(label) + r"[^\n£]*?(-?£[\d,]+\.\d\d)", text)
    assert match, f"{label!r} not found in the PDF text"
    return pence_of(match.group(1))


def test_csv_parses_and_its_totals_equal_the_pdfs(app, session, team, history):
    st = figures.build_statement(session=session, team=team, month=today())
    with app.test_request_context():
        files = store.team_files(st)
    text = files.csv.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0].keys())[:8] == ["Body", "Service area", "Date", "Transaction number", "Amount",
                                        "Supplier", "Category", "GL code"]
    assert len(rows) == len(st.lines) + len(st.restricted_lines)
    budget = [row for row in rows if row["Fund"] == "budget"]
    restricted = [row for row in rows if row["Fund"].startswith("restricted: ")]
    assert len(budget) + len(restricted) == len(rows)

    def pence(row, column="Amount"):
        return int(Decimal(row[column]) * 100)

    pdf = pdf_text(files.pdf)
    opening = amount_after(pdf, "Opening balance (closing balance of the previous month)")
    closing = amount_after(pdf, "Closing balance")
    assert opening + sum(pence(row) for row in budget) == closing
    assert pence(budget[-1], "Running balance") == closing
    assert sum(pence(row) for row in budget if row["Entry kind"] == "spend") == amount_after(pdf, "Payments out")
    assert sum(pence(row) for row in budget if row["Entry kind"] == "reversal") == amount_after(
        pdf, "Reversals and corrections (1)")
    received = sum(pence(row) for row in restricted if row["Entry kind"] == "restricted_receipt")
    assert received == amount_after(pdf, "Money pledges received this month") == 20_000
    assert amount_after(pdf, "Restricted funds closing balance") == sum(pence(row) for row in restricted)
    assert {row["Body"] for row in rows} == {"Derbyshire County Council"}
    assert {row["Statement id"] for row in rows} == {st.statement_id}
    assert [row["Card transaction"] for row in budget if row["Entry kind"] == "spend"] == ["Y", "Y", "Y"]
    assert "Jo Bloggs" not in text
    # Categories print their labels from the one list (ledger/codes.py), never their codes (issue 19).
    assert {row["Category"] for row in budget if row["Entry kind"] == "spend"} == {"Equipment", "Printing and publicity",
                                                                                 "Venue"}
    assert "Printing and publicity" in pdf and "printing" not in pdf  # the label, never the code
    # The PDF prints the SHA-256 of its CSV companion.
    assert render.sha256(files.csv) == files.csv_sha256
    assert files.csv_sha256 in pdf.replace("\n", "").replace(" ", "")


def test_figures_equal_the_ledger_computed_independently(app, session, engine, team, history):
    """Recompute the month from the raw posting table with plain SQL, not the services."""
    st = figures.build_statement(session=session, team=team, month=today())
    budget = services.budget_account_id(session=session, team=team)
    session.commit()
    start, end = this_month(), (this_month() + dt.timedelta(days=32)).replace(day=1)
    with engine.connect() as conn:
        def total(where, **params):
            return int(conn.execute(text(
                "SELECT COALESCE(SUM(p.amount_pence), 0) FROM posting p JOIN journal_entry e ON e.id = p.entry_id "
                "WHERE p.account_id = :a AND " + where), {"a": budget, **params}).scalar_one())

        opening = total("p.effective_date < :s", s=start)
        closing = total("p.effective_date < :e", e=end)
        spend = total("p.effective_date >= :s AND p.effective_date < :e AND e.kind = 'spend'", s=start, e=end)
        allocations = total("p.effective_date >= :s AND p.effective_date < :e AND e.kind = 'allocation'",
                            s=start, e=end)
        open_holds = int(conn.execute(text(
            "SELECT COALESCE(SUM(amount_pence), 0) FROM ledger_hold WHERE account_id = :a AND status = 'open'"),
            {"a": budget}).scalar_one())
        received = int(conn.execute(text(
            "SELECT COALESCE(SUM(p.amount_pence), 0) FROM posting p JOIN journal_entry e ON e.id = p.entry_id "
            "JOIN ledger_account a ON a.id = p.account_id WHERE a.team_id = :t AND a.kind = 'restricted' "
            "AND e.kind = 'restricted_receipt' AND p.effective_date >= :s"), {"t": team.id, "s": start}).scalar_one())
    assert (st.opening_pence, st.closing_pence) == (opening, closing)
    assert (st.payments_out_pence, st.allocations_pence) == (spend, allocations)
    assert (st.commitments_pence, st.available_pence) == (open_holds, closing - open_holds)
    assert st.pledges_received_pence == received


def test_pdf_shows_opening_and_closing_balances_and_draft(app, session, team, history):
    st = figures.build_statement(session=session, team=team, month=today())
    with app.test_request_context():
        text = pdf_text(render.render_pdf(st))
    assert "£1,000.00" in text  # opening
    assert "£1,462.66" in text  # closing
    assert "DRAFT" in text and "Page 1 of" in text and "OPEN" in text
    assert "Derbyshire County Council" in text and st.statement_id in text
    assert "-DRAFT-" in st.statement_id
    for heading in ("Commitments register", "Pledges (memorandum", "No pledges recorded.", "Exceptions",
                    "Overspend attempt refused", "Over £500 with only one approval", "Payment without a receipt",
                    "Ledger chain head", "Ledger verify", "PASS", "Sign-off", "Restricted funds",
                    "Year to date", "by purchase card (P-card)", "P-card", ">£500", "missing",
                    st.chain_head_hash[:20]):
        assert heading in text, heading


def test_hostile_text_is_printed_as_text_and_nothing_is_fetched(app, session, team, history):
    st = figures.build_statement(session=session, team=team, month=today())
    with app.test_request_context():
        fetcher = render.SafeURLFetcher(app.static_folder)
        text = pdf_text(render.render_pdf(st, fetcher=fetcher))
    assert fetcher.requested == []
    assert '<img src="file:///etc/passwd">' in text.replace("\n", " ")
    assert "http://evil.example/x.png" in text


def test_fetcher_refuses_everything_but_static_css(app, tmp_path):
    fetcher = render.SafeURLFetcher(tmp_path)
    (tmp_path / "ok.css").write_text("body { color: red }")
    for url in ("file:///etc/passwd", "http://evil.example/x.png", "https://evil.example/a.css",
                (tmp_path / ".." / "x.css").as_uri(), "data:text/css,body{}"):
        with pytest.raises(render.StatementFetchRefused):
            fetcher.fetch(url)
    assert fetcher.fetch((tmp_path / "ok.css").as_uri()).read() == b"body { color: red }"
    # Wired into WeasyPrint: raw markup asking for files is refused, and the PDF still renders.
    html = '<img src="file:///etc/passwd"><link rel="stylesheet" href="http://evil.example/a.css">'
    weasyprint.HTML(string=html, base_url=tmp_path.as_uri() + "/", url_fetcher=fetcher).write_pdf()
    assert "file:///etc/passwd" in fetcher.refused
    assert "http://evil.example/a.css" in fetcher.refused


def test_closed_month_opens_at_the_sealed_closing_balance(app, session, team, history):
    period = services.close_month(session=session, month=end_of_last_month(), actor_id=history.id)
    session.commit()
    budget = services.budget_account_id(session=session, team=team)
    sealed = session.get(PeriodBalance, 1) and session.exec(
        PeriodBalance.__table__.select().where(PeriodBalance.account_id == budget,
                                               PeriodBalance.month_start == period.month_start)
    ).one().balance_pence
    last = figures.build_statement(session=session, team=team, month=end_of_last_month())
    this = figures.build_statement(session=session, team=team, month=today())
    assert last.closed and last.status == "CLOSED"
    assert last.closing_pence == sealed == this.opening_pence
    with app.test_request_context():
        text = pdf_text(render.render_pdf(last))
    assert "DRAFT" not in text and "CLOSED" in text


# ---- views --------------------------------------------------------------------------------


def _other_team(session, team) -> Team:
    other = Team(slug="elsewhere", name="Elsewhere Connected Team", place_id=team.place_id, cost_centre="TC9")
    session.add(other)
    session.commit()
    return other


def test_finance_lists_teams_and_downloads_pdf_and_csv(client, session, team, history, sign_in):  # noqa: F811
    month = today().strftime("%Y-%m")
    assert sign_in(history).status_code == 302
    page = client.get(f"/finance/statements?month={month}")
    assert page.status_code == 200
    assert f"/finance/statements/{team.slug}/{month}.pdf" in page.get_data(as_text=True)
    pdf = client.get(f"/finance/statements/{team.slug}/{month}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    csv_response = client.get(f"/finance/statements/{team.slug}/{month}.csv")
    assert csv_response.status_code == 200 and csv_response.data.startswith(b"Body,")
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset, not two
    assert client.get(f"/finance/statements/{team.slug}/2026-13.pdf").status_code == 404
    assert client.get("/finance/statements/nobody/2026-01.pdf").status_code == 404


def test_members_download_their_own_team_only(client, session, team, history, make_person, sign_in):  # noqa: F811
    other = _other_team(session, team)
    member = make_person("mo@example.org", role="member", team=team)
    month = today().strftime("%Y-%m")
    assert sign_in(member).status_code == 302
    own = client.get(f"/teams/{team.slug}/statements/{month}.pdf")
    assert own.status_code == 200 and own.data.startswith(b"%PDF")
    assert client.get(f"/teams/{team.slug}/statements/{month}.csv").status_code == 200
    assert client.get(f"/teams/{other.slug}/statements/{month}.pdf").status_code == 404
    assert client.get(f"/finance/statements?month={month}").status_code == 403
    assert client.get(f"/finance/statements/{team.slug}/{month}.pdf").status_code == 403


def test_residents_and_anonymous_are_refused(client, session, team, history, make_person, sign_in):  # noqa: F811
    month = today().strftime("%Y-%m")
    urls = (f"/teams/{team.slug}/statements/{month}.pdf", f"/finance/statements?month={month}",
            f"/finance/statements/{team.slug}/{month}.csv")
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to sign-in
    resident = make_person("rita@example.org")
    sign_in(resident)
    for url in urls:
        assert client.get(url).status_code in (403, 404)


def test_cli_builds_pdf_and_csv(app, runner, session, team, history, tmp_path):
    month = today().strftime("%Y-%m")
    result = runner.invoke(args=["statements", "build", "--month", month, "--team", team.slug,
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"statement-{team.slug}-{month}.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / f"statement-{team.slug}-{month}.csv").read_text(encoding="utf-8").startswith("Body,")
    assert runner.invoke(args=["statements", "build", "--month", "nope", "--out", str(tmp_path)]).exit_code != 0


def test_prior_period_adjustments_and_released_holds(app, session, team, make_person):  # noqa: F811
    fran = make_person("fran@example.org", role="finance")
    services.allocate(gl_code="R1000", session=session, team=team, amount_pence=100_000, actor_id=fran.id,
                      effective_date=end_of_last_month(), idempotency_key=_key())
    held = services.hold(session=session, team=team, amount_pence=9_000, category="venue", description="Hall",
                         actor_id=fran.id, idempotency_key=_key())
    paid = services.settle_hold(session=session, hold_id=held.id, actual_pence=8_000, actor_id=fran.id,
                                effective_date=end_of_last_month(), idempotency_key=_key(), method="invoice",
                                receipt_ref="R-9", proposer_id=fran.id, approver_id=fran.id)
    services.reverse(session=session, entry_id=paid.id, reason="Refunded", actor_id=fran.id,
                     effective_date=today(), idempotency_key=_key())
    cancelled = services.hold(session=session, team=team, amount_pence=2_000, category="food",
                              description="Buffet", actor_id=fran.id, idempotency_key=_key())
    services.void_hold(session=session, hold_id=cancelled.id, actor_id=fran.id, idempotency_key=_key())
    session.commit()
    this = figures.build_statement(session=session, team=team, month=today())
    last = figures.build_statement(session=session, team=team, month=end_of_last_month())
    assert [(line.reverses_entry_id, line.prior_period) for line in this.reversals] == [(paid.id, True)]
    # The hall's hold was made this month and its payment dated last month: the commitment lived
    # (and ended) this month, so this month's statement lists it; last month's never saw it.
    assert [(r.hold_id, r.released_pence, r.reason) for r in this.released] == [
        (held.id, 1_000, "paid for less than held"), (cancelled.id, 2_000, "voided (cancelled)")]
    assert [(r.hold_id, r.paid_pence, r.released_pence) for r in this.released][0] == (held.id, 8_000, 1_000)
    assert last.released == [] and last.commitments == []
    assert this.commitment_moves.adds_up and last.commitment_moves.adds_up
    with app.test_request_context():
        text = pdf_text(render.render_pdf(this))
    assert "(prior-period adjustment)" in text and "Holds released or moved this month" in text


POLISH_MONTHS = ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września",
                 "października", "listopada", "grudnia")


def test_statements_and_the_county_pack_are_english_for_a_polish_finance_person(client, session, team, history,
                                                                                 sign_in):  # noqa: F811
    """Statements are the council's records: a Polish account asking with ?lang=pl still gets English."""
    history.language = "pl"
    session.add(history)
    session.commit()
    month = today().strftime("%Y-%m")
    assert sign_in(history).status_code == 302
    assert '<html lang="pl"' in client.get(f"/finance/statements?month={month}&lang=pl").get_data(as_text=True)
    for url in (f"/finance/statements/{team.slug}/{month}.pdf?lang=pl", f"/finance/county-pack/{month}.pdf?lang=pl"):
        response = client.get(url)
        assert response.status_code == 200, url
        text = " ".join(pdf_text(response.data).split())
        assert f"1 {this_month():%B %Y}" in text, url  # English month names, not "1 listopada 2026"
        assert not any(name in text for name in POLISH_MONTHS), url
    csv_response = client.get(f"/finance/statements/{team.slug}/{month}.csv?lang=pl")
    assert csv_response.data.startswith(b"Body,")
