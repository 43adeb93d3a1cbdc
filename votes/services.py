"""Use cases of the votes domain: ideas, supports, review, rounds, ballots, paper ballots,
closing and tallying a round, delivery tracking.

Rules every function here follows (as in ``ledger.services``): ``session`` is keyword-only;
functions may flush but never commit (the caller commits once); refusals raise a
:class:`VotesError` whose message is safe to show. Money is integer pence.

Secrecy of the ballot: an online ballot row holds ``voter_key = HMAC(app secret, "round:person")``
and the choices, never the person id. Only the voter (who knows their own id) can find their
ballot again, to show it on their receipt page or replace it. No page or query lists ballots
per person; the team and the results page only see totals.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from community.db import read_columns, utcnow
from community.formatting import gbp, london_datetime
from community.i18n import _, lazy_gettext, ngettext
from community.models import Membership, Person, Team
from community.services import check_voting_code, require_confirmed, use_voting_code
from ledger import services as ledger
from ledger.descriptions import DESCRIPTIONS
from votes import signals
from votes.errors import BrokenRule, NoIdeas, NotEligible, OverBudget, RoundClosed, TooManyIdeas, VotesError
from votes.models import (
    IDEA_CATEGORIES,
    Ballot,
    BallotType,
    Idea,
    IdeaStatus,
    IdeaSupport,
    IdeaUpdate,
    PaperDecision,
    PaperKeying,
    Round,
    RoundIdea,
    RoundRule,
)
from votes.tally import tally

MAX_PENCE = 10**11
HOLD_CATEGORY = "participatory budget"

# Test seam: a pause just before a ballot is written (after the round and rules are read).
_BETWEEN_READ_AND_WRITE: Callable[[], None] | None = None


# --------------------------------------------------------------------------- helpers


# What each text or amount is called in its refusals, as whole sentences so that each language
# words them its own way (a "what" spliced into an English sentence cannot be translated). Lazy:
# looked up in the language of the request (or email) that is refused, not at import.
_TEXTS = {
    "title": (lazy_gettext("Enter a title."), lazy_gettext("The title must be %(limit)s characters or fewer.")),
    "description": (lazy_gettext("Enter what it is and who it helps."),
                    lazy_gettext("What it is and who it helps must be %(limit)s characters or fewer.")),
    "note": (lazy_gettext("Enter a note."), lazy_gettext("The note must be %(limit)s characters or fewer.")),
    "update": (lazy_gettext("Enter a short update."),
               lazy_gettext("The update must be %(limit)s characters or fewer.")),
    "reason": (lazy_gettext("Enter the reason for the decision."),
               lazy_gettext("The reason for the decision must be %(limit)s characters or fewer.")),
}
_AMOUNTS = {
    "estimated_cost": (lazy_gettext("Enter an estimated cost of more than £0."),
                       lazy_gettext("The estimated cost is too large.")),
    "team_cost": (lazy_gettext("Enter the team's cost estimate of more than £0."),
                  lazy_gettext("The team's cost estimate is too large.")),
    "budget": (lazy_gettext("Enter a budget of more than £0."), lazy_gettext("The budget is too large.")),
}


def _clean(text: str | None, limit: int, what: str, *, required: bool = True) -> str:
    """``text`` with its spaces tidied; refused when empty (if required) or longer than ``limit``.
    ``what`` is a key of ``_TEXTS``."""
    value = " ".join((text or "").split()) if limit <= 200 else (text or "").strip()
    missing, too_long = _TEXTS[what]
    if required and not value:
        raise VotesError(str(missing))
    if len(value) > limit:
        raise VotesError(too_long % {"limit": limit})
    return value


def _check_pence(amount: int | None, what: str, *, field: str | None = None) -> int:
    """A positive amount of pence up to ``MAX_PENCE``; ``what`` is a key of ``_AMOUNTS``."""
    missing, too_large = _AMOUNTS[what]
    if amount is None or not isinstance(amount, int) or amount <= 0:
        raise VotesError(str(missing), field=field)
    if amount > MAX_PENCE:
        raise VotesError(str(too_large), field=field)
    return amount


def is_resident(person: Person | None, team: Team) -> bool:
    """Eligibility: the person's home place is the team's place."""
    return person is not None and person.place_id is not None and person.place_id == team.place_id


_RESIDENTS_ONLY = {
    "propose": lazy_gettext("Only residents of this team's place can propose ideas here. Your account's postcode "
                            "is not in this place (change it on your account page if you have moved)."),
    "support": lazy_gettext("Only residents of this team's place can support ideas here. Your account's postcode "
                            "is not in this place (change it on your account page if you have moved)."),
}


def _require_resident(person: Person, team: Team, doing: str) -> None:
    """Refuse (NotEligible) someone who does not live in the team's place; ``doing`` is a key of
    ``_RESIDENTS_ONLY``."""
    if not is_resident(person, team):
        raise NotEligible(str(_RESIDENTS_ONLY[doing]))


def _audit(session: Session, actor_id: int | None, action: str, subject: str) -> None:
    from community.models import AuditEvent

    session.add(AuditEvent(actor_id=actor_id, action=action, subject=subject[:200]))


def _lock_idea(session: Session, idea_id: int) -> Idea:
    idea = session.execute(select(Idea).where(Idea.id == idea_id).with_for_update()).scalar_one_or_none()
    if idea is None:
        raise VotesError(_("That idea does not exist."))
    return idea


def _lock_round(session: Session, round_id: int) -> Round:
    rnd = session.execute(select(Round).where(Round.id == round_id).with_for_update()).scalar_one_or_none()
    if rnd is None:
        raise VotesError(_("That round does not exist."))
    return rnd


# --------------------------------------------------------------------------- ideas


def propose_idea(
    *, session: Session, team: Team, proposer: Person, title: str, description: str, estimated_cost_pence: int,
    as_team: bool = False, category: str | None = None, photo: tuple[str, str] | None = None,
) -> Idea:
    """A resident proposes an idea for their place. With ``as_team`` a member or the enabler of
    the team proposes it instead (for a resident who is not online, or spend above the team's
    limits, which needs a resident vote); it goes through the same review and vote."""
    if as_team:
        if not session.execute(
            select(Membership.id).where(Membership.team_id == team.id, Membership.person_id == proposer.id)
        ).first():
            raise NotEligible(_("Only this team's members and enabler can propose ideas for the team."))
    else:
        _require_resident(proposer, team, "propose")
        require_confirmed(proposer, "propose ideas")
    idea = Idea(
        team_id=team.id,
        proposer_id=proposer.id,
        title=_clean(title, 120, "title"),
        description=_clean(description, 4000, "description"),
        estimated_cost_pence=_check_pence(estimated_cost_pence, "estimated_cost"),
        category=_category(category),
        photo_ref=photo[0] if photo else None, photo_type=photo[1] if photo else None,
    )
    session.add(idea)
    session.flush()
    return idea


def _category(category: str | None) -> str | None:
    """A category from the fixed list (IDEA_CATEGORIES), or None; VotesError beside the field."""
    if not category:
        return None
    if category not in IDEA_CATEGORIES:
        raise VotesError(_("Choose a category from the list."), field="category")
    return category


def edit_idea(
    *, session: Session, idea_id: int, person: Person, title: str, description: str, estimated_cost_pence: int,
    category: str | None = None, photo: tuple[str, str] | None = None, remove_photo: bool = False,
) -> Idea:
    """The proposer changes an idea the team sent back (its category and photo too); it goes back
    for review. ``photo`` (already stored) replaces the idea's photo; ``remove_photo`` drops it.
    The caller removes the file of a photo the idea no longer shows, once this is committed."""
    idea = _lock_idea(session, idea_id)
    if idea.proposer_id != person.id:
        raise VotesError(_("Only the person who proposed this idea can change it."))
    if idea.status not in (IdeaStatus.PROPOSED, IdeaStatus.NEEDS_CHANGES):
        raise VotesError(_("This idea has been reviewed and can no longer be changed."))
    idea.title = _clean(title, 120, "title")
    idea.description = _clean(description, 4000, "description")
    idea.estimated_cost_pence = _check_pence(estimated_cost_pence, "estimated_cost")
    idea.category = _category(category)
    if photo or remove_photo:
        idea.photo_ref, idea.photo_type = photo or (None, None)
    idea.status = IdeaStatus.PROPOSED.value
    idea.updated_at = utcnow()
    session.flush()
    return idea


def support(*, session: Session, idea_id: int, person: Person) -> bool:
    """Support an idea (idempotent). Returns True when a support was added."""
    idea = session.get(Idea, idea_id)
    if idea is None or idea.status == IdeaStatus.HIDDEN:
        raise VotesError(_("That idea does not exist."))
    team = session.get(Team, idea.team_id)
    _require_resident(person, team, "support")
    require_confirmed(person, "support ideas")
    if idea.status not in (IdeaStatus.PROPOSED, IdeaStatus.NEEDS_CHANGES, IdeaStatus.FEASIBLE):
        raise VotesError(_("This idea can no longer be supported."))
    exists = session.execute(
        select(IdeaSupport.id).where(IdeaSupport.idea_id == idea_id, IdeaSupport.person_id == person.id)
    ).first()
    if exists:
        return False
    try:
        with session.begin_nested():
            session.add(IdeaSupport(idea_id=idea_id, person_id=person.id))
            session.flush()
    except IntegrityError:  # a concurrent click: the database keeps one
        return False
    return True


def unsupport(*, session: Session, idea_id: int, person: Person) -> bool:
    """Withdraw a support. Returns True when one was removed."""
    result = session.execute(
        delete(IdeaSupport).where(IdeaSupport.idea_id == idea_id, IdeaSupport.person_id == person.id)
    )
    return bool(result.rowcount)


def support_count(*, session: Session, idea_id: int) -> int:
    return session.execute(select(func.count()).where(IdeaSupport.idea_id == idea_id)).scalar_one()


def supports(*, session: Session, idea_id: int, person: Person | None) -> bool:
    if person is None:
        return False
    return session.execute(
        select(IdeaSupport.id).where(IdeaSupport.idea_id == idea_id, IdeaSupport.person_id == person.id)
    ).first() is not None


REVIEW_DECISIONS = ("feasible", "needs_changes", "not_feasible", "hidden")


def review_idea(
    *,
    session: Session,
    team: Team,
    idea_id: int,
    reviewer_id: int,
    decision: str,
    team_cost_pence: int | None = None,
    note: str | None = None,
    category: str | None = "",
) -> Idea:
    """The team's review: feasible (with its cost estimate), needs changes (note), not
    feasible (reason) or hidden (reason). Ideas already on a ballot or funded are final."""
    idea = _lock_idea(session, idea_id)
    if idea.team_id != team.id:
        raise VotesError(_("That idea does not exist."))
    if decision not in REVIEW_DECISIONS:
        raise VotesError(_("Choose a decision."))
    if idea.status in (IdeaStatus.FUNDED, IdeaStatus.IN_DELIVERY, IdeaStatus.DONE):
        raise VotesError(_("This idea has been funded; its review can no longer change."))
    if _on_open_ballot(session, idea.id):
        raise VotesError(_("This idea is on the ballot of an open round; its review can no longer change."))
    note = _clean(note, 1000, "note", required=False) or None
    if decision == "feasible":
        idea.team_cost_pence = _check_pence(team_cost_pence, "team_cost")
    elif not note:
        raise VotesError(str(_NOTE_NEEDED[decision]))
    if category != "":  # "" leaves it as the proposer chose
        idea.category = _category(category)
    idea.status = decision
    idea.review_note = note
    idea.reviewed_by_id = reviewer_id
    idea.reviewed_at = idea.updated_at = utcnow()
    update_row = IdeaUpdate(idea_id=idea.id, author_id=reviewer_id, status=decision,
                            text=note or f"Feasible; the team estimates it costs {gbp(idea.team_cost_pence)}.",
                            kind=None if note else "feasible",
                            params=None if note else {"cost_pence": idea.team_cost_pence})
    session.add(update_row)
    if decision == "hidden":
        _audit(session, reviewer_id, "idea.hidden", f"idea {idea.id}: {note}")
    session.flush()
    signals.idea_reviewed.send(None, session=session, idea=idea, update=update_row)
    return idea


_NOTE_NEEDED = {"needs_changes": lazy_gettext("Enter a note saying what needs to change."),
                "not_feasible": lazy_gettext("Enter the reason it is not feasible."),
                "hidden": lazy_gettext("Enter the reason for hiding it.")}


def _on_open_ballot(session: Session, idea_id: int) -> bool:
    return session.execute(
        select(RoundIdea.id).join(Round, Round.id == RoundIdea.round_id)
        .where(RoundIdea.idea_id == idea_id, Round.status == "open")
    ).first() is not None


def visible_ideas(*, session: Session, team: Team) -> list[Row]:
    """Every idea of the team except hidden ones, newest first, as rows for the idea list: id,
    title, status, team_cost_pence, estimated_cost_pence and supporters (one query; no ORM
    objects, as the list only shows them)."""
    supporters = (select(func.count()).select_from(IdeaSupport)
                  .where(IdeaSupport.idea_id == Idea.id).correlate(Idea).scalar_subquery())
    return list(session.execute(
        select(Idea.id, Idea.title, Idea.status, Idea.team_cost_pence, Idea.estimated_cost_pence,
               supporters.label("supporters"))
        .where(Idea.team_id == team.id, Idea.status != IdeaStatus.HIDDEN.value)
        .order_by(Idea.created_at.desc(), Idea.id.desc())
    ))


# --------------------------------------------------------------------------- delivery

# An update may move an idea from funded to in delivery; it becomes done only through
# votes.delivery.mark_done, with the closing note residents see (ck_vote_idea_done_note).
DELIVERY_NEXT = {"funded": ("funded", "in_delivery"), "in_delivery": ("in_delivery",), "done": ("done",)}


def add_delivery_update(*, session: Session, team: Team, idea_id: int, author_id: int, status: str, text: str) -> IdeaUpdate:
    """A short update on a funded idea, optionally moving it from funded to in delivery (done is
    votes.delivery.mark_done's, with a closing note)."""
    idea = _lock_idea(session, idea_id)
    if idea.team_id != team.id:
        raise VotesError(_("That idea does not exist."))
    if idea.status not in DELIVERY_NEXT:
        raise VotesError(_("Only funded ideas have delivery updates."))
    if status == IdeaStatus.DONE.value and idea.status != IdeaStatus.DONE.value:
        raise VotesError(_("To mark the idea done, use “Mark the idea done” and write its closing note."),
                         field="status")
    if status not in DELIVERY_NEXT[idea.status]:
        raise VotesError(_("An idea moves from funded to in delivery to done, one step at a time."))
    update_row = IdeaUpdate(idea_id=idea.id, author_id=author_id, status=status,
                            text=_clean(text, 1000, "update"))
    idea.status = status
    idea.updated_at = utcnow()
    session.add(update_row)
    session.flush()
    signals.delivery_updated.send(None, session=session, idea=idea, update=update_row)
    return update_row


@dataclass(frozen=True)
class FundedIdea:
    """A funded idea quick spend may deliver, with the ledger commitment the vote left it."""

    id: int
    title: str
    hold_id: int | None


def funded_ideas(*, session: Session, team_id: int) -> list[FundedIdea]:
    """The team's funded ideas (won a resident vote, not yet done), oldest first."""
    rows = session.execute(
        select(Idea.id, Idea.title, Idea.hold_id)
        .where(Idea.team_id == team_id, Idea.status.in_((IdeaStatus.FUNDED.value, IdeaStatus.IN_DELIVERY.value)))
        .order_by(Idea.id)
    ).all()
    return [FundedIdea(*row) for row in rows]


def idea_commitment(*, session: Session, team_id: int, idea_id: int) -> FundedIdea | None:
    """The team's idea ``idea_id`` with its commitment, or None if it is another team's or has none."""
    idea = session.get(Idea, idea_id)
    if idea is None or idea.team_id != team_id or idea.hold_id is None:
        return None
    return FundedIdea(idea.id, idea.title, idea.hold_id)


def idea_for_return(*, session: Session, team_id: int, idea_id: int) -> FundedIdea | None:
    """The team's idea ``idea_id`` as it is now (read afresh), if it is still being delivered
    (funded or in delivery): cancelled spend that drew on its commitment goes back to it then."""
    idea = session.execute(select(Idea).where(Idea.id == idea_id, Idea.team_id == team_id)
                           .execution_options(populate_existing=True)).scalar_one_or_none()
    if idea is None or idea.status not in (IdeaStatus.FUNDED.value, IdeaStatus.IN_DELIVERY.value):
        return None
    return FundedIdea(idea.id, idea.title, idea.hold_id)


def recommit_idea(*, session: Session, idea_id: int, hold_id: int | None) -> None:
    """Point the idea at its new commitment (what is left after spend drew on it), or at none."""
    idea = session.get(Idea, idea_id)
    idea.hold_id = hold_id
    session.add(idea)


def updates_of(*, session: Session, idea_id: int) -> list[IdeaUpdate]:
    return list(session.execute(
        select(IdeaUpdate).where(IdeaUpdate.idea_id == idea_id).order_by(IdeaUpdate.created_at, IdeaUpdate.id)
    ).scalars())


# --------------------------------------------------------------------------- rounds


def open_round(
    *,
    session: Session,
    team: Team,
    actor_id: int,
    title: str,
    budget_pence: int,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    idea_ids: Iterable[int],
    ballot_type: str,
    rule: str,
    max_choices: int | None = None,
    idempotency_key: str,
) -> Round:
    """Open a round and hold its budget on the team's ledger (refused if over available).

    The same idempotency key with the same details returns the round it opened; with other
    details it is refused (VotesError) and nothing is written."""
    title = _clean(title, 120, "title")
    budget_pence = _check_pence(budget_pence, "budget", field="budget")
    if ballot_type not in {b.value for b in BallotType}:
        raise VotesError(_("Choose a ballot type."), field="ballot_type")
    if rule not in {r.value for r in RoundRule}:
        raise VotesError(_("Choose a rule."), field="rule")
    if ballot_type == BallotType.APPROVAL_K:
        if not max_choices or max_choices < 1:
            raise VotesError(_("Enter how many ideas each voter may choose (1 or more)."), field="max_choices")
    else:
        max_choices = None
    if closes_at <= opens_at:
        raise VotesError(_("The closing time must be after the opening time."), field="closes_at")
    if closes_at <= utcnow():
        raise VotesError(_("The closing time must be in the future."), field="closes_at")
    ids = sorted(set(idea_ids))
    if not ids:
        raise VotesError(_("Choose at least one feasible idea for the ballot."), field="ideas")
    earlier = _round_of_key(session, idempotency_key)
    if earlier is not None:
        same = (earlier.team_id, earlier.title, earlier.budget_pence, earlier.opens_at, earlier.closes_at,
                earlier.ballot_type, earlier.rule, earlier.max_choices,
                sorted(ri.idea_id for ri, _ in round_ideas(session=session, round_id=earlier.id)))
        if same == (team.id, title, budget_pence, opens_at, closes_at, ballot_type, rule, max_choices, ids):
            return earlier  # the same form sent again: the round it opened
        raise VotesError(_("This form was already used for another round, so nothing more was saved. "
                         "Start a fresh form if you still mean to open this one."))
    ideas = list(session.execute(select(Idea).where(Idea.id.in_(ids)).with_for_update()).scalars())
    if len(ideas) != len(ids) or any(i.team_id != team.id or i.status != IdeaStatus.FEASIBLE for i in ideas):
        raise VotesError(_("Only this team's feasible ideas can go on the ballot."), field="ideas")
    busy = [i.title for i in ideas if _on_open_ballot(session, i.id)]
    if busy:
        raise VotesError(_("Already on the ballot of an open round: %(titles)s.", titles=", ".join(busy)), field="ideas")
    rnd = Round(team_id=team.id, title=title, budget_pence=budget_pence, opens_at=opens_at,
                closes_at=closes_at, ballot_type=ballot_type, rule=rule, max_choices=max_choices,
                created_by_id=actor_id)
    session.add(rnd)
    session.flush()
    for idea in ideas:
        session.add(RoundIdea(round_id=rnd.id, idea_id=idea.id, cost_pence=idea.team_cost_pence))
    commitment = ledger.hold(session=session, team=team, amount_pence=budget_pence, category=HOLD_CATEGORY,
                             description=DESCRIPTIONS.english("round_hold", title=title), actor_id=actor_id,
                             idempotency_key=idempotency_key)
    rnd.hold_id = commitment.id
    _audit(session, actor_id, "round.opened", f"round {rnd.id}: {title} ({gbp(budget_pence)})")
    session.flush()
    signals.round_opened.send(None, session=session, rnd=rnd)
    return rnd


def _round_of_key(session: Session, idempotency_key: str) -> Round | None:
    """The round whose budget hold was made under this key; refused if the key held anything else."""
    record = ledger.get_request_record(session=session, idempotency_key=idempotency_key)
    if record is None:
        return None
    rnd = None
    if record.operation == "hold" and record.hold_id is not None:
        rnd = session.execute(select(Round).where(Round.hold_id == record.hold_id)).scalar_one_or_none()
    if rnd is None:
        raise VotesError(_("This form was already used for something else, so nothing was saved. "
                         "Start a fresh form."))
    return rnd


def round_ideas(*, session: Session, round_id: int) -> list[tuple[RoundIdea, Idea]]:
    rows = session.execute(
        select(RoundIdea, Idea).join(Idea, Idea.id == RoundIdea.idea_id)
        .where(RoundIdea.round_id == round_id).order_by(Idea.id)
    ).all()
    return [(ri, idea) for ri, idea in rows]


_ROUNDS_OF = (select(Round).where(Round.team_id == bindparam("team_id"))
              .order_by(Round.closes_at.desc(), Round.id.desc()))  # built once: the idea list and team pages


def rounds_of(*, session: Session, team: Team) -> list[Round]:
    return list(session.execute(_ROUNDS_OF, {"team_id": team.id}).scalars())


_OPEN_ROUNDS_OF = (select(Round.id, Round.title, Round.closes_at)
                   .where(Round.team_id == bindparam("team_id"), Round.status == "open")
                   .order_by(Round.closes_at.desc(), Round.id.desc()))


def open_rounds_listed(*, session: Session, team: Team) -> list:
    """The team's open rounds as rows of id, title and closes_at, in :func:`rounds_of`'s order
    (the idea list's "Voting is open" lines: three columns, not every round's entity)."""
    return read_columns(session, _OPEN_ROUNDS_OF, {"team_id": team.id}).all()


def is_open_for_voting(rnd: Round, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return rnd.status == "open" and rnd.opens_at <= now < rnd.closes_at


# --------------------------------------------------------------------------- ballots


def voter_key(secret: str | bytes, round_id: int, person_id: int) -> str:
    """HMAC-SHA256 of (round, person) under the app secret: the ballot's key, never the id."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"ballot:{round_id}:{person_id}".encode(), hashlib.sha256).hexdigest()


def _encode(choices: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(set(choices)))


def decode(choices: str) -> list[int]:
    return [int(c) for c in choices.split(",") if c]


@dataclass
class CheckedBallot:
    """A ballot checked against the round's rules: the chosen ideas and their total cost."""

    idea_ids: list[int]
    ideas: list[tuple[RoundIdea, Idea]]
    total_pence: int


@dataclass(frozen=True)
class _RoundRules:
    """What casting needs of a round that cannot change once it is opened: the ballot type and
    limits, the idea costs and titles and the team's place (see ``_rules``)."""

    costs: dict[int, int]
    titles: dict[int, str]
    ballot_type: str
    max_choices: int | None
    budget_pence: int
    place_id: int | None


# Per database (keyed by the engine's connection pool), the rules of recently used rounds.
_RULES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_RULES_KEPT = 256  # rounds per database; the oldest is dropped first


def _rules(session: Session, rnd: Round) -> _RoundRules:
    """The round's rules, read once per process and kept: nothing in them can change once the
    round is open (its ideas, their costs and titles, the ballot's type and limits, the team's
    place: ``open_round`` fixes them, an idea on an open ballot cannot be edited or re-reviewed,
    and no code edits a round or a team's place). The key includes the round's creation time,
    so a round number reused after a rolled-back round never finds the other round's rules."""
    bind = session.get_bind()
    per_database = _RULES.setdefault(bind.engine.pool, {})
    key = (rnd.id, rnd.team_id, rnd.created_at)
    rules = per_database.get(key)
    if rules is not None:
        return rules
    rows = session.execute(
        select(RoundIdea.idea_id, RoundIdea.cost_pence, Idea.title)
        .join(Idea, Idea.id == RoundIdea.idea_id).where(RoundIdea.round_id == rnd.id)
    ).all()
    place_id = session.execute(select(Team.place_id).where(Team.id == rnd.team_id)).scalar_one()
    rules = _RoundRules({r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows}, rnd.ballot_type,
                        rnd.max_choices, rnd.budget_pence, place_id)
    if len(per_database) >= _RULES_KEPT:
        per_database.pop(next(iter(per_database)), None)
    per_database[key] = rules
    return rules


def ballot_rule_broken(rules: _RoundRules, chosen: list[int]) -> BrokenRule | None:
    """The round's rules for a ballot, the same for online and paper ballots: at least one idea;
    "choose up to k": no more than k; "fit the budget": the ideas' costs add up to no more than
    the budget. Returns the broken rule (online refuses the ballot with its message, paper keeps
    it as spoilt with its reason), or None. ``chosen`` are ideas on this ballot."""
    total = sum(rules.costs[i] for i in chosen)
    # The message is the voter's, in their language; the reason is stored with a spoilt paper
    # ballot (the English record the team's paper page lists).
    if not chosen:
        return NoIdeas(_("Choose at least one idea."), "No idea was marked.")
    if rules.ballot_type == BallotType.APPROVAL_K and len(chosen) > (rules.max_choices or 0):
        return TooManyIdeas(
            ngettext("Choose no more than %(num)s idea; you chose %(chosen)s.",
                     "Choose no more than %(num)s ideas; you chose %(chosen)s.",
                     rules.max_choices or 0, chosen=len(chosen)),
            f"{len(chosen)} ideas were marked; voters may choose no more than {rules.max_choices}.")
    if rules.ballot_type == BallotType.KNAPSACK and total > rules.budget_pence:
        return OverBudget(_("Your choices cost %(total)s, more than the budget of %(budget)s. "
                            "Remove an idea and try again.", total=gbp(total), budget=gbp(rules.budget_pence)),
                          f"The ideas marked cost {gbp(total)}, more than the budget of {gbp(rules.budget_pence)}.")
    return None


def _on_ballot(rules: _RoundRules, idea_ids: Iterable[int]) -> list[int]:
    chosen = sorted(set(idea_ids))
    if any(i not in rules.costs for i in chosen):
        raise VotesError(_("Choose only ideas that are on this ballot."))
    return chosen


def _check(rules: _RoundRules, idea_ids: Iterable[int]) -> tuple[list[int], int]:
    chosen = _on_ballot(rules, idea_ids)
    broken = ballot_rule_broken(rules, chosen)
    if broken is not None:
        raise broken
    return chosen, sum(rules.costs[i] for i in chosen)


def check_ballot(*, session: Session, rnd: Round, idea_ids: Iterable[int], with_ideas: bool = True) -> CheckedBallot:
    """Refuse unknown ideas, too many ideas (approval up to k) and knapsack ballots over budget.
    ``with_ideas=False`` skips loading the ideas themselves (casting needs only ids and costs)."""
    chosen, total = _check(_rules(session, rnd), idea_ids)
    rows = []
    if with_ideas:
        wanted = set(chosen)
        rows = [r for r in round_ideas(session=session, round_id=rnd.id) if r[1].id in wanted]
    return CheckedBallot(chosen, rows, total)


def review_choices(*, session: Session, rnd: Round, person: Person | None, idea_ids: Iterable[int],
                   now: dt.datetime | None = None) -> CheckedBallot:
    """The "check your vote" step: the same refusals as casting (NotEligible, RoundClosed, the
    round's rules), with the chosen ideas and their total for the page. Nothing is written."""
    if not is_resident(person, session.get(Team, rnd.team_id)):
        raise NotEligible(_("Only residents of this team's place can vote in this round."))
    if not is_open_for_voting(rnd, now):
        raise RoundClosed(_("This round is not open for voting."))
    return check_ballot(session=session, rnd=rnd, idea_ids=idea_ids)


def receipt_email(*, session: Session, rnd: Round, team: Team, ballot: CastBallot | PlannedBallot, link: str) -> str:
    """The body of the receipt emailed after a vote, in the active language (the voter's own
    request): the ideas chosen, the reference, the link."""
    lines = chosen_titles(session=session, rnd=rnd, idea_ids=decode(ballot.choices))
    return _("Thank you for voting in %(round)s (%(team)s).\n\nYou chose:\n%(choices)s\nReceipt reference: "
             "%(reference)s\nYou can change your vote until the round closes; only your last vote counts.\n"
             "%(link)s\n", round=rnd.title, team=team.name, reference=ballot.reference, link=link,
             choices="".join(f"- {title} ({gbp(cost)})\n" for title, cost in lines))


def chosen_titles(*, session: Session, rnd: Round, idea_ids: Iterable[int]) -> list[tuple[str, int]]:
    """(title, cost) of the chosen ideas of a round, by idea number: the receipt email's lines,
    from the round's rules already read for the cast (titles cannot change while on a ballot)."""
    wanted = set(idea_ids)
    rules = _rules(session, rnd)
    return [(rules.titles[i], rules.costs[i]) for i in sorted(wanted) if i in rules.costs]


def _new_reference() -> str:
    return secrets.token_hex(5).upper()


@dataclass(frozen=True)
class CastBallot:
    """The ballot as stored after a cast: its row id, receipt reference and choices."""

    id: int
    round_id: int
    reference: str
    choices: str
    cast_at: dt.datetime


_UPSERTS: dict[str, object] = {}


def _upsert_statement(dialect_name: str):
    """``INSERT … ON CONFLICT (round_id, voter_key) DO UPDATE SET choices, cast_at RETURNING id,
    reference`` on the ballot table: the first submission inserts, a later one replaces the
    choices of the same row in the same statement (its receipt reference stays). Built once per
    dialect (SQLite ≥ 3.35 for RETURNING, PostgreSQL)."""
    stmt = _UPSERTS.get(dialect_name)
    if stmt is None:
        if dialect_name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        elif dialect_name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:  # pragma: no cover - the app runs on SQLite and PostgreSQL only
            raise RuntimeError(f"no ballot upsert for {dialect_name}")
        table = Ballot.__table__
        ins = dialect_insert(table).values(
            **{name: bindparam(name, type_=table.c[name].type)
               for name in ("round_id", "voter_key", "choices", "reference", "cast_at")},
            source="online")
        stmt = ins.on_conflict_do_update(
            index_elements=[table.c.round_id, table.c.voter_key],
            set_={"choices": ins.excluded.choices, "cast_at": ins.excluded.cast_at},
        ).returning(table.c.id, table.c.reference)
        _UPSERTS[dialect_name] = stmt
    return stmt


def cast_ballot(*, session: Session, rnd_id: int, person: Person, secret: str, idea_ids: Iterable[int],
                now: dt.datetime | None = None, writer: Session | None = None) -> CastBallot:
    """Cast or replace the person's ballot in one statement: an upsert on the row keyed by the
    database's unique (round, voter key), so two submissions at once leave exactly one ballot
    holding the last one's choices. The round's rules are read once per transaction; the
    closed-round trigger still guards the row.

    ``writer``, when given, is the session the upsert runs in (the reads stay in ``session``):
    the ballot view reads in its request session and writes in a short transaction of its own.
    Nothing read here can change while the round is open except its status, which the
    closed-round trigger re-checks at the write. The two halves are :func:`plan_ballot` and
    :func:`write_ballot`, for a caller with work to do between them (the view builds the
    receipt email before it takes the write lock)."""
    planned = plan_ballot(session=session, rnd_id=rnd_id, person=person, secret=secret, idea_ids=idea_ids, now=now)
    return write_ballot(writer=writer or session, planned=planned)


@dataclass(frozen=True)
class PlannedBallot:
    """A ballot that passed every check of :func:`cast_ballot`, not written yet: the row's
    values, with the receipt reference a first ballot will get (a replaced ballot keeps its own)."""

    round_id: int
    voter_key: str
    choices: str
    reference: str
    cast_at: dt.datetime


def plan_ballot(*, session: Session, rnd_id: int, person: Person, secret: str, idea_ids: Iterable[int],
                now: dt.datetime | None = None) -> PlannedBallot:
    """The reads and checks of :func:`cast_ballot` (the voter's place, the round open, the
    ideas, k, the budget, a confirmed email), in ``session``; nothing is written. VotesError
    (or EmailNotConfirmed) for a ballot the round refuses."""
    now = now or utcnow()
    rnd, params = _checked_cast(session, rnd_id, person, secret, idea_ids, now)
    require_confirmed(person, "vote")
    return PlannedBallot(rnd.id, params["voter_key"], params["choices"], _new_reference(), now)


def write_ballot(*, writer: Session | Connection, planned: PlannedBallot) -> CastBallot:
    """Write a :func:`plan_ballot` ballot in ``writer`` (a session, or the connection of a
    ``community.db.write_transaction``): the one upsert of :func:`cast_ballot` (on SQLite the
    write lock is taken here, if ``writer`` does not hold it yet). The returned reference is
    the planned one for a first ballot, the ballot's own for a replaced one."""
    params = {"round_id": planned.round_id, "voter_key": planned.voter_key, "choices": planned.choices,
              "cast_at": planned.cast_at, "reference": planned.reference}
    connection = writer if isinstance(writer, Connection) else writer.connection()
    ballot_id, reference = _write_ballot(connection, params)
    return CastBallot(id=ballot_id, round_id=planned.round_id, reference=reference, choices=planned.choices,
                      cast_at=planned.cast_at)


def _checked_cast(session: Session, rnd_id: int, person: Person | None, secret: str, idea_ids: Iterable[int],
                  now: dt.datetime) -> tuple[Round, dict]:
    """The round and the ballot row's values once the ballot passes the round's rules (the
    voter's place, the round open, the ideas, k and the budget); VotesError otherwise."""
    rnd = session.get(Round, rnd_id)
    if rnd is None:
        raise VotesError(_("That round does not exist."))
    idea_ids = set(idea_ids)
    rules = _rules(session, rnd)
    if person is None or person.place_id is None or person.place_id != rules.place_id:
        raise NotEligible(
            _("Only residents of this team's place can vote in this round. Your account's postcode "
            "is not in this place (change it on your account page if you have moved).")
        )
    if not is_open_for_voting(rnd, now):
        raise RoundClosed(_("This round is closed.") if rnd.status == "closed" or now >= rnd.closes_at
                          else _("This round is not open for voting yet."))
    chosen, _total = _check(rules, idea_ids)
    encoded = ",".join(map(str, chosen))
    return rnd, {"round_id": rnd.id, "voter_key": voter_key(secret, rnd.id, person.id), "choices": encoded,
                 "cast_at": now}


def open_rounds_for_place(*, session: Session, place_id: int | None, now: dt.datetime | None = None) -> list[Round]:
    """The rounds open for voting now in the teams of this place (usually one), soonest closing first."""
    now = now or utcnow()
    if place_id is None:
        return []
    rows = session.execute(
        select(Round).join(Team, Team.id == Round.team_id)
        .where(Team.place_id == place_id, Round.status == "open", Round.opens_at <= now, Round.closes_at > now)
        .order_by(Round.closes_at, Round.id)
    ).scalars()
    return list(rows)


@dataclass(frozen=True)
class CodeBallot:
    """The ballot a voting code opens: the open round of the resident's place and its ideas."""

    first_name: str
    team: Team
    rnd: Round
    rows: list[tuple[RoundIdea, Idea]]


def ballot_for_code(*, session: Session, secret: str, code: str, now: dt.datetime | None = None) -> CodeBallot:
    """The open round of the place of the code's resident ("Vote with a code", step one): the
    soonest to close when several are open. VotingCodeInvalid for an unknown, used or expired
    code; RoundClosed when no round is open there now (the code is kept for the next one)."""
    now = now or utcnow()
    row, person = check_voting_code(session=session, secret=secret, code=code, now=now)
    rounds = open_rounds_for_place(session=session, place_id=person.place_id, now=now)
    if not rounds:
        raise RoundClosed(_("There is no open vote in your place right now. Keep your slip: the code works "
                            "until %(until)s.", until=london_datetime(row.expires_at)))
    rnd = rounds[0]
    return CodeBallot(person.first_name, session.get(Team, rnd.team_id), rnd, round_ideas(session=session, round_id=rnd.id))


def cast_ballot_with_code(*, session: Session, rnd_id: int, code: str, secret: str, idea_ids: Iterable[int],
                          now: dt.datetime | None = None, writer: Session | None = None) -> CastBallot:
    """A resident signed up without email votes with their printed one-time code ("Vote with
    a code"). The same rules as an online ballot (their place, the round open, the ideas, k,
    the budget) and the same unlinked row: keyed by HMAC(secret, round, person), never the
    person id. The code is spent in the ballot's own transaction (``writer``) by one conditional
    UPDATE, so of two uses at once exactly one votes. VotingCodeInvalid for an unknown, used or
    expired code; VotesError for a ballot the round refuses (the code is not spent then)."""
    now = now or utcnow()
    row, person = check_voting_code(session=session, secret=secret, code=code, now=now)
    rnd, params = _checked_cast(session, rnd_id, person, secret, idea_ids, now)
    if _BETWEEN_READ_AND_WRITE is not None:
        _BETWEEN_READ_AND_WRITE()
    target = writer or session
    use_voting_code(session=target, code_id=row.id, now=now)
    ballot_id, reference = _write_ballot(target.connection(), params, pause=False)
    return CastBallot(id=ballot_id, round_id=rnd.id, reference=reference, choices=params["choices"], cast_at=now)


def _write_ballot(connection, params: dict, *, pause: bool = True) -> tuple[int, str]:
    """Insert or replace the ballot row (one upsert); returns its id and receipt reference."""
    stmt = _upsert_statement(connection.dialect.name)
    if pause and _BETWEEN_READ_AND_WRITE is not None:
        _BETWEEN_READ_AND_WRITE()
    for attempt in range(3):
        if attempt or "reference" not in params:  # a reference drawn by the caller is tried first
            params["reference"] = _new_reference()
        try:
            if connection.dialect.name == "postgresql":  # a failed statement there aborts the transaction
                with connection.begin_nested():
                    row = connection.execute(stmt, params).one()
            else:  # SQLite undoes only the failed statement
                row = connection.execute(stmt, params).one()
        except DBAPIError as error:
            if "round is closed" in str(error.orig):
                raise RoundClosed(_("This round is closed.")) from None
            if not isinstance(error, IntegrityError) or "reference" not in str(error.orig):
                raise
            continue  # the random receipt reference was taken: draw another
        return row[0], row[1]
    raise VotesError(_("Your vote could not be saved. Try again."))


def my_ballot(*, session: Session, rnd: Round, person: Person, secret: str) -> Ballot | None:
    """The person's own ballot (only they can look it up: the key needs their id and the secret)."""
    return session.execute(
        select(Ballot).where(Ballot.round_id == rnd.id, Ballot.voter_key == voter_key(secret, rnd.id, person.id))
    ).scalar_one_or_none()


def turnout(*, session: Session, round_id: int) -> dict[str, int]:
    """Ballots per source and in total; ``spoilt`` (paper ballots that broke the round's rules)
    are among the paper ones and the total: they count in turnout, not in votes."""
    rows = session.execute(
        select(Ballot.source, func.count(), func.count(Ballot.spoilt_reason))
        .where(Ballot.round_id == round_id).group_by(Ballot.source)
    ).all()
    counts = {"online": 0, "paper": 0, "imported": 0}
    counts.update({source: n for source, n, _spoilt in rows})
    counts["total"] = sum(counts.values())
    counts["spoilt"] = sum(spoilt for _source, _n, spoilt in rows)
    return counts


# --------------------------------------------------------------------------- paper ballots


def _clean_serial(serial: str) -> str:
    serial = " ".join((serial or "").split()).upper()
    if not serial:
        raise VotesError(_("Enter the serial number printed on the paper ballot."))
    if len(serial) > 30:
        raise VotesError(_("The serial number must be 30 characters or fewer."))
    return serial


def key_paper_ballot(*, session: Session, rnd_id: int, serial: str, keyer_id: int, idea_ids: Iterable[int],
                     now: dt.datetime | None = None) -> str:
    """Key one paper ballot. The first keying waits for a second, independent keying by a
    different team member; if both agree the ballot counts, otherwise it is listed for a
    decision. A ballot whose agreed choices break the round's rules (the same rules as online:
    ``ballot_rule_broken``) is recorded as spoilt. Returns "waiting", "counted", "spoilt" or
    "mismatch"."""
    rnd = _lock_round(session, rnd_id)
    if not is_open_for_voting(rnd, now):
        raise RoundClosed(_("This round is closed; paper ballots can no longer be entered."))
    serial = _clean_serial(serial)
    ids = _on_ballot(_rules(session, rnd), idea_ids)
    keyings = list(session.execute(
        select(PaperKeying).where(PaperKeying.round_id == rnd.id, PaperKeying.serial == serial)
    ).scalars())
    if any(k.keyed_by_id == keyer_id for k in keyings):
        raise VotesError(_("You already keyed ballot %(serial)s; a different team member must key it again.",
                           serial=serial))
    if len(keyings) >= 2:
        raise VotesError(_("Ballot %(serial)s has already been keyed twice.", serial=serial))
    encoded = _encode(ids)
    session.add(PaperKeying(round_id=rnd.id, serial=serial, pass_no=len(keyings) + 1, keyed_by_id=keyer_id,
                            choices=encoded))
    session.flush()
    if not keyings:
        return "waiting"
    if keyings[0].choices == encoded:
        ballot = _paper_ballot(session, rnd, serial, encoded, now)
        session.flush()
        return "spoilt" if ballot.spoilt_reason else "counted"
    return "mismatch"


def _paper_ballot(session: Session, rnd: Round, serial: str, choices: str, now: dt.datetime | None) -> Ballot:
    """The paper ballot as agreed by its keyings (or a decision): spoilt when it breaks the
    round's rules (``ballot_rule_broken``), so it counts in turnout and not in the votes."""
    broken = ballot_rule_broken(_rules(session, rnd), decode(choices))
    ballot = Ballot(round_id=rnd.id, voter_key=f"paper:{serial}", source="paper", choices=choices,
                    reference=_new_reference(), cast_at=now or utcnow(),
                    spoilt_reason=broken.reason if broken is not None else None)
    session.add(ballot)
    return ballot


@dataclass
class PaperStatus:
    waiting: list[str]
    counted: int  # paper ballots that count (spoilt ones are not among them)
    mismatches: list[tuple[str, list[int], list[int]]]
    decided: list[PaperDecision]
    spoilt: list[tuple[str, str]]  # (serial, why it is spoilt), by serial


def paper_status(*, session: Session, round_id: int) -> PaperStatus:
    keyings = list(session.execute(
        select(PaperKeying).where(PaperKeying.round_id == round_id).order_by(PaperKeying.serial, PaperKeying.pass_no)
    ).scalars())
    decided = list(session.execute(select(PaperDecision).where(PaperDecision.round_id == round_id)).scalars())
    decided_serials = {d.serial for d in decided}
    by_serial: dict[str, list[PaperKeying]] = {}
    for k in keyings:
        by_serial.setdefault(k.serial, []).append(k)
    waiting, mismatches = [], []
    for serial, ks in by_serial.items():
        if len(ks) == 1:
            waiting.append(serial)
        elif ks[0].choices != ks[1].choices and serial not in decided_serials:
            mismatches.append((serial, decode(ks[0].choices), decode(ks[1].choices)))
    ballots = session.execute(
        select(Ballot.voter_key, Ballot.spoilt_reason).where(Ballot.round_id == round_id, Ballot.source == "paper")
        .order_by(Ballot.voter_key)
    ).all()
    spoilt = [(key.removeprefix("paper:"), reason) for key, reason in ballots if reason is not None]
    return PaperStatus(waiting, len(ballots) - len(spoilt), mismatches, decided, spoilt)


_K1, _K2 = aliased(PaperKeying), aliased(PaperKeying)


# Per open round, the paper ballots keyed twice differently and not decided yet (what
# paper_status lists as mismatches).
_MISMATCHES = (
    select(func.count()).select_from(_K1)
    .join(_K2, (_K2.round_id == _K1.round_id) & (_K2.serial == _K1.serial) & (_K2.pass_no == 2))
    .where(_K1.round_id == Round.id, _K1.pass_no == 1, _K1.choices != _K2.choices,
           ~select(PaperDecision.id).where(PaperDecision.round_id == _K1.round_id,
                                           PaperDecision.serial == _K1.serial).exists())
    .scalar_subquery())


@dataclass(frozen=True)
class OpenRound:
    id: int
    team_id: int
    title: str
    mismatches: int  # paper ballots keyed twice differently, not decided yet


_OPEN_ROUNDS_OF_TEAMS = (
    select(Round.id, Round.team_id, Round.title, _MISMATCHES)
    .where(Round.team_id.in_(bindparam("team_ids", expanding=True)), Round.status == "open")
    .order_by(Round.team_id, Round.closes_at.desc(), Round.id.desc()))


def open_rounds_of(*, session: Session, team_ids: Iterable[int]) -> list[OpenRound]:
    """The open rounds of these teams with their undecided paper mismatches, in one query (the
    staff to-do list, on every staff member's landing page)."""
    ids = list(team_ids)
    if not ids:
        return []
    return [OpenRound(int(i), int(t), title, int(n or 0))
            for i, t, title, n in read_columns(session, _OPEN_ROUNDS_OF_TEAMS, {"team_ids": ids})]


def decide_mismatch(*, session: Session, rnd_id: int, serial: str, decider_id: int, accept_pass: int | None,
                    reason: str, now: dt.datetime | None = None) -> PaperDecision:
    """Resolve a mismatched paper ballot: count keying 1 or 2 (after checking the paper), or reject it.

    The decider must be a third team member, neither of the two who keyed it (VotesError; the
    trigger ``vote_paper_decision_third_person`` refuses it in the database too)."""
    rnd = _lock_round(session, rnd_id)
    if not is_open_for_voting(rnd, now):
        raise RoundClosed(_("This round is closed."))
    serial = _clean_serial(serial)
    keyings = {k.pass_no: k for k in session.execute(
        select(PaperKeying).where(PaperKeying.round_id == rnd.id, PaperKeying.serial == serial)).scalars()}
    if len(keyings) != 2 or keyings[1].choices == keyings[2].choices:
        raise VotesError(_("Ballot %(serial)s is not a mismatch.", serial=serial))
    if decider_id in (keyings[1].keyed_by_id, keyings[2].keyed_by_id):
        raise VotesError(_("You keyed ballot %(serial)s, so a third team member (not either of the two who "
                           "keyed it) must check the paper and decide.", serial=serial))
    reason = _clean(reason, 500, "reason")
    choices = keyings[accept_pass].choices if accept_pass in (1, 2) else None
    decision = PaperDecision(round_id=rnd.id, serial=serial, decision="count" if choices is not None else "reject",
                             choices=choices, reason=reason, decided_by_id=decider_id)
    session.add(decision)
    if choices is not None:
        _paper_ballot(session, rnd, serial, choices, now)
    try:
        session.flush()
    except IntegrityError:
        raise VotesError(_("Ballot %(serial)s was already decided.", serial=serial)) from None
    _audit(session, decider_id, "paper.decided", f"round {rnd.id} ballot {serial}: {decision.decision}")
    return decision


# --------------------------------------------------------------------------- close and tally


def tally_id(idea_id: int) -> str:
    """The project id given to the tally: zero-padded so that pabutools' tie-break (smallest id
    as a string) means "the idea proposed first" (lowest idea number)."""
    return f"{idea_id:09d}"


TIE_BREAK_TEXT = lazy_gettext("When two ideas are exactly tied, the one proposed first (the lower idea number) "
                              "goes first.")


def _format_pence(amount) -> str:
    return gbp(int(round(Fraction(amount))))


@dataclass
class _Project:
    id: str
    cost: int
    name: str


def _election(session: Session, rnd: Round):
    from types import SimpleNamespace

    rows = round_ideas(session=session, round_id=rnd.id)
    projects = [_Project(tally_id(idea.id), ri.cost_pence, idea.title) for ri, idea in rows]
    ballots = [tuple(tally_id(i) for i in decode(choices))
               for (choices,) in session.execute(select(Ballot.choices).where(
                   Ballot.round_id == rnd.id, Ballot.spoilt_reason.is_(None)))]  # spoilt ballots carry no votes
    return SimpleNamespace(budget=rnd.budget_pence, vote_type="approval", projects=projects, ballots=ballots), rows


def close_round(*, session: Session, round_id: int, actor_id: int, now: dt.datetime | None = None,
                force: bool = False) -> Round:
    """Close a round at (or after) its closing time: tally it, record every idea's votes and
    reason, void the round's hold and hold each funded idea's cost — one transaction."""
    now = now or utcnow()
    rnd = _lock_round(session, round_id)
    if rnd.status == "closed":
        return rnd
    if now < rnd.closes_at and not force:
        raise VotesError(_("This round closes at its closing time."))
    election, rows = _election(session, rnd)
    result = tally(election, rnd.rule, format_money=_format_pence)
    votes = Counter(pid for ballot in election.ballots for pid in ballot)
    order = {pid: n for n, pid in enumerate(result.selected, start=1)}
    team = session.get(Team, rnd.team_id)
    counts = turnout(session=session, round_id=rnd.id)
    rnd.status = "closed"
    rnd.closed_at = now
    rnd.online_ballots = counts["online"] + counts["imported"]
    rnd.paper_ballots = counts["paper"]
    session.flush()  # the trigger now refuses further ballots
    if rnd.hold_id is not None:
        # The budget's hold becomes the funded ideas' holds; what they leave is released.
        funded_cost = sum(ri.cost_pence for ri, idea in rows if tally_id(idea.id) in order)
        ledger.move_hold(session=session, hold_id=rnd.hold_id, actor_id=actor_id,
                         idempotency_key=f"votes:round:{rnd.id}:release", recommitted_pence=funded_cost,
                         reason="round")
    spent = 0
    for ri, idea in rows:
        pid = tally_id(idea.id)
        ri.votes = votes.get(pid, 0)
        ri.funded = pid in order
        ri.funded_order = order.get(pid)
        ri.explanation = _plain_english(result.explanations.get(pid, ""))
        if ri.funded:
            spent += ri.cost_pence
            if rnd.hold_id is not None:
                commitment = ledger.hold(session=session, team=team, amount_pence=ri.cost_pence,
                                         category=HOLD_CATEGORY, description=DESCRIPTIONS.english("funded_idea", title=idea.title),
                                         actor_id=actor_id, idempotency_key=f"votes:round:{rnd.id}:idea:{idea.id}")
                idea.hold_id = commitment.id
            idea.status = IdeaStatus.FUNDED.value
            idea.funded_round_id = rnd.id
            idea.updated_at = now
            session.add(IdeaUpdate(idea_id=idea.id, author_id=actor_id, status="funded",
                                   text=f"Funded in {rnd.title}: {ri.explanation}", kind="funded",
                                   params={"round": rnd.title, "explanation": ri.explanation}))
    rnd.spent_pence = spent
    _audit(session, actor_id, "round.closed", f"round {rnd.id}: {len(order)} ideas funded, {gbp(spent)}")
    session.flush()
    signals.round_closed.send(None, session=session, rnd=rnd)
    return rnd


def _plain_english(text: str) -> str:
    """Adjust the engine's reason to the app: its +1 increase is counted in pence, its MES
    "round" is a step (not our voting round), and zero-padded tally ids become idea numbers."""
    import re

    text = re.sub(r"plus ([\d,]+), the first increase",
                  lambda m: f"plus {gbp(int(m.group(1).replace(',', '')))}, the first increase", text)
    text = re.sub(r"funded in round (\d+):", r"funded at step \1 of Equal Shares:", text)
    return re.sub(r"\b0+(\d+)\b(?=\D|$)", lambda m: f"idea {int(m.group(0))}" if len(m.group(0)) == 9
                  else m.group(0), text)


def due_rounds(now: dt.datetime) -> Select:
    """The ids of the open rounds whose closing time has passed, oldest first (what
    ``flask votes close-due`` claims, one at a time: community/jobs.py)."""
    return select(Round.id).where(Round.status == "open", Round.closes_at <= now).order_by(Round.id)


def close_due(*, session: Session, actor_id: int, now: dt.datetime | None = None) -> list[int]:
    """Close every open round whose closing time has passed. Returns their ids."""
    now = now or utcnow()
    due = list(session.execute(due_rounds(now)).scalars())
    for round_id in due:
        close_round(session=session, round_id=round_id, actor_id=actor_id, now=now)
    return due


def system_actor_id(session: Session) -> int:
    """The person recorded as actor of automatic closes: the round's opener is used instead
    when known; this is the fallback (the first admin)."""
    person_id = session.execute(select(Person.id).where(Person.is_admin.is_(True)).order_by(Person.id)).scalar()
    if person_id is None:
        person_id = session.execute(select(Person.id).order_by(Person.id)).scalar()
    return person_id


def close_if_due(*, session: Session, rnd: Round, now: dt.datetime | None = None) -> bool:
    """Used on page load: close the round if its time has passed. Returns True if it closed."""
    now = now or utcnow()
    if rnd.status != "open" or now < rnd.closes_at:
        return False
    close_round(session=session, round_id=rnd.id, actor_id=rnd.created_by_id or system_actor_id(session), now=now)
    return True


def results(*, session: Session, rnd: Round) -> list[tuple[RoundIdea, Idea]]:
    """Every idea of a closed round: funded ones in funding order, then the rest by votes."""
    rows = round_ideas(session=session, round_id=rnd.id)
    return sorted(rows, key=lambda r: (not r[0].funded, r[0].funded_order or 0, -(r[0].votes or 0), r[1].id))



# --------------------------------------------------------------------------- who is told (votes/notifications.py)

REMIND_BEFORE_CLOSE = dt.timedelta(hours=48)


def eligible_residents(*, session: Session, team: Team) -> list[Person]:
    """The people who may vote in the team's rounds: active, confirmed residents of its place."""
    return list(session.execute(select(Person).where(
        Person.place_id == team.place_id, Person.is_active.is_(True), Person.email_confirmed_at.is_not(None))
        .order_by(Person.id)).scalars())


def supporters_of(*, session: Session, idea_ids: Iterable[int]) -> list[Person]:
    """The active people who support any of these ideas (each once)."""
    ids = list(idea_ids)
    if not ids:
        return []
    return list(session.execute(select(Person).where(
        Person.is_active.is_(True),
        Person.id.in_(select(IdeaSupport.person_id).where(IdeaSupport.idea_id.in_(ids))))
        .order_by(Person.id)).scalars())


def voters_among(*, session: Session, rnd: Round, people: Iterable[Person], secret: str) -> set[int]:
    """Which of these people have an online ballot in the round. Only the secret holder can ask:
    each person's key is recomputed and looked up, no ballot names a person."""
    keys = set(session.execute(select(Ballot.voter_key).where(Ballot.round_id == rnd.id)).scalars())
    return {p.id for p in people if voter_key(secret, rnd.id, p.id) in keys}


def rounds_closing_soon(*, session: Session, now: dt.datetime | None = None) -> list[Round]:
    """Open rounds, open for voting, that close within ``REMIND_BEFORE_CLOSE``."""
    now = now or utcnow()
    return list(session.execute(select(Round).where(
        Round.status == "open", Round.opens_at <= now, Round.closes_at > now,
        Round.closes_at <= now + REMIND_BEFORE_CLOSE).order_by(Round.id)).scalars())
