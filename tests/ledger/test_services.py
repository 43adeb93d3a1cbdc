import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from community.db import is_sqlite
from ledger import periods, services
from ledger.errors import (
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    PeriodClosed,
    ReversalRefused,
)
from tests.support.factories import TODAY

DAY = dt.date(2026, 11, 2)


def _fund(session, team, finance, pence=10_000, key="alloc-1", day=DAY):
    entry = services.allocate(gl_code="R1000",
        session=session,
        team=team,
        amount_pence=pence,
        actor_id=finance.id,
        effective_date=day,
        idempotency_key=key,
    )
    session.commit()
    return entry


def test_allocation_moves_money_from_council_fund_to_team_budget(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    assert services.balance_of(session=session, team=team) == 10_000
    council = services.council_fund_id(session=session)
    assert services.balance_of(session=session, account_id=council) == -10_000
    assert services.verify(session=session).ok


def test_same_key_same_body_returns_the_first_entry(session, people):
    team, finance = people["teams"][0], people["finance"]
    first = _fund(session, team, finance)
    again = _fund(session, team, finance)
    assert again.id == first.id
    assert services.balance_of(session=session, team=team) == 10_000


def test_same_key_different_body_is_a_conflict(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    with pytest.raises(IdempotencyConflict):
        _fund(session, team, finance, pence=20_000)


def test_hold_reduces_available_not_balance(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    services.hold(
        session=session,
        team=team,
        amount_pence=4_000,
        category="Equipment",
        description="Litter pickers",
        actor_id=finance.id,
        idempotency_key="h1",
    )
    assert services.balance_of(session=session, team=team) == 10_000
    assert services.available_of(session=session, team=team) == 6_000


def test_hold_larger_than_available_is_refused(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    with pytest.raises(InsufficientFunds, match="£100.00 available"):
        services.hold(
            session=session,
            team=team,
            amount_pence=10_001,
            category="other",
            description="too much",
            actor_id=finance.id,
            idempotency_key="h1",
        )


def test_a_second_hold_fits_only_what_the_first_left_available(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)

    def hold(pence, key):
        return services.hold(session=session, team=team, amount_pence=pence, category="equipment",
                             description="Litter pickers", actor_id=finance.id, idempotency_key=key)

    hold(4_000, "h1")
    session.commit()
    with pytest.raises(InsufficientFunds, match=r"£60\.00 available, not enough for £60\.01"):
        hold(6_001, "h2")
    session.rollback()
    second = hold(6_000, "h3")  # exactly what is left
    session.commit()
    assert second.amount_pence == 6_000
    assert services.available_of(session=session, team=team) == 0
    assert services.verify(session=session).ok


def test_settling_for_less_releases_the_difference(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    h = services.hold(
        session=session,
        team=team,
        amount_pence=4_000,
        category="food",
        description="Picnic",
        actor_id=finance.id,
        idempotency_key="h1",
        payee="Jo Bloggs",
        payee_is_individual=True,
    )
    entry = services.settle_hold(
        session=session,
        hold_id=h.id,
        actual_pence=3_000,
        actor_id=finance.id,
        effective_date=DAY,
        idempotency_key="s1",
    )
    session.commit()
    assert services.balance_of(session=session, team=team) == 7_000
    assert services.available_of(session=session, team=team) == 7_000
    assert entry.payee_is_individual
    page = services.list_entries(session=session, team=team)
    assert page.rows[0].public_payee == "individual (withheld)"
    assert services.verify(session=session).ok


def test_settling_for_more_than_held_is_refused(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    h = services.hold(
        session=session,
        team=team,
        amount_pence=4_000,
        category="food",
        description="Picnic",
        actor_id=finance.id,
        idempotency_key="h1",
    )
    with pytest.raises(InvalidAmount):
        services.settle_hold(
            session=session,
            hold_id=h.id,
            actual_pence=4_001,
            actor_id=finance.id,
            effective_date=DAY,
            idempotency_key="s1",
        )


def test_void_releases_and_a_voided_hold_cannot_be_settled(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    h = services.hold(
        session=session,
        team=team,
        amount_pence=4_000,
        category="food",
        description="Picnic",
        actor_id=finance.id,
        idempotency_key="h1",
    )
    services.void_hold(session=session, hold_id=h.id, actor_id=finance.id, idempotency_key="v1")
    assert services.available_of(session=session, team=team) == 10_000
    with pytest.raises(HoldNotOpen):
        services.settle_hold(
            session=session,
            hold_id=h.id,
            actual_pence=100,
            actor_id=finance.id,
            effective_date=DAY,
            idempotency_key="s1",
        )


def test_virement_needs_a_reason_and_available_money(session, people):
    (a, b), finance = people["teams"], people["finance"]
    _fund(session, a, finance)
    with pytest.raises(InvalidRequest):
        services.transfer(
            session=session,
            from_team=a,
            to_team=b,
            amount_pence=100,
            reason=" ",
            actor_id=finance.id,
            effective_date=DAY,
            idempotency_key="t1",
        )
    with pytest.raises(InsufficientFunds):
        services.transfer(
            session=session,
            from_team=a,
            to_team=b,
            amount_pence=10_001,
            reason="r",
            actor_id=finance.id,
            effective_date=DAY,
            idempotency_key="t2",
        )
    services.transfer(
        session=session,
        from_team=a,
        to_team=b,
        amount_pence=2_500,
        reason="Shared event",
        actor_id=finance.id,
        effective_date=DAY,
        idempotency_key="t3",
    )
    assert services.balance_of(session=session, team=b) == 2_500


def test_reversal_adds_an_opposite_entry_and_cannot_repeat(session, people):
    team, finance = people["teams"][0], people["finance"]
    original = _fund(session, team, finance)
    rev = services.reverse(
        session=session,
        entry_id=original.id,
        reason="Wrong team",
        actor_id=finance.id,
        effective_date=DAY,
        idempotency_key="r1",
    )
    assert rev.reverses_entry_id == original.id
    assert services.balance_of(session=session, team=team) == 0
    with pytest.raises(ReversalRefused, match="already reversed"):
        services.reverse(
            session=session,
            entry_id=original.id,
            reason="again",
            actor_id=finance.id,
            effective_date=DAY,
            idempotency_key="r2",
        )
    with pytest.raises(ReversalRefused, match="cannot itself"):
        services.reverse(
            session=session,
            entry_id=rev.id,
            reason="undo",
            actor_id=finance.id,
            effective_date=DAY,
            idempotency_key="r3",
        )


def test_reversal_of_another_teams_entry_is_refused(session, people):
    (a, b), finance = people["teams"], people["finance"]
    original = _fund(session, a, finance)
    with pytest.raises(ReversalRefused, match="another team"):
        services.reverse(
            session=session,
            entry_id=original.id,
            reason="x",
            team=b,
            actor_id=finance.id,
            effective_date=DAY,
            idempotency_key="r1",
        )


def test_reversal_refused_when_money_is_committed(session, people):
    team, finance = people["teams"][0], people["finance"]
    original = _fund(session, team, finance)
    services.hold(
        session=session,
        team=team,
        amount_pence=1,
        category="other",
        description="y",
        actor_id=finance.id,
        idempotency_key="h1",
    )
    with pytest.raises(InsufficientFunds):
        services.reverse(
            session=session,
            entry_id=original.id,
            reason="x",
            actor_id=finance.id,
            effective_date=DAY,
            idempotency_key="r1",
        )


def test_closed_month_refuses_entries_in_service_and_database(session, people, monkeypatch):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance, day=dt.date(2026, 9, 15))
    services.close_month(session=session, month=dt.date(2026, 10, 1), actor_id=finance.id, today=TODAY)
    session.commit()
    with pytest.raises(PeriodClosed):
        _fund(session, team, finance, key="late", day=dt.date(2026, 10, 31))
    session.rollback()
    # Bypass the service: the trigger refuses the header too.
    monkeypatch.setattr(periods, "check_open_date", lambda **_: None)
    with pytest.raises(DBAPIError, match="closed"):
        _fund(session, team, finance, key="late2", day=dt.date(2026, 10, 31))
    session.rollback()
    assert services.balance_of(session=session, team=team) == 10_000
    assert services.verify(session=session).ok


def test_current_month_cannot_be_closed(session, people):
    with pytest.raises(PeriodClosed):
        services.close_month(session=session, month=TODAY, actor_id=people["finance"].id, today=TODAY)


def test_database_refuses_update_and_delete_of_entries(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    for sql in (
        "UPDATE posting SET amount_pence = 1",
        "DELETE FROM posting",
        "UPDATE journal_entry SET description = 'x'",
        "DELETE FROM journal_entry",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(sql))
        session.rollback()


def test_database_refuses_unbalanced_entry(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    session.execute(
        text(
            "INSERT INTO posting (entry_id, account_id, amount_pence, effective_date)"
            " VALUES (99, 1, 5, '2026-11-02'), (99, 2, -4, '2026-11-02')"
        )
    )
    with pytest.raises(DBAPIError, match="sum"):
        session.execute(
            text(
                "INSERT INTO journal_entry (id, effective_date, kind, actor_id, idempotency_key,"
                " request_hash, description, payee_is_individual, created_at, prev_hash, hash)"
                " VALUES (99, '2026-11-02', 'allocation', :a, 'k', 'h', 'd', false,"
                " '2026-11-02 00:00:00', 'p', 'h')"
            ),
            {"a": finance.id},
        )
    session.rollback()


def test_public_page_shows_running_balance_newest_first(session, people):
    team, finance = people["teams"][0], people["finance"]
    for i in range(5):
        _fund(session, team, finance, pence=100 * (i + 1), key=f"a{i}")
    page1 = services.list_entries(session=session, team=team, per_page=2)
    page2 = services.list_entries(session=session, team=team, page=2, per_page=2)
    assert [r.balance_after_pence for r in page1.rows] == [1500, 1000]
    assert [r.balance_after_pence for r in page2.rows] == [600, 300]
    assert page1.has_next and page2.has_next
    assert page1.available_pence == 1500


def test_balance_uses_sealed_opening_balance_after_close(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance, day=dt.date(2026, 9, 1))
    services.close_month(session=session, month=dt.date(2026, 9, 1), actor_id=finance.id, today=TODAY)
    _fund(session, team, finance, key="a2", pence=5, day=dt.date(2026, 10, 3))
    assert services.balance_of(session=session, team=team) == 10_005
    assert services.verify(session=session).ok


def test_verify_command_exits_zero_then_names_the_bad_entry(app, session, people):
    from ledger.cli import ledger_cli

    if "ledger" not in app.cli.commands:
        app.cli.add_command(ledger_cli)
    runner = app.test_cli_runner()
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 0 and result.output.startswith("ledger OK: 1 entries")
    if is_sqlite(session):
        session.execute(text("DROP TRIGGER ledger_entry_no_update"))
    else:
        session.execute(text("DROP TRIGGER journal_entry_no_update ON journal_entry"))
    session.execute(text("UPDATE journal_entry SET description = 'edited' WHERE id = 1"))
    session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1 and "entry 1" in result.output


def test_demo_history_is_thirteen_verified_months(session, people):
    from demo.ledger import load_demo_history

    teams, finance, member = people["teams"], people["finance"], people["member"]
    load_demo_history(
        session, teams=teams, finance=finance, members={teams[0].id: [member, finance]}, today=TODAY
    )
    session.commit()
    assert services.verify(session=session).ok
    page = services.list_entries(session=session, team=teams[0], per_page=200)
    kinds = {row.kind for row in page.rows}
    assert {"allocation", "spend", "virement", "reversal"} <= kinds
    assert min(row.effective_date for row in page.rows) == dt.date(2025, 11, 1)
    with pytest.raises(PeriodClosed):
        _fund(session, teams[0], finance, key="late", day=dt.date(2026, 10, 31))
    assert all(services.available_of(session=session, team=t) >= 0 for t in teams)


def _sum_of_postings(session, account_id: int) -> int:
    from sqlalchemy import func, select

    from ledger.models import Posting

    return int(session.execute(select(func.coalesce(func.sum(Posting.amount_pence), 0))
                               .where(Posting.account_id == account_id)).scalar_one())


def test_every_way_of_reading_a_balance_agrees_before_and_after_a_close(session, people):
    """The ledger page, the finance home's list of teams and the spend checks read balances by
    different queries (one round trip each): they must agree with each other and with the plain
    sum of the postings, with open holds, before any close and after one, and for a team with no
    budget account yet (0, and nothing created)."""
    from ledger.accounts import balance_and_committed, existing_budget_account_id
    from ledger.queries import budget_page, team_balances

    first, second = people["teams"]
    finance = people["finance"]
    lonely = type(first)(slug="team-3", name="Team 3", place_id=first.place_id, cost_centre="CC003")
    session.add(lonely)
    session.commit()

    def agree(expected: dict):
        listed = {row["team"].slug: (row["balance"], row["available"]) for row in team_balances(session=session)}
        assert listed == expected
        for team in (first, second):
            account = existing_budget_account_id(session=session, team=team)
            balance, committed = balance_and_committed(session=session, account_id=account)
            page = budget_page(session=session, team=team)
            assert (balance, balance - committed) == expected[team.slug] == (page.balance_pence, page.available_pence)
            assert balance == services.balance_of(session=session, team=team) == _sum_of_postings(session, account)
            assert balance - committed == services.available_of(session=session, team=team)
        assert existing_budget_account_id(session=session, team=lonely) is None
        assert budget_page(session=session, team=lonely) is None

    _fund(session, first, finance, pence=10_000, key="a1", day=dt.date(2026, 9, 4))
    _fund(session, second, finance, pence=2_500, key="a2", day=dt.date(2026, 9, 9))
    services.hold(session=session, team=first, amount_pence=4_000, category="Equipment", description="Pickers",
                  actor_id=finance.id, idempotency_key="h1")
    session.commit()
    agree({"team-1": (10_000, 6_000), "team-2": (2_500, 2_500), "team-3": (0, 0)})
    services.close_month(session=session, month=dt.date(2026, 9, 1), actor_id=finance.id, today=TODAY)
    session.commit()
    _fund(session, first, finance, pence=7, key="a3", day=dt.date(2026, 10, 1))  # the first day after the close
    _fund(session, second, finance, pence=11, key="a4", day=dt.date(2026, 11, 1))
    agree({"team-1": (10_007, 6_007), "team-2": (2_511, 2_511), "team-3": (0, 0)})
    assert existing_budget_account_id(session=session, team=lonely) is None
