"""Delivery residents can follow (issue 17): the milestones of a funded idea, its progress, the
money spent against it next to what the vote committed, and "done" with a closing note.

Rules as in ``votes.services``: ``session`` keyword-only, flush never commit, refusals raise
:class:`VotesError` with a message safe to show (``field`` names the form field). Who may call
the writing functions (the team's members and enabler, signed in with their second factor) is
checked by the views' ``team_staff``; the functions check the idea is the team's and funded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from community.db import london_today, utcnow
from community.i18n import _, ngettext
from community.models import Team
from community.team_sections import Section
from ledger import services as ledger
from ledger.errors import IdempotencyConflict
from ledger.models import Hold, HoldStatus
from votes import signals
from votes.errors import VotesError
from votes.models import Idea, IdeaStatus, IdeaUpdate, Milestone, RoundIdea

DELIVERING = (IdeaStatus.FUNDED.value, IdeaStatus.IN_DELIVERY.value)
FUNDED_STATES = (*DELIVERING, IdeaStatus.DONE.value)


def _text(value: str | None, limit: int, field: str, *, required: str | None = None) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise VotesError(required, field=field)
        return None
    if len(value) > limit:
        raise VotesError(_("Must be %(limit)s characters or fewer.", limit=limit), field=field)
    return value


# Test seams, as in ledger.journal: the race test turns the idea's row lock off to show that the
# test can fail, and may pause between reading the idea and writing "done".
_LOCKING = True
_BETWEEN_READ_AND_WRITE: Callable[[], None] | None = None


def _funded_idea(session: Session, team: Team, idea_id: int, *, open_only: bool = True) -> Idea:
    # Read afresh under the lock: the view has loaded the idea into this session already, and a
    # copy from before the lock could still say "in delivery" after another request made it done.
    query = select(Idea).where(Idea.id == idea_id).execution_options(populate_existing=True)
    idea = session.execute(query.with_for_update() if _LOCKING else query).scalar_one_or_none()
    if idea is None or idea.team_id != team.id:
        raise VotesError(_("That idea does not exist."))
    if idea.status not in (DELIVERING if open_only else FUNDED_STATES):
        raise VotesError(_("This idea is done: its steps can no longer change.") if idea.status == "done"
                         else _("Only funded ideas have delivery steps."))
    return idea


def _check_done_on(done_on: dt.date | None, today: dt.date) -> None:
    # A step may be done before its planned day (delivery can be early), never in the future.
    if done_on is not None and done_on > today:
        raise VotesError(_("The date it was done must be today or in the past."), field="done_on")


def _milestone(session: Session, idea: Idea, milestone_id: int) -> Milestone:
    row = session.get(Milestone, milestone_id)
    if row is None or row.idea_id != idea.id:
        raise VotesError(_("That step does not exist."))
    return row


def add_milestone(*, session: Session, team: Team, idea_id: int, actor_id: int, title: str,
                  planned_on: dt.date | None, note: str | None = None, done_on: dt.date | None = None,
                  photo: tuple[str, str] | None = None, today: dt.date | None = None) -> Milestone:
    """Add a step to a funded idea (it moves to "in delivery"). ``photo``: (reference, content
    type) of a photo already stored by community.images."""
    idea = _funded_idea(session, team, idea_id)
    if planned_on is None:
        raise VotesError(_("Enter the date it is planned for."), field="planned_on")
    _check_done_on(done_on, today or london_today())
    row = Milestone(idea_id=idea.id, title=_text(title, 120, "title", required=_("Enter what the step is")),
                    planned_on=planned_on, done_on=done_on, note=_text(note, 1000, "note"), created_by_id=actor_id,
                    photo_ref=photo[0] if photo else None, photo_type=photo[1] if photo else None)
    session.add(row)
    if idea.status == IdeaStatus.FUNDED.value:
        idea.status = IdeaStatus.IN_DELIVERY.value
    idea.updated_at = utcnow()
    session.flush()
    signals.milestone_changed.send(None, session=session, idea=idea, milestone=row,
                                   event=f"milestone:{row.id}:{'done' if done_on else 'added'}")
    return row


def edit_milestone(*, session: Session, team: Team, idea_id: int, milestone_id: int, title: str,
                   planned_on: dt.date | None, note: str | None, done_on: dt.date | None,
                   photo: tuple[str, str] | None = None, today: dt.date | None = None) -> tuple[Milestone, str | None]:
    """Change a step; completing it (a done date where there was none) tells supporters and
    voters. Returns the step and the reference of a photo it no longer shows (to remove)."""
    idea = _funded_idea(session, team, idea_id)
    row = _milestone(session, idea, milestone_id)
    if planned_on is None:
        raise VotesError(_("Enter the date it is planned for."), field="planned_on")
    _check_done_on(done_on, today or london_today())
    completed = row.done_on is None and done_on is not None
    row.title = _text(title, 120, "title", required=_("Enter what the step is"))
    row.planned_on, row.done_on, row.note = planned_on, done_on, _text(note, 1000, "note")
    replaced = None
    if photo:
        replaced = row.photo_ref
        row.photo_ref, row.photo_type = photo
    row.updated_at = idea.updated_at = utcnow()
    session.flush()
    if completed:
        signals.milestone_changed.send(None, session=session, idea=idea, milestone=row,
                                       event=f"milestone:{row.id}:done")
    return row, replaced


def complete_milestone(*, session: Session, team: Team, idea_id: int, milestone_id: int,
                       done_on: dt.date | None = None, today: dt.date | None = None) -> Milestone:
    """Mark a step done (today unless said); done twice is a no-op (told once)."""
    idea = _funded_idea(session, team, idea_id)
    row = _milestone(session, idea, milestone_id)
    today = today or london_today()
    if row.done_on is not None:
        return row
    _check_done_on(done_on, today)
    row.done_on = done_on or today
    row.updated_at = idea.updated_at = utcnow()
    session.flush()
    signals.milestone_changed.send(None, session=session, idea=idea, milestone=row, event=f"milestone:{row.id}:done")
    return row


def mark_done(*, session: Session, team: Team, idea_id: int, actor_id: int, closing_note: str,
              idempotency_key: str | None = None, expected_release_pence: int | None = None) -> Idea:
    """The idea is delivered: "done" with a closing note residents see (and are told), and what is
    left of its commitment goes back to the team's budget (``ledger.release_hold``), in the same
    transaction. Nothing is released when nothing is left (spend used it all, or went beyond it).

    ``expected_release_pence`` is what the page showed would go back: if the commitment changed
    since (spend drew on it), nothing is done and the page shows the new figures. The same
    ``idempotency_key`` again (a double submit) returns the idea as the first call left it;
    without one (the demo) the release is recorded under the idea's own key.
    Locks: the idea's commitment (hold) first, then the idea, the order quick spend's approval
    takes them in. Raises VotesError (done already, not funded, no closing note, figures changed)
    and the ledger's IdempotencyConflict."""
    key = idempotency_key or f"votes:idea:{idea_id}:leftover"
    hold_id = session.execute(select(Idea.hold_id).where(Idea.id == idea_id)).scalar()
    held = ledger.lock_hold(session=session, hold_id=hold_id) if hold_id is not None else None
    if idempotency_key and _released_under(session, key, idea_id):  # under the lock: a twin in flight is done
        return session.get(Idea, idea_id)
    idea = _funded_idea(session, team, idea_id)
    note = _text(closing_note, 2000, "closing_note", required=_("Enter a closing note: what was delivered"))
    release = held.amount_pence if held is not None and held.status == HoldStatus.OPEN.value else 0
    if idea.hold_id != hold_id or (expected_release_pence is not None and expected_release_pence != release):
        raise VotesError(_("The money for this idea changed while the page was open. Check the figures "
                           "below, then mark it done again."))
    if _BETWEEN_READ_AND_WRITE is not None:
        _BETWEEN_READ_AND_WRITE()
    if release:
        ledger.release_hold(session=session, hold_id=held.id, actor_id=actor_id, idempotency_key=key)
    idea.status, idea.closing_note, idea.updated_at = IdeaStatus.DONE.value, note, utcnow()
    update_row = IdeaUpdate(idea_id=idea.id, author_id=actor_id, status="done", text=note[:1000])
    session.add(update_row)
    session.flush()
    signals.milestone_changed.send(None, session=session, idea=idea, milestone=None, event=f"idea:{idea.id}:done")
    return idea


def _released_under(session: Session, key: str, idea_id: int) -> bool:
    """Whether this key already released this idea's commitment (the same form sent twice)."""
    record = ledger.get_request_record(session=session, idempotency_key=key)
    if record is None:
        return False
    idea = session.execute(select(Idea).where(Idea.id == idea_id)
                           .execution_options(populate_existing=True)).scalar_one_or_none()
    if record.operation != ledger.RELEASE or idea is None or idea.hold_id != record.hold_id:
        raise IdempotencyConflict(_("This form was already used for something else, so nothing was saved. "
                                    "Reload the page and try again."))
    return idea.status == IdeaStatus.DONE.value


def milestones_of(*, session: Session, idea_id: int) -> list[Milestone]:
    return list(session.execute(select(Milestone).where(Milestone.idea_id == idea_id)
                                .order_by(Milestone.planned_on, Milestone.id)).scalars())


# --------------------------------------------------------------------------- what residents see


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    status: str

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else (100 if self.status == "done" else 0)

    @property
    def label(self) -> str:
        if self.status == IdeaStatus.DONE.value:
            return _("Done")
        if not self.total:
            return _("Funded: no steps planned yet")
        return ngettext("%(done)s of %(num)s step done", "%(done)s of %(num)s steps done", self.total, done=self.done)


def progress(*, session: Session, idea_ids: list[int]) -> dict[int, Progress]:
    """Steps done and planned for each of these ideas (one query), with their status."""
    if not idea_ids:
        return {}
    rows = session.execute(
        select(Idea.id, Idea.status, func.count(Milestone.id), func.count(Milestone.done_on))
        .outerjoin(Milestone, Milestone.idea_id == Idea.id).where(Idea.id.in_(idea_ids)).group_by(Idea.id, Idea.status)
    ).all()
    return {idea_id: Progress(done, total, status) for idea_id, status, total, done in rows}


@dataclass(frozen=True)
class Money:
    """What the vote committed to an idea, what has been paid against it (quick spend, from the
    ledger's settled holds: votes.ports), what is still committed for it on the ledger and, once
    it is done, what went back to the team's budget."""

    committed_pence: int
    paid_pence: int
    held_pence: int  # the idea's open hold on the ledger (what spend can still draw on)
    released_pence: int = 0  # what was left when it was marked done, given back to the budget

    @property
    def other_pence(self) -> int:
        """Approved and not yet paid, or released when a payment came in under its approval."""
        return max(self.committed_pence - self.paid_pence - self.held_pence - self.released_pence, 0)


def money(*, session: Session, idea: Idea, paid_lines: list) -> Money:
    committed = 0
    if idea.funded_round_id is not None:
        committed = session.execute(select(RoundIdea.cost_pence).where(
            RoundIdea.round_id == idea.funded_round_id, RoundIdea.idea_id == idea.id)).scalar() or 0
    held = released = 0
    if idea.hold_id is not None:
        hold = session.get(Hold, idea.hold_id)
        if hold is not None and hold.status == HoldStatus.OPEN.value:
            held = hold.amount_pence
        elif hold is not None and hold.status == HoldStatus.VOIDED.value and idea.status == IdeaStatus.DONE.value:
            # Spend that draws on the commitment re-points the idea at what is left (or at none), so
            # a done idea still pointing at a voided hold is one whose leftover went back when done.
            released = hold.amount_pence
    return Money(int(committed), sum(int(line.amount_pence) for line in paid_lines), int(held), int(released))


@dataclass(frozen=True)
class Leftover:
    """What marking an idea done will do with its money, shown before it is done: of what the
    vote committed, what was paid, what approved spend still waits to be paid (it stays committed
    to that spend) and what goes back to the team's budget (the idea's open commitment)."""

    committed_pence: int
    paid_pence: int
    waiting_pence: int
    release_pence: int

    @property
    def beyond_pence(self) -> int:
        """Spend approved beyond the commitment: from the team's budget, under the usual limits."""
        return max(self.paid_pence + self.waiting_pence - self.committed_pence, 0)

    @property
    def earlier_pence(self) -> int:
        """Given back already, when spend was paid for less than it was approved for."""
        return max(self.committed_pence - self.paid_pence - self.waiting_pence - self.release_pence, 0)


def leftover_of(*, session: Session, idea: Idea, paid_lines: list, waiting_pence: int) -> Leftover:
    """What "mark done" would release for this idea now (``paid_lines`` and ``waiting_pence`` from
    quick spend, through votes.ports); :func:`mark_done` releases exactly ``release_pence``."""
    figures = money(session=session, idea=idea, paid_lines=paid_lines)
    return Leftover(figures.committed_pence, figures.paid_pence, int(waiting_pence), figures.held_pence)


def funded_of_team(*, session: Session, team_id: int) -> list[tuple[Idea, Progress]]:
    """The team's funded ideas (funded, in delivery, done) with where each is, newest first: one
    query (grouped by the idea's key, which PostgreSQL accepts for the idea's other columns)."""
    rows = session.execute(
        select(Idea, func.count(Milestone.id), func.count(Milestone.done_on))
        .outerjoin(Milestone, Milestone.idea_id == Idea.id)
        .where(Idea.team_id == team_id, Idea.status.in_(FUNDED_STATES))
        .group_by(Idea.id).order_by(Idea.updated_at.desc(), Idea.id.desc())
    ).all()
    return [(idea, Progress(done, total, idea.status)) for idea, total, done in rows]


@dataclass(frozen=True)
class Delivery:
    """What a funded idea's page shows of its delivery: the steps, where it is, the money."""

    steps: list[Milestone]
    progress: Progress
    money: Money
    spend: list


def delivery_of(*, session: Session, idea: Idea, paid_lines: list) -> Delivery | None:
    """The delivery of a funded, in-delivery or done idea (None for any other idea)."""
    if idea.status not in FUNDED_STATES:
        return None
    return Delivery(steps=milestones_of(session=session, idea_id=idea.id),
                    progress=progress(session=session, idea_ids=[idea.id])[idea.id],
                    money=money(session=session, idea=idea, paid_lines=paid_lines), spend=paid_lines)


def step_of(*, session: Session, team: Team, idea_id: int, milestone_id: int) -> Milestone | None:
    """A step of one of the team's funded ideas, as residents may see it (None otherwise)."""
    return session.execute(
        select(Milestone).join(Idea, Idea.id == Milestone.idea_id)
        .where(Milestone.id == milestone_id, Milestone.idea_id == idea_id, Idea.team_id == team.id,
               Idea.status.in_(FUNDED_STATES))
    ).scalar_one_or_none()


def team_section(session: Session, team: Team) -> Section | None:
    """The team page's "where funded ideas are" section (community.team_sections), or None."""
    funded = funded_of_team(session=session, team_id=team.id)
    return Section("votes/_team_delivery.html", {"funded": funded, "team": team}) if funded else None
