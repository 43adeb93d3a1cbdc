"""The ledger's use cases, one import for every other package: allocate, transfer, hold /
settle / void, reverse, receive into a restricted fund — and, re-exported from the modules that
own them, balances (ledger/accounts.py), months (ledger/periods.py), the ledger pages
(ledger/queries.py), ``verify`` (ledger/verify.py) and the chain itself (ledger/journal.py).

Rules every function here follows:

* ``session`` is keyword-only; functions may flush but never commit (the caller commits once).
* Money is ``int`` pence. Every money-moving function takes an ``idempotency_key`` and runs as
  one :class:`ledger.journal.Operation`: the same key with the same arguments returns the first
  result, with different arguments raises :class:`IdempotencyConflict`.
* Holds are commitments, not postings (TigerBeetle's pending transfers): a team's
  ``available = balance of its budget account − its open holds``.
* Locking assumption for every check of available money: on PostgreSQL the team budget
  account rows are locked ``FOR UPDATE`` (sorted by id) before the balance is read, and account
  locks are always taken before the chain-head lock; on SQLite the session must be a write
  session (``open_session(engine, write=True)``: ``BEGIN IMMEDIATE``), which serialises writers.
"""

import datetime as dt

from sqlalchemy import select
from sqlmodel import Session

from community.db import utcnow
from community.i18n import _
from community.models import Team
from ledger import codes, journal
from ledger.accounts import (  # noqa: F401 - the public API (see the docstring)
    COUNCIL_FUND_CODE,
    AccountBalance,
    FundSummary,
    available_in,
    available_of,
    balance_in,
    balance_of,
    budget_account_id,
    committed_in,
    contributions_account_id,
    council_fund_id,
    existing_budget_account_id,
    fund_summaries,
    funding_account,
    guard_outflows,
    open_restricted_fund,
    restricted_funds,
    spend_account_id,
    team_accounts,
)
from ledger.descriptions import DESCRIPTIONS
from ledger.errors import (
    HoldNotOpen,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    NotFound,
    ReversalRefused,
)
from ledger.journal import (  # noqa: F401 - the public API
    HASHED_FIELDS,
    append_entry,
    check_amount,
    check_key,
    entry_hash,
    get_request_record,
    lock_accounts,
    pause,
    reference,
)
from ledger.models import (
    AccountKind,
    EntryKind,
    Hold,
    HoldStatus,
    JournalEntry,
    LedgerAccount,
    LedgerRequest,
    Posting,
)
from ledger.money import format_gbp
from ledger.periods import check_open_date, close_month, month_start, next_month  # noqa: F401 - the public API
from ledger.queries import (  # noqa: F401 - the public API
    FUND_MOVEMENTS_SHOWN,
    WITHHELD,
    FundMovements,
    LedgerPage,
    LedgerRow,
    budget_page,
    list_entries,
    list_fund_movements,
    team_balances,
)
from ledger.verify import VerifyReport, verify  # noqa: F401 - the public API


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
    check_amount(amount_pence)
    check_key(idempotency_key)
    description = (description or "").strip()
    if not description:
        raise InvalidRequest(_("Say what the money is for."))
    operation = journal.Operation.start(
        session, idempotency_key, "receive",
        dict(
            team=team.id, account=account_id, amount=amount_pence, actor=actor_id,
            date=effective_date, description=description, payee=payee,
            individual=payee_is_individual, method=method, receipt=receipt_ref,
        ),
    )
    if operation.first is not None:
        return operation.first
    fund = session.get(LedgerAccount, account_id)
    if fund is None or fund.team_id != team.id or fund.kind != AccountKind.RESTRICTED.value:
        raise NotFound(_("That restricted fund does not belong to this team."))
    source = contributions_account_id(session=session, team=team)
    entry = append_entry(
        session=session,
        header=dict(
            effective_date=effective_date,
            kind=EntryKind.RESTRICTED_RECEIPT.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=operation.request_hash,
            team_id=team.id,
            description=description[:500],
            payee=payee,
            payee_is_individual=payee_is_individual,
            cost_centre=team.cost_centre,
            method=method,
            receipt_ref=receipt_ref,
        ),
        postings=[(source, -amount_pence), (fund.id, amount_pence)],
    )
    operation.done(entry_id=entry.id)
    return entry


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
    description: str | None = None,
    gl_code: str,
    cost_centre: str | None = None,
) -> JournalEntry:
    """Finance allocates money from the council fund to the team's budget.

    Every allocation carries the GL (income) code finance gives it: none is refused.
    Raises InvalidAmount, InvalidRequest, PeriodClosed, IdempotencyConflict.
    """
    check_amount(amount_pence)
    check_key(idempotency_key)
    description = description or DESCRIPTIONS.english("allocation")  # not at import: no catalogue yet
    gl_code = _check_gl_code(gl_code)
    cost_centre = cost_centre or team.cost_centre
    operation = journal.Operation.start(
        session, idempotency_key, "allocate",
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
    if operation.first is not None:
        return operation.first
    source = council_fund_id(session=session)
    budget = budget_account_id(session=session, team=team)
    entry = append_entry(
        session=session,
        header=dict(
            effective_date=effective_date,
            kind=EntryKind.ALLOCATION.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=operation.request_hash,
            team_id=team.id,
            description=description,
            cost_centre=cost_centre,
            gl_code=gl_code,
        ),
        postings=[(source, -amount_pence), (budget, amount_pence)],
    )
    operation.done(entry_id=entry.id)
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
    check_amount(amount_pence)
    check_key(idempotency_key)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest(_("Give a reason for the virement."))
    if from_team.id == to_team.id:
        raise InvalidRequest(_("Choose two different teams."), field="to_team_id")
    operation = journal.Operation.start(
        session, idempotency_key, "transfer",
        dict(
            source=from_team.id,
            to=to_team.id,
            amount=amount_pence,
            reason=reason,
            actor=actor_id,
            date=effective_date,
        ),
    )
    if operation.first is not None:
        return operation.first
    source = budget_account_id(session=session, team=from_team)
    target = budget_account_id(session=session, team=to_team)
    postings = [(source, -amount_pence), (target, amount_pence)]
    guard_outflows(session=session, postings=postings)
    entry = append_entry(
        session=session,
        header=dict(
            effective_date=effective_date,
            kind=EntryKind.VIREMENT.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=operation.request_hash,
            team_id=from_team.id,
            reason=reason,
            description=DESCRIPTIONS.english("virement", from_team=from_team.name, to_team=to_team.name),
            cost_centre=from_team.cost_centre,
        ),
        postings=postings,
    )
    operation.done(entry_id=entry.id)
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
    check_amount(amount_pence)
    check_key(idempotency_key)
    category = codes.category_code(category)
    description = (description or "").strip()
    if not category or not description:
        raise InvalidRequest(_("Give a category and a description."))
    if not codes.is_category(category):
        raise InvalidRequest(_("Choose a category from the list."), field="category")
    operation = journal.Operation.start(
        session, idempotency_key, "hold",
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
    if operation.first is not None:
        return operation.first
    source = funding_account(session=session, team=team, account_id=account_id)
    lock_accounts(session=session, account_ids=[source])
    available = available_in(session=session, account_id=source)
    pause()
    if available < amount_pence:
        label = team.name if account_id is None else session.get(LedgerAccount, source).label
        raise InsufficientFunds(_("%(account)s has %(available)s available, not enough for %(amount)s.",
                                  account=label, available=format_gbp(max(available, 0)),
                                  amount=format_gbp(amount_pence)))
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
    operation.done(hold_id=commitment.id)
    return commitment


def lock_hold(*, session: Session, hold_id: int) -> Hold | None:
    """The hold, locked ``FOR UPDATE`` and read afresh (not a copy this session loaded before
    the lock, which could say "open" after another transaction settled or voided it); None if
    there is none. The race tests turn the lock off (``journal._LOCKING``) to show they can fail."""
    query = select(Hold).where(Hold.id == hold_id).execution_options(populate_existing=True)
    return session.execute(query.with_for_update() if journal._LOCKING else query).scalar_one_or_none()


def _open_hold(session: Session, hold_id: int) -> Hold:
    commitment = lock_hold(session=session, hold_id=hold_id)
    if commitment is None:
        raise NotFound(_("That commitment does not exist."))
    if commitment.status != HoldStatus.OPEN.value:
        raise HoldNotOpen(_("That commitment was already settled.") if commitment.status == HoldStatus.SETTLED.value
                          else _("That commitment was already released."))
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
    check_amount(actual_pence)
    check_key(idempotency_key)
    operation = journal.Operation.start(
        session, idempotency_key, "settle",
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
    if operation.first is not None:
        return operation.first
    commitment = _open_hold(session, hold_id)
    if actual_pence > commitment.amount_pence:
        raise InvalidAmount(_("The payment (%(paid)s) is more than the amount committed (%(committed)s).",
                              paid=format_gbp(actual_pence), committed=format_gbp(commitment.amount_pence)))
    team = session.get(Team, commitment.team_id)
    lock_accounts(session=session, account_ids=[commitment.account_id])
    spend = spend_account_id(session=session, team_id=team.id, category=commitment.category)
    entry = append_entry(
        session=session,
        header=dict(
            effective_date=effective_date,
            kind=EntryKind.SPEND.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=operation.request_hash,
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
        postings=[(commitment.account_id, -actual_pence), (spend, actual_pence)],
    )
    commitment.status = HoldStatus.SETTLED.value
    commitment.settled_entry_id = entry.id
    commitment.resolved_at = utcnow()
    session.flush()
    operation.done(entry_id=entry.id)
    return entry


def void_hold(*, session: Session, hold_id: int, actor_id: int, idempotency_key: str) -> Hold:
    """Cancel a hold and release its money. Raises NotFound, HoldNotOpen, IdempotencyConflict."""
    return _end_hold(session, hold_id, actor_id, idempotency_key, "void")


def release_hold(*, session: Session, hold_id: int, actor_id: int, idempotency_key: str) -> Hold:
    """Give back what is left of a commitment whose purpose is done (a funded idea delivered for
    less than the vote committed): the hold is voided, like :func:`void_hold`, but recorded as a
    release, so statements say "left over, released" rather than "cancelled". Once per hold (the
    database refuses a second change of a hold that is not open). Raises NotFound, HoldNotOpen,
    IdempotencyConflict."""
    return _end_hold(session, hold_id, actor_id, idempotency_key, RELEASE)


RELEASE = "release"  # the operation name a release is recorded under (ledger_request.operation)

# Why a hold was moved (``move_hold``): its operation is recorded as ``move:<reason>``.
MOVE_REASONS = ("drawn", "round", "returned")


def move_hold(*, session: Session, hold_id: int, actor_id: int, idempotency_key: str, recommitted_pence: int,
              reason: str) -> Hold:
    """End a hold whose money is committed again, in this transaction, to new holds the caller
    makes next: ``recommitted_pence`` of it (0 … its amount) is re-committed and the rest released.
    Statements show it as moved, not cancelled (``reason``: one of MOVE_REASONS). The database
    refuses a re-committed amount outside 0 … the hold's amount, or on a hold not being voided.
    Raises NotFound, HoldNotOpen, InvalidRequest, IdempotencyConflict."""
    if reason not in MOVE_REASONS or not 0 <= recommitted_pence:
        raise InvalidRequest(_("That is not a way to move a commitment."))
    return _end_hold(session, hold_id, actor_id, idempotency_key, f"move:{reason}", recommitted_pence=recommitted_pence)


def end_reasons(*, session: Session, hold_ids) -> dict[int, str]:
    """How each of these ended holds ended, by the operation that ended it: "void" (cancelled),
    "release" (left over), "move:<reason>", "settle". Holds with no record are left out."""
    ids = list(hold_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(LedgerRequest.hold_id, LedgerRequest.operation)
        .where(LedgerRequest.hold_id.in_(ids), LedgerRequest.operation != "hold")
    ).all()
    return {hold_id: operation for hold_id, operation in rows}


def _end_hold(session: Session, hold_id: int, actor_id: int, idempotency_key: str, name: str, *,
              recommitted_pence: int | None = None) -> Hold:
    check_key(idempotency_key)
    arguments = dict(hold=hold_id, actor=actor_id)
    if recommitted_pence is not None:  # only for a move, so keys recorded by voids and releases still replay
        arguments["recommitted"] = recommitted_pence
    operation = journal.Operation.start(session, idempotency_key, name, arguments)
    if operation.first is not None:
        return operation.first
    commitment = _open_hold(session, hold_id)
    commitment.status = HoldStatus.VOIDED.value
    if recommitted_pence is not None:
        commitment.recommitted_pence = min(recommitted_pence, int(commitment.amount_pence))
    commitment.resolved_at = utcnow()
    session.flush()
    operation.done(hold_id=commitment.id)
    return commitment


def released_among(*, session: Session, hold_ids) -> set[int]:
    """Which of these (voided) holds were given back by :func:`release_hold`, not cancelled."""
    ids = list(hold_ids)
    if not ids:
        return set()
    return set(session.execute(
        select(LedgerRequest.hold_id).where(LedgerRequest.operation == RELEASE, LedgerRequest.hold_id.in_(ids))
    ).scalars())


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
    check_key(idempotency_key)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest(_("Give a reason for the reversal."))
    operation = journal.Operation.start(
        session, idempotency_key, "reverse",
        dict(
            entry=entry_id, reason=reason, actor=actor_id, date=effective_date, team=team.id if team else None
        ),
    )
    if operation.first is not None:
        return operation.first
    original = session.get(JournalEntry, entry_id)
    if original is None:
        raise NotFound(_("There is no entry %(reference)s.", reference=reference(entry_id)))
    if team is not None and original.team_id != team.id:
        raise ReversalRefused(_("That entry belongs to another team."))
    if original.kind == EntryKind.REVERSAL.value or original.reverses_entry_id is not None:
        raise ReversalRefused(_("A reversal cannot itself be reversed."))
    already = session.execute(
        select(JournalEntry.id).where(JournalEntry.reverses_entry_id == entry_id)
    ).scalar_one_or_none()
    if already is not None:
        raise ReversalRefused(_("%(reference)s was already reversed by %(reversal)s.", reference=reference(entry_id),
                                reversal=reference(already)))
    postings = [
        (account_id, -amount)
        for account_id, amount in session.execute(
            select(Posting.account_id, Posting.amount_pence)
            .where(Posting.entry_id == entry_id)
            .order_by(Posting.id)
        ).all()
    ]
    guard_outflows(session=session, postings=postings)
    entry = append_entry(
        session=session,
        header=dict(
            effective_date=effective_date,
            kind=EntryKind.REVERSAL.value,
            actor_id=actor_id,
            idempotency_key=idempotency_key,
            request_hash=operation.request_hash,
            team_id=original.team_id,
            reason=reason,
            reverses_entry_id=entry_id,
            description=DESCRIPTIONS.english("reversal", reference=reference(entry_id), original=original.description)[:500],
            payee=original.payee,
            payee_is_individual=original.payee_is_individual,
            cost_centre=original.cost_centre,
            gl_code=original.gl_code,
            category=original.category,
            proposer_id=proposer_id,
            approver_id=approver_id,
        ),
        postings=postings,
    )
    operation.done(entry_id=entry.id)
    return entry

