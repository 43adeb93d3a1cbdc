"""Freezing: a closed month's statements are built once (soon after closing, or on the first
request if that comes first: test_statements_pending.py), stored with their SHA-256 in an
append-only table, and every later download is byte-identical. The county pack, the CLI's
process pool."""

import csv
import datetime as dt
import io
import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from community.db import open_session
from community.models import Team
from ledger import services
from statements import figures, freeze, render, store
from statements.models import COUNTY_SCOPE, FrozenStatement, team_scope
from tests.statements.test_statements import HOSTILE, amount_after, pdf_text
from tests.support.clock import last_month, this_month, today, two_months_ago


def _key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def teams(session, place_and_team):  # noqa: F811
    team = place_and_team[1]
    other = Team(slug="elsewhere", name="Elsewhere Connected Team", place_id=team.place_id, cost_centre="TC9")
    session.add(other)
    session.commit()
    return team, other


@pytest.fixture
def fran(session, teams, make_person):  # noqa: F811
    """Finance; two months of history for two teams (a hostile payee in the first team)."""
    team, other = teams
    fran = make_person("fran@example.org", role="finance")
    for t, pence in ((team, 100_000), (other, 40_000)):
        services.allocate(gl_code="R1000", session=session, team=t, amount_pence=pence, actor_id=fran.id,
                          effective_date=two_months_ago(), idempotency_key=_key())
        held = services.hold(session=session, team=t, amount_pence=1_234, category="printing",
                             description=HOSTILE, payee=HOSTILE, actor_id=fran.id, idempotency_key=_key())
        services.settle_hold(session=session, hold_id=held.id, actual_pence=1_234, actor_id=fran.id,
                             effective_date=last_month(), idempotency_key=_key(), method="invoice", receipt_ref="R1")
    services.allocate(gl_code="R1000", session=session, team=team, amount_pence=5_000, actor_id=fran.id,
                      effective_date=today(), idempotency_key=_key())
    session.commit()
    return fran


def _rows(engine, month=None):
    with open_session(engine, write=False) as s:
        return s.execute(
            select(FrozenStatement.scope, FrozenStatement.statement_id, FrozenStatement.pdf_sha256,
                   FrozenStatement.csv_sha256, FrozenStatement.frozen_at_close)
            .where(FrozenStatement.month_start == (month or last_month())).order_by(FrozenStatement.scope)
        ).all()


def test_closing_a_month_freezes_every_statement_and_downloads_are_byte_identical(
        client, session, engine, teams, fran, sign_in):  # noqa: F811
    team, other = teams
    month = last_month().strftime("%Y-%m")
    assert sign_in(fran).status_code == 302
    # buffered: the test client closes the response as a server does once it has sent it, which
    # starts the freeze (STATEMENT_FREEZE is "after_response" in testing).
    response = client.post("/finance/close-month", data={"month": month, "confirm": "y"}, buffered=True)
    assert response.status_code == 302
    assert freeze.wait_for_background_freezes(timeout=300)
    rows = _rows(engine)
    assert [r.scope for r in rows] == [COUNTY_SCOPE, team_scope(team.id), team_scope(other.id)]
    assert all(r.frozen_at_close for r in rows)
    stored = {r.scope: r for r in rows}[team_scope(team.id)]
    assert stored.statement_id == f"TCS-{team.id:04d}-{last_month():%Y%m}"  # stable, no build time

    first = client.get(f"/finance/statements/{team.slug}/{month}.pdf")
    second = client.get(f"/finance/statements/{team.slug}/{month}.pdf")
    assert first.status_code == second.status_code == 200
    assert first.data == second.data
    assert render.sha256(first.data) == stored.pdf_sha256 == first.headers["X-Content-SHA256"]
    assert first.headers["X-Statement-Status"] == "frozen"
    csv_first = client.get(f"/finance/statements/{team.slug}/{month}.csv")
    assert csv_first.data == client.get(f"/finance/statements/{team.slug}/{month}.csv").data
    assert render.sha256(csv_first.data) == stored.csv_sha256
    # The hashes are on the download page, and the PDF prints its CSV's hash.
    page = client.get(f"/finance/statements?month={month}").get_data(as_text=True)
    for r in rows:
        assert r.pdf_sha256 in page and r.csv_sha256 in page
    text_of_pdf = pdf_text(first.data)
    assert stored.csv_sha256 in text_of_pdf.replace("\n", "").replace(" ", "")
    assert "CLOSED" in text_of_pdf and "DRAFT" not in text_of_pdf and stored.statement_id in text_of_pdf
    # Still identical after the ledger moves on (a new entry this month, open).
    with open_session(engine, write=True) as s:
        services.allocate(gl_code="R1000", session=s, team=s.get(Team, team.id), amount_pence=700, actor_id=fran.id,
                          effective_date=today(), idempotency_key=_key())
        s.commit()
    assert client.get(f"/finance/statements/{team.slug}/{month}.pdf").data == first.data
    # The county pack is frozen too.
    pack = client.get(f"/finance/county-pack/{month}.pdf")
    assert pack.status_code == 200 and render.sha256(pack.data) == stored_pack_hash(rows)
    assert pack.data == client.get(f"/finance/county-pack/{month}.pdf").data


def stored_pack_hash(rows) -> str:
    return {r.scope: r for r in rows}[COUNTY_SCOPE].pdf_sha256


def test_months_closed_before_freezing_existed_freeze_on_first_request_once(
        app, client, session, engine, teams, fran, sign_in, make_person):  # noqa: F811
    team, _ = teams
    services.close_month(session=session, month=last_month(), actor_id=fran.id)  # no freezing here
    session.commit()
    month = last_month().strftime("%Y-%m")
    assert _rows(engine) == []
    member = make_person("mo@example.org", role="member", team=team)
    assert sign_in(member).status_code == 302
    listing = client.get(f"/teams/{team.slug}/statements").get_data(as_text=True)
    assert "Frozen on first download" in listing
    first = client.get(f"/teams/{team.slug}/statements/{month}.pdf")
    assert first.status_code == 200 and first.headers["X-Statement-Status"] == "frozen"
    rows = _rows(engine)
    assert [(r.scope, r.frozen_at_close) for r in rows] == [(team_scope(team.id), False)]
    assert client.get(f"/teams/{team.slug}/statements/{month}.pdf").data == first.data
    assert len(_rows(engine)) == 1
    assert rows[0].pdf_sha256 in client.get(f"/teams/{team.slug}/statements").get_data(as_text=True)
    # Months before the closed one are closed too, and freeze the same way.
    older = client.get(f"/teams/{team.slug}/statements/{two_months_ago():%Y-%m}.csv")
    assert older.status_code == 200 and older.data == client.get(
        f"/teams/{team.slug}/statements/{two_months_ago():%Y-%m}.csv").data
    assert len(_rows(engine, two_months_ago())) == 1


def test_two_first_requests_racing_store_one_statement_and_both_serve_it(app, session, engine, teams, fran):
    team, _ = teams
    services.close_month(session=session, month=last_month(), actor_id=fran.id)
    session.commit()
    barrier = threading.Barrier(2, timeout=60)
    results, errors = [], []

    def download():
        try:
            with app.app_context(), open_session(engine, write=False) as s:
                results.append(store.get_team_files(engine, s, s.get(Team, team.id), last_month()))
        except Exception as error:  # reported below
            errors.append(error)

    store._BEFORE_STORE = barrier.wait  # both have built (different generated_at) before either stores
    try:
        threads = [threading.Thread(target=download) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        store._BEFORE_STORE = None
    assert errors == []
    assert len(results) == 2 and results[0].pdf == results[1].pdf and results[0].csv == results[1].csv
    assert len(_rows(engine)) == 1
    assert results[0].pdf_sha256 == _rows(engine)[0].pdf_sha256


def test_the_database_refuses_a_second_row_and_any_change(app, session, engine, teams, fran):
    team, _ = teams
    services.close_month(session=session, month=last_month(), actor_id=fran.id)
    session.commit()
    with app.app_context(), open_session(engine, write=False) as s:
        store.get_team_files(engine, s, s.get(Team, team.id), last_month())
    row_id = session.execute(select(FrozenStatement.id)).scalar_one()
    session.commit()
    duplicate = dict(month_start=last_month(), scope=team_scope(team.id), statement_id="TCS-X", pdf=b"%PDF",
                     pdf_sha256="0" * 64, pdf_size=4, csv=b"a", csv_sha256="0" * 64, csv_size=1,
                     frozen_at_close=False, generated_at=dt.datetime.now(dt.UTC))
    with open_session(engine, write=True) as s:
        s.add(FrozenStatement(**duplicate))
        with pytest.raises(IntegrityError):
            s.commit()
    for statement in ("UPDATE statement_frozen SET pdf_sha256 = :h WHERE id = :i",
                      "DELETE FROM statement_frozen WHERE id = :i"):
        with open_session(engine, write=True) as s, pytest.raises(DBAPIError, match="frozen statement"):
            s.execute(text(statement), {"h": "f" * 64, "i": row_id})
            s.commit()
    with open_session(engine, write=False) as s:
        assert s.execute(select(func.count()).select_from(FrozenStatement)).scalar_one() == 1


def test_open_month_is_a_draft_built_on_request_and_never_stored(client, session, engine, teams, fran, sign_in):  # noqa: F811
    team, _ = teams
    month = this_month().strftime("%Y-%m")
    sign_in(fran)
    first = client.get(f"/finance/statements/{team.slug}/{month}.pdf")
    assert first.status_code == 200 and first.headers["X-Statement-Status"] == "draft"
    assert "-DRAFT-" in first.headers["X-Statement-Id"]
    assert "DRAFT" in pdf_text(first.data)
    assert _rows(engine, this_month()) == []
    page = client.get(f"/finance/statements?month={month}").get_data(as_text=True)
    assert "statements are drafts" in page


def test_the_month_after_a_closed_month_is_open_and_its_statement_a_draft(
        client, session, engine, teams, fran, sign_in):  # noqa: F811
    team, _ = teams
    services.close_month(session=session, month=last_month(), actor_id=fran.id)
    session.commit()
    assert figures.is_closed(session, last_month()) and figures.is_closed(session, two_months_ago())
    assert not figures.is_closed(session, this_month())
    # Only the closed months wait to be frozen; this month is not among them.
    assert [s.month for s in freeze.pending_months(session)] == [two_months_ago(), last_month()]
    assert freeze.month_status(session, this_month()) is None
    draft = figures.build_statement(session=session, team=team, month=today())
    assert not draft.closed and draft.status == "OPEN" and "-DRAFT-" in draft.statement_id
    session.commit()  # end the test session's write transaction (SQLite lock) before the requests
    sign_in(fran)
    month = this_month().strftime("%Y-%m")
    response = client.get(f"/finance/statements/{team.slug}/{month}.pdf")
    assert response.status_code == 200 and response.headers["X-Statement-Status"] == "draft"
    assert "-DRAFT-" in response.headers["X-Statement-Id"]
    assert _rows(engine, this_month()) == []
    # And the ledger still takes entries dated this month.
    services.allocate(gl_code="R1000", session=session, team=team, amount_pence=1_000, actor_id=fran.id,
                      effective_date=this_month(), idempotency_key=_key())
    session.commit()


def test_county_pack_summarises_every_team_then_their_statements(app, session, engine, teams, fran):
    team, other = teams
    services.close_month(session=session, month=last_month(), actor_id=fran.id)
    session.commit()
    with app.test_request_context():
        fetcher_seen = []
        original = render.SafeURLFetcher.fetch

        def spy(self, url, headers=None):
            fetcher_seen.append(url)
            return original(self, url, headers)

        render.SafeURLFetcher.fetch = spy
        try:
            files = store.freeze_month(engine, month=last_month(), at_close=True)
        finally:
            render.SafeURLFetcher.fetch = original
    assert fetcher_seen == []  # the hostile <img src="file:///etc/passwd"> and URL fetched nothing
    pdf = pdf_text(files.pdf)
    assert pdf.index("county statement pack") < pdf.index(f"{team.name}: monthly statement")
    assert pdf.index(f"{other.name}: monthly statement") < pdf.index(f"{team.name}: monthly statement")
    assert '<img src="file:///etc/passwd">' in pdf.replace("\n", " ")
    with open_session(engine, write=False) as s:
        singles = {t.id: figures.build_statement(session=s, team=s.get(Team, t.id), month=last_month())
                   for t in (team, other)}
        stored = store.frozen_hashes(s, last_month())
    closing = sum(st.closing_pence for st in singles.values())
    assert amount_after(pdf, "County total (2 teams)") == sum(st.opening_pence for st in singles.values())
    assert f"{Decimal(closing) / 100:,.2f}" in pdf
    for t in (team, other):
        assert stored[team_scope(t.id)][2] in pdf.replace("\n", "").replace(" ", "")  # each team's CSV hash
    rows = list(csv.DictReader(io.StringIO(files.csv.decode("utf-8"))))
    assert {r["Statement id"] for r in rows} == {stored[team_scope(t.id)][0] for t in (team, other)}
    assert sum(int(Decimal(r["Amount"]) * 100) for r in rows) == sum(
        st.closing_pence - st.opening_pence for st in singles.values())
    assert files.statement_id == f"TCP-{last_month():%Y%m}" and "Page 1 of" in pdf


def test_only_finance_downloads_the_county_pack(client, session, teams, fran, make_person, sign_in):  # noqa: F811
    team, _ = teams
    month = this_month().strftime("%Y-%m")
    member = make_person("mo@example.org", role="enabler", team=team)
    sign_in(member)
    assert client.get(f"/finance/county-pack/{month}.pdf").status_code == 403
    client.post("/sign-out")
    sign_in(fran)
    draft = client.get(f"/finance/county-pack/{month}.csv")
    assert draft.status_code == 200 and draft.data.startswith(b"Body,")
    assert client.get("/finance/county-pack/2026-13.pdf").status_code == 404


def test_cli_builds_every_statement_and_the_pack_with_a_process_pool(app, runner, session, engine, teams, fran,
                                                                     tmp_path):
    team, other = teams
    services.close_month(session=session, month=last_month(), actor_id=fran.id)
    session.commit()
    month = last_month().strftime("%Y-%m")
    result = runner.invoke(args=["statements", "build", "--month", month, "--out", str(tmp_path), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "using 2 process(es)" in result.output and "closed: frozen files" in result.output
    rows = {r.scope: r for r in _rows(engine)}
    assert set(rows) == {COUNTY_SCOPE, team_scope(team.id), team_scope(other.id)}
    pdf = (tmp_path / f"statement-{team.slug}-{month}.pdf").read_bytes()
    assert render.sha256(pdf) == rows[team_scope(team.id)].pdf_sha256
    pack = (tmp_path / f"county-pack-{month}.pdf").read_bytes()
    assert render.sha256(pack) == rows[COUNTY_SCOPE].pdf_sha256
    sums = (tmp_path / "SHA256SUMS").read_text().splitlines()
    assert f"{rows[COUNTY_SCOPE].csv_sha256}  county-pack-{month}.csv" in sums and len(sums) == 6
    # Again: the stored bytes, unchanged.
    again = tmp_path / "again"
    assert runner.invoke(args=["statements", "build", "--month", month, "--out", str(again)]).exit_code == 0
    assert (again / f"statement-{team.slug}-{month}.pdf").read_bytes() == pdf
    assert (again / f"county-pack-{month}.pdf").read_bytes() == pack
