"""Any sequence of ledger operations keeps every entry balanced, available ≥ 0 and verify green.

The database cannot be emptied between examples (it is append-only), so the machine keeps one
database for the whole test, measures balances relative to where each example started, and
moves its simulated calendar forward only, so closing months never blocks later examples.
"""

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from ledger import services
from ledger.errors import HoldNotOpen, InsufficientFunds, ReversalRefused

SETTINGS = settings(
    max_examples=20,
    stateful_step_count=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
amounts = st.integers(min_value=1, max_value=50_000)


def test_ledger_state_machine(session, people):
    teams, finance = people["teams"], people["finance"]
    keys = itertools.count()
    calendar = {"day": dt.date(2024, 1, 15)}

    class LedgerMachine(RuleBasedStateMachine):
        holds = Bundle("holds")
        entries = Bundle("entries")

        def __init__(self):
            super().__init__()
            self.start = [services.balance_of(session=session, team=t) for t in teams]
            # Holds left open by earlier examples stay open: measure from today's available.
            self.start_available = [services.available_of(session=session, team=t) for t in teams]
            self.delta = [0, 0]
            self.open_holds: dict[int, tuple[int, int]] = {}  # hold id → (team index, pence)
            self.reversed: set[int] = set()

        def key(self):
            return f"prop-{next(keys)}"

        def available(self, i):
            held = sum(p for t, p in self.open_holds.values() if t == i)
            return self.start_available[i] + self.delta[i] - held

        @rule(target=entries, team=st.integers(0, 1), pence=amounts)
        def allocate(self, team, pence):
            key = self.key()
            args = dict(
                session=session,
                team=teams[team],
                amount_pence=pence,
                actor_id=finance.id,
                effective_date=calendar["day"],
                idempotency_key=key,
            )
            entry = services.allocate(gl_code="R1000", **args)
            session.commit()
            assert services.allocate(gl_code="R1000", **args).id == entry.id  # a retry returns the first entry
            self.delta[team] += pence
            return (entry.id, {team: pence})

        @rule(target=entries, source=st.integers(0, 1), pence=amounts)
        def transfer(self, source, pence):
            target = 1 - source
            try:
                entry = services.transfer(
                    session=session,
                    from_team=teams[source],
                    to_team=teams[target],
                    amount_pence=pence,
                    reason="property",
                    actor_id=finance.id,
                    effective_date=calendar["day"],
                    idempotency_key=self.key(),
                )
            except InsufficientFunds:
                session.rollback()
                assert pence > self.available(source)
                return (None, {})
            session.commit()
            assert pence <= self.available(source)
            self.delta[source] -= pence
            self.delta[target] += pence
            return (entry.id, {source: -pence, target: pence})

        @rule(target=holds, team=st.integers(0, 1), pence=amounts)
        def hold(self, team, pence):
            try:
                h = services.hold(
                    session=session,
                    team=teams[team],
                    amount_pence=pence,
                    category="equipment",
                    description="property",
                    actor_id=finance.id,
                    idempotency_key=self.key(),
                )
            except InsufficientFunds:
                session.rollback()
                assert pence > self.available(team)
                return None
            session.commit()
            assert pence <= self.available(team)
            self.open_holds[h.id] = (team, pence)
            return h.id

        @rule(target=entries, hold_id=consumes(holds), share=st.floats(0.01, 1.0))
        def settle(self, hold_id, share):
            if hold_id is None:
                return (None, {})
            team, held = self.open_holds.pop(hold_id)
            actual = max(1, int(held * share))
            entry = services.settle_hold(
                session=session,
                hold_id=hold_id,
                actual_pence=actual,
                actor_id=finance.id,
                effective_date=calendar["day"],
                idempotency_key=self.key(),
            )
            session.commit()
            self.delta[team] -= actual
            return (entry.id, {team: -actual})

        @rule(hold_id=consumes(holds))
        def void(self, hold_id):
            if hold_id is None:
                return
            services.void_hold(
                session=session, hold_id=hold_id, actor_id=finance.id, idempotency_key=self.key()
            )
            session.commit()
            self.open_holds.pop(hold_id)
            try:
                services.void_hold(
                    session=session, hold_id=hold_id, actor_id=finance.id, idempotency_key=self.key()
                )
                raise AssertionError("a voided hold was voided again")
            except HoldNotOpen:
                session.rollback()

        @rule(target=entries, item=entries)
        def reverse(self, item):
            entry_id, effect = item
            if entry_id is None:
                return (None, {})
            fits = all(self.available(t) + d * -1 >= 0 for t, d in effect.items() if d > 0)
            try:
                rev = services.reverse(
                    session=session,
                    entry_id=entry_id,
                    reason="property",
                    actor_id=finance.id,
                    effective_date=calendar["day"],
                    idempotency_key=self.key(),
                )
            except ReversalRefused:
                session.rollback()
                assert entry_id in self.reversed
                return (None, {})
            except InsufficientFunds:
                session.rollback()
                assert not fits
                return (None, {})
            session.commit()
            assert entry_id not in self.reversed and fits
            self.reversed.update({entry_id, rev.id})
            for t, d in effect.items():
                self.delta[t] -= d
            return (rev.id, {t: -d for t, d in effect.items()})

        @rule(days=st.integers(1, 45))
        def advance(self, days):
            calendar["day"] += dt.timedelta(days=days)

        @precondition(lambda self: True)
        @rule()
        def close(self):
            last_month = calendar["day"].replace(day=1) - dt.timedelta(days=1)
            services.close_month(
                session=session, month=last_month, actor_id=finance.id, today=calendar["day"]
            )
            session.commit()

        @invariant()
        def books_balance(self):
            unbalanced = session.execute(
                text("SELECT entry_id FROM posting GROUP BY entry_id HAVING SUM(amount_pence) <> 0")
            ).all()
            assert unbalanced == []
            for i, team in enumerate(teams):
                assert services.balance_of(session=session, team=team) == self.start[i] + self.delta[i]
                available = services.available_of(session=session, team=team)
                assert available == self.available(i)
                assert available >= 0

        def teardown(self):
            report = services.verify(session=session)
            assert report.ok, report.summary()

    run_state_machine_as_test(LedgerMachine, settings=SETTINGS)


pytestmark = pytest.mark.timeout(600)
