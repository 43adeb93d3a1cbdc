"""Editing the database directly, with the triggers dropped, is caught by ``verify``."""

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, text

from community.db import LONDON, is_sqlite
from ledger import services
from ledger.models import JournalEntry, Posting
from tests.support.factories import TODAY

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
        services.allocate(gl_code="R1000",
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


# --------------------------------------------------------------------------- forged rewrites


def _stored(session, entry_id):
    """An entry's header (the hashed columns) and postings, as ``verify`` reads them."""
    columns = [getattr(JournalEntry, name) for name in services.HASHED_FIELDS]
    header = session.execute(select(*columns).where(JournalEntry.id == entry_id)).one()._asdict()
    postings = session.execute(
        select(Posting.account_id, Posting.amount_pence).where(Posting.entry_id == entry_id)
    ).all()
    prev_hash = session.execute(select(JournalEntry.prev_hash).where(JournalEntry.id == entry_id)).scalar_one()
    return prev_hash, header, [(a, int(p)) for a, p in postings]


def _forge(session, entry_id):
    """Double an entry's amount and give it a freshly computed, valid hash; re-point the next
    entry's previous-hash at it. Returns the forged hash."""
    session.execute(text("UPDATE posting SET amount_pence = amount_pence * 2 WHERE entry_id = :e"), {"e": entry_id})
    prev_hash, header, postings = _stored(session, entry_id)
    forged = services.entry_hash(prev_hash, header, postings)
    session.execute(text("UPDATE journal_entry SET hash = :h WHERE id = :e"), {"h": forged, "e": entry_id})
    session.execute(
        text("UPDATE journal_entry SET prev_hash = :h WHERE id = :e"), {"h": forged, "e": entry_id + 1}
    )
    return forged


def test_forged_self_consistent_rewrite_is_caught_at_the_next_entry(session, ledger):
    _forge(session, 2)
    session.commit()
    # Entry 2 now matches its own (new) hash and entry 3 links to it, but entry 3's hash covers
    # the previous hash it was written with.
    report = services.verify(session=session)
    assert not report.ok and report.bad_entry_id == 3
    assert report.problem == "entry 3: contents do not match its hash"


def test_forged_rewrite_rehashed_to_the_end_is_caught_by_the_sealed_month(session, ledger, people):
    services.close_month(session=session, month=TODAY, actor_id=people["finance"].id)
    session.commit()
    forged = _forge(session, 2)
    # Re-hash every later entry and move the chain head: only the month's seal still remembers.
    for entry_id in (3, 4):
        _, header, postings = _stored(session, entry_id)
        forged = services.entry_hash(forged, header, postings)
        session.execute(text("UPDATE journal_entry SET hash = :h WHERE id = :e"), {"h": forged, "e": entry_id})
        if entry_id < 4:
            session.execute(
                text("UPDATE journal_entry SET prev_hash = :h WHERE id = :e"), {"h": forged, "e": entry_id + 1}
            )
    session.execute(text("UPDATE ledger_chain_head SET hash = :h WHERE id = 1"), {"h": forged})
    session.commit()
    report = services.verify(session=session)
    assert not report.ok and report.bad_entry_id == 4
    assert "sealed chain head" in report.problem


# A fixed entry and its digest: the hash's inputs (fields, order, encoding) cannot change silently,
# or every stored chain would stop verifying. The canonical document is written out by hand.
KNOWN_HEADER = {
    "id": 7,
    "effective_date": dt.date(2026, 11, 23),
    "kind": "spend",
    "reason": None,
    "actor_id": 3,
    "reverses_entry_id": None,
    "idempotency_key": "k-7",
    "request_hash": "ab" * 32,
    "team_id": 2,
    "description": "Litter pickers £",
    "payee": "Jo Bloggs",
    "payee_is_individual": True,
    "cost_centre": "CC002",
    "gl_code": "5200",
    "category": "equipment",
    "method": "p-card",
    "receipt_ref": "R-1",
    "proposer_id": 4,
    "approver_id": 5,
    "created_at": dt.datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=dt.UTC),
}
KNOWN_POSTINGS = [(12, 2_500), (4, -2_500)]
KNOWN_PREV = "1f" * 32
KNOWN_CANONICAL = (
    '{"actor_id":3,"approver_id":5,"category":"equipment","cost_centre":"CC002",'
    '"created_at":"2026-11-23T09:30:15.123456Z","description":"Litter pickers \\u00a3",'
    '"effective_date":"2026-11-23","gl_code":"5200","id":7,"idempotency_key":"k-7","kind":"spend",'
    '"method":"p-card","payee":"Jo Bloggs","payee_is_individual":true,"postings":[[4,-2500],[12,2500]],'
    '"proposer_id":4,"reason":null,"receipt_ref":"R-1","request_hash":"' + "ab" * 32 + '",'
    '"reverses_entry_id":null,"team_id":2}'
)
KNOWN_DIGEST = "f1aae201988f4f325f93100fd3bc67115033a2737fe3f0d73bee4c38be663524"


def test_entry_hash_known_answer():
    by_hand = hashlib.sha256(f"{KNOWN_PREV}\n{KNOWN_CANONICAL}".encode()).hexdigest()
    assert by_hand == KNOWN_DIGEST
    assert services.entry_hash(KNOWN_PREV, KNOWN_HEADER, KNOWN_POSTINGS) == KNOWN_DIGEST
    # The same instant given in London time hashes the same (created_at is hashed in UTC).
    london = {**KNOWN_HEADER, "created_at": KNOWN_HEADER["created_at"].astimezone(LONDON)}
    assert services.entry_hash(KNOWN_PREV, london, KNOWN_POSTINGS) == KNOWN_DIGEST


# --------------------------------------------------------------------------- commitments


def _hold(session, team, finance, pence, key):
    held = services.hold(session=session, team=team, amount_pence=pence, category="equipment",
                         description="Litter pickers", actor_id=finance.id, idempotency_key=key)
    session.commit()
    return held


def test_open_holds_beyond_the_balance_are_caught(session, ledger, people):
    team, finance = people["teams"][0], people["finance"]
    balance = services.balance_of(session=session, team=team)
    _hold(session, team, finance, balance, "all-of-it")  # exactly the balance: fine
    assert services.verify(session=session).ok
    report = _tamper_and_verify(
        session,
        "INSERT INTO ledger_hold (team_id, account_id, amount_pence, description, category, payee_is_individual,"
        " status, actor_id, created_at) VALUES (:t, :a, 1, 'forged', 'equipment', false, 'open', :p, :now)",
        t=team.id, a=ledger["a"], p=finance.id, now=dt.datetime.now(dt.UTC),
    )
    assert not report.ok
    assert report.problem == f"team {team.id}: open commitments exceed its balance"


def test_settled_hold_without_its_entry_is_caught(session, ledger, people):
    team, finance = people["teams"][0], people["finance"]
    held = _hold(session, team, finance, 1_000, "h")
    # Marked paid without a payment (the hold trigger allows open → settled): the commitment is
    # released although no money moved.
    report = _tamper_and_verify(
        session, "UPDATE ledger_hold SET status = 'settled' WHERE id = :h", h=held.id
    )
    assert not report.ok
    assert report.problem == f"hold {held.id} is settled but its entry is missing"
