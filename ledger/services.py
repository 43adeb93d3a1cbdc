"""Use cases of the ledger: allocate, transfer, hold / settle / void, reverse, close a month,
balances, the public ledger page and ``verify``.

Rules every function here follows:

* ``session`` is keyword-only; functions may flush but never commit (the caller commits once).
* Money is ``int`` pence. Every money-moving function takes an ``idempotency_key``: the same
  key with the same arguments returns the first result, with different arguments raises
  :class:`IdempotencyConflict`.
* Entries are written postings-first, header-last (see ``migrations/versions/0002_ledger.py``)
  and chained: ``hash = sha256(prev_hash + canonical JSON of the entry and its postings)``.
  One global chain; writers extend it while holding the chain-head row lock
  (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite write sessions already hold the database
  write lock from ``BEGIN IMMEDIATE``).
* Holds are commitments, not postings (TigerBeetle's pending transfers): a team's
  ``available = balance of its budget account − its open holds``.
* Locking assumption for every check of available money: on PostgreSQL the team budget
  account rows are locked ``FOR UPDATE`` (sorted by id) before the balance is read, and account
  locks are always taken before the chain-head lock; on SQLite the session must be a write
  session (``open_session(engine, write=True)``: ``BEGIN IMMEDIATE``), which serialises writers.
"""

import calendar
import datetime as dt
import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from community.db import is_sqlite, london_today, utcnow
from community.models import Team
from ledger import codes
from ledger.errors import (
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    NotFound,
    PeriodClosed,
    ReversalRefused,
)
from ledger.models import (
    GENESIS_HASH,
    AccountKind,
    ChainHead,
    EntryKind,
    Hold,
    HoldStatus,
    JournalEntry,
    LedgerAccount,
    LedgerPeriod,
    LedgerRequest,
    PeriodBalance,
    Posting,
)
from ledger.money import MAX_PENCE, format_gbp

# Test seams. The race test turns locking off to show that the test can fail, and may
# install a pause between reading the available balance and writing the hold.
_LOCKING = True
_BETWEEN_READ_AND_WRITE: Callable[[], None] | None = None

COUNCIL_FUND_CODE = "county:council_fund"
WITHHELD = "individual (withheld)"

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


# --------------------------------------------------------------------------- hashing


def _json_value(value):
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return value
    return value


def entry_hash(prev_hash: str, header: dict, postings: list[tuple[int, int]]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of an entry and its postings."""
    document = {name: _json_value(header[name]) for name in HASHED_FIELDS}
    document["postings"] = sorted([int(a), int(p)] for a, p in postings)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def _request_hash(operation: str, arguments: dict) -> str:
    canonical = json.dumps({"operation": operation, **arguments}, sort_keys=True, default=_json_value)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- helpers


def reference(entry_id: int) -> str:
    """How every page, message and statement names an entry: ``L000341``."""
    return f"L{entry_id:06d}"


def _check_amount(amount_pence: int) -> None:
    if not isinstance(amount_pence, int) or isinstance(amount_pence, bool):
        raise InvalidAmount("The amount must be a whole number of pence.")
    if amount_pence <= 0:
        raise InvalidAmount("The amount must be more than £0.")
    if amount_pence > MAX_PENCE:
        raise InvalidAmount("The amount must be £1,000,000 or less.")


def _check_key(idempotency_key: str) -> None:
    if not idempotency_key or len(idempotency_key) > 100:
        raise InvalidRequest("This form has expired. Reload the page and try again.")


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    days = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1) + dt.timedelta(days=days)


def _closed_until(session: Session) -> dt.date | None:
    """The first date not in a closed month, or None when no month is closed."""
    return session.execute(select(func.max(LedgerPeriod.next_month_start))).scalar_one()


def _check_open_date(session: Session, effective_date: dt.date) -> None:
    """Every entry is dated in an open month and not after today in Europe/London (issue 14)."""
    today = london_today()
    if effective_date > today:
        raise PeriodClosed(
            f"{effective_date:%-d %B %Y} is after today. Choose a date in an open month, up to today "
            f"({today:%-d %B %Y})."
        )
    boundary = _closed_until(session)
    if boundary is not None and effective_date < boundary:
        raise PeriodClosed(
            f"{effective_date:%B %Y} is closed. Choose a date in an open month, up to today: "
            f"on or after {boundary:%-d %B %Y}."
        )


def check_open_date(*, session: Session, effective_date: dt.date) -> None:
    """Refuse (PeriodClosed) a date the ledger would refuse for an entry: in a closed month,
    or after today in Europe/London."""
    _check_open_date(session, effective_date)


def _replay(session: Session, key: str, operation: str, request_hash: str):
    """The first result for this key, None if the key is new; conflict if the body differs."""
    row = session.get(LedgerRequest, key)
    if row is None:
        return None
    if row.operation != operation or row.request_hash != request_hash:
        raise IdempotencyConflict(
            "This form was already submitted with different details, so nothing more was saved. "
            "Check the ledger, then start a fresh form if you still need to."
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


def _account_id(session: Session, code: str, kind: AccountKind, team_id, label: str) -> int:
    found = session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).scalar_one_or_none()
    if found is not None:
        return found
    # Created on first use by whichever request gets there first. Concurrent first uses (two
    # virements into a team with no budget account yet) must not fail on the unique code, so
    # insert-or-ignore, then read back the row (PostgreSQL waits for the other writer's commit).
    dialect = session.get_bind().dialect.name
    insert_row = sqlite_insert if dialect == "sqlite" else postgresql_insert
    session.execute(
        insert_row(LedgerAccount)
        .values(code=code, kind=kind.value, team_id=team_id, label=label, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["code"])
    )
    return session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).scalar_one()


def council_fund_id(*, session: Session) -> int:
    """The id of the county's council fund account (created on first use)."""
    return _account_id(session, COUNCIL_FUND_CODE, AccountKind.COUNCIL_FUND, None, "Council fund")


def budget_account_id(*, session: Session, team: Team) -> int:
    """The id of the team's budget account (created on first use)."""
    return _account_id(session, f"team:{team.id}:budget", AccountKind.BUDGET, team.id, f"{team.name} budget")


def _spend_account_id(session: Session, team_id: int, category: str) -> int:
    slug = category.strip().lower()
    return _account_id(session, f"team:{team_id}:spend:{slug}", AccountKind.SPEND, team_id, f"Spend: {slug}")


def open_restricted_fund(*, session: Session, team: Team, label: str) -> LedgerAccount:
    """Open a restricted fund for money received against one pledge; returns the account."""
    label = (label or "").strip()
    if not label:
        raise InvalidRequest("Give the restricted fund a name.")
    account = LedgerAccount(
        code=f"team:{team.id}:restricted:{uuid.uuid4().hex[:16]}",
        kind=AccountKind.RESTRICTED.value,
        team_id=team.id,
        label=label[:120],
    )
    session.add(account)
    session.flush()
    return account


def contributions_account_id(*, session: Session, team: Team) -> int:
    """The id of the team's outside-contributions account: where received pledge money comes
    from in the double entry (it goes negative by what outsiders have given)."""
    return _account_id(
        session, f"team:{team.id}:contributions", AccountKind.CONTRIBUTIONS, team.id,
        f"{team.name} contributions received",
    )


def receive_into_fund(
    *,
    session: Session,
    team: Team,
    account_id: int,
    amount_pence: int,
    actor_id: int,
    effective_date: dt.date,
    idempotency_key: str,
    description: str,
    payee: str | None = None,
    payee_is_individual: bool = False,
    method: str | None = None,
    receipt_ref: str | None = None,
) -> JournalEntry:
    """Record money actually received (e.g. a money pledge paid) into one of the team's
    restricted funds. Promises never reach the ledger; only this does.

    ``payee`` here is who the money came from. Raises InvalidAmount, InvalidRequest, NotFound,
    PeriodClosed, IdempotencyConflict.
    """
    _check_amount(amount_pence)
    _check_key(idempotency_key)
    description = (description or "").strip()
    if not description:
        raise InvalidRequest("Say what the money is for.")
    request_hash = _request_hash(
        "receive",
        dict(
            team=team.id, account=account_id, amount=amount_pence, actor=actor_id,
            date=effective_date, description=description, payee=payee,
            individual=payee_is_individual, method=method, receipt=receipt_ref,
        ),
    )
    if (first := _replay(session, idempotency_key, "receive", request_hash)) is not None:
        return first
    fund = session.get(LedgerAccount, account_id)
    if fund is None or fund.team_id != team.id or fund.kind != AccountKind.RESTRICTED.value:
        raise NotFound("That restricted fund does not belong to this team.")
    source = contributions_account_id(session=session, team=team)
    entry = _append_entry(
        session,
        dict(
            effective_date=effective_date,
            kind=EntryKind.RESTRICTED_RECEIPT.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            team_id=team.id,
            description=description[:500],
            payee=payee,
            payee_is_individual=payee_is_individual,
            cost_centre=team.cost_centre,
            method=method,
            receipt_ref=receipt_ref,
        ),
        [(source, -amount_pence), (fund.id, amount_pence)],
    )
    _record_request(session, idempotency_key, "receive", request_hash, entry_id=entry.id)
    return entry


def _lock_accounts(session: Session, account_ids) -> None:
    """Lock account rows FOR UPDATE in id order on PostgreSQL (SQLite: BEGIN IMMEDIATE)."""
    if not _LOCKING or is_sqlite(session) or not account_ids:
        return
    session.execute(
        select(LedgerAccount.id)
        .where(LedgerAccount.id.in_(sorted(set(account_ids))))
        .order_by(LedgerAccount.id)
        .with_for_update()
    ).all()


def _pause() -> None:
    if _BETWEEN_READ_AND_WRITE is not None:
        _BETWEEN_READ_AND_WRITE()


# --------------------------------------------------------------------------- balances


def _balance(session: Session, account_id: int) -> int:
    """Sealed closing balance of the last closed month + postings dated after it."""
    period = session.execute(
        select(LedgerPeriod.month_start, LedgerPeriod.next_month_start)
        .order_by(LedgerPeriod.month_start.desc())
        .limit(1)
    ).first()
    if period is None:
        opening, since = 0, None
    else:
        opening = (
            session.execute(
                select(PeriodBalance.balance_pence).where(
                    PeriodBalance.month_start == period.month_start,
                    PeriodBalance.account_id == account_id,
                )
            ).scalar_one_or_none()
            or 0
        )
        since = period.next_month_start
    query = select(func.coalesce(func.sum(Posting.amount_pence), 0)).where(Posting.account_id == account_id)
    if since is not None:
        query = query.where(Posting.effective_date >= since)
    return int(opening) + int(session.execute(query).scalar_one())


def balance_of(*, session: Session, team: Team | None = None, account_id: int | None = None) -> int:
    """Posted balance in pence of the team's budget account, or of the account given."""
    if account_id is None:
        if team is None:
            raise InvalidRequest("Say which team or account.")
        account_id = budget_account_id(session=session, team=team)
    return _balance(session, account_id)


def _open_holds(session: Session, account_id: int) -> int:
    """Money committed (open holds) against one budget or restricted account."""
    total = session.execute(
        select(func.coalesce(func.sum(Hold.amount_pence), 0)).where(
            Hold.account_id == account_id, Hold.status == HoldStatus.OPEN.value
        )
    ).scalar_one()
    return int(total)


def available_of(*, session: Session, team: Team) -> int:
    """What the team can still commit from its budget: balance minus open holds, in pence."""
    budget = budget_account_id(session=session, team=team)
    return _balance(session, budget) - _open_holds(session, budget)



def team_balances(*, session: Session) -> list[dict]:
    """Every team with its balance and available pence, by name (0 for a team with no budget
    account yet: reading must not create one)."""
    budgets = set(session.execute(select(LedgerAccount.code).where(LedgerAccount.code.like("team:%:budget"))).scalars())
    rows = []
    for team in session.execute(select(Team).order_by(Team.name)).scalars():
        if f"team:{team.id}:budget" in budgets:
            rows.append({"team": team, "balance": balance_of(session=session, team=team),
                         "available": available_of(session=session, team=team)})
        else:
            rows.append({"team": team, "balance": 0, "available": 0})
    return rows

def available_in(*, session: Session, account_id: int) -> int:
    """What can still be committed from one budget or restricted account, in pence."""
    return _balance(session, account_id) - _open_holds(session, account_id)


def restricted_funds(*, session: Session, team: Team) -> list[LedgerAccount]:
    """The team's restricted funds (one per pledge received), oldest first."""
    return list(
        session.execute(
            select(LedgerAccount)
            .where(LedgerAccount.team_id == team.id, LedgerAccount.kind == AccountKind.RESTRICTED.value)
            .order_by(LedgerAccount.id)
        ).scalars()
    )


@dataclass(frozen=True)
class FundSummary:
    account_id: int
    label: str
    balance_pence: int
    available_pence: int


def fund_summaries(*, session: Session, team: Team) -> list[FundSummary]:
    """Each restricted fund of the team with what is in it and what is still uncommitted."""
    return [
        FundSummary(
            account_id=fund.id,
            label=fund.label,
            balance_pence=_balance(session, fund.id),
            available_pence=available_in(session=session, account_id=fund.id),
        )
        for fund in restricted_funds(session=session, team=team)
    ]


def _funding_account(session: Session, team: Team, account_id: int | None) -> int:
    """The team's budget, or one of its own restricted funds (NotFound for anything else)."""
    if account_id is None:
        return budget_account_id(session=session, team=team)
    account = session.get(LedgerAccount, account_id)
    if (
        account is None
        or account.team_id != team.id
        or account.kind not in (AccountKind.BUDGET.value, AccountKind.RESTRICTED.value)
    ):
        raise NotFound("That fund does not belong to this team.")
    return account.id


def _guard_outflows(session: Session, postings: list[tuple[int, int]]) -> None:
    """Lock every budget / restricted account that loses money and refuse an overdraft.

    Assumes the caller's transaction is a write transaction (see the module docstring).
    """
    outflows = defaultdict(int)
    for account_id, amount in postings:
        outflows[account_id] += amount
    losing = sorted(a for a, amount in outflows.items() if amount < 0)
    if not losing:
        return
    accounts = session.execute(select(LedgerAccount).where(LedgerAccount.id.in_(losing))).scalars()
    guarded = [a for a in accounts if a.kind in (AccountKind.BUDGET, AccountKind.RESTRICTED)]
    _lock_accounts(session, [a.id for a in guarded])
    for account in guarded:
        spendable = _balance(session, account.id) - _open_holds(session, account.id)
        _pause()
        if spendable + outflows[account.id] < 0:
            raise InsufficientFunds(
                f"{account.label} has {format_gbp(max(spendable, 0))} available, "
                f"not enough for {format_gbp(-outflows[account.id])}."
            )


# --------------------------------------------------------------------------- writing


def _append_entry(session: Session, header: dict, postings: list[tuple[int, int]]) -> JournalEntry:
    """Extend the chain with one balanced entry: postings first, then the sealing header."""
    if len(postings) < 2 or sum(p for _, p in postings) != 0 or any(p == 0 for _, p in postings):
        raise InvalidRequest("An entry needs two or more non-zero postings that sum to zero.")
    _check_open_date(session, header["effective_date"])
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
                "This request is already being processed. Reload the page to see the result."
            ) from None
        raise
    return session.get(JournalEntry, header["id"])


def _check_gl_code(gl_code: str | None) -> str:
    """A GL code as finance writes them: letters and digits (ASCII), at most 20; upper-cased."""
    text = (gl_code or "").strip().upper()
    if not text:
        raise InvalidRequest("Enter the GL code for this allocation, like "
                             f"{codes.ALLOCATION_GL_CODE}.", field="gl_code")
    if len(text) > 20 or not (text.isascii() and text.isalnum()):
        raise InvalidRequest("A GL code is letters A to Z and digits 0 to 9 only, like "
                             f"{codes.ALLOCATION_GL_CODE}.", field="gl_code")
    return text


def allocate(
    *,
    session: Session,
    team: Team,
    amount_pence: int,
    actor_id: int,
    effective_date: dt.date,
    idempotency_key: str,
    description: str = "Budget allocation",
    gl_code: str,
    cost_centre: str | None = None,
) -> JournalEntry:
    """Finance allocates money from the council fund to the team's budget.

    Every allocation carries the GL (income) code finance gives it: none is refused.
    Raises InvalidAmount, InvalidRequest, PeriodClosed, IdempotencyConflict.
    """
    _check_amount(amount_pence)
    _check_key(idempotency_key)
    gl_code = _check_gl_code(gl_code)
    cost_centre = cost_centre or team.cost_centre
    request_hash = _request_hash(
        "allocate",
        dict(
            team=team.id,
            amount=amount_pence,
            actor=actor_id,
            date=effective_date,
            description=description,
            cost_centre=cost_centre,
            gl_code=gl_code,
        ),
    )
    if (first := _replay(session, idempotency_key, "allocate", request_hash)) is not None:
        return first
    source = council_fund_id(session=session)
    budget = budget_account_id(session=session, team=team)
    entry = _append_entry(
        session,
        dict(
            effective_date=effective_date,
            kind=EntryKind.ALLOCATION.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            team_id=team.id,
            description=description,
            cost_centre=cost_centre,
            gl_code=gl_code,
        ),
        [(source, -amount_pence), (budget, amount_pence)],
    )
    _record_request(session, idempotency_key, "allocate", request_hash, entry_id=entry.id)
    return entry


def transfer(
    *,
    session: Session,
    from_team: Team,
    to_team: Team,
    amount_pence: int,
    reason: str,
    actor_id: int,
    effective_date: dt.date,
    idempotency_key: str,
) -> JournalEntry:
    """A virement: move money from one team's budget to another's. A reason is required.

    The paying team's available balance must cover it (locked; see the module docstring).
    Raises InvalidAmount, InvalidRequest, InsufficientFunds, PeriodClosed, IdempotencyConflict.
    """
    _check_amount(amount_pence)
    _check_key(idempotency_key)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Give a reason for the virement.")
    if from_team.id == to_team.id:
        raise InvalidRequest("Choose two different teams.", field="to_team_id")
    request_hash = _request_hash(
        "transfer",
        dict(
            source=from_team.id,
            to=to_team.id,
            amount=amount_pence,
            reason=reason,
            actor=actor_id,
            date=effective_date,
        ),
    )
    if (first := _replay(session, idempotency_key, "transfer", request_hash)) is not None:
        return first
    source = budget_account_id(session=session, team=from_team)
    target = budget_account_id(session=session, team=to_team)
    postings = [(source, -amount_pence), (target, amount_pence)]
    _guard_outflows(session, postings)
    entry = _append_entry(
        session,
        dict(
            effective_date=effective_date,
            kind=EntryKind.VIREMENT.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            team_id=from_team.id,
            reason=reason,
            description=f"Virement from {from_team.name} to {to_team.name}",
            cost_centre=from_team.cost_centre,
        ),
        postings,
    )
    _record_request(session, idempotency_key, "transfer", request_hash, entry_id=entry.id)
    return entry


def hold(
    *,
    session: Session,
    team: Team,
    amount_pence: int,
    category: str,
    description: str,
    actor_id: int,
    idempotency_key: str,
    payee: str | None = None,
    payee_is_individual: bool = False,
    expires_at: dt.datetime | None = None,
    account_id: int | None = None,
) -> Hold:
    """Commit money for approved spend: the hold must fit what is available in the funding
    account — the team's budget by default, or one of its restricted funds (``account_id``).

    Locking assumption: the check and the insert run in one transaction. On PostgreSQL the
    team's budget account row is locked ``FOR UPDATE`` before available is read, so two holds
    cannot both see the same pounds; on SQLite the session must be a write session
    (``BEGIN IMMEDIATE``). Raises InvalidAmount, InvalidRequest, InsufficientFunds,
    IdempotencyConflict.
    """
    _check_amount(amount_pence)
    _check_key(idempotency_key)
    category = codes.category_code(category)
    description = (description or "").strip()
    if not category or not description:
        raise InvalidRequest("Give a category and a description.")
    if not codes.is_category(category):
        raise InvalidRequest("Choose a category from the list.", field="category")
    request_hash = _request_hash(
        "hold",
        dict(
            team=team.id,
            amount=amount_pence,
            category=category,
            description=description,
            actor=actor_id,
            payee=payee,
            individual=payee_is_individual,
            expires=expires_at,
            # Only when given, so keys recorded before restricted funds existed still replay.
            **({"account": account_id} if account_id is not None else {}),
        ),
    )
    if (first := _replay(session, idempotency_key, "hold", request_hash)) is not None:
        return first
    source = _funding_account(session, team, account_id)
    _lock_accounts(session, [source])
    available = available_in(session=session, account_id=source)
    _pause()
    if available < amount_pence:
        label = team.name if account_id is None else session.get(LedgerAccount, source).label
        raise InsufficientFunds(
            f"{label} has {format_gbp(max(available, 0))} available, "
            f"not enough for {format_gbp(amount_pence)}."
        )
    commitment = Hold(
        team_id=team.id,
        account_id=source,
        amount_pence=amount_pence,
        category=category,
        description=description,
        payee=payee,
        payee_is_individual=payee_is_individual,
        actor_id=actor_id,
        expires_at=expires_at,
    )
    session.add(commitment)
    session.flush()
    _record_request(session, idempotency_key, "hold", request_hash, hold_id=commitment.id)
    return commitment


def _open_hold(session: Session, hold_id: int) -> Hold:
    commitment = session.execute(
        select(Hold).where(Hold.id == hold_id).with_for_update()
    ).scalar_one_or_none()
    if commitment is None:
        raise NotFound("That commitment does not exist.")
    if commitment.status != HoldStatus.OPEN.value:
        raise HoldNotOpen(f"That commitment was already {commitment.status}.")
    return commitment


def settle_hold(
    *,
    session: Session,
    hold_id: int,
    actual_pence: int,
    actor_id: int,
    effective_date: dt.date,
    idempotency_key: str,
    method: str | None = None,
    receipt_ref: str | None = None,
    gl_code: str | None = None,
    proposer_id: int | None = None,
    approver_id: int | None = None,
) -> JournalEntry:
    """Pay a hold: post ``actual_pence`` (≤ the amount held) from budget to spend; the rest is
    released. The entry's GL code is ``gl_code`` if given, else the spend category's
    (ledger/codes.py). Raises InvalidAmount, NotFound, HoldNotOpen, PeriodClosed, IdempotencyConflict.
    """
    _check_amount(actual_pence)
    _check_key(idempotency_key)
    request_hash = _request_hash(
        "settle",
        dict(
            hold=hold_id,
            actual=actual_pence,
            actor=actor_id,
            date=effective_date,
            method=method,
            receipt=receipt_ref,
            gl=gl_code,
            proposer=proposer_id,
            approver=approver_id,
        ),
    )
    if (first := _replay(session, idempotency_key, "settle", request_hash)) is not None:
        return first
    commitment = _open_hold(session, hold_id)
    if actual_pence > commitment.amount_pence:
        raise InvalidAmount(
            f"The payment ({format_gbp(actual_pence)}) is more than the amount committed "
            f"({format_gbp(commitment.amount_pence)})."
        )
    team = session.get(Team, commitment.team_id)
    _lock_accounts(session, [commitment.account_id])
    spend = _spend_account_id(session, team.id, commitment.category)
    entry = _append_entry(
        session,
        dict(
            effective_date=effective_date,
            kind=EntryKind.SPEND.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            team_id=team.id,
            description=commitment.description,
            payee=commitment.payee,
            payee_is_individual=commitment.payee_is_individual,
            cost_centre=team.cost_centre,
            gl_code=gl_code or codes.spend_gl_code(commitment.category),
            category=commitment.category,
            method=method,
            receipt_ref=receipt_ref,
            proposer_id=proposer_id,
            approver_id=approver_id,
        ),
        [(commitment.account_id, -actual_pence), (spend, actual_pence)],
    )
    commitment.status = HoldStatus.SETTLED.value
    commitment.settled_entry_id = entry.id
    commitment.resolved_at = utcnow()
    session.flush()
    _record_request(session, idempotency_key, "settle", request_hash, entry_id=entry.id)
    return entry


def void_hold(*, session: Session, hold_id: int, actor_id: int, idempotency_key: str) -> Hold:
    """Cancel a hold and release its money. Raises NotFound, HoldNotOpen, IdempotencyConflict."""
    _check_key(idempotency_key)
    request_hash = _request_hash("void", dict(hold=hold_id, actor=actor_id))
    if (first := _replay(session, idempotency_key, "void", request_hash)) is not None:
        return first
    commitment = _open_hold(session, hold_id)
    commitment.status = HoldStatus.VOIDED.value
    commitment.resolved_at = utcnow()
    session.flush()
    _record_request(session, idempotency_key, "void", request_hash, hold_id=commitment.id)
    return commitment


def reverse(
    *,
    session: Session,
    entry_id: int,
    reason: str,
    actor_id: int,
    effective_date: dt.date,
    idempotency_key: str,
    team: Team | None = None,
    proposer_id: int | None = None,
    approver_id: int | None = None,
) -> JournalEntry:
    """Add an equal and opposite entry; the original stays. A reason is required.
    ``proposer_id``/``approver_id`` record who asked and who approved a reversal that needed a
    second finance person (ledger/reversals.py).

    Refused (ReversalRefused) for a reversal, an entry already reversed, or, when ``team`` is
    given, another team's entry; InsufficientFunds if the team has since committed the money.
    """
    _check_key(idempotency_key)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Give a reason for the reversal.")
    request_hash = _request_hash(
        "reverse",
        dict(
            entry=entry_id, reason=reason, actor=actor_id, date=effective_date, team=team.id if team else None
        ),
    )
    if (first := _replay(session, idempotency_key, "reverse", request_hash)) is not None:
        return first
    original = session.get(JournalEntry, entry_id)
    if original is None:
        raise NotFound(f"There is no entry {reference(entry_id)}.")
    if team is not None and original.team_id != team.id:
        raise ReversalRefused("That entry belongs to another team.")
    if original.kind == EntryKind.REVERSAL.value or original.reverses_entry_id is not None:
        raise ReversalRefused("A reversal cannot itself be reversed.")
    already = session.execute(
        select(JournalEntry.id).where(JournalEntry.reverses_entry_id == entry_id)
    ).scalar_one_or_none()
    if already is not None:
        raise ReversalRefused(f"{reference(entry_id)} was already reversed by {reference(already)}.")
    postings = [
        (account_id, -amount)
        for account_id, amount in session.execute(
            select(Posting.account_id, Posting.amount_pence)
            .where(Posting.entry_id == entry_id)
            .order_by(Posting.id)
        ).all()
    ]
    _guard_outflows(session, postings)
    entry = _append_entry(
        session,
        dict(
            effective_date=effective_date,
            kind=EntryKind.REVERSAL.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            team_id=original.team_id,
            reason=reason,
            reverses_entry_id=entry_id,
            description=f"Reversal of {reference(entry_id)}: {original.description}"[:500],
            payee=original.payee,
            payee_is_individual=original.payee_is_individual,
            cost_centre=original.cost_centre,
            gl_code=original.gl_code,
            category=original.category,
            proposer_id=proposer_id,
            approver_id=approver_id,
        ),
        postings,
    )
    _record_request(session, idempotency_key, "reverse", request_hash, entry_id=entry.id)
    return entry


def close_month(
    *, session: Session, month: dt.date, actor_id: int, today: dt.date | None = None
) -> LedgerPeriod:
    """Close ``month`` (any day in it) and every month before it, county-wide.

    Stores each account's closing balance (the next month's sealed opening balance) and the
    chain head. Closing the same month again returns the first close. Raises PeriodClosed
    for the current or a future month, or a month before the last one closed.
    """
    today = today or london_today()
    start, end = _month_start(month), _next_month(month)
    if start >= _month_start(today):
        raise PeriodClosed("Only months that have ended can be closed.")
    # The chain-head lock orders the close after every entry written before it.
    head = session.execute(
        select(ChainHead.entry_id, ChainHead.hash).where(ChainHead.id == 1).with_for_update()
    ).one()
    last = session.execute(
        select(LedgerPeriod).order_by(LedgerPeriod.month_start.desc()).limit(1)
    ).scalar_one_or_none()
    if last is not None and start == last.month_start:
        return last
    if last is not None and start < last.month_start:
        raise PeriodClosed(f"{start:%B %Y} is already closed.")
    opening: dict[int, int] = {}
    query = select(Posting.account_id, func.sum(Posting.amount_pence)).where(Posting.effective_date < end)
    if last is not None:
        opening = dict(
            session.execute(
                select(PeriodBalance.account_id, PeriodBalance.balance_pence).where(
                    PeriodBalance.month_start == last.month_start
                )
            ).all()
        )
        query = query.where(Posting.effective_date >= last.next_month_start)
    movement = dict(session.execute(query.group_by(Posting.account_id)).all())
    period = LedgerPeriod(
        month_start=start,
        next_month_start=end,
        closed_at=utcnow(),
        closed_by_id=actor_id,
        chain_head_entry_id=head.entry_id,
        chain_head_hash=head.hash,
    )
    session.add(period)
    session.flush()
    account_ids = session.execute(select(LedgerAccount.id)).scalars().all()
    rows = [
        {
            "month_start": start,
            "account_id": a,
            "balance_pence": int(opening.get(a, 0)) + int(movement.get(a, 0)),
        }
        for a in account_ids
    ]
    if rows:
        session.execute(insert(PeriodBalance), rows)
    return period


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class LedgerRow:
    """One line of a team's ledger page (amounts in pence, as seen by the budget account)."""

    entry_id: int
    reference: str
    effective_date: dt.date
    kind: str
    description: str
    payee: str | None
    public_payee: str | None  # "individual (withheld)" when the payee is a person
    reason: str | None
    category: str | None
    reverses_entry_id: int | None
    amount_pence: int
    balance_after_pence: int
    proposer_id: int | None = None  # who asked for the spend (full detail only)
    approver_id: int | None = None  # the second person who approved it
    method: str | None = None  # how it was paid
    receipt_ref: str | None = None


@dataclass(frozen=True)
class LedgerPage:
    rows: list[LedgerRow]
    page: int
    per_page: int
    has_next: bool
    balance_pence: int
    available_pence: int


def list_entries(*, session: Session, team: Team, page: int = 1, per_page: int = 50) -> LedgerPage:
    """A page of the team's budget-account entries, newest first, with running balances.

    Cost does not grow with history for page 1: the balance comes from the last sealed month
    plus later postings, and rows come from the (account, date, entry) index.
    """
    return _account_page(session, budget_account_id(session=session, team=team), page, per_page)


def _account_page(session: Session, account_id: int, page: int, per_page: int) -> LedgerPage:
    """A page of one account's entries, newest first, with running balances."""
    page = max(int(page), 1)
    per_page = min(max(int(per_page), 1), 200)
    balance = _balance(session, account_id)
    available = balance - _open_holds(session, account_id)
    offset = (page - 1) * per_page
    order = (Posting.effective_date.desc(), Posting.entry_id.desc(), Posting.id.desc())
    running = balance
    if offset:
        newer = (
            select(Posting.amount_pence)
            .where(Posting.account_id == account_id)
            .order_by(*order)
            .limit(offset)
            .subquery()
        )
        running -= int(session.execute(select(func.coalesce(func.sum(newer.c.amount_pence), 0))).scalar_one())
    result = session.execute(
        select(Posting.amount_pence, JournalEntry)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.account_id == account_id)
        .order_by(*order)
        .limit(per_page + 1)
        .offset(offset)
    ).all()
    rows = []
    for amount, entry in result[:per_page]:
        rows.append(
            LedgerRow(
                entry_id=entry.id,
                reference=reference(entry.id),
                effective_date=entry.effective_date,
                kind=entry.kind,
                description=entry.description,
                payee=entry.payee,
                public_payee=WITHHELD if entry.payee_is_individual else entry.payee,
                reason=entry.reason,
                category=entry.category,
                reverses_entry_id=entry.reverses_entry_id,
                amount_pence=int(amount),
                balance_after_pence=running,
                proposer_id=entry.proposer_id,
                approver_id=entry.approver_id,
                method=codes.method_code(entry.method) or None,
                receipt_ref=entry.receipt_ref,
            )
        )
        running -= int(amount)
    return LedgerPage(
        rows=rows,
        page=page,
        per_page=per_page,
        has_next=len(result) > per_page,
        balance_pence=balance,
        available_pence=available,
    )


@dataclass(frozen=True)
class FundMovements:
    """A restricted fund with its movements, newest first (public: individuals withheld)."""

    summary: FundSummary
    public_label: str  # "Pledge P-0003": the pledge, never the pledger
    page: LedgerPage


FUND_MOVEMENTS_SHOWN = 100


def list_fund_movements(*, session: Session, team: Team) -> list[FundMovements]:
    """Every restricted fund of the team, even at £0, each with its latest movements (money
    pledged and received, spend charged to it, reversals), for the public ledger."""
    found = []
    for fund in restricted_funds(session=session, team=team):
        page = _account_page(session, fund.id, 1, FUND_MOVEMENTS_SHOWN)
        summary = FundSummary(account_id=fund.id, label=fund.label, balance_pence=page.balance_pence,
                              available_pence=page.available_pence)
        found.append(FundMovements(summary=summary, public_label=fund.label.split(":", 1)[0], page=page))
    return found


@dataclass
class VerifyReport:
    """The outcome of :func:`verify`."""

    ok: bool
    entries: int = 0
    postings: int = 0
    head_hash: str = GENESIS_HASH
    bad_entry_id: int | None = None
    problem: str | None = None
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return (
                f"ledger OK: {self.entries} entries, {self.postings} postings, "
                f"chain head {self.head_hash[:16]}"
            )
        return f"ledger FAILED: {self.problem}"


def verify(*, session: Session) -> VerifyReport:
    """Recompute the hash chain, every entry's balance, sealed month balances and holds.

    Returns a report naming the first entry that does not match; it never raises for a bad
    ledger (that is what it is for).
    """
    report = VerifyReport(ok=True)

    def fail(message: str, entry_id: int | None = None) -> VerifyReport:
        report.ok, report.problem, report.bad_entry_id = False, message, entry_id
        return report

    by_entry: dict[int, list[tuple[int, int, dt.date]]] = defaultdict(list)
    for entry_id, account_id, amount, day in session.execute(
        select(Posting.entry_id, Posting.account_id, Posting.amount_pence, Posting.effective_date)
    ):
        by_entry[entry_id].append((account_id, int(amount), day))
        report.postings += 1
    columns = [getattr(JournalEntry, name) for name in (*HASHED_FIELDS, "prev_hash", "hash")]
    previous_hash, previous_id = GENESIS_HASH, 0
    seen: set[int] = set()
    hashes: dict[int, str] = {0: GENESIS_HASH}
    for row in session.execute(select(*columns).order_by(JournalEntry.id)):
        header = row._asdict()
        entry_id = header["id"]
        if entry_id != previous_id + 1:
            return fail(f"entry {previous_id + 1} is missing (next found is {entry_id})", previous_id + 1)
        if header["prev_hash"] != previous_hash:
            return fail(
                f"entry {entry_id}: link to entry {previous_id} is broken "
                "(an entry was changed, removed or reordered)",
                entry_id,
            )
        legs = by_entry.get(entry_id, [])
        if len(legs) < 2 or sum(a for _, a, _ in legs) != 0 or any(a == 0 for _, a, _ in legs):
            return fail(f"entry {entry_id}: postings do not balance", entry_id)
        if any(day != header["effective_date"] for _, _, day in legs):
            return fail(f"entry {entry_id}: a posting's date differs from the entry", entry_id)
        if entry_hash(header["prev_hash"], header, [(a, p) for a, p, _ in legs]) != header["hash"]:
            return fail(f"entry {entry_id}: contents do not match its hash", entry_id)
        previous_hash, previous_id = header["hash"], entry_id
        hashes[entry_id] = header["hash"]
        seen.add(entry_id)
        report.entries += 1
    orphans = sorted(set(by_entry) - seen)
    if orphans:
        return fail(f"entry {orphans[0]}: postings exist without their entry", orphans[0])
    head = session.execute(select(ChainHead.entry_id, ChainHead.hash)).one()
    if head.entry_id != previous_id or head.hash != previous_hash:
        return fail(
            f"the chain head names entry {head.entry_id} but the last entry is "
            f"{previous_id} (entries removed from the end?)",
            head.entry_id,
        )
    report.head_hash = previous_hash

    # Sealed months: each stored closing balance must equal the postings dated before it.
    periods = session.execute(select(LedgerPeriod).order_by(LedgerPeriod.month_start)).scalars().all()
    if periods:
        dated = sorted(
            (day, account_id, amount) for legs in by_entry.values() for account_id, amount, day in legs
        )
        totals: dict[int, int] = defaultdict(int)
        index = 0
        for period in periods:
            if hashes.get(period.chain_head_entry_id) != period.chain_head_hash:
                return fail(
                    f"closed month {period.month_start:%Y-%m}: sealed chain head "
                    f"(entry {period.chain_head_entry_id}) does not match",
                    period.chain_head_entry_id,
                )
            while index < len(dated) and dated[index][0] < period.next_month_start:
                totals[dated[index][1]] += dated[index][2]
                index += 1
            for account_id, sealed in session.execute(
                select(PeriodBalance.account_id, PeriodBalance.balance_pence).where(
                    PeriodBalance.month_start == period.month_start
                )
            ):
                if int(sealed) != totals.get(account_id, 0):
                    return fail(
                        f"closed month {period.month_start:%Y-%m}: sealed balance of "
                        f"account {account_id} does not match its postings"
                    )

    # Commitments: open holds never exceed the balance of the account they are held on (a
    # team's budget or one of its restricted funds); settled holds are paid.
    balances: dict[int, int] = defaultdict(int)
    for legs in by_entry.values():
        for account_id, amount, _ in legs:
            balances[account_id] += amount
    held_accounts = dict(
        session.execute(
            select(LedgerAccount.id, LedgerAccount.team_id).where(
                LedgerAccount.kind.in_((AccountKind.BUDGET.value, AccountKind.RESTRICTED.value))
            )
        ).all()
    )
    holds = session.execute(
        select(Hold.account_id, Hold.status, Hold.amount_pence, Hold.settled_entry_id, Hold.id)
    ).all()
    open_by_account: dict[int, int] = defaultdict(int)
    for account_id, status, amount, settled_entry_id, hold_id in holds:
        if status == HoldStatus.OPEN.value:
            open_by_account[account_id] += int(amount)
        elif status == HoldStatus.SETTLED.value and settled_entry_id not in seen:
            return fail(f"hold {hold_id} is settled but its entry is missing", settled_entry_id)
    for account_id, team_id in held_accounts.items():
        if balances.get(account_id, 0) - open_by_account.get(account_id, 0) < 0:
            return fail(f"team {team_id}: open commitments exceed its balance")
    return report
