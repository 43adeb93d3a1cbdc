"""The journal: one hash chain of balanced entries, written once and never changed.

* Entries are written postings-first, header-last (see ``migrations/versions/0002_ledger.py``)
  and chained: ``hash = sha256(prev_hash + canonical JSON of the entry and its postings)``.
  One global chain; writers extend it while holding the chain-head row lock
  (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite write sessions already hold the database
  write lock from ``BEGIN IMMEDIATE``).
* Every money-moving operation is idempotent through :class:`Operation` (the same key with the
  same arguments returns the first result; different arguments raise IdempotencyConflict).
* Locking: account rows are locked ``FOR UPDATE`` in id order (:func:`lock_accounts`) before
  the chain-head lock, so writers never deadlock.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from community.db import is_sqlite, utcnow
from community.i18n import _
from ledger import periods
from ledger.errors import IdempotencyConflict, InvalidAmount, InvalidRequest
from ledger.models import ChainHead, Hold, JournalEntry, LedgerAccount, LedgerRequest, Posting
from ledger.money import MAX_PENCE

# Test seams. The race test turns locking off to show that the test can fail, and may
# install a pause between reading the available balance and writing the hold.
_LOCKING = True
_BETWEEN_READ_AND_WRITE: Callable[[], None] | None = None


# The header columns covered by the hash, in the canonical serialisation.
HASHED_FIELDS = (
    "id",
    "effective_date",
    "kind",
    "reason",
    "actor_id",
    "reverses_entry_id",
    "idempotency_key",
    "request_hash",
    "team_id",
    "description",
    "payee",
    "payee_is_individual",
    "cost_centre",
    "gl_code",
    "category",
    "method",
    "receipt_ref",
    "proposer_id",
    "approver_id",
    "created_at",
)


def json_value(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    return value


def entry_hash(prev_hash: str, header: dict, postings: list[tuple[int, int]]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of an entry and its postings."""
    document = {name: json_value(header[name]) for name in HASHED_FIELDS}
    document["postings"] = sorted([int(a), int(p)] for a, p in postings)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def _request_hash(operation: str, arguments: dict) -> str:
    canonical = json.dumps({"operation": operation, **arguments}, sort_keys=True, default=json_value)
    return hashlib.sha256(canonical.encode()).hexdigest()


def reference(entry_id: int) -> str:
    """How every page, message and statement names an entry: ``L000341``."""
    return f"L{entry_id:06d}"


def check_amount(amount_pence: int) -> None:
    if not isinstance(amount_pence, int) or isinstance(amount_pence, bool):
        raise InvalidAmount(_("The amount must be a whole number of pence."))
    if amount_pence <= 0:
        raise InvalidAmount(_("The amount must be more than £0."))
    if amount_pence > MAX_PENCE:
        raise InvalidAmount(_("The amount must be £1,000,000 or less."))


def check_key(idempotency_key: str) -> None:
    if not idempotency_key or len(idempotency_key) > 100:
        raise InvalidRequest(_("This form has expired. Reload the page and try again."))


def _replay(session: Session, key: str, operation: str, request_hash: str):
    """The first result for this key, None if the key is new; conflict if the body differs."""
    row = session.get(LedgerRequest, key)
    if row is None:
        return None
    if row.operation != operation or row.request_hash != request_hash:
        raise IdempotencyConflict(
            _("This form was already submitted with different details, so nothing more was saved. "
            "Check the ledger, then start a fresh form if you still need to.")
        )
    if row.entry_id is not None:
        return session.get(JournalEntry, row.entry_id)
    return session.get(Hold, row.hold_id)


def get_request_record(*, session: Session, idempotency_key: str) -> LedgerRequest | None:
    """What a money-moving service recorded under this idempotency key (None if it is new), so a
    caller can tell "the same request again" from "this key was used for another request"."""
    if not idempotency_key:
        return None
    return session.get(LedgerRequest, idempotency_key)


def _record_request(
    session: Session, key: str, operation: str, request_hash: str, *, entry_id=None, hold_id=None
) -> None:
    session.execute(
        insert(LedgerRequest).values(
            key=key,
            operation=operation,
            request_hash=request_hash,
            entry_id=entry_id,
            hold_id=hold_id,
            created_at=utcnow(),
        )
    )


@dataclass(frozen=True)
class Operation:
    """One idempotent money-moving request, the pattern every operation of ledger/services.py
    follows: :meth:`start` hashes the arguments and looks the key up (``first`` is the first
    result when this key was already used with the same arguments; a different body raises
    IdempotencyConflict); after writing, :meth:`done` records the key against the entry or hold."""

    session: Session
    key: str
    name: str
    request_hash: str
    first: JournalEntry | Hold | None

    @classmethod
    def start(cls, session: Session, key: str, name: str, arguments: dict) -> "Operation":
        request_hash = _request_hash(name, arguments)
        return cls(session, key, name, request_hash, _replay(session, key, name, request_hash))

    def done(self, *, entry_id: int | None = None, hold_id: int | None = None) -> None:
        _record_request(self.session, self.key, self.name, self.request_hash, entry_id=entry_id, hold_id=hold_id)


def lock_accounts(*, session: Session, account_ids) -> None:
    """Lock account rows FOR UPDATE in id order on PostgreSQL (SQLite: BEGIN IMMEDIATE)."""
    if not _LOCKING or is_sqlite(session) or not account_ids:
        return
    session.execute(
        select(LedgerAccount.id)
        .where(LedgerAccount.id.in_(sorted(set(account_ids))))
        .order_by(LedgerAccount.id)
        .with_for_update()
    ).all()


def pause() -> None:
    if _BETWEEN_READ_AND_WRITE is not None:
        _BETWEEN_READ_AND_WRITE()


def append_entry(*, session: Session, header: dict, postings: list[tuple[int, int]]) -> JournalEntry:
    """Extend the chain with one balanced entry: postings first, then the sealing header."""
    if len(postings) < 2 or sum(p for _, p in postings) != 0 or any(p == 0 for _, p in postings):
        raise InvalidRequest(_("An entry needs two or more non-zero postings that sum to zero."))
    periods.check_open_date(session=session, effective_date=header["effective_date"])
    head = session.execute(
        select(ChainHead.entry_id, ChainHead.hash).where(ChainHead.id == 1).with_for_update()
    ).one()
    header = {
        "reason": None,
        "reverses_entry_id": None,
        "team_id": None,
        "payee": None,
        "payee_is_individual": False,
        "cost_centre": None,
        "gl_code": None,
        "category": None,
        "method": None,
        "receipt_ref": None,
        "proposer_id": None,
        "approver_id": None,
        **header,
        "id": head.entry_id + 1,
        "created_at": utcnow(),
        "prev_hash": head.hash,
    }
    header["hash"] = entry_hash(head.hash, header, postings)
    try:
        session.execute(
            insert(Posting),
            [
                {
                    "entry_id": header["id"],
                    "account_id": account_id,
                    "amount_pence": amount,
                    "effective_date": header["effective_date"],
                }
                for account_id, amount in postings
            ],
        )
        session.execute(insert(JournalEntry).values(**header))
        session.execute(
            update(ChainHead).where(ChainHead.id == 1).values(entry_id=header["id"], hash=header["hash"])
        )
    except IntegrityError as error:
        if "idempotency_key" in str(error.orig) or "ledger_request" in str(error.orig):
            raise IdempotencyConflict(
                _("This request is already being processed. Reload the page to see the result.")
            ) from None
        raise
    return session.get(JournalEntry, header["id"])

