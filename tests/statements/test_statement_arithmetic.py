"""Statements checked the way finance checks them: every figure is read back from the PDF's text
and the CSV, and each block adds up on the page (issue 20, items 1-4; issue 19's year-to-date
block): opening + movements = closing; brought forward + allocations + virements + spend +
other = closing; the control totals are those of the rows printed; every row carries the
statement team's own cost centre, a virement its counterparty."""

import csv
import datetime as dt
import io
import re
import uuid

import pytest

from community.db import london_today
from community.models import Team
from ledger import services
from statements import figures, store
from tests.statements.test_statements import pdf_text

MONEY = r"-?£[\d,]+\.\d\d"
ROW = re.compile(rf"^\s*(?P<label>\S.*?)\s{{2,}}(?P<amount>{MONEY})\s*$")


def pence(text: str) -> int:
    negative = text.startswith("-")
    pounds, rest = text.lstrip("-£").replace(",", "").split(".")
    value = int(pounds) * 100 + int(rest)
    return -value if negative else value


def block(text: str, first: str, last: str) -> list[tuple[str, int]]:
    """(label, pence) of each row of the summary table whose rows run from the line starting
    with ``first`` to the line starting with ``last``, as pdftotext -layout prints them."""
    rows, inside = [], False
    for raw in text.splitlines():
        match = ROW.match(raw)
        if not match:
            continue
        label = match["label"].strip()
        if label.startswith(first):
            inside = True
        if inside:
            rows.append((label, pence(match["amount"])))
            if label.startswith(last):
                return rows
    raise AssertionError(f"no block from {first!r} to {last!r} in the PDF text")


def check_statement(app, st: figures.Statement) -> None:
    """Render the statement's PDF and CSV, read the figures back and check every block."""
    with app.test_request_context():
        files = store.team_files(st)
    text = pdf_text(files.pdf)
    rows = list(csv.DictReader(io.StringIO(files.csv.decode("utf-8"))))
    where = f"{st.team_slug} {st.month_start:%Y-%m}"

    summary = dict(block(text, "Opening balance", "Available to spend"))
    movements = [
        amount for label, amount in block(text, "Opening balance", "Closing balance")
        if not label.startswith(("Opening balance", "Closing balance", "by "))
    ]
    opening, closing = summary["Opening balance (closing balance of the previous month)"], summary["Closing balance"]
    assert opening + sum(movements) == closing, f"{where}: the month's summary does not add up"
    by_method = [amount for label, amount in block(text, "Payments out", "Reversals") if label.startswith("by ")]
    assert sum(by_method) == summary["Payments out"], f"{where}: payments by method do not add up"
    commitments = next(v for k, v in summary.items() if k.startswith("Commitments"))
    assert closing - commitments == summary["Available to spend (closing − commitments)"], where

    ytd = block(text, "Balance brought forward at 1 April", "Available at month end")
    ytd_figures = dict(ytd)
    ytd_closing = ytd_figures["Closing balance at month end"]
    parts = [amount for label, amount in ytd if label != "Balance brought forward at 1 April"
             and not label.startswith(("Closing balance", "Committed", "Available"))]
    assert ytd_figures["Balance brought forward at 1 April"] + sum(parts) == ytd_closing == closing, (
        f"{where}: the year-to-date block does not add up")
    assert ytd_closing - ytd_figures["Committed at month end"] == ytd_figures["Available at month end"], where

    moves = dict(block(text, "Open at the start of the month", "Open at month end"))
    moved_in = [v for k, v in moves.items() if not k.startswith("Open at month end")]
    moved_out = next(v for k, v in moves.items() if k.startswith("Open at month end"))
    assert sum(moved_in) == moved_out == commitments, f"{where}: the commitments block does not add up"
    _check_released_table(text, moves, where)

    budget_rows = [r for r in rows if r["Fund"] == "budget"]
    in_pence = sum(pence_of(r["Amount"]) for r in budget_rows)
    assert opening + in_pence == closing, f"{where}: the CSV's budget rows do not add up to the closing balance"
    if budget_rows:
        assert pence_of(budget_rows[-1]["Running balance"]) == closing, where
    assert {r["Cost centre"] for r in rows} <= {st.cost_centre}, f"{where}: a row carries another cost centre"
    for row in rows:
        virement = row["Entry kind"] == "virement" or (row["Entry kind"] == "reversal" and "Virement" in row["Description"])
        assert bool(row["Counterparty"]) == virement, f"{where}: {row['Transaction number']} counterparty"
    control = re.search(r"(\d+) lines? printed above, from (\d+) entr(?:y|ies).*?debits\s+(" + MONEY
                        + r")\s+=\s+credits\s+(" + MONEY + ")", " ".join(text.split()))
    assert control, f"{where}: no control totals on the page"
    assert int(control[1]) == len(rows), f"{where}: control totals count {control[1]} lines, the CSV has {len(rows)}"
    assert int(control[2]) == len({r["Transaction number"] for r in rows}), where
    assert pence(control[3]) == pence(control[4]), f"{where}: debits and credits differ"
    # The header's cell may wrap ("GL codes used this" / "month"): the codes follow "this".
    codes_used = re.search(r"GL codes used this(?: month)?\s+(none|\w+(?:, \w+)*)", text)
    assert codes_used, f"{where}: no GL codes used on the page"
    printed = set() if codes_used[1] == "none" else {c.strip() for c in codes_used[1].split(",")}
    assert printed == {r["GL code"] for r in rows if r["GL code"]}, f"{where}: GL codes used are not the month's"


FOUR = re.compile(rf"({MONEY})\s+({MONEY})\s+({MONEY})\s+({MONEY})\s*$")


def _check_released_table(text: str, moves: dict[str, int], where: str) -> None:
    """Each row of "Holds released or moved this month": held = paid + moved + released; the
    Total row is their sum; its moved and released are the commitments block's."""
    if "Holds released or moved this month" not in text:
        assert not moves["Less: committed again to new holds (moved)"], f"{where}: moves with no table"
        return
    table = text.split("Holds released or moved this month", 1)[1].split("Pledges (memorandum", 1)[0]
    rows, total = [], None
    for raw in table.splitlines():
        match = FOUR.search(raw)
        if match:
            amounts = [pence(a) for a in match.groups()]
            if raw.strip().startswith("Total ("):
                total = amounts
            else:
                rows.append(amounts)
    assert rows and total, f"{where}: no rows or total in the released table"
    for held, paid, moved, released in rows:
        assert held == paid + moved + released, f"{where}: a released row does not add up"
    assert [sum(column) for column in zip(*rows, strict=True)] == total, f"{where}: the released table's total is not its rows'"
    assert total[2] == -moves["Less: committed again to new holds (moved)"], where
    assert total[3] == -moves["Less: released, available to spend again"], where


def pence_of(amount: str) -> int:
    return pence(("-£" + amount[1:]) if amount.startswith("-") else "£" + amount)


def _key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def two_teams(session, place_and_team):  # noqa: F811
    team = place_and_team[1]
    other = Team(slug="gamesley", name="Gamesley Connected Team", place_id=team.place_id, cost_centre="TC2002")
    session.add(other)
    session.commit()
    return team, other


def test_a_month_with_virements_and_reversals_of_every_kind_adds_up_on_the_page(app, session, two_teams, make_person):  # noqa: F811
    """Issue 20 items 1-4: allocation and its reversal, virements both ways and a reversal of
    one, spend and its reversal, and a restricted fund; last financial year's balance brought
    forward."""
    team, other = two_teams
    fran = make_person("fran@example.org", role="finance")
    today = london_today()
    fy_start = figures.financial_period(today.replace(day=1))[2]
    last_year = fy_start - dt.timedelta(days=20)

    def allocate(who, amount, day):
        return services.allocate(session=session, team=who, amount_pence=amount, actor_id=fran.id,
                                 effective_date=day, idempotency_key=_key(), gl_code="R1000")

    def reverse(entry):
        return services.reverse(session=session, entry_id=entry.id, reason="Correction", actor_id=fran.id,
                                effective_date=today, idempotency_key=_key())

    allocate(team, 250_000, last_year)
    allocate(other, 100_000, last_year)
    wrong = allocate(team, 1_200_000, today)  # the £12,000 mistake
    reverse(wrong)
    allocate(team, 50_000, today)
    out = services.transfer(session=session, from_team=team, to_team=other, amount_pence=30_000, reason="Shared event",
                            actor_id=fran.id, effective_date=today, idempotency_key=_key())
    services.transfer(session=session, from_team=other, to_team=team, amount_pence=15_000, reason="Returned",
                      actor_id=fran.id, effective_date=today, idempotency_key=_key())
    reverse(out)
    held = services.hold(session=session, team=team, amount_pence=4_500, category="travel",
                         description="Bus pass", actor_id=fran.id, idempotency_key=_key())
    paid = services.settle_hold(session=session, hold_id=held.id, actual_pence=4_500, actor_id=fran.id,
                                effective_date=today, idempotency_key=_key(), method="purchase card",
                                receipt_ref="R-1", proposer_id=fran.id, approver_id=fran.id)
    reverse(paid)
    held = services.hold(session=session, team=team, amount_pence=18_367, category="venue",
                         description="Hall", actor_id=fran.id, idempotency_key=_key())
    services.settle_hold(session=session, hold_id=held.id, actual_pence=18_367, actor_id=fran.id,
                         effective_date=today, idempotency_key=_key(), method="invoice", receipt_ref="R-2")
    fund = services.open_restricted_fund(session=session, team=team, label="Friends of the Park pledge")
    services.receive_into_fund(session=session, team=team, account_id=fund.id, amount_pence=20_000,
                               actor_id=fran.id, effective_date=today, idempotency_key=_key(),
                               description="Pledge paid", payee="Friends of the Park", receipt_ref="BANK-1")
    services.hold(session=session, team=team, amount_pence=3_000, category="food",
                  description="Tea urn", actor_id=fran.id, idempotency_key=_key())
    session.commit()

    st = figures.build_statement(session=session, team=team, month=today)
    # Issue 20 item 1: the allocation reversal adjusts allocations, not spend.
    assert st.ytd_allocations_pence == 50_000
    assert st.ytd_spend_pence == -18_367
    assert st.ytd_virements_pence == 15_000
    # Item 2: brought forward at 1 April, and the block adds up.
    assert st.ytd_brought_forward_pence == 250_000
    assert st.ytd_brought_forward_pence + st.ytd_allocations_pence + st.ytd_virements_pence + st.ytd_spend_pence \
        + st.ytd_other_pence == st.closing_pence
    # Item 3: the virement in carries this team's cost centre and names the other team.
    virement_in = next(line for line in st.lines if line.kind == "virement" and line.amount_pence > 0)
    assert virement_in.cost_centre == team.cost_centre
    assert virement_in.counterparty == f"{other.name} ({other.cost_centre})"
    assert st.entries_count == len({line.entry_id for line in [*st.lines, *st.restricted_lines]})
    # Item 4: the month's GL codes only.
    assert st.default_gl_codes == ["2410", "3110", "R1000"]
    check_statement(app, st)
    check_statement(app, figures.build_statement(session=session, team=other, month=today))


def test_every_demo_month_adds_up_on_the_page(app, runner, engine):
    """Every month of the demo's ledger history (`flask demo load`), for two demo teams (each PDF
    takes ~0.7 s to render; the other teams' history is made by the same loader)."""
    from community.db import open_session

    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    checked = 0
    with open_session(engine, write=False) as session:
        teams = session.query(Team).order_by(Team.id).limit(2).all()
        month = london_today().replace(day=1)
        for _ in range(13):
            for team in teams:
                st = figures.build_statement(session=session, team=team, month=month)
                if st.lines or st.restricted_lines:
                    check_statement(app, st)
                    checked += 1
            month = (month - dt.timedelta(days=1)).replace(day=1)
    assert checked >= 2 * 12
