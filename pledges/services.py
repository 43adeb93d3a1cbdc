"""Use cases of pledges: make a pledge, record its fulfilment, withdraw, lapse, remind; community
pledges and signatures; the pledge wall's totals; finance's hourly rate; the monthly memorandum.

Rules every function here follows (as in ``ledger.services``):

* ``session`` is keyword-only; functions may flush but never commit (the caller commits once),
  and refuse bad input by raising a :class:`PledgeError` (a ledger ``DomainError``, so the
  message is safe to show) *before* writing anything.
* A pledge is a memorandum, not money. Money reaches the ledger only when the team records it
  as received (``record_money`` → ``ledger.services.receive_into_fund`` into the pledge's own
  restricted fund). Receipts beyond the promise are refused unless the caller says to record
  the extra as a separate gift. Withdrawing or lapsing never touches money already received.
* Time and goods are valued (hours × finance's notional rate; goods and rooms at their
  estimated value) for social-value reporting only: never added to any cash balance.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from community.db import london_midnight, read_columns, utcnow
from community.formatting import long_date
from community.i18n import DEFAULT, _, force_locale
from community.models import Person, Team
from community.numbers import has_other_digits
from community.services import audit, require_confirmed
from ledger import services as ledger
from ledger.descriptions import DESCRIPTIONS
from ledger.errors import NotFound
from ledger.models import JournalEntry
from ledger.money import format_gbp
from pledges.errors import AlreadySigned, OverFulfilment, PledgeError
from pledges.models import (
    OPEN_STATUSES,
    CommunityPledge,
    Frequency,
    FulfilmentKind,
    Pledge,
    PledgeEvent,
    PledgeFulfilment,
    PledgeKind,
    PledgeSignature,
    PledgeStatus,
    SocialValueRate,
    Visibility,
)
from pledges.reasons import REASONS
from votes.models import Idea, IdeaStatus

# The National Living Wage from 1 April 2026 (21 and over), in pence per hour.
DEFAULT_HOURLY_PENCE = 1271
MAX_MINUTES_A_DAY = 24 * 60
MAX_PROMISED_MINUTES = 1000 * 60
MAX_VALUE_PENCE = 100_000_000


# --------------------------------------------------------------------------- parsing


def parse_hours(text: str | None, *, field_name: str = "hours") -> int:
    """``"2"``, ``"1.5"`` or ``"0.25"`` hours → whole minutes; PledgeError otherwise."""
    raw = (text or "").strip()
    if not raw:
        raise PledgeError(_("Enter the number of hours, like 2 or 1.5."), field_name)
    if has_other_digits(raw):  # Decimal("٢") is 2
        raise PledgeError(_("Use the digits 0 to 9, like 2 or 1.5."), field_name)
    try:
        hours = Decimal(raw)
    except InvalidOperation:
        raise PledgeError(_("Enter the hours as a number, like 2 or 1.5."), field_name) from None
    if not hours.is_finite() or hours <= 0:
        raise PledgeError(_("The hours must be more than 0."), field_name)
    if -hours.as_tuple().exponent > 2:
        raise PledgeError(_("Enter the hours with at most two decimal places, like 1.25."), field_name)
    minutes = int((hours * 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if minutes < 1:
        raise PledgeError(_("The hours must be at least one minute."), field_name)
    return minutes


def hours_text(minutes: int | None) -> str:
    """Minutes shown as hours: 90 → '1.5', 120 → '2'."""
    if not minutes:
        return "0"
    value = (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    return f"{value:f}"


# --------------------------------------------------------------------------- making a pledge


def _clean(text: str | None, limit: int) -> str | None:
    text = (text or "").strip()
    return text[:limit] if text else None


def _occurrences(pledge: Pledge) -> int:
    """How many times a time pledge recurs between its start and its end date."""
    if pledge.frequency == Frequency.ONCE or pledge.due_on is None:
        return 1
    days = (pledge.due_on - pledge.starts_on).days
    if pledge.frequency == Frequency.WEEK:
        return max(1, days // 7 + 1)
    months = (pledge.due_on.year - pledge.starts_on.year) * 12 + pledge.due_on.month - pledge.starts_on.month
    return max(1, months + (1 if pledge.due_on.day >= pledge.starts_on.day else 0))


def promised_minutes(pledge: Pledge) -> int:
    """All the time a time pledge promises (hours per occurrence × occurrences)."""
    if pledge.kind != PledgeKind.TIME:
        return 0
    return (pledge.minutes or 0) * _occurrences(pledge)


def pledge_ideas(*, session: Session, team: Team) -> list[tuple[int, str]]:
    """The ideas a pledge to ``team`` may be towards, as (id, title) by title: the team's own,
    except hidden ones (what ``make_pledge`` accepts)."""
    return [(row.id, row.title) for row in session.execute(
        select(Idea.id, Idea.title).where(Idea.team_id == team.id, Idea.status != IdeaStatus.HIDDEN.value)
        .order_by(Idea.title, Idea.id))]


def money_next_step(team: Team) -> str:
    """What a person who has just pledged money is told: how the money is handed over, and who
    will be in touch (nothing is taken online)."""
    return _("What happens next: a member of the %(team)s will contact you within 5 working days to arrange how "
             "you give the money, by bank transfer, cheque or in person, with a receipt. Please do not send cash "
             "by post.", team=team.name)


def make_pledge(
    *,
    session: Session,
    team: Team,
    made_by: Person,
    kind: str,
    description: str,
    today: dt.date,
    visibility: str = Visibility.PUBLIC_NAMED.value,
    on_behalf_name: str | None = None,
    on_behalf_is_organisation: bool = False,
    contact_email: str | None = None,
    contact_phone: str | None = None,
    amount_pence: int | None = None,
    minutes: int | None = None,
    frequency: str | None = None,
    quantity: int | None = None,
    room: str | None = None,
    when_text: str | None = None,
    estimated_value_pence: int | None = None,
    due_on: dt.date | None = None,
    idea_id: int | None = None,
) -> Pledge:
    """A pledge to ``team``. Without ``on_behalf_name`` the signed-in person pledges for
    themselves; with it, ``made_by`` (staff) records a pledge for an organisation or a person
    without an account. Raises PledgeError naming the field."""
    if kind not in set(PledgeKind):
        raise PledgeError(_("Choose what kind of pledge this is."), "kind")
    if visibility not in set(Visibility):
        raise PledgeError(_("Choose who can see this pledge."), "visibility")
    description = _clean(description, 500)
    if not description:
        raise PledgeError(_("Say what you are pledging."), "description")
    if due_on is not None and due_on < today:
        raise PledgeError(_("The date cannot be in the past."), "due_on")
    if idea_id is not None:
        idea = session.get(Idea, idea_id) if 0 < idea_id < 2**31 else None
        if idea is None or idea.team_id != team.id or idea.status == IdeaStatus.HIDDEN.value:
            raise PledgeError(_("There is no idea with that number for this team."), "idea_id")
    if estimated_value_pence is not None and not 0 < estimated_value_pence <= MAX_VALUE_PENCE:
        raise PledgeError(_("The estimated value must be more than £0."), "estimated_value")
    values: dict = {}
    if kind == PledgeKind.MONEY:
        if amount_pence is None or amount_pence <= 0:
            raise PledgeError(_("The amount must be more than £0."), "amount")
        if amount_pence > MAX_VALUE_PENCE:
            raise PledgeError(_("The amount must be £1,000,000 or less."), "amount")
        values = dict(amount_pence=amount_pence)
    elif kind == PledgeKind.TIME:
        if minutes is None or minutes <= 0:
            raise PledgeError(_("The hours must be more than 0."), "hours")
        if frequency not in set(Frequency):
            raise PledgeError(_("Choose once, every week or every month."), "frequency")
        if frequency == Frequency.ONCE and minutes > MAX_MINUTES_A_DAY:
            raise PledgeError(_("A day has 24 hours: pledge 24 hours or fewer at a time."), "hours")
        if frequency != Frequency.ONCE and minutes > MAX_MINUTES_A_DAY:
            raise PledgeError(_("Pledge 24 hours or fewer each time."), "hours")
        if frequency != Frequency.ONCE and due_on is None:
            raise PledgeError(_("Say until when you will give this time."), "due_on")
        values = dict(minutes=minutes, frequency=frequency)
    elif kind == PledgeKind.GOODS:
        if quantity is None or quantity <= 0:
            raise PledgeError(_("The quantity must be 1 or more."), "quantity")
        if quantity > 100_000:
            raise PledgeError(_("The quantity must be 100,000 or fewer."), "quantity")
        values = dict(quantity=quantity, estimated_value_pence=estimated_value_pence)
    else:
        room = _clean(room, 200)
        if not room:
            raise PledgeError(_("Name the room or hall."), "room")
        values = dict(room=room, when_text=_clean(when_text, 200), estimated_value_pence=estimated_value_pence)
    on_behalf_name = _clean(on_behalf_name, 200)
    if on_behalf_name:
        pledger = dict(pledger_person_id=None, pledger_name=on_behalf_name,
                       pledger_is_organisation=on_behalf_is_organisation,
                       contact_email=_clean(contact_email, 254), contact_phone=_clean(contact_phone, 40))
        if pledger["contact_email"] and "@" not in pledger["contact_email"]:
            raise PledgeError(_("Enter a real email address, like name@example.org."), "contact_email")
    else:
        require_confirmed(made_by, "pledge")
        pledger = dict(pledger_person_id=made_by.id, pledger_name=made_by.name, pledger_is_organisation=False,
                       contact_email=made_by.email, contact_phone=_clean(contact_phone, 40))
    pledge = Pledge(team_id=team.id, idea_id=idea_id, kind=kind, description=description,
                    visibility=visibility, made_by_id=made_by.id, starts_on=today, due_on=due_on,
                    **pledger, **values)
    session.add(pledge)
    session.flush()
    session.add(PledgeEvent(pledge_id=pledge.id, action="made", actor_id=made_by.id,
                            reason=REASONS.english("on_behalf", name=made_by.name) if on_behalf_name else None))
    if on_behalf_name:
        audit(session, actor_id=made_by.id, action="pledge_on_behalf",
              subject=f"{pledge.reference} for {pledge.pledger_name}")
    session.flush()
    return pledge


# --------------------------------------------------------------------------- loading


def team_pledge(session: Session, team: Team, pledge_id: int) -> Pledge:
    """The team's pledge, or NotFound (another team's pledge is not found either)."""
    pledge = session.get(Pledge, pledge_id)
    if pledge is None or pledge.team_id != team.id:
        raise NotFound(_("That pledge does not belong to this team."))
    return pledge


def _lock(session: Session, pledge: Pledge) -> Pledge:
    """Re-read the pledge row FOR UPDATE (PostgreSQL; SQLite writers hold BEGIN IMMEDIATE)."""
    session.execute(select(Pledge.id).where(Pledge.id == pledge.id).with_for_update()).all()
    session.refresh(pledge)
    return pledge


def _replay(session: Session, idempotency_key: str, pledge: Pledge) -> PledgeFulfilment | None:
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        raise PledgeError(_("This form has expired. Start again."))
    first = session.execute(
        select(PledgeFulfilment).where(PledgeFulfilment.idempotency_key == key)
    ).scalar_one_or_none()
    if first is not None and first.pledge_id != pledge.id:
        raise PledgeError(_("This form was already used for another pledge, so nothing more was saved."))
    return first


def _check_fulfilment(pledge: Pledge, kinds: tuple[str, ...], effective_date: dt.date, today: dt.date) -> None:
    if pledge.kind not in kinds:
        raise PledgeError(_("That kind of fulfilment does not match this pledge."))
    if pledge.status == PledgeStatus.WITHDRAWN:
        raise PledgeError(_("This pledge was withdrawn. Record anything given now as a new pledge."))
    if pledge.status == PledgeStatus.LAPSED:
        raise PledgeError(_("This pledge has lapsed. Record anything given now as a new pledge."))
    if pledge.status == PledgeStatus.FULFILLED:
        raise PledgeError(_("This pledge is already fulfilled. Record anything more as a new pledge."))
    if effective_date > today:
        raise PledgeError(_("The date cannot be in the future."), "effective_date")


def _set_status(session: Session, pledge: Pledge, status: str, reason: str | None, actor_id: int | None) -> None:
    if pledge.status == status:
        return
    pledge.status = status
    pledge.status_reason = reason
    session.add(pledge)
    session.add(PledgeEvent(pledge_id=pledge.id, action=status, reason=reason, actor_id=actor_id))
    session.flush()


def received_pence(session: Session, pledge_id: int) -> int:
    return int(session.execute(
        select(func.coalesce(func.sum(PledgeFulfilment.amount_pence), 0)).where(
            PledgeFulfilment.pledge_id == pledge_id, PledgeFulfilment.kind == FulfilmentKind.MONEY.value)
    ).scalar_one())


def given_minutes(session: Session, pledge_id: int) -> int:
    return int(session.execute(
        select(func.coalesce(func.sum(PledgeFulfilment.minutes), 0)).where(
            PledgeFulfilment.pledge_id == pledge_id, PledgeFulfilment.kind == FulfilmentKind.HOURS.value)
    ).scalar_one())


def delivered(session: Session, pledge_id: int) -> tuple[int, int]:
    """(number of deliveries, quantity delivered) for a goods or space pledge."""
    count, quantity = session.execute(
        select(func.count(PledgeFulfilment.id), func.coalesce(func.sum(PledgeFulfilment.quantity), 0)).where(
            PledgeFulfilment.pledge_id == pledge_id, PledgeFulfilment.kind == FulfilmentKind.DELIVERY.value)
    ).one()
    return int(count), int(quantity)


# --------------------------------------------------------------------------- fulfilment


def record_money(
    *,
    session: Session,
    team: Team,
    pledge_id: int,
    amount_pence: int,
    effective_date: dt.date,
    actor_id: int,
    idempotency_key: str,
    today: dt.date,
    method: str | None = None,
    receipt_ref: str | None = None,
    extra_as_gift: bool = False,
) -> list[PledgeFulfilment]:
    """Money received for a money pledge: into the pledge's restricted fund in the ledger.

    Up to what is still promised counts against the pledge. Anything beyond is refused with
    :class:`OverFulfilment` unless ``extra_as_gift``: then the extra is recorded as a separate,
    already-fulfilled gift (its own pledge row and ledger entry, in the same fund). Idempotent:
    the same key returns the first result. Raises PledgeError, NotFound, ledger errors.
    """
    pledge = team_pledge(session, team, pledge_id)
    if (first := _replay(session, idempotency_key, pledge)) is not None:
        rows = [first]
        rows += list(session.execute(select(PledgeFulfilment).where(
            PledgeFulfilment.idempotency_key == f"{first.idempotency_key}:gift")).scalars())
        return rows
    if amount_pence is None or amount_pence <= 0:
        raise PledgeError(_("The amount must be more than £0."), "amount")
    _check_fulfilment(pledge, (PledgeKind.MONEY.value,), effective_date, today)
    _lock(session, pledge)
    remaining = pledge.amount_pence - received_pence(session, pledge.id)
    extra = max(0, amount_pence - remaining)
    if extra and not extra_as_gift:
        raise OverFulfilment(_("%(amount)s is more than the %(remaining)s still promised. Enter %(remaining)s, or "
                               "choose to record the extra %(extra)s as a separate gift.",
                               amount=format_gbp(amount_pence), remaining=format_gbp(remaining),
                               extra=format_gbp(extra)), "amount")
    if pledge.restricted_account_id is None:
        fund = ledger.open_restricted_fund(
            session=session, team=team, label=f"Pledge {pledge.reference}: {pledge.description}"[:120])
        pledge.restricted_account_id = fund.id
        session.add(pledge)
        session.flush()
    payee = pledge.pledger_name
    individual = not pledge.pledger_is_organisation
    method, receipt_ref = _clean(method, 30), _clean(receipt_ref, 200)
    rows = []
    if amount_pence - extra > 0:
        rows.append(_receive(session, team, pledge, amount_pence - extra, effective_date, actor_id,
                             idempotency_key, DESCRIPTIONS.english("pledge_received", reference=pledge.reference), payee, individual,
                             method, receipt_ref))
    if extra:
        gift = Pledge(team_id=team.id, idea_id=pledge.idea_id, kind=PledgeKind.MONEY.value,
                      description=REASONS.english("extra_gift", reference=pledge.reference, description=pledge.description)[:500],
                      pledger_person_id=pledge.pledger_person_id, pledger_name=pledge.pledger_name,
                      pledger_is_organisation=pledge.pledger_is_organisation,
                      contact_email=pledge.contact_email, contact_phone=pledge.contact_phone,
                      visibility=pledge.visibility, made_by_id=actor_id, amount_pence=extra,
                      starts_on=today, restricted_account_id=pledge.restricted_account_id,
                      gift_of_pledge_id=pledge.id)
        session.add(gift)
        session.flush()
        session.add(PledgeEvent(pledge_id=gift.id, action="made", actor_id=actor_id,
                                reason=REASONS.english("separate_gift", reference=pledge.reference)))
        key = f"{idempotency_key}:gift" if rows else idempotency_key
        rows.append(_receive(session, team, gift, extra, effective_date, actor_id, key,
                             DESCRIPTIONS.english("gift_received", reference=pledge.reference), payee, individual,
                             method, receipt_ref))
        _set_status(session, gift, PledgeStatus.FULFILLED.value, None, actor_id)
    _refresh_status(session, pledge, actor_id)
    return rows


def _receive(session, team, pledge, pence, effective_date, actor_id, key, description, payee, individual,
             method, receipt_ref) -> PledgeFulfilment:
    entry = ledger.receive_into_fund(
        session=session, team=team, account_id=pledge.restricted_account_id, amount_pence=pence,
        actor_id=actor_id, effective_date=effective_date, idempotency_key=f"pledge:{key}",
        description=description, payee=payee, payee_is_individual=individual, method=method,
        receipt_ref=receipt_ref)
    row = PledgeFulfilment(pledge_id=pledge.id, team_id=team.id, kind=FulfilmentKind.MONEY.value,
                           effective_date=effective_date, amount_pence=pence, method=method,
                           receipt_ref=receipt_ref, journal_entry_id=entry.id, recorded_by_id=actor_id,
                           idempotency_key=key)
    session.add(row)
    session.flush()
    return row


def record_hours(
    *,
    session: Session,
    team: Team,
    pledge_id: int,
    minutes: int,
    effective_date: dt.date,
    given_by: str | None,
    actor_id: int,
    idempotency_key: str,
    today: dt.date,
    note: str | None = None,
    completes: bool = False,
) -> PledgeFulfilment:
    """Hours given against a time pledge; at most 24 hours on one day (for the same giver)."""
    pledge = team_pledge(session, team, pledge_id)
    if (first := _replay(session, idempotency_key, pledge)) is not None:
        return first
    if minutes is None or minutes <= 0:
        raise PledgeError(_("The hours must be more than 0."), "hours")
    if minutes > MAX_MINUTES_A_DAY:
        raise PledgeError(_("A day has 24 hours: enter 24 or fewer."), "hours")
    _check_fulfilment(pledge, (PledgeKind.TIME.value,), effective_date, today)
    given_by = _clean(given_by, 200) or pledge.pledger_name
    _lock(session, pledge)
    same_day = int(session.execute(
        select(func.coalesce(func.sum(PledgeFulfilment.minutes), 0)).where(
            PledgeFulfilment.pledge_id == pledge.id, PledgeFulfilment.effective_date == effective_date,
            PledgeFulfilment.given_by == given_by)
    ).scalar_one())
    if same_day + minutes > MAX_MINUTES_A_DAY:
        raise PledgeError(_("%(name)s already has %(hours)s hours on that day; a day has only 24.",
                            name=given_by, hours=hours_text(same_day)), "hours")
    row = PledgeFulfilment(pledge_id=pledge.id, team_id=team.id, kind=FulfilmentKind.HOURS.value,
                           effective_date=effective_date, minutes=minutes, given_by=given_by,
                           note=_clean(note, 500), recorded_by_id=actor_id, idempotency_key=idempotency_key)
    session.add(row)
    session.flush()
    _refresh_status(session, pledge, actor_id, completes=completes)
    return row


def record_delivery(
    *,
    session: Session,
    team: Team,
    pledge_id: int,
    effective_date: dt.date,
    actor_id: int,
    idempotency_key: str,
    today: dt.date,
    quantity: int | None = None,
    note: str | None = None,
    completes: bool = False,
) -> PledgeFulfilment:
    """Goods handed over (a quantity) or a room used (once per record) for a goods / space pledge."""
    pledge = team_pledge(session, team, pledge_id)
    if (first := _replay(session, idempotency_key, pledge)) is not None:
        return first
    _check_fulfilment(pledge, (PledgeKind.GOODS.value, PledgeKind.SPACE.value), effective_date, today)
    if pledge.kind == PledgeKind.GOODS:
        if quantity is None or quantity <= 0:
            raise PledgeError(_("The quantity must be 1 or more."), "quantity")
        _lock(session, pledge)
        _count, so_far = delivered(session, pledge.id)
        if so_far + quantity > pledge.quantity:
            raise PledgeError(_("Only %(left)s still promised; record anything more as a new pledge.",
                                left=pledge.quantity - so_far), "quantity")
    else:
        quantity = None
        _lock(session, pledge)
    row = PledgeFulfilment(pledge_id=pledge.id, team_id=team.id, kind=FulfilmentKind.DELIVERY.value,
                           effective_date=effective_date, quantity=quantity, note=_clean(note, 500),
                           recorded_by_id=actor_id, idempotency_key=idempotency_key)
    session.add(row)
    session.flush()
    _refresh_status(session, pledge, actor_id, completes=completes)
    return row


def _refresh_status(session: Session, pledge: Pledge, actor_id: int | None, completes: bool = False) -> None:
    """promised → partly fulfilled → fulfilled, from what has been recorded."""
    if pledge.kind == PledgeKind.MONEY:
        done = received_pence(session, pledge.id) >= pledge.amount_pence
    elif pledge.kind == PledgeKind.TIME:
        done = completes or given_minutes(session, pledge.id) >= promised_minutes(pledge)
    elif pledge.kind == PledgeKind.GOODS:
        done = completes or delivered(session, pledge.id)[1] >= pledge.quantity
    else:
        done = completes or (pledge.due_on is None and pledge.when_text is None)
    _set_status(session, pledge,
                PledgeStatus.FULFILLED.value if done else PledgeStatus.PARTLY_FULFILLED.value, None, actor_id)


# --------------------------------------------------------------------------- withdraw, lapse, remind


def withdraw(*, session: Session, team: Team, pledge_id: int, actor: Person, reason: str,
             is_team_staff: bool) -> Pledge:
    """The pledger (or the team on their behalf) withdraws a pledge, with a reason. Money already
    received stays in its restricted fund: nothing in the ledger changes."""
    pledge = team_pledge(session, team, pledge_id)
    if not is_team_staff and pledge.pledger_person_id != actor.id:
        raise NotFound(_("That pledge does not belong to this team."))
    reason = _clean(reason, 500)
    if not reason:
        raise PledgeError(_("Say why the pledge is being withdrawn."), "reason")
    _lock(session, pledge)
    if not pledge.is_open:
        raise PledgeError(_("Only a pledge still promised or partly fulfilled can be withdrawn."), "reason")
    _set_status(session, pledge, PledgeStatus.WITHDRAWN.value, reason, actor.id)
    return pledge


def due_to_lapse(today: dt.date, team_id: int | None = None) -> Select:
    """The ids of the open pledges whose date has passed, oldest first (what ``flask pledges
    lapse-due`` claims one at a time: community/jobs.py)."""
    query = select(Pledge.id).where(Pledge.status.in_(OPEN_STATUSES), Pledge.due_on.is_not(None),
                                    Pledge.due_on < today)
    if team_id is not None:
        query = query.where(Pledge.team_id == team_id)
    return query.order_by(Pledge.id)


def lapse(*, session: Session, pledge_id: int) -> Pledge:
    """Lapse one pledge whose date has passed, with the reason."""
    pledge = session.get(Pledge, pledge_id)
    _set_status(session, pledge, PledgeStatus.LAPSED.value, REASONS.english("lapsed", date=pledge.due_on), None)
    return pledge


def lapse_due(*, session: Session, today: dt.date, team_id: int | None = None) -> list[Pledge]:
    """Lapse every open pledge whose date has passed, with the reason. Returns them."""
    ids = session.execute(due_to_lapse(today, team_id).with_for_update()).scalars().all()
    return [lapse(session=session, pledge_id=pledge_id) for pledge_id in ids]


def has_lapse_due(session: Session, team_id: int, today: dt.date) -> bool:
    return session.execute(select(Pledge.id).where(
        Pledge.team_id == team_id, Pledge.status.in_(OPEN_STATUSES), Pledge.due_on.is_not(None),
        Pledge.due_on < today).limit(1)).first() is not None


@dataclass
class Reminders:
    due_this_week: list[Pledge]
    overdue: list[Pledge]


def reminders(*, session: Session, team: Team, today: dt.date) -> Reminders:
    """Open pledges due within the next 7 days, and overdue ones (due today or before, still open)."""
    rows = list(session.execute(select(Pledge).where(
        Pledge.team_id == team.id, Pledge.status.in_(OPEN_STATUSES), Pledge.due_on.is_not(None),
        Pledge.due_on <= today + dt.timedelta(days=7)).order_by(Pledge.due_on, Pledge.id)).scalars())
    return Reminders(due_this_week=[p for p in rows if p.due_on > today],
                     overdue=[p for p in rows if p.due_on <= today])


_DUE_SOON = (select(Pledge.team_id, func.count()).where(
    Pledge.team_id.in_(bindparam("team_ids", expanding=True)), Pledge.status.in_(OPEN_STATUSES),
    Pledge.due_on.is_not(None), Pledge.due_on <= bindparam("until")).group_by(Pledge.team_id))


def due_soon_counts(*, session: Session, team_ids, today: dt.date) -> dict[int, int]:
    """Per team (by id), how many pledges :func:`reminders` lists (due this week or overdue),
    counted in the database in one query; teams with none are left out."""
    ids = list(team_ids)
    if not ids:
        return {}
    return dict(read_columns(session, _DUE_SOON, {"team_ids": ids, "until": today + dt.timedelta(days=7)}).all())


def reminder_message(pledge: Pledge, team: Team) -> tuple[str, str]:
    """The subject and body of a polite reminder, in the active language."""
    due = (_("This is a gentle reminder that it is due by %(date)s.", date=long_date(pledge.due_on))
           if pledge.due_on else _("This is a gentle reminder that it is due."))
    subject = _("Your pledge to %(team)s", team=team.name)
    body = _("Dear %(name)s,\n\nThank you for your pledge to %(team)s: %(description)s.\n\n%(due)s If you have "
             "already given it, thank you, and please ignore this message. If your plans have changed, just reply "
             "and let us know; there is no problem at all.\n\nWith thanks,\n%(team)s\n",
             name=pledge.pledger_name, team=team.name, description=pledge.description, due=due)
    return subject, body


def send_reminder(*, session: Session, team: Team, pledge_id: int, actor_id: int, send) -> Pledge:
    """Email the pledger a polite reminder (``send`` is community.mail.send) and note it."""
    pledge = team_pledge(session, team, pledge_id)
    if not pledge.is_open:
        raise PledgeError(_("Only a pledge still promised or partly fulfilled can be reminded about."))
    if not pledge.contact_email:
        raise PledgeError(_("There is no email address for this pledger. Contact them another way."))
    # In the pledger's language when they have an account; someone pledged for by the team has
    # none we know of, so English.
    pledger = session.get(Person, pledge.pledger_person_id) if pledge.pledger_person_id else None
    with force_locale(pledger.language if pledger is not None else DEFAULT):
        subject, body = reminder_message(pledge, team)
    session.add(PledgeEvent(pledge_id=pledge.id, action="reminded", actor_id=actor_id,
                            reason=REASONS.english("reminded")))
    session.flush()
    send(to=pledge.contact_email, subject=subject, body=body)
    return pledge


# --------------------------------------------------------------------------- community pledges


def create_community_pledge(*, session: Session, team: Team, author: Person, title: str,
                            promise: str) -> CommunityPledge:
    title, promise = _clean(title, 120), _clean(promise, 1000)
    if not title:
        raise PledgeError(_("Give the pledge a short name."), "title")
    if not promise:
        raise PledgeError(_("Write the promise people will sign."), "promise")
    pledge = CommunityPledge(team_id=team.id, title=title, promise=promise, created_by_id=author.id)
    session.add(pledge)
    session.flush()
    return pledge


def standing_signature(session: Session, community_pledge_id: int, person_id: int) -> PledgeSignature | None:
    return session.execute(select(PledgeSignature).where(
        PledgeSignature.community_pledge_id == community_pledge_id, PledgeSignature.person_id == person_id,
        PledgeSignature.withdrawn_at.is_(None))).scalar_one_or_none()


def sign(*, session: Session, community_pledge: CommunityPledge, person: Person, anonymous: bool) -> PledgeSignature:
    """Sign by name or anonymously; once per person (a unique index backs this up). Refused
    (EmailNotConfirmed) until the person has confirmed their email address."""
    require_confirmed(person, "sign pledges")
    if standing_signature(session, community_pledge.id, person.id) is not None:
        raise AlreadySigned(_("You have already signed this pledge."))
    signature = PledgeSignature(community_pledge_id=community_pledge.id, person_id=person.id,
                                anonymous=anonymous)
    try:
        with session.begin_nested():
            session.add(signature)
            session.flush()
    except IntegrityError:
        raise AlreadySigned(_("You have already signed this pledge.")) from None
    return signature


def withdraw_signature(*, session: Session, community_pledge: CommunityPledge, person: Person) -> PledgeSignature:
    signature = standing_signature(session, community_pledge.id, person.id)
    if signature is None:
        raise PledgeError(_("You have not signed this pledge."))
    signature.withdrawn_at = utcnow()
    session.add(signature)
    session.flush()
    return signature


def signature_count(session: Session, community_pledge_id: int) -> int:
    return int(session.execute(select(func.count(PledgeSignature.id)).where(
        PledgeSignature.community_pledge_id == community_pledge_id,
        PledgeSignature.withdrawn_at.is_(None))).scalar_one())


def named_signers(session: Session, community_pledge_id: int) -> list[str]:
    """The names of people who signed by name, in order of signing."""
    return list(session.execute(
        select(Person.name).join(PledgeSignature, PledgeSignature.person_id == Person.id).where(
            PledgeSignature.community_pledge_id == community_pledge_id, PledgeSignature.withdrawn_at.is_(None),
            PledgeSignature.anonymous.is_(False)).order_by(PledgeSignature.id)).scalars())


def community_pledges(session: Session, team: Team) -> list[tuple[CommunityPledge, int]]:
    rows = session.execute(select(CommunityPledge).where(CommunityPledge.team_id == team.id)
                           .order_by(CommunityPledge.id)).scalars()
    return [(cp, signature_count(session, cp.id)) for cp in rows]


# --------------------------------------------------------------------------- social value rate


def hourly_rate_pence(session: Session) -> int:
    """Finance's notional hourly rate (default: the National Living Wage)."""
    rate = session.execute(select(SocialValueRate.hourly_pence).order_by(SocialValueRate.id.desc())
                           .limit(1)).scalar_one_or_none()
    return rate if rate is not None else DEFAULT_HOURLY_PENCE


def set_hourly_rate(*, session: Session, hourly_pence: int, actor: Person) -> SocialValueRate:
    if not actor.is_finance:
        raise PledgeError(_("Only finance can set the hourly rate."))
    if hourly_pence is None or not 0 < hourly_pence <= 100_000:
        raise PledgeError(_("The hourly rate must be more than £0 and at most £1,000."), "rate")
    row = SocialValueRate(hourly_pence=hourly_pence, set_by_id=actor.id)
    session.add(row)
    audit(session, actor_id=actor.id, action="social_value_rate", subject=f"{format_gbp(hourly_pence)} an hour")
    session.flush()
    return row


def value_of_minutes(minutes: int, hourly_pence: int) -> int:
    return (minutes * hourly_pence + 30) // 60


def _goods_value(pledge: Pledge, quantity: int) -> int:
    if not pledge.estimated_value_pence or not pledge.quantity:
        return 0
    return pledge.estimated_value_pence * min(quantity, pledge.quantity) // pledge.quantity


# --------------------------------------------------------------------------- the wall


@dataclass
class PledgeLine:
    pledge: Pledge
    received_pence: int = 0
    given_minutes: int = 0
    promised_minutes: int = 0
    deliveries: int = 0
    delivered_quantity: int = 0


@dataclass
class Totals:
    money_promised_pence: int = 0
    money_received_pence: int = 0
    gifts_pence: int = 0
    hours_promised_minutes: int = 0
    hours_given_minutes: int = 0
    goods_delivered: int = 0
    goods_value_pence: int = 0
    space_uses: int = 0
    space_value_pence: int = 0
    hourly_pence: int = DEFAULT_HOURLY_PENCE

    @property
    def time_value_pence(self) -> int:
        return value_of_minutes(self.hours_given_minutes, self.hourly_pence)

    @property
    def social_value_pence(self) -> int:
        """Time at the notional rate plus goods and rooms at their estimated value. Not cash."""
        return self.time_value_pence + self.goods_value_pence + self.space_value_pence


@dataclass
class Wall:
    current: list[PledgeLine] = field(default_factory=list)
    delivered: list[PledgeLine] = field(default_factory=list)
    closed: list[PledgeLine] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)


def wall(*, session: Session, team: Team, include_private: bool) -> Wall:
    """The team's pledges, split into current / delivered / withdrawn-or-lapsed, with totals.
    The public wall (``include_private=False``) leaves private pledges out entirely."""
    query = select(Pledge).where(Pledge.team_id == team.id)
    if not include_private:
        query = query.where(Pledge.visibility != Visibility.PRIVATE.value)
    pledges = list(session.execute(query.order_by(Pledge.id.desc())).scalars())
    result = Wall(totals=Totals(hourly_pence=hourly_rate_pence(session)))
    t = result.totals
    for pledge in pledges:
        line = PledgeLine(pledge=pledge)
        if pledge.kind == PledgeKind.MONEY:
            line.received_pence = received_pence(session, pledge.id)
            if pledge.gift_of_pledge_id is None:
                t.money_promised_pence += pledge.amount_pence if pledge.status != PledgeStatus.WITHDRAWN else 0
            else:
                t.gifts_pence += line.received_pence
            t.money_received_pence += line.received_pence
        elif pledge.kind == PledgeKind.TIME:
            line.given_minutes = given_minutes(session, pledge.id)
            line.promised_minutes = promised_minutes(pledge)
            if pledge.status != PledgeStatus.WITHDRAWN:
                t.hours_promised_minutes += line.promised_minutes
            t.hours_given_minutes += line.given_minutes
        else:
            line.deliveries, line.delivered_quantity = delivered(session, pledge.id)
            if pledge.kind == PledgeKind.GOODS:
                t.goods_delivered += line.delivered_quantity
                t.goods_value_pence += _goods_value(pledge, line.delivered_quantity)
            else:
                t.space_uses += line.deliveries
                t.space_value_pence += (pledge.estimated_value_pence or 0) * line.deliveries
        if pledge.is_open:
            result.current.append(line)
        elif pledge.status == PledgeStatus.FULFILLED:
            result.delivered.append(line)
        else:
            result.closed.append(line)
    return result


def public_name(pledge: Pledge) -> str:
    if pledge.visibility == Visibility.PUBLIC_ANONYMOUS:
        return "Anonymous"
    return pledge.pledger_name


def fulfilments(session: Session, pledge_id: int) -> list[PledgeFulfilment]:
    return list(session.execute(select(PledgeFulfilment).where(PledgeFulfilment.pledge_id == pledge_id)
                                .order_by(PledgeFulfilment.effective_date, PledgeFulfilment.id)).scalars())


def events(session: Session, pledge_id: int) -> list[PledgeEvent]:
    return list(session.execute(select(PledgeEvent).where(PledgeEvent.pledge_id == pledge_id)
                                .order_by(PledgeEvent.id)).scalars())


# --------------------------------------------------------------------------- monthly memorandum


@dataclass(frozen=True)
class Memorandum:
    """Pledges in one month for the statement's memorandum section (never cash).

    Promised: money and time pledges *made* in the month (gifts beyond a pledge are counted
    as received, not promised). Received / given / delivered: fulfilments dated in the month.
    Social value: hours given × the hourly rate, plus goods and rooms delivered at their estimates.
    """

    money_promised_pence: int
    money_received_pence: int
    hours_promised: Decimal
    hours_given: Decimal
    goods_count: int
    goods_value_pence: int
    space_count: int
    space_value_pence: int
    social_value_pence: int
    hourly_pence: int


def _created_in(start: dt.date, end: dt.date):
    low, high = london_midnight(start), london_midnight(end)  # the council's month, in UTC
    return Pledge.created_at >= low, Pledge.created_at < high


def memorandum(session: Session, team_id: int, month_start: dt.date, next_month_start: dt.date) -> Memorandum:
    rate = hourly_rate_pence(session)
    made = list(session.execute(select(Pledge).where(
        Pledge.team_id == team_id, Pledge.gift_of_pledge_id.is_(None),
        *_created_in(month_start, next_month_start))).scalars())
    money_promised = sum(p.amount_pence for p in made if p.kind == PledgeKind.MONEY)
    minutes_promised = sum(promised_minutes(p) for p in made if p.kind == PledgeKind.TIME)
    rows = session.execute(select(PledgeFulfilment, Pledge).join(Pledge, Pledge.id == PledgeFulfilment.pledge_id)
                           .where(PledgeFulfilment.team_id == team_id,
                                  PledgeFulfilment.effective_date >= month_start,
                                  PledgeFulfilment.effective_date < next_month_start)).all()
    received = minutes = goods = goods_value = space = space_value = 0
    for row, pledge in rows:
        if row.kind == FulfilmentKind.MONEY:
            received += row.amount_pence
        elif row.kind == FulfilmentKind.HOURS:
            minutes += row.minutes
        elif pledge.kind == PledgeKind.GOODS:
            goods += row.quantity or 0
            goods_value += _goods_value(pledge, row.quantity or 0)
        else:
            space += 1
            space_value += pledge.estimated_value_pence or 0
    return Memorandum(
        money_promised_pence=money_promised, money_received_pence=received,
        hours_promised=Decimal(minutes_promised) / 60, hours_given=Decimal(minutes) / 60,
        goods_count=goods, goods_value_pence=goods_value, space_count=space, space_value_pence=space_value,
        social_value_pence=value_of_minutes(minutes, rate) + goods_value + space_value, hourly_pence=rate)


def journal_entry(session: Session, entry_id: int | None) -> JournalEntry | None:
    return session.get(JournalEntry, entry_id) if entry_id else None
