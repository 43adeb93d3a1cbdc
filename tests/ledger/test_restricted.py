"""Restricted funds: money received for a pledge, spendable only up to what came in."""

import pytest

from ledger import services
from ledger.errors import InsufficientFunds, NotFound
from tests.ledger.test_services import DAY, _fund


def _receive(session, team, finance, fund, pence, key):
    entry = services.receive_into_fund(
        session=session, team=team, account_id=fund.id, amount_pence=pence, actor_id=finance.id,
        effective_date=DAY, idempotency_key=key, description="Co-op pledge towards the youth space",
        payee="Shirebrook Co-op", method="bank transfer", receipt_ref="BACS-118",
    )
    session.commit()
    return entry


def _hold(session, team, person, pence, key, account_id=None):
    commitment = services.hold(
        session=session, team=team, amount_pence=pence, category="equipment", description="A fridge",
        actor_id=person.id, idempotency_key=key, account_id=account_id,
    )
    session.commit()
    return commitment


def test_received_money_sits_in_the_fund_not_the_budget(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance, pence=5_000)
    fund = services.open_restricted_fund(session=session, team=team, label="Co-op pledge")
    _receive(session, team, finance, fund, 20_000, "rcv-1")
    assert services.balance_of(session=session, account_id=fund.id) == 20_000
    assert services.available_in(session=session, account_id=fund.id) == 20_000
    assert services.balance_of(session=session, team=team) == 5_000
    source = services.contributions_account_id(session=session, team=team)
    assert services.balance_of(session=session, account_id=source) == -20_000
    assert [f.id for f in services.restricted_funds(session=session, team=team)] == [fund.id]
    assert services.verify(session=session).ok


def test_replaying_a_receipt_adds_nothing(session, people):
    team, finance = people["teams"][0], people["finance"]
    fund = services.open_restricted_fund(session=session, team=team, label="Co-op pledge")
    first = _receive(session, team, finance, fund, 20_000, "rcv-1")
    again = _receive(session, team, finance, fund, 20_000, "rcv-1")
    assert first.id == again.id
    assert services.balance_of(session=session, account_id=fund.id) == 20_000


def test_spend_from_a_fund_cannot_exceed_what_was_received(session, people):
    team, finance, member = people["teams"][0], people["finance"], people["member"]
    _fund(session, team, finance, pence=100_000)
    fund = services.open_restricted_fund(session=session, team=team, label="Co-op pledge")
    _receive(session, team, finance, fund, 20_000, "rcv-1")
    _hold(session, team, member, 15_000, "h-1", account_id=fund.id)
    with pytest.raises(InsufficientFunds, match="Co-op pledge has £50.00 available"):
        _hold(session, team, member, 6_000, "h-2", account_id=fund.id)
    session.rollback()
    # The fund's commitment leaves the team budget untouched, and vice versa.
    assert services.available_of(session=session, team=team) == 100_000
    assert services.available_in(session=session, account_id=fund.id) == 5_000


def test_settling_a_fund_hold_pays_from_the_fund(session, people):
    team, finance, member = people["teams"][0], people["finance"], people["member"]
    fund = services.open_restricted_fund(session=session, team=team, label="Co-op pledge")
    _receive(session, team, finance, fund, 20_000, "rcv-1")
    commitment = _hold(session, team, member, 15_000, "h-1", account_id=fund.id)
    # The team budget is empty: the fund's commitment is checked against the fund alone.
    assert services.verify(session=session).ok
    services.settle_hold(session=session, hold_id=commitment.id, actual_pence=12_000, actor_id=member.id,
                         effective_date=DAY, idempotency_key="pay-1", method="invoice", receipt_ref="R1")
    session.commit()
    assert services.balance_of(session=session, account_id=fund.id) == 8_000
    assert services.available_in(session=session, account_id=fund.id) == 8_000


def test_another_teams_fund_is_not_found(session, people):
    mine, theirs = people["teams"]
    finance, member = people["finance"], people["member"]
    fund = services.open_restricted_fund(session=session, team=theirs, label="Their pledge")
    _receive(session, theirs, finance, fund, 20_000, "rcv-1")
    with pytest.raises(NotFound):
        _hold(session, mine, member, 1_000, "h-1", account_id=fund.id)
    session.rollback()
    with pytest.raises(NotFound):
        _receive(session, mine, finance, fund, 1_000, "rcv-2")
    session.rollback()
    budget = services.budget_account_id(session=session, team=mine)
    with pytest.raises(NotFound):  # a budget is not a restricted fund to receive into
        _receive(session, mine, finance, type("A", (), {"id": budget}), 1_000, "rcv-3")
