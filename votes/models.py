"""Tables of the votes domain: ideas, supports, delivery updates, rounds, the ideas on a
round's ballot, ballots (online, paper, imported) and paper-ballot keyings.

Invariants the database enforces (see ``migrations/versions/0004_votes.py``): one support per
person per idea; one ballot per voter per round (``voter_key`` is an HMAC of person and round,
never the person id, so no table links a named person to their choices); one counted paper
ballot per serial per round; each paper ballot keyed at most once per pass; statuses and
ballot types from fixed lists; positive costs and budgets; only paper ballots can be spoilt
(``migrations/versions/0022_items20.py``).
"""

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from community.db import UTCDateTime, check_in, utcnow
from community.i18n import lazy_gettext


def _utc(nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class IdeaStatus(enum.StrEnum):
    PROPOSED = "proposed"  # waiting for the team's review
    NEEDS_CHANGES = "needs_changes"  # back with the proposer, with a note
    FEASIBLE = "feasible"  # can go on a ballot, with the team's cost estimate
    NOT_FEASIBLE = "not_feasible"  # with a reason the proposer sees
    HIDDEN = "hidden"  # abusive: hidden from everyone but the proposer and the team
    FUNDED = "funded"  # won a round
    IN_DELIVERY = "in_delivery"
    DONE = "done"


IDEA_STATUSES = tuple(s.value for s in IdeaStatus)

STATUS_LABELS = {
    "proposed": lazy_gettext("Waiting for review"),
    "needs_changes": lazy_gettext("Needs changes"),
    "feasible": lazy_gettext("Feasible"),
    "not_feasible": lazy_gettext("Not feasible"),
    "hidden": lazy_gettext("Hidden"),
    "funded": lazy_gettext("Funded"),
    "in_delivery": lazy_gettext("In delivery"),
    "done": lazy_gettext("Done"),
}


# What an idea is about: a fixed list (chosen on the propose form, changed at review), in the
# order the filter offers them. The CHECK ``ck_vote_idea_category`` is built from the keys.
IDEA_CATEGORIES = {
    "green_spaces": lazy_gettext("Parks and green spaces"),
    "streets": lazy_gettext("Streets, paths and safety"),
    "children_young_people": lazy_gettext("Children and young people"),
    "older_people": lazy_gettext("Older people"),
    "community_events": lazy_gettext("Events and celebrations"),
    "sport_health": lazy_gettext("Sport and health"),
    "arts_culture": lazy_gettext("Arts and culture"),
    "environment": lazy_gettext("Environment and recycling"),
    "other": lazy_gettext("Something else"),
}
PHOTO_TYPES = ("image/jpeg", "image/png")


class BallotType(enum.StrEnum):
    APPROVAL = "approval"  # choose any number
    APPROVAL_K = "approval_k"  # choose up to k
    KNAPSACK = "knapsack"  # choose ideas whose costs fit the budget


class RoundRule(enum.StrEnum):
    GREEDY = "greedy"
    EQUAL_SHARES = "mes-add1-greedy"


RULE_LABELS = {
    "greedy": lazy_gettext("Greedy by votes: most votes first, skipping any idea that no longer fits"),
    "mes-add1-greedy": lazy_gettext("Method of Equal Shares with completion"),
}
BALLOT_LABELS = {
    "approval": lazy_gettext("Choose as many ideas as you like"),
    "approval_k": lazy_gettext("Choose up to a number of ideas"),
    "knapsack": lazy_gettext("Choose ideas whose costs add up to no more than the budget"),
}



class Idea(SQLModel, table=True):
    """A resident's idea for their place."""

    __tablename__ = "vote_idea"
    __table_args__ = (
        CheckConstraint(check_in("status", IDEA_STATUSES), name="ck_vote_idea_status"),
        CheckConstraint("estimated_cost_pence > 0", name="ck_vote_idea_estimate"),
        CheckConstraint("team_cost_pence IS NULL OR team_cost_pence > 0", name="ck_vote_idea_team_cost"),
        CheckConstraint("status <> 'feasible' OR team_cost_pence IS NOT NULL", name="ck_vote_idea_feasible_cost"),
        CheckConstraint("category IS NULL OR " + check_in("category", IDEA_CATEGORIES), name="ck_vote_idea_category"),
        CheckConstraint("(photo_ref IS NULL) = (photo_type IS NULL)", name="ck_vote_idea_photo"),
        CheckConstraint("photo_type IS NULL OR " + check_in("photo_type", PHOTO_TYPES), name="ck_vote_idea_photo_type"),
        CheckConstraint("status <> 'done' OR closing_note IS NOT NULL", name="ck_vote_idea_done_note"),
        Index("ix_vote_idea_team_status", "team_id", "status"),
        Index("ix_vote_idea_team_category", "team_id", "category"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    proposer_id: int | None = Field(default=None, foreign_key="person.id")
    title: str = Field(max_length=120)
    description: str = Field(sa_column=Column(Text, nullable=False))
    estimated_cost_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default=IdeaStatus.PROPOSED.value, max_length=20)
    team_cost_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    review_note: str | None = Field(default=None, max_length=1000)
    reviewed_by_id: int | None = Field(default=None, foreign_key="person.id")
    reviewed_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    funded_round_id: int | None = Field(default=None)
    hold_id: int | None = Field(default=None, foreign_key="ledger_hold.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())
    category: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    # A photo re-encoded without metadata (community/images.py), stored under instance/photos.
    photo_ref: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    photo_type: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    # What the team says when the idea is done (required by ck_vote_idea_done_note).
    closing_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Milestone(SQLModel, table=True):
    """A step in delivering a funded idea: planned for a day, done on a day (or not yet), with a
    note and an optional photo. A step may be done before its planned day (delivery can be early);
    the done day is never in the future (checked by the service: the database has no "today")."""

    __tablename__ = "vote_milestone"
    __table_args__ = (
        CheckConstraint("(photo_ref IS NULL) = (photo_type IS NULL)", name="ck_vote_milestone_photo"),
        CheckConstraint("photo_type IS NULL OR " + check_in("photo_type", PHOTO_TYPES),
                        name="ck_vote_milestone_photo_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(sa_column=Column(Integer, ForeignKey("vote_idea.id"), nullable=False, index=True))
    title: str = Field(sa_column=Column(String(120), nullable=False))
    planned_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    done_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    photo_ref: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    photo_type: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    created_by_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("person.id"), nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())


class IdeaSupport(SQLModel, table=True):
    """One resident's support for an idea before a vote (withdrawable)."""

    __tablename__ = "vote_idea_support"
    __table_args__ = (UniqueConstraint("idea_id", "person_id", name="uq_vote_support_idea_person"),)

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="vote_idea.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())


class IdeaUpdate(SQLModel, table=True):
    """A short delivery update on a funded idea (or a review decision), shown on its page."""

    __tablename__ = "vote_idea_update"

    id: int | None = Field(default=None, primary_key=True)
    idea_id: int = Field(foreign_key="vote_idea.id", index=True)
    author_id: int | None = Field(default=None, foreign_key="person.id")
    status: str = Field(max_length=20)
    # What was written, in English (the record; what old rows and personal-data exports show).
    text: str = Field(max_length=1000)
    # An update the app writes itself ("funded", "feasible") keeps its kind and parameters, so a
    # page or email writes it again in its reader's language (votes.explanations.update_text);
    # a person's own words have neither.
    kind: str | None = Field(default=None, max_length=20)
    params: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())


class Round(SQLModel, table=True):
    """A voting round of one team: budget, dates, ballot type, rule; open then closed."""

    __tablename__ = "vote_round"
    __table_args__ = (
        CheckConstraint("budget_pence > 0", name="ck_vote_round_budget"),
        CheckConstraint(check_in("ballot_type", [b.value for b in BallotType]), name="ck_vote_round_ballot"),
        CheckConstraint(check_in("rule", [r.value for r in RoundRule]), name="ck_vote_round_rule"),
        CheckConstraint("status IN ('open', 'closed')", name="ck_vote_round_status"),
        CheckConstraint("closes_at > opens_at", name="ck_vote_round_dates"),
        CheckConstraint("ballot_type <> 'approval_k' OR max_choices >= 1", name="ck_vote_round_k"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    title: str = Field(max_length=120)
    budget_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    opens_at: dt.datetime = Field(sa_column=_utc())
    closes_at: dt.datetime = Field(sa_column=_utc())
    ballot_type: str = Field(max_length=20)
    max_choices: int | None = Field(default=None)
    rule: str = Field(max_length=30)
    status: str = Field(default="open", max_length=10)
    hold_id: int | None = Field(default=None, foreign_key="ledger_hold.id")
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())
    closed_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    imported_from: str | None = Field(default=None, max_length=200)
    online_ballots: int = Field(default=0)
    paper_ballots: int = Field(default=0)
    spent_pence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class RoundIdea(SQLModel, table=True):
    """An idea on a round's ballot at a fixed cost, and its result once the round closes."""

    __tablename__ = "vote_round_idea"
    __table_args__ = (
        UniqueConstraint("round_id", "idea_id", name="uq_vote_round_idea"),
        CheckConstraint("cost_pence > 0", name="ck_vote_round_idea_cost"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="vote_round.id", index=True)
    idea_id: int = Field(foreign_key="vote_idea.id", index=True)
    cost_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    votes: int | None = Field(default=None)
    funded: bool | None = Field(default=None)
    funded_order: int | None = Field(default=None)
    explanation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Ballot(SQLModel, table=True):
    """One ballot (a spoilt paper ballot counts in turnout only: ``spoilt_reason``). ``voter_key`` is HMAC(app secret, round id, person id) for online
    ballots, ``paper:SERIAL`` for paper ballots and ``import:ID`` for imported ones, so the
    unique constraint gives one ballot per voter per round without storing who voted how."""

    __tablename__ = "vote_ballot"
    __table_args__ = (
        UniqueConstraint("round_id", "voter_key", name="uq_vote_ballot_round_voter"),
        CheckConstraint("source IN ('online', 'paper', 'imported')", name="ck_vote_ballot_source"),
        CheckConstraint("spoilt_reason IS NULL OR source = 'paper'", name="ck_vote_ballot_spoilt"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="vote_round.id", index=True)
    voter_key: str = Field(sa_column=Column(String(80), nullable=False))
    source: str = Field(max_length=10)
    # Comma-separated idea ids, in ascending order ("" for an empty ballot).
    choices: str = Field(sa_column=Column(Text, nullable=False))
    # Public receipt reference (random): shown to the voter, and the voter id in exports.
    reference: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    cast_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())
    # Why a paper ballot breaks the round's rules (too many ideas, over the budget, none marked):
    # it counts in turnout, not in votes. NULL for every ballot that counts.
    spoilt_reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))


class PaperKeying(SQLModel, table=True):
    """One keying of a paper ballot: pass 1 and pass 2 by different team members."""

    __tablename__ = "vote_paper_keying"
    __table_args__ = (
        UniqueConstraint("round_id", "serial", "pass_no", name="uq_vote_paper_pass"),
        UniqueConstraint("round_id", "serial", "keyed_by_id", name="uq_vote_paper_keyer"),
        CheckConstraint("pass_no IN (1, 2)", name="ck_vote_paper_pass"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="vote_round.id", index=True)
    serial: str = Field(max_length=30)
    pass_no: int
    keyed_by_id: int = Field(foreign_key="person.id")
    choices: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())


class PaperDecision(SQLModel, table=True):
    """A team decision on a mismatched paper ballot: count one keying, or reject it. The decider
    is a third team member: a trigger (migration 0016_controls) refuses either keyer."""

    __tablename__ = "vote_paper_decision"
    __table_args__ = (UniqueConstraint("round_id", "serial", name="uq_vote_paper_decision"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="vote_round.id")
    serial: str = Field(max_length=30)
    decision: str = Field(max_length=10)  # count | reject
    choices: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reason: str = Field(max_length=500)
    decided_by_id: int = Field(foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())
