"""Quick spend: request → approve (a ledger hold) or reject → pay (settle the hold) with a receipt.

Rules (issue #4), all checked here, inside the caller's write transaction:

* Only members and enablers of the team take part; finance can neither request nor approve.
* The requester never approves (or rejects) their own request.
* A member approves up to ``Team.member_limit_pence``, an enabler up to
  ``Team.enabler_limit_pence``; above that the spend needs a resident vote (:func:`ideas_path`).
  Nobody approves above their own limit, so an enabler's own request above the members' limit
  needs another enabler of the team. Money within a funded idea's open commitment (the residents
  already voted it) is exempt from both limits, up to that commitment.
* A request is refused when it is made if nobody could approve it (:func:`approvers_of`), so no
  request waits for an approval that cannot come.
* The team's enabler changes the limits: at once up to the council's defaults
  (:class:`LimitDefaults`), while a raise above them waits as a :class:`SpendLimitChange` for
  finance or an admin who did not ask it (issue 14 finding 9). Every change is a row and an audit event.
* Approving above ``defaults.FRESH_ABOVE_PENCE`` needs a sign-in (or identity confirmation) in the last
  ``defaults.FRESH_MINUTES`` minutes (spend/defaults.py: the council's defaults, also wsgi.configure's SPEND_* keys).
* Approval re-reads the request (locked), the approver's membership, the team's limits and the
  money available, and writes the hold in the same transaction, so two approvers clicking at
  once produce one approval. Locking assumption as in ``ledger.services``: on PostgreSQL the
  request row is locked ``FOR UPDATE``; on SQLite the session is a write session
  (``BEGIN IMMEDIATE``).

Functions take ``session`` keyword-only, flush but never commit, and raise
:class:`ledger.errors.DomainError` subclasses whose messages are safe to show.
"""

import datetime as dt
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from flask import url_for
from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from community.db import is_sqlite, london_today, read_columns, utcnow
from community.i18n import _, lazy_gettext
from community.models import AuditEvent, AuthSession, Membership, Person, Team, TeamRole
from community.services import reconfirm_identity
from ledger import codes
from ledger import services as ledger
from ledger.errors import DomainError, IdempotencyConflict, InvalidAmount, NotFound
from ledger.models import AccountKind, Hold, HoldStatus, LedgerAccount, LedgerRequest
from ledger.money import format_gbp
from ledger.queries import WITHHELD, shown_payee
from spend import defaults
from spend.errors import InvalidReceipt, NeedsFreshSignIn, NotAllowed, OverLimit, SpendError, WrongState
from spend.models import (
    CATEGORIES,
    METHODS,
    LimitChangeStatus,
    SpendLimitChange,
    SpendRequest,
    SpendStatus,
)
from spend.receipts import (
    RECEIPT_REF,
    RECEIPT_TYPES,
)
from votes import services as votes

# Test seams, as in ledger.journal: the race test turns the request lock (and the
# conditional state write) off to show the test can fail, and may pause between read and write.
_LOCKING = True
_BETWEEN_READ_AND_WRITE: Callable[[], None] | None = None

CATEGORY_CODES = {code for code, _ in CATEGORIES}
METHOD_CODES = {code for code, _ in METHODS}


# --------------------------------------------------------------------------- errors


# --------------------------------------------------------------------------- helpers


def ideas_path(team: Team) -> str:
    """Where residents propose an idea for a vote."""
    return url_for("votes.propose", slug=team.slug)


def idea_choices(*, session: Session, team: Team) -> list[tuple[int, str]]:
    """Funded ideas (won a resident vote) this spend may deliver, as (id, label)."""
    choices = []
    for idea in votes.funded_ideas(session=session, team_id=team.id):
        held = session.get(Hold, idea.hold_id) if idea.hold_id is not None else None
        amount = held.amount_pence if held is not None and held.status == HoldStatus.OPEN.value else 0
        choices.append((idea.id, f"{idea.title} ({format_gbp(amount)} committed by the vote)"))
    return choices


def _idea_hold(session: Session, team: Team, request: SpendRequest) -> tuple[votes.FundedIdea, Hold] | None:
    """The funded idea's open commitment this request can draw on (same team and fund)."""
    if request.idea_id is None:
        return None
    idea = votes.idea_commitment(session=session, team_id=team.id, idea_id=request.idea_id)
    if idea is None:
        return None
    held = session.get(Hold, idea.hold_id)
    if held is None or held.status != HoldStatus.OPEN.value:
        return None
    # The idea's hold is on one of the team's own funds, so equal ids mean the same fund; the
    # budget is looked up without creating it (this also runs when a page is only shown).
    fund = request.account_id if request.account_id is not None else ledger.existing_budget_account_id(session=session, team=team)
    if held.account_id != fund:
        return None
    return idea, held


def within_vote(*, session: Session, team: Team, request: SpendRequest) -> bool:
    """Whether the whole amount is within the open commitment of the funded idea it delivers."""
    voted = _idea_hold(session, team, request)
    return voted is not None and request.amount_pence <= voted[1].amount_pence


def _pause() -> None:
    if _BETWEEN_READ_AND_WRITE is not None:
        _BETWEEN_READ_AND_WRITE()


def _role(session: Session, team: Team, person: Person) -> str | None:
    return session.execute(
        select(Membership.role).where(Membership.team_id == team.id, Membership.person_id == person.id)
    ).scalar_one_or_none()


# What finance staff cannot do (``doing``, a key), and what nobody does to their own request.
_FINANCE_CANNOT = {
    "request": lazy_gettext("Finance staff cannot request quick spend."),
    "withdraw": lazy_gettext("Finance staff cannot withdraw quick spend."),
    "approve": lazy_gettext("Finance staff cannot approve quick spend."),
    "reject": lazy_gettext("Finance staff cannot reject quick spend."),
    "cancel": lazy_gettext("Finance staff cannot cancel quick spend."),
    "pay": lazy_gettext("Finance staff cannot pay quick spend."),
}
_NOT_YOUR_OWN = {
    "approve": lazy_gettext("You cannot approve your own request: another member of the team must."),
    "reject": lazy_gettext("You cannot reject your own request: another member of the team must."),
}


def _require_member(session: Session, team: Team, person: Person, doing: str) -> str:
    if person.is_finance:
        raise NotAllowed(str(_FINANCE_CANNOT[doing]))
    role = _role(session, team, person)
    if role is None:
        raise NotFound(_("That request does not exist."))
    return role


def _load(session: Session, team: Team, request_id: int, *, lock: bool = True) -> SpendRequest:
    """The team's request (NotFound for another team's); locked FOR UPDATE on PostgreSQL."""
    query = select(SpendRequest).where(SpendRequest.id == request_id, SpendRequest.team_id == team.id)
    if lock and _LOCKING and not is_sqlite(session):
        query = query.with_for_update()
    found = session.execute(query.execution_options(populate_existing=True)).scalar_one_or_none()
    if found is None:
        raise NotFound(_("That request does not exist."))
    return found


def get_request(*, session: Session, team: Team, request_id: int) -> SpendRequest:
    """One of the team's requests, for display (NotFound for another team's)."""
    return _load(session, team, request_id, lock=False)


def _move(session: Session, request: SpendRequest, expected: str, **values) -> None:
    """Change the request's state from ``expected``; refuse if someone else got there first."""
    if _LOCKING:
        result = session.execute(
            update(SpendRequest)
            .where(SpendRequest.id == request.id, SpendRequest.status == expected)
            .values(**values)
        )
        if result.rowcount != 1:
            raise WrongState(_("Someone else changed this request just now. Reload the page to see it."))
        session.refresh(request)
    else:
        for name, value in values.items():
            setattr(request, name, value)
        session.add(request)
        session.flush()


def _audit(session: Session, actor_id: int, action: str, team: Team, request: SpendRequest, pence: int) -> None:
    session.add(AuditEvent(actor_id=actor_id, action=action, team_id=team.id,
                           subject=f"{team.name}: spend request {request.id}, {format_gbp(pence)}"[:200]))


def person_name(*, session: Session, person_id: int | None) -> str:
    person = session.get(Person, person_id) if person_id else None
    return person.name if person else "someone"


def person_names(*, session: Session, ids) -> dict[int, str]:
    """The names of these people, by id: one query of two columns (none for nobody)."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(read_columns(session, select(Person.id, Person.name).where(Person.id.in_(ids))).all())


_STATE_MESSAGES = {
    SpendStatus.APPROVED: lazy_gettext("This request was already approved by %(who)s. Nothing more was committed."),
    SpendStatus.REJECTED: lazy_gettext("This request was already rejected by %(who)s."),
    SpendStatus.WITHDRAWN: lazy_gettext("This request was withdrawn."),
    SpendStatus.EXPIRED: lazy_gettext("This request expired without a decision."),
    SpendStatus.PAID: lazy_gettext("This request has already been paid."),
    SpendStatus.CANCELLED: lazy_gettext("This approval was cancelled by %(who)s."),
    SpendStatus.PENDING: lazy_gettext("This request is still waiting for approval."),
}


def state_message(*, session: Session, request: SpendRequest) -> str:
    who = person_name(session=session, person_id=request.decided_by_id or request.closed_by_id)
    return str(_STATE_MESSAGES[SpendStatus(request.status)]) % {"who": who}


def is_fresh(auth_session: AuthSession | None, *, now: dt.datetime | None = None,
             minutes: int = defaults.FRESH_MINUTES) -> bool:
    """Whether the sign-in (or the last identity confirmation) is within ``minutes``."""
    if auth_session is None:
        return False
    now = now or utcnow()
    last = max(t for t in (auth_session.created_at, auth_session.reauthenticated_at) if t is not None)
    return now - last <= dt.timedelta(minutes=minutes)


# --------------------------------------------------------------------------- money sources


@dataclass(frozen=True)
class Fund:
    """Where quick spend can come from: the team budget (account_id None) or a restricted fund."""

    account_id: int | None
    label: str
    available_pence: int


def funds(*, session: Session, team: Team) -> list[Fund]:
    """The team budget and each restricted fund, with what is available now (no writes)."""
    accounts = ledger.team_accounts(session=session, team=team)
    budget = next((a.available_pence for a in accounts if a.kind == AccountKind.BUDGET.value), 0)
    return [Fund(None, "Team budget", budget),
            *(Fund(a.account_id, a.label, a.available_pence) for a in accounts if a.kind == AccountKind.RESTRICTED.value)]


def funding_choices(*, session: Session, team: Team) -> list[Fund]:
    """The sources a new request may name: the budget, and restricted funds with money in."""
    return [f for f in funds(session=session, team=team) if f.account_id is None or f.available_pence > 0]


# --------------------------------------------------------------------------- requesting


def request_spend(
    *,
    session: Session,
    team: Team,
    requester: Person,
    amount_pence: int,
    payee: str,
    payee_is_individual: bool,
    purpose: str,
    category: str,
    account_id: int | None = None,
    idea_id: int | None = None,
) -> SpendRequest:
    """A team member asks to spend. Up to the enabler's limit, or up to the open commitment of the
    funded idea named by ``idea_id`` (the residents voted that money); and only if someone in the
    team could approve it (:func:`approvers_of`). Raises NotAllowed, InvalidAmount, SpendError,
    OverLimit (``needs_vote`` when only a resident vote could allow it), NotFound."""
    _require_member(session, team, requester, "request")
    ledger.check_amount(amount_pence)
    payee = (payee or "").strip()
    purpose = (purpose or "").strip()
    if payee_is_individual:
        payee = payee or "Individual"
    if not payee:
        raise SpendError(_("Enter who will be paid, or choose “an individual”."), field="payee")
    if not purpose:
        raise SpendError(_("Say in plain words what the money is for."), field="purpose")
    if category not in CATEGORY_CODES:
        raise SpendError(_("Choose a category from the list."), field="category")
    if len(payee) > 200 or len(purpose) > 500:
        raise SpendError(_("Keep the payee under 200 and the purpose under 500 characters."), field="purpose")
    if account_id is not None:
        choices = {f.account_id for f in funding_choices(session=session, team=team)}
        if account_id not in choices:
            raise SpendError(_("Choose the team budget or a fund that has money in it."), field="account_id")
    if idea_id is not None and idea_id not in {i for i, _ in idea_choices(session=session, team=team)}:
        raise SpendError(_("Choose an idea from the list."), field="idea_id")
    request = SpendRequest(
        team_id=team.id, requester_id=requester.id, amount_pence=amount_pence, payee=payee,
        payee_is_individual=bool(payee_is_individual), purpose=purpose, category=category,
        account_id=account_id, idea_id=idea_id,
    )
    if amount_pence > team.enabler_limit_pence and not within_vote(session=session, team=team, request=request):
        raise OverLimit(_above_team_limit(session, team, request), needs_vote=True, field="amount")
    if not approvers_of(session=session, team=team, request=request):
        raise OverLimit(_nobody_can_approve(session, team, request, requester), needs_vote=False, field="amount")
    session.add(request)
    session.flush()
    return request


def _above_team_limit(session: Session, team: Team, request: SpendRequest) -> str:
    """Why an amount above the enabler's limit is refused (and what the residents voted, if that is why)."""
    voted = _idea_hold(session, team, request)
    if voted is None:
        return _("%(amount)s is more than the team can approve (%(limit)s): it needs a resident vote.",
                 amount=format_gbp(request.amount_pence), limit=format_gbp(team.enabler_limit_pence))
    idea, held = voted
    return _("%(amount)s is more than the %(voted)s the residents voted for “%(title)s” and more than the team can "
             "approve (%(limit)s). Ask for %(voted)s or less; anything more needs a resident vote.",
             amount=format_gbp(request.amount_pence), voted=format_gbp(held.amount_pence), title=idea.title,
             limit=format_gbp(team.enabler_limit_pence))


def _nobody_can_approve(session: Session, team: Team, request: SpendRequest, requester: Person) -> str:
    if request.amount_pence <= team.member_limit_pence:
        return _("No one else in %(team)s can approve a request yet: ask an admin to add another member to the "
                 "team.", team=team.name)
    if _role(session, team, requester) == TeamRole.ENABLER:
        return _("Members can approve up to %(limit)s, and nobody approves their own request, so above that "
                 "another enabler of %(team)s must approve yours. The team has no other enabler: ask an admin to "
                 "add one, or propose it as an idea for a resident vote.",
                 limit=format_gbp(team.member_limit_pence), team=team.name)
    return _("Members can approve up to %(limit)s, and %(team)s has no enabler to approve more: ask an admin to "
             "add one, or propose it as an idea for a resident vote.",
             limit=format_gbp(team.member_limit_pence), team=team.name)


def withdraw(*, session: Session, team: Team, request_id: int, actor: Person) -> SpendRequest:
    """The requester withdraws a request that is still waiting."""
    request = _load(session, team, request_id)
    _require_member(session, team, actor, "withdraw")
    if request.requester_id != actor.id:
        raise NotAllowed(_("Only the person who asked can withdraw a request."))
    if request.status != SpendStatus.PENDING:
        raise WrongState(state_message(session=session, request=request))
    _move(session, request, SpendStatus.PENDING, status=SpendStatus.WITHDRAWN.value,
          closed_at=utcnow(), closed_by_id=actor.id)
    return request


# --------------------------------------------------------------------------- deciding


def _limit_for(team: Team, role: str) -> int:
    return team.enabler_limit_pence if role == TeamRole.ENABLER else team.member_limit_pence


def _covers(team: Team, role: str, amount_pence: int, in_vote: bool) -> bool:
    """The approval rule for one role: their own limit, or any amount within the residents' vote."""
    return in_vote or amount_pence <= _limit_for(team, role)


def approvers_of(*, session: Session, team: Team, request: SpendRequest) -> list[Person]:
    """Who may approve this request now (and so who is told of it): the team's other active
    members and enablers whose own limit covers the amount (any of them for money within a funded
    idea's commitment), never finance and never the requester. Enablers first, then by name."""
    voted = within_vote(session=session, team=team, request=request)
    rows = session.execute(
        select(Person, Membership.role)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team.id, Person.id != request.requester_id, Person.is_active,
               Person.is_finance.is_(False))
        .order_by(Membership.role, Person.name, Person.id)  # "enabler" sorts before "member"
    ).all()
    return [person for person, role in rows if _covers(team, role, request.amount_pence, voted)]


_OPEN_OF_TEAMS = (select(SpendRequest).where(
    SpendRequest.team_id.in_(bindparam("team_ids", expanding=True)),
    SpendRequest.status.in_((SpendStatus.PENDING.value, SpendStatus.APPROVED.value))))


@dataclass(frozen=True)
class WaitingOn:
    """A team's quick spend waiting on a person: requests they may approve now, and approved
    spend not yet paid (its receipt missing)."""

    approvals: int
    unpaid: int


def waiting_on(*, session: Session, teams: list[Team], person: Person, roles: dict[int, str]) -> dict[int, WaitingOn]:
    """Per team (by id), what :class:`WaitingOn` counts, for ``person`` of ``roles`` (team id →
    role): one query whatever the number of teams (the staff to-do list). Requests they may
    approve are those :func:`approvers_of` would list them for, counted without listing every
    approver of each; the vote's commitment is only looked up for amounts over their limit."""
    if not teams:
        return {}
    by_id = {team.id: team for team in teams}
    approvals, unpaid = dict.fromkeys(by_id, 0), dict.fromkeys(by_id, 0)
    may_approve = person.is_active and not person.is_finance
    for request in session.execute(_OPEN_OF_TEAMS, {"team_ids": list(by_id)}).scalars():
        team, role = by_id[request.team_id], roles.get(request.team_id)
        if request.status == SpendStatus.APPROVED:
            unpaid[team.id] += 1
        elif (may_approve and role is not None and request.requester_id != person.id
              and (request.amount_pence <= _limit_for(team, role) or within_vote(session=session, team=team,
                                                                                   request=request))):
            approvals[team.id] += 1
    return {team_id: WaitingOn(approvals[team_id], unpaid[team_id]) for team_id in by_id}


def either(names: list[str]) -> str:
    """'Ben', 'Ben or Erin', 'Ben, Carol or Erin'."""
    if len(names) == 1:
        return names[0]
    return _("%(names)s or %(last)s", names=", ".join(names[:-1]), last=names[-1])


def _decision_checks(session: Session, team: Team, request: SpendRequest, approver: Person, doing: str) -> str:
    role = _require_member(session, team, approver, doing)
    if request.requester_id == approver.id:
        raise NotAllowed(str(_NOT_YOUR_OWN[doing]))
    return role


USED_FOR_ANOTHER = lazy_gettext("This form was already used for another request, so nothing more was saved. "
                                "Reload this request's page and try again.")


def _replayed_approval(session: Session, request: SpendRequest, idempotency_key: str) -> bool:
    """True when this key already approved this request (the same outcome again); refused
    (IdempotencyConflict) when it was used for anything else, before anything is written."""
    row = session.get(LedgerRequest, idempotency_key)
    if row is None:
        return False
    if (row.operation == "hold" and row.hold_id is not None and row.hold_id == request.hold_id
            and request.status in (SpendStatus.APPROVED, SpendStatus.PAID, SpendStatus.CANCELLED)):
        return True
    raise IdempotencyConflict(str(USED_FOR_ANOTHER))


def approve(
    *,
    session: Session,
    team: Team,
    request_id: int,
    approver: Person,
    auth_session: AuthSession | None,
    idempotency_key: str,
    now: dt.datetime | None = None,
    fresh_above_pence: int = defaults.FRESH_ABOVE_PENCE,
    fresh_minutes: int = defaults.FRESH_MINUTES,
    on_approved: Callable[[SpendRequest], None] | None = None,
) -> SpendRequest:
    """Approve and commit the money (a ledger hold) in one transaction.

    The same idempotency key returns the first approval (``on_approved``, called in the same
    transaction when this call approves, is then not called again). Raises NotFound, NotAllowed,
    WrongState (already decided: no second hold), OverLimit, NeedsFreshSignIn,
    InsufficientFunds (the caller records :func:`record_overspend_refused` after rolling back).
    """
    ledger.check_key(idempotency_key)
    request = _load(session, team, request_id)
    if _replayed_approval(session, request, idempotency_key):
        return request
    role = _decision_checks(session, team, request, approver, "approve")
    if request.status != SpendStatus.PENDING:
        raise WrongState(state_message(session=session, request=request))
    session.refresh(team)  # the limits as they are now, not when the page was loaded
    limit = _limit_for(team, role)
    # Money the residents already voted for (the idea's commitment) needs no quick-spend limit.
    # Its hold is locked first, as it is once the lock is held: cancelled spend going back to the
    # idea, or other spend drawing on it, may have re-pointed the idea meanwhile.
    _lock_idea_hold(session, team, request)
    voted = _idea_hold(session, team, request)
    in_vote = voted is not None and request.amount_pence <= voted[1].amount_pence
    if not _covers(team, role, request.amount_pence, in_vote):
        if request.amount_pence > team.enabler_limit_pence:
            message = _above_team_limit(session, team, request)
        else:
            others = [p.name for p in approvers_of(session=session, team=team, request=request)]
            message = (_("Members can approve up to %(limit)s. %(names)s can approve this.",
                         limit=format_gbp(limit), names=either(others)) if others
                       else _("Members can approve up to %(limit)s. No one else in the team can approve this "
                              "much now.", limit=format_gbp(limit)))
        raise OverLimit(message, needs_vote=request.amount_pence > team.enabler_limit_pence)
    if request.amount_pence > fresh_above_pence and not is_fresh(auth_session, now=now, minutes=fresh_minutes):
        raise NeedsFreshSignIn(_("To approve more than %(amount)s, confirm it is you (you have not signed in for "
                                 "a while).", amount=format_gbp(fresh_above_pence)))
    _pause()
    if voted is not None:
        # Draw on the idea's commitment: release it, commit this spend, re-commit the rest.
        idea, held = voted
        ledger.move_hold(session=session, hold_id=held.id, actor_id=approver.id,
                         idempotency_key=_drawn_key(request.id), recommitted_pence=held.amount_pence, reason="drawn")
    commitment = ledger.hold(
        session=session, team=team, amount_pence=request.amount_pence, category=request.category,
        description=request.purpose, actor_id=approver.id, idempotency_key=idempotency_key,
        payee=request.payee, payee_is_individual=request.payee_is_individual,
        account_id=request.account_id,
    )
    if voted is not None:
        rest = held.amount_pence - request.amount_pence
        rest_hold = None
        if rest > 0:
            rest_hold = ledger.hold(
                session=session, team=team, amount_pence=rest, category=held.category,
                description=held.description, actor_id=approver.id,
                idempotency_key=f"spend:{request.id}:idea-rest", account_id=held.account_id,
            ).id
        votes.recommit_idea(session=session, idea_id=idea.id, hold_id=rest_hold)
    _move(session, request, SpendStatus.PENDING, status=SpendStatus.APPROVED.value,
          decided_at=now or utcnow(), decided_by_id=approver.id, hold_id=commitment.id)
    _audit(session, approver.id, "spend.approve", team, request, request.amount_pence)
    if on_approved is not None:
        on_approved(request)
    return request


def record_overspend_refused(*, session: Session, team: Team, request_id: int, actor_id: int,
                             amount_pence: int) -> None:
    """Log a refused approval for lack of money; the team's statement for the month lists it
    as an exception (ledger.md §3.2 G), found by ``team_id``, not by the subject text.

    Call it after rolling back the refused approval, then commit."""
    session.add(AuditEvent(
        actor_id=actor_id, action=codes.OVERSPEND_REFUSED, team_id=team.id,
        subject=f"{team.name}: {format_gbp(amount_pence)} for spend request {request_id}"[:200],
    ))
    session.flush()


def reject(*, session: Session, team: Team, request_id: int, approver: Person, reason: str) -> SpendRequest:
    """Another member rejects a waiting request, with a reason the requester will see."""
    request = _load(session, team, request_id)
    _decision_checks(session, team, request, approver, "reject")
    reason = (reason or "").strip()
    if not reason:
        raise SpendError(_("Give a reason, so the person who asked knows why."), field="reason")
    if request.status != SpendStatus.PENDING:
        raise WrongState(state_message(session=session, request=request))
    _move(session, request, SpendStatus.PENDING, status=SpendStatus.REJECTED.value,
          decided_at=utcnow(), decided_by_id=approver.id, rejection_reason=reason[:500])
    _audit(session, approver.id, "spend.reject", team, request, request.amount_pence)
    return request


def _drawn_key(request_id: int) -> str:
    """The key approval records the funded idea's commitment moving under (what it drew on)."""
    return f"spend:{request_id}:idea-release"


@dataclass(frozen=True)
class Return:
    """Where cancelling an approved request sends its money: back to the funded idea it drew on
    (``to_idea_pence`` of it, to the idea titled ``idea_title``) and the rest to the team's
    budget, available again."""

    amount_pence: int
    to_idea_pence: int
    idea_id: int | None
    idea_title: str | None

    @property
    def to_budget_pence(self) -> int:
        return self.amount_pence - self.to_idea_pence


def cancel_return(*, session: Session, team: Team, request: SpendRequest) -> Return:
    """What :func:`cancel` would do with the money now, shown before it is done: what approval
    drew from a funded idea's commitment goes back to it while the idea is still being delivered
    (not once it is done: its leftover went back to the budget then); the rest to the budget."""
    amount = int(request.amount_pence)
    drawn = session.get(LedgerRequest, _drawn_key(request.id)) if request.idea_id is not None else None
    if drawn is None or drawn.operation not in ("move:drawn", "void"):  # "void": approved before moves were told apart
        return Return(amount, 0, None, None)
    idea = votes.idea_for_return(session=session, team_id=team.id, idea_id=request.idea_id)
    if idea is None:
        return Return(amount, 0, None, None)
    source = session.get(Hold, drawn.hold_id)
    return Return(amount, min(amount, int(source.amount_pence)), idea.id, idea.title)


def cancel(*, session: Session, team: Team, request_id: int, actor: Person, idempotency_key: str,
           expected_to_idea_pence: int | None = None) -> SpendRequest:
    """Cancel an approved, unpaid commitment: the hold is voided and the money released, or, when
    approval drew it from a funded idea's commitment, given back to that idea (its commitment is
    made again with this added: :func:`cancel_return` says how much, before). The same idempotency
    key again returns the cancelled request; a key used for anything else is refused
    (IdempotencyConflict) and nothing is written. ``expected_to_idea_pence`` is what the page
    showed would go back to the idea: if that changed since, nothing is done (WrongState).

    Locks: the request's hold, then the idea's (the order approval and "mark done" take the
    idea's in, after nothing else of this request's)."""
    ledger.check_key(idempotency_key)
    request = _load(session, team, request_id)
    _require_member(session, team, actor, "cancel")
    row = session.get(LedgerRequest, idempotency_key)
    if row is not None:
        if (row.operation in ("void", "move:returned") and row.hold_id == request.hold_id
                and request.status == SpendStatus.CANCELLED):
            return request
        raise IdempotencyConflict(str(USED_FOR_ANOTHER))
    if request.status != SpendStatus.APPROVED:
        raise WrongState(state_message(session=session, request=request))
    ledger.lock_hold(session=session, hold_id=request.hold_id)
    rest = _lock_idea_hold(session, team, request)
    back = cancel_return(session=session, team=team, request=request)
    if expected_to_idea_pence is not None and expected_to_idea_pence != back.to_idea_pence:
        raise WrongState(_("Where the money goes changed while the page was open. Check it below, then cancel again."))
    _pause()
    if not back.to_idea_pence:
        ledger.void_hold(session=session, hold_id=request.hold_id, actor_id=actor.id, idempotency_key=idempotency_key)
    else:
        _return_to_idea(session, team, request, actor, idempotency_key, back, rest)
    _move(session, request, SpendStatus.APPROVED, status=SpendStatus.CANCELLED.value,
          closed_at=utcnow(), closed_by_id=actor.id)
    _audit(session, actor.id, "spend.cancel", team, request, request.amount_pence)
    return request


def _lock_idea_hold(session: Session, team: Team, request: SpendRequest) -> Hold | None:
    """Lock what is left of the funded idea's commitment, the one the idea points at once the
    lock is held (approval of other spend may re-point it while this waits)."""
    if request.idea_id is None:
        return None
    while True:
        idea = votes.idea_for_return(session=session, team_id=team.id, idea_id=request.idea_id)
        if idea is None or idea.hold_id is None:
            return None
        held = ledger.lock_hold(session=session, hold_id=idea.hold_id)
        again = votes.idea_for_return(session=session, team_id=team.id, idea_id=request.idea_id)
        if again is not None and again.hold_id == idea.hold_id:
            return held


def _return_to_idea(session: Session, team: Team, request: SpendRequest, actor: Person, key: str,
                    back: Return, rest: Hold | None) -> None:
    """End the request's hold and the idea's (what is left of it), and commit their sum again
    to the idea: one new hold, the idea pointed at it."""
    ledger.move_hold(session=session, hold_id=request.hold_id, actor_id=actor.id, idempotency_key=key,
                     recommitted_pence=back.to_idea_pence, reason="returned")
    idea = votes.idea_for_return(session=session, team_id=team.id, idea_id=back.idea_id)
    total = back.to_idea_pence
    if rest is not None and rest.status == HoldStatus.OPEN.value:
        ledger.move_hold(session=session, hold_id=rest.id, actor_id=actor.id, idempotency_key=f"{key}:idea-rest",
                         recommitted_pence=rest.amount_pence, reason="returned")
        total += int(rest.amount_pence)
    source = session.get(Hold, session.get(LedgerRequest, _drawn_key(request.id)).hold_id)
    again = ledger.hold(
        session=session, team=team, amount_pence=total, category=source.category, description=source.description,
        actor_id=actor.id, idempotency_key=f"{key}:idea", account_id=source.account_id,
    )
    votes.recommit_idea(session=session, idea_id=idea.id, hold_id=again.id)


# --------------------------------------------------------------------------- paying
# Receipts are checked, cleaned and stored by spend/receipts.py before the payment is recorded.


def record_payment(
    *,
    session: Session,
    team: Team,
    request_id: int,
    actor: Person,
    actual_pence: int,
    paid_on: dt.date,
    method: str,
    receipt_ref: str,
    receipt_content_type: str,
    idempotency_key: str,
    today: dt.date | None = None,
) -> SpendRequest:
    """Pay an approved request: settle the hold for the actual amount (≤ approved; the rest is
    released) with proposer, approver and receipt on the ledger entry."""
    ledger.check_key(idempotency_key)
    request = _load(session, team, request_id)
    if request.status == SpendStatus.PAID:
        row = session.get(LedgerRequest, idempotency_key)
        if row is not None and row.entry_id == request.paid_entry_id:
            return request
    _require_member(session, team, actor, "pay")
    if request.status != SpendStatus.APPROVED:
        raise WrongState(state_message(session=session, request=request))
    ledger.check_amount(actual_pence)
    if actual_pence > request.amount_pence:
        raise InvalidAmount(_("%(paid)s is more than the %(approved)s approved. Pay at most the approved amount, "
                              "or ask for a new approval for the difference.", paid=format_gbp(actual_pence),
                              approved=format_gbp(request.amount_pence)))
    if paid_on > (today or london_today()):
        raise SpendError(_("The payment date cannot be in the future."), field="paid_on")
    if method not in METHOD_CODES:
        raise SpendError(_("Choose how it was paid."), field="method")
    if not receipt_ref or not RECEIPT_REF.fullmatch(receipt_ref) or receipt_content_type not in RECEIPT_TYPES:
        raise InvalidReceipt(_("Upload the receipt: a photo or a PDF."), field="receipt")
    entry = ledger.settle_hold(
        session=session, hold_id=request.hold_id, actual_pence=actual_pence, actor_id=actor.id,
        effective_date=paid_on, idempotency_key=idempotency_key, method=method, receipt_ref=receipt_ref,
        proposer_id=request.requester_id, approver_id=request.decided_by_id,
    )
    _move(session, request, SpendStatus.APPROVED, status=SpendStatus.PAID.value, paid_entry_id=entry.id,
          paid_pence=actual_pence, paid_on=paid_on, method=method, receipt_ref=receipt_ref,
          receipt_content_type=receipt_content_type, closed_at=utcnow(), closed_by_id=actor.id)
    _audit(session, actor.id, "spend.pay", team, request, actual_pence)
    return request


# --------------------------------------------------------------------------- limits and identity


@dataclass(frozen=True)
class LimitDefaults:
    """The council's default approval limits (``SPEND_MEMBER_LIMIT_DEFAULT_PENCE`` and
    ``SPEND_ENABLER_LIMIT_DEFAULT_PENCE``): a team's enabler may set anything up to them alone."""

    member_pence: int = defaults.MEMBER_LIMIT_PENCE
    enabler_pence: int = defaults.ENABLER_LIMIT_PENCE


@dataclass(frozen=True)
class LimitPlan:
    """What a change of limits would do, shown before anything is written."""

    member_from_pence: int
    member_to_pence: int
    enabler_from_pence: int
    enabler_to_pence: int
    defaults: LimitDefaults
    above_default: tuple[str, ...]  # "member" and/or "enabler": raised above the default

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.above_default)


def _raised_above_default(new: int, current: int, default: int) -> bool:
    # Lowering a limit that finance already confirmed never needs confirming again.
    return new > default and new > current


def plan_limits(*, session: Session, team: Team, actor: Person, member_limit_pence: int, enabler_limit_pence: int,
                defaults: LimitDefaults = LimitDefaults()) -> LimitPlan:
    """Check a change of the team's limits and say what it would do; writes nothing.

    Only the team's enabler changes them. A raise of either limit above the council's default
    needs finance or an admin to confirm (:func:`set_limits` keeps it pending); anything else
    applies at once. Raises NotAllowed, SpendError (bad amount, enabler below members, no change,
    a change already waiting)."""
    if _role(session, team, actor) != TeamRole.ENABLER:
        raise NotAllowed(_("Only the team’s enabler can change the approval limits."))
    for value, field in ((member_limit_pence, "member_limit"), (enabler_limit_pence, "enabler_limit")):
        try:
            ledger.check_amount(value)
        except InvalidAmount as error:
            raise SpendError(str(error), field=field) from None
    if enabler_limit_pence < member_limit_pence:
        raise SpendError(_("The enabler’s limit must be at least the members’ limit."), field="enabler_limit")
    waiting = pending_limit_change(session=session, team=team)
    if waiting is not None:
        raise SpendError(_("A change of the limits asked for by %(name)s is already waiting for finance. Withdraw "
                           "it first, or wait for the decision.",
                           name=person_name(session=session, person_id=waiting.requested_by_id)))
    if (member_limit_pence, enabler_limit_pence) == (team.member_limit_pence, team.enabler_limit_pence):
        raise SpendError(_("These are the limits already: nothing to change."))
    above = tuple(name for name, new, current, default in (
        ("member", member_limit_pence, team.member_limit_pence, defaults.member_pence),
        ("enabler", enabler_limit_pence, team.enabler_limit_pence, defaults.enabler_pence),
    ) if _raised_above_default(new, current, default))
    return LimitPlan(team.member_limit_pence, member_limit_pence, team.enabler_limit_pence, enabler_limit_pence,
                     defaults, above)


def _limits_subject(team: Team, change: SpendLimitChange) -> str:
    return (f"{team.name}: members {format_gbp(change.previous_member_limit_pence)} → "
            f"{format_gbp(change.member_limit_pence)}, enabler {format_gbp(change.previous_enabler_limit_pence)} → "
            f"{format_gbp(change.enabler_limit_pence)}")[:200]


def set_limits(*, session: Session, team: Team, actor: Person, member_limit_pence: int, enabler_limit_pence: int,
               defaults: LimitDefaults = LimitDefaults()) -> SpendLimitChange:
    """The team's enabler changes how much a member and the enabler may approve: at once within
    the council's defaults (audited ``spend.limits``), otherwise as a pending change for finance
    or an admin (audited ``spend.limits_requested``). Raises what :func:`plan_limits` raises."""
    plan = plan_limits(session=session, team=team, actor=actor, member_limit_pence=member_limit_pence,
                       enabler_limit_pence=enabler_limit_pence, defaults=defaults)
    change = SpendLimitChange(
        team_id=team.id, member_limit_pence=member_limit_pence, enabler_limit_pence=enabler_limit_pence,
        previous_member_limit_pence=plan.member_from_pence, previous_enabler_limit_pence=plan.enabler_from_pence,
        status=(LimitChangeStatus.PENDING if plan.needs_confirmation else LimitChangeStatus.APPLIED).value,
        requested_by_id=actor.id,
    )
    session.add(change)
    try:
        session.flush()
    except IntegrityError:  # another change became pending at the same moment
        raise SpendError(_("A change of the limits is already waiting for finance.")) from None
    if not plan.needs_confirmation:
        _apply_limits(session, team, change)
    session.add(AuditEvent(actor_id=actor.id, team_id=team.id, subject=_limits_subject(team, change),
                           action="spend.limits_requested" if plan.needs_confirmation else "spend.limits"))
    session.flush()
    return change


def _apply_limits(session: Session, team: Team, change: SpendLimitChange) -> None:
    team.member_limit_pence = change.member_limit_pence
    team.enabler_limit_pence = change.enabler_limit_pence
    session.add(team)


def pending_limit_change(*, session: Session, team: Team) -> SpendLimitChange | None:
    """The team's change of limits waiting for finance, if any."""
    return session.execute(select(SpendLimitChange).where(
        SpendLimitChange.team_id == team.id, SpendLimitChange.status == LimitChangeStatus.PENDING.value,
    )).scalar_one_or_none()


def limit_history(*, session: Session, team: Team, limit: int = 20) -> list[SpendLimitChange]:
    """The team's changes of limits, newest first."""
    return list(session.execute(
        select(SpendLimitChange).where(SpendLimitChange.team_id == team.id)
        .order_by(SpendLimitChange.requested_at.desc(), SpendLimitChange.id.desc()).limit(limit)
    ).scalars())


def list_pending_limit_changes(*, session: Session) -> list[tuple[SpendLimitChange, Team]]:
    """Every team's change of limits waiting for finance, oldest first."""
    return [(c, t) for c, t in session.execute(
        select(SpendLimitChange, Team).join(Team, Team.id == SpendLimitChange.team_id)
        .where(SpendLimitChange.status == LimitChangeStatus.PENDING.value).order_by(SpendLimitChange.requested_at)
    ).all()]


_CHANGE_ALREADY = {
    "approved": lazy_gettext("This change was already approved."),
    "refused": lazy_gettext("This change was already refused."),
    "withdrawn": lazy_gettext("This change was already withdrawn."),
    "decided": lazy_gettext("This change was already decided."),
}


def _decide_limits(session: Session, change_id: int, actor: Person, status: LimitChangeStatus,
                   reason: str | None = None) -> tuple[SpendLimitChange, Team]:
    if not (actor.is_finance or actor.is_admin):
        raise NotAllowed(_("Only finance staff or an admin can decide on a change of approval limits."))
    change = session.get(SpendLimitChange, change_id)
    if change is None:
        raise NotFound(_("That change of limits does not exist."))
    if change.requested_by_id == actor.id:
        raise NotAllowed(_("You asked for this change: someone else in finance (or an admin) must decide on it."))
    # A conditional write: of two people deciding at once, one changes the row, the other is told.
    moved = session.execute(
        update(SpendLimitChange)
        .where(SpendLimitChange.id == change_id, SpendLimitChange.status == LimitChangeStatus.PENDING.value)
        .values(status=status.value, decided_by_id=actor.id, decided_at=utcnow(), reason=reason)
    ).rowcount
    session.refresh(change)
    if moved != 1:
        raise WrongState(str(_CHANGE_ALREADY.get(change.status, _CHANGE_ALREADY["decided"])))
    return change, session.get(Team, change.team_id)


def approve_limit_change(*, session: Session, change_id: int, actor: Person) -> SpendLimitChange:
    """Finance or an admin (not the person who asked) approves a pending raise: the team's limits
    become those asked for (audited ``spend.limits_approved``). Raises NotAllowed, NotFound, WrongState."""
    change, team = _decide_limits(session, change_id, actor, LimitChangeStatus.APPROVED)
    change.previous_member_limit_pence, change.previous_enabler_limit_pence = (
        team.member_limit_pence, team.enabler_limit_pence)
    session.add(change)
    _apply_limits(session, team, change)
    session.add(AuditEvent(actor_id=actor.id, team_id=team.id, action="spend.limits_approved",
                           subject=_limits_subject(team, change)))
    session.flush()
    return change


def refuse_limit_change(*, session: Session, change_id: int, actor: Person, reason: str) -> SpendLimitChange:
    """Finance or an admin (not the person who asked) refuses a pending raise, saying why; the
    limits stay as they are (audited ``spend.limits_refused``). Raises SpendError (no reason),
    NotAllowed, NotFound, WrongState."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise SpendError(_("Give a reason, so the enabler knows why."), field="reason")
    change, team = _decide_limits(session, change_id, actor, LimitChangeStatus.REFUSED, reason[:500])
    session.add(AuditEvent(actor_id=actor.id, team_id=team.id, action="spend.limits_refused",
                           subject=f"{_limits_subject(team, change)}: {reason}"[:200]))
    session.flush()
    return change


def withdraw_limit_change(*, session: Session, team: Team, change_id: int, actor: Person) -> SpendLimitChange:
    """The person who asked withdraws a pending change (audited ``spend.limits_withdrawn``).
    Raises NotFound (another team's), NotAllowed, WrongState."""
    change = session.get(SpendLimitChange, change_id)
    if change is None or change.team_id != team.id:
        raise NotFound(_("That change of limits does not exist."))
    if change.requested_by_id != actor.id:
        raise NotAllowed(_("Only the person who asked can withdraw this change."))
    moved = session.execute(
        update(SpendLimitChange)
        .where(SpendLimitChange.id == change_id, SpendLimitChange.status == LimitChangeStatus.PENDING.value)
        .values(status=LimitChangeStatus.WITHDRAWN.value, decided_at=utcnow())
    ).rowcount
    session.refresh(change)
    if moved != 1:
        raise WrongState(str(_CHANGE_ALREADY.get(change.status, _CHANGE_ALREADY["decided"])))
    session.add(AuditEvent(actor_id=actor.id, team_id=team.id, action="spend.limits_withdrawn",
                           subject=_limits_subject(team, change)))
    session.flush()
    return change


def confirm_identity(*, session: Session, person: Person, auth_session: AuthSession, password: str,
                     code: str) -> None:
    """Password and a new TOTP code again: the session counts as a fresh sign-in from now (the
    rule is community's ``reconfirm_identity``; here its refusals become SpendErrors)."""
    try:
        reconfirm_identity(session=session, person=person, auth_session=auth_session, password=password, code=code)
    except DomainError as error:
        raise SpendError(error.message, field=error.field or "code") from None


# --------------------------------------------------------------------------- housekeeping


def expirable(now: dt.datetime, pending_days: int = defaults.EXPIRE_PENDING_DAYS) -> Select:
    """The ids of requests waiting longer than ``pending_days`` (``flask spend expire`` claims
    them one at a time: community/jobs.py)."""
    return (select(SpendRequest.id)
            .where(SpendRequest.status == SpendStatus.PENDING.value,
                   SpendRequest.created_at < now - dt.timedelta(days=pending_days))
            .order_by(SpendRequest.id))


def unpaid_to_flag(now: dt.datetime, unpaid_days: int = defaults.FLAG_UNPAID_DAYS) -> Select:
    """The ids of approvals unpaid after ``unpaid_days`` and not flagged yet."""
    return (select(SpendRequest.id)
            .where(SpendRequest.status == SpendStatus.APPROVED.value, SpendRequest.flagged_at.is_(None),
                   SpendRequest.decided_at < now - dt.timedelta(days=unpaid_days))
            .order_by(SpendRequest.id))


def expire_one(*, session: Session, request_id: int, now: dt.datetime) -> None:
    """Expire one request found by :func:`expirable`."""
    session.execute(update(SpendRequest).where(SpendRequest.id == request_id)
                    .values(status=SpendStatus.EXPIRED.value, closed_at=now))


def flag_unpaid(*, session: Session, request_id: int, now: dt.datetime) -> None:
    """Flag one approval found by :func:`unpaid_to_flag` (it stays committed until paid or cancelled)."""
    session.execute(update(SpendRequest).where(SpendRequest.id == request_id).values(flagged_at=now))


def expire(*, session: Session, now: dt.datetime | None = None,
           pending_days: int = defaults.EXPIRE_PENDING_DAYS,
           unpaid_days: int = defaults.FLAG_UNPAID_DAYS) -> dict[str, int]:
    """Expire requests waiting longer than ``pending_days``; flag approvals unpaid after
    ``unpaid_days`` (they stay committed until someone pays or cancels them)."""
    now = now or utcnow()
    expired = session.execute(
        update(SpendRequest)
        .where(SpendRequest.id.in_(expirable(now, pending_days).order_by(None).scalar_subquery()))
        .values(status=SpendStatus.EXPIRED.value, closed_at=now)
    ).rowcount
    flagged = session.execute(
        update(SpendRequest)
        .where(SpendRequest.id.in_(unpaid_to_flag(now, unpaid_days).order_by(None).scalar_subquery()))
        .values(flagged_at=now)
    ).rowcount
    return {"expired": int(expired or 0), "flagged": int(flagged or 0)}


# --------------------------------------------------------------------------- the dashboard


@dataclass(frozen=True)
class Dashboard:
    funds: list[Fund]
    pending: list[tuple[SpendRequest, dt.timedelta]]
    approved: list[SpendRequest]
    recent: list[SpendRequest]
    closed: list[SpendRequest]
    median_decision: dt.timedelta | None
    names: dict[int, str]


def dashboard(*, session: Session, team: Team, now: dt.datetime | None = None, also_named=()) -> Dashboard:
    """Money available, requests waiting (with how long), approvals to pay, recent spend, and
    the median time from request to decision this month; ``names`` has everyone the requests
    name and the people in ``also_named`` (the page's other names), read in one query."""
    now = now or utcnow()
    rows = list(session.execute(
        select(SpendRequest).where(SpendRequest.team_id == team.id).order_by(SpendRequest.id.desc())
    ).scalars())
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    durations = [
        (r.decided_at - r.created_at).total_seconds()
        for r in rows
        if r.decided_at is not None and r.decided_at >= month_start
    ]
    median = dt.timedelta(seconds=statistics.median(durations)) if durations else None
    names = person_names(session=session,
                         ids={*(r.requester_id for r in rows), *(r.decided_by_id for r in rows), *also_named})
    return Dashboard(
        funds=funds(session=session, team=team),
        pending=[(r, now - r.created_at) for r in reversed(rows) if r.status == SpendStatus.PENDING],
        approved=[r for r in rows if r.status == SpendStatus.APPROVED],
        recent=[r for r in rows if r.status == SpendStatus.PAID][:10],
        closed=[r for r in rows if r.status in (SpendStatus.REJECTED, SpendStatus.WITHDRAWN,
                                                SpendStatus.EXPIRED, SpendStatus.CANCELLED)][:10],
        median_decision=median,
        names=names,
    )


def fund_label(*, session: Session, request: SpendRequest) -> str:
    if request.account_id is None:
        return "Team budget"
    account = session.get(LedgerAccount, request.account_id)
    return account.label if account is not None and account.kind == AccountKind.RESTRICTED else "Team budget"


# --------------------------------------------------------------------------- what an idea's page shows


@dataclass(frozen=True)
class SpendLine:
    date: dt.date
    payee: str
    amount_pence: int


def spend_for_idea(*, session: Session, idea_id: int) -> list[SpendLine]:
    """The quick spend paid against a funded idea, oldest first (individuals withheld, in the
    reader's language); offered to the idea's page through votes.ports (a page only)."""
    rows = session.execute(
        select(SpendRequest)
        .where(SpendRequest.idea_id == idea_id, SpendRequest.status == SpendStatus.PAID.value)
        .order_by(SpendRequest.paid_on, SpendRequest.id)
    ).scalars()
    return [
        SpendLine(
            date=row.paid_on,
            payee=shown_payee(WITHHELD) if row.payee_is_individual else row.payee,
            amount_pence=row.paid_pence,
        )
        for row in rows
    ]


def waiting_for_idea(*, session: Session, idea_id: int) -> int:
    """Spend approved against a funded idea and not paid yet (still committed to that spend), in
    pence; offered to the idea's "mark done" page through votes.ports."""
    return int(session.execute(
        select(func.coalesce(func.sum(SpendRequest.amount_pence), 0))
        .where(SpendRequest.idea_id == idea_id, SpendRequest.status == SpendStatus.APPROVED.value)
    ).scalar())
