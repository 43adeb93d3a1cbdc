"""Reversing an entry as finance does it: name the entry as the app shows it (``L000341``), see
what it is before anything is written, and, above a threshold, have a second finance person
approve it (issue 20, item 5). The reversal itself is ``ledger.services.reverse``.

A reversal at or below the threshold is made at once by the finance person who confirms it.
Above it, confirming records a pending :class:`ReversalRequest`; another finance person approves
(the reversal is made, with both names on the entry) or refuses it. The database refuses a
decision by the person who asked and a second pending request for the same entry.
"""

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from community.db import utcnow
from community.formatting import gbp
from community.i18n import _
from community.models import AuditEvent, Person, Team
from ledger import services
from ledger.errors import IdempotencyConflict, InvalidRequest, NotFound, ReversalRefused
from ledger.models import EntryKind, JournalEntry, Posting, ReversalRequest, ReversalStatus

SECOND_APPROVAL_ABOVE_PENCE = 100_000  # £1,000: the default of REVERSAL_SECOND_APPROVAL_ABOVE_PENCE
_REFERENCE = re.compile(r"^\s*[Ll]?\s*0*([0-9]{1,12})\s*$", re.ASCII)  # ASCII digits only


def parse_reference(text: str | None) -> int:
    """``"L000341"``, ``"l341"`` or ``"341"`` → 341; InvalidRequest otherwise."""
    match = _REFERENCE.match(text or "")
    if not match or int(match[1]) == 0:
        raise InvalidRequest(_("Enter the entry reference as the ledger shows it, like L000341."))
    return int(match[1])


@dataclass(frozen=True)
class Preview:
    """What a reversal would undo, shown before anything is written."""

    entry: JournalEntry
    reference: str
    team_name: str
    amount_pence: int  # what the entry moved (the sum of its money-in postings)
    needs_second_approval: bool
    pending: ReversalRequest | None


def _moved(session: Session, entry_id: int) -> int:
    return int(session.execute(
        select(func.coalesce(func.sum(Posting.amount_pence), 0))
        .where(Posting.entry_id == entry_id, Posting.amount_pence > 0)
    ).scalar_one())


def preview(*, session: Session, entry_id: int, threshold_pence: int = SECOND_APPROVAL_ABOVE_PENCE) -> Preview:
    """The entry to reverse, if it may be reversed. Raises NotFound, ReversalRefused."""
    entry = session.get(JournalEntry, entry_id)
    if entry is None:
        raise NotFound(_("There is no entry %(reference)s.", reference=services.reference(entry_id)))
    if entry.kind == EntryKind.REVERSAL.value or entry.reverses_entry_id is not None:
        raise ReversalRefused(_("%(reference)s is a reversal: a reversal cannot itself be reversed.",
                                reference=services.reference(entry_id)))
    already = session.execute(
        select(JournalEntry.id).where(JournalEntry.reverses_entry_id == entry_id)
    ).scalar_one_or_none()
    if already is not None:
        raise ReversalRefused(_("%(reference)s was already reversed by %(reversal)s.",
                                reference=services.reference(entry_id), reversal=services.reference(already)))
    team = session.get(Team, entry.team_id) if entry.team_id else None
    amount = _moved(session, entry_id)
    pending = session.execute(
        select(ReversalRequest).where(ReversalRequest.entry_id == entry_id,
                                      ReversalRequest.status == ReversalStatus.PENDING.value)
    ).scalar_one_or_none()
    return Preview(entry=entry, reference=services.reference(entry_id), team_name=team.name if team else "the council",
                   amount_pence=amount, needs_second_approval=amount > threshold_pence, pending=pending)


@dataclass(frozen=True)
class Outcome:
    reversal: JournalEntry | None  # made now
    request: ReversalRequest | None  # waiting for a second finance person


def _audit(session: Session, actor_id: int, action: str, subject: str, team_id: int | None) -> None:
    session.add(AuditEvent(actor_id=actor_id, action=action, subject=subject[:200], team_id=team_id))


def request_reversal(
    *,
    session: Session,
    entry_id: int,
    reason: str,
    effective_date: dt.date,
    actor_id: int,
    idempotency_key: str,
    threshold_pence: int = SECOND_APPROVAL_ABOVE_PENCE,
) -> Outcome:
    """Reverse the entry now (at or below the threshold), or hold the reversal for a second
    finance person (above it). The same key sent again returns the first outcome. Raises
    NotFound, ReversalRefused, InvalidRequest, InsufficientFunds, PeriodClosed, IdempotencyConflict."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest(_("Give a reason for the reversal."))
    earlier = session.execute(
        select(ReversalRequest).where(ReversalRequest.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if earlier is not None:
        if earlier.entry_id != entry_id or earlier.requested_by_id != actor_id:
            raise IdempotencyConflict(_("This form was already used for another reversal. Reload the page."))
        return Outcome(reversal=None, request=earlier)
    found = preview(session=session, entry_id=entry_id, threshold_pence=threshold_pence)
    if not found.needs_second_approval:
        entry = services.reverse(session=session, entry_id=entry_id, reason=reason, actor_id=actor_id,
                                 effective_date=effective_date, idempotency_key=idempotency_key)
        return Outcome(reversal=entry, request=None)
    if found.pending is not None:
        raise ReversalRefused(_("A reversal of %(reference)s is already waiting for a second finance person.",
                                reference=found.reference))
    services.check_open_date(session=session, effective_date=effective_date)
    held = ReversalRequest(entry_id=entry_id, amount_pence=found.amount_pence, reason=reason[:500],
                           effective_date=effective_date, requested_by_id=actor_id, idempotency_key=idempotency_key)
    session.add(held)
    try:
        session.flush()
    except IntegrityError:
        raise ReversalRefused(_("A reversal of %(reference)s is already waiting for a second finance person.",
                                reference=found.reference)) from None
    _audit(session, actor_id, "ledger.reversal_requested",
           f"{found.reference} ({gbp(found.amount_pence)}): {reason[:200]}", found.entry.team_id)
    return Outcome(reversal=None, request=held)


def _pending(session: Session, request_id: int) -> ReversalRequest:
    held = session.get(ReversalRequest, request_id)
    if held is None:
        raise NotFound(_("That reversal request does not exist."))
    return held


def approve(*, session: Session, request_id: int, approver_id: int) -> JournalEntry:
    """A second finance person approves a held reversal: it is made now, dated as asked, with
    both names on the entry. Approving again returns the same entry. Raises NotFound,
    ReversalRefused (the person who asked, or already decided), and what reverse() raises."""
    held = _pending(session, request_id)
    if held.status == ReversalStatus.REVERSED.value and held.decided_by_id == approver_id:
        return session.get(JournalEntry, held.reversal_entry_id)
    if held.status != ReversalStatus.PENDING.value:
        raise ReversalRefused(_already_decided(held))
    if held.requested_by_id == approver_id:
        raise ReversalRefused(_("A second finance person must approve this reversal: you asked for it."))
    entry = services.reverse(session=session, entry_id=held.entry_id, reason=held.reason, actor_id=approver_id,
                             effective_date=held.effective_date, idempotency_key=f"reversal-request:{held.id}",
                             proposer_id=held.requested_by_id, approver_id=approver_id)
    held.status, held.decided_by_id, held.decided_at = ReversalStatus.REVERSED.value, approver_id, utcnow()
    held.reversal_entry_id = entry.id
    session.add(held)
    session.flush()
    _audit(session, approver_id, "ledger.reversal_approved",
           f"{services.reference(held.entry_id)} reversed by {services.reference(entry.id)}", entry.team_id)
    return entry


def _already_decided(held: ReversalRequest) -> str:
    if held.status == ReversalStatus.REVERSED.value:
        return _("The reversal of %(reference)s was already made.", reference=services.reference(held.entry_id))
    return _("The reversal of %(reference)s was already refused.", reference=services.reference(held.entry_id))


def refuse(*, session: Session, request_id: int, approver_id: int) -> ReversalRequest:
    """A second finance person refuses a held reversal: nothing is reversed."""
    held = _pending(session, request_id)
    if held.status != ReversalStatus.PENDING.value:
        raise ReversalRefused(_already_decided(held))
    if held.requested_by_id == approver_id:
        raise ReversalRefused(_("A second finance person must decide this reversal: you asked for it."))
    held.status, held.decided_by_id, held.decided_at = ReversalStatus.REFUSED.value, approver_id, utcnow()
    session.add(held)
    session.flush()
    original = session.get(JournalEntry, held.entry_id)
    _audit(session, approver_id, "ledger.reversal_refused", services.reference(held.entry_id),
           original.team_id if original else None)
    return held


@dataclass(frozen=True)
class Waiting:
    request: ReversalRequest
    reference: str
    description: str
    team_name: str
    requested_by: str


_PENDING = (  # built once: the finance home asks on every visit
    select(ReversalRequest, JournalEntry.description, Team.name, Person.name)
    .join(JournalEntry, JournalEntry.id == ReversalRequest.entry_id)
    .outerjoin(Team, Team.id == JournalEntry.team_id)
    .join(Person, Person.id == ReversalRequest.requested_by_id)
    .where(ReversalRequest.status == ReversalStatus.PENDING.value)
    .order_by(ReversalRequest.requested_at, ReversalRequest.id)
)


def list_pending(*, session: Session) -> list[Waiting]:
    """Reversals waiting for a second finance person, oldest first."""
    rows = session.execute(_PENDING).all()
    return [Waiting(request=r, reference=services.reference(r.entry_id), description=d, team_name=t or "the council",
                    requested_by=p) for r, d, t, p in rows]
