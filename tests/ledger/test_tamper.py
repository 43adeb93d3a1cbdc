"""Editing the database directly, with the triggers dropped, is caught by ``verify``."""

import pytest
from sqlalchemy import text

from community.db import is_sqlite
from ledger import services
from tests.ledger.conftest import TODAY

TRIGGERS = {
    "journal_entry": [
        "ledger_entry_seal",
        "ledger_entry_no_update",
        "ledger_entry_no_delete",
        "journal_entry_no_update",
        "journal_entry_no_delete",
    ],
    "posting": [
        "ledger_posting_sealed",
        "ledger_posting_no_update",
        "ledger_posting_no_delete",
        "posting_no_update",
        "posting_no_delete",
    ],
}


def _drop_triggers(session):
    for table, names in TRIGGERS.items():
        for name in names:
            on = "" if is_sqlite(session) else f" ON {table}"
            session.execute(text(f"DROP TRIGGER IF EXISTS {name}{on}"))


@pytest.fixture
def ledger(session, people):
    (a, b), finance = people["teams"], people["finance"]
    for i, team in enumerate([a, b, a]):
        services.allocate(
            session=session,
            team=team,
            amount_pence=1_000 * (i + 1),
            actor_id=finance.id,
            effective_date=TODAY,
            idempotency_key=f"a{i}",
        )
    services.transfer(
        session=session,
        from_team=a,
        to_team=b,
        amount_pence=500,
        reason="r",
        actor_id=finance.id,
        effective_date=TODAY,
        idempotency_key="t",
    )
    session.commit()
    assert services.verify(session=session).ok
    _drop_triggers(session)
    session.commit()
    return {
        "a": services.budget_account_id(session=session, team=a),
        "b": services.budget_account_id(session=session, team=b),
    }


def _tamper_and_verify(session, *statements, **params):
    for statement in statements:
        session.execute(text(statement), params)
    session.commit()
    return services.verify(session=session)


def test_changed_amount_is_caught(session, ledger):
    report = _tamper_and_verify(
        session,
        "UPDATE posting SET amount_pence = amount_pence * 2 WHERE entry_id = 2",
    )
    assert not report.ok and report.bad_entry_id == 2
    assert "entry 2" in report.summary()


def test_changed_description_is_caught(session, ledger):
    report = _tamper_and_verify(session, "UPDATE journal_entry SET description = 'x' WHERE id = 3")
    assert not report.ok and report.bad_entry_id == 3


def test_deleted_entry_is_caught(session, ledger):
    report = _tamper_and_verify(
        session, "DELETE FROM posting WHERE entry_id = 2", "DELETE FROM journal_entry WHERE id = 2"
    )
    assert not report.ok and report.bad_entry_id == 2


def test_deleted_last_entry_is_caught(session, ledger):
    report = _tamper_and_verify(
        session, "DELETE FROM posting WHERE entry_id = 4", "DELETE FROM journal_entry WHERE id = 4"
    )
    assert not report.ok and report.bad_entry_id == 4


def test_reordered_entries_are_caught(session, ledger):
    report = _tamper_and_verify(
        session,
        "UPDATE journal_entry SET id = 1000 WHERE id = 2",
        "UPDATE posting SET entry_id = 1000 WHERE entry_id = 2",
        "UPDATE journal_entry SET id = 2 WHERE id = 3",
        "UPDATE posting SET entry_id = 2 WHERE entry_id = 3",
        "UPDATE journal_entry SET id = 3 WHERE id = 1000",
        "UPDATE posting SET entry_id = 3 WHERE entry_id = 1000",
    )
    assert not report.ok and report.bad_entry_id == 2


def test_posting_moved_between_accounts_is_caught(session, ledger):
    report = _tamper_and_verify(
        session,
        "UPDATE posting SET account_id = :b WHERE entry_id = 3 AND account_id = :a",
        a=ledger["a"],
        b=ledger["b"],
    )
    assert not report.ok and report.bad_entry_id == 3
