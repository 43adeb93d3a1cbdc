"""Pabulib import and export of rounds.

Import: a real approval election becomes a closed round of a team, its projects become ideas
and its ballots anonymous ``imported`` ballots (no person). It is tallied with the app's rule.
No money is held: imported rounds are for demonstrations and analysis.

Export: a round in Pabulib format, costs and budget in pounds, project ids = idea numbers,
voter ids = the ballots' random receipt references (never a person).
"""

from __future__ import annotations

import datetime as dt
import secrets
from fractions import Fraction

from sqlalchemy import insert, select
from sqlmodel import Session

from community.db import utcnow
from community.models import Team
from votes import services
from votes.models import Ballot, Idea, IdeaStatus, Round, RoundIdea
from votes.pabulib import APPROVAL_TYPES, Election, Project, format_number
from votes.pabulib import Ballot as PbBallot


class TransferError(ValueError):
    """The file or round cannot be imported or exported; the message says why."""


def _pence(value: Fraction, what: str) -> int:
    pence = Fraction(value) * 100
    if pence.denominator != 1 or pence <= 0:
        raise TransferError(f"{what} must be a positive amount in whole pence, not {value}")
    return int(pence)


def import_election(*, session: Session, election: Election, team_slug: str, rule: str, source: str) -> Round:
    team = session.execute(select(Team).where(Team.slug == team_slug)).scalar_one_or_none()
    if team is None:
        raise TransferError(f"no team with slug {team_slug!r}")
    if election.vote_type not in APPROVAL_TYPES:
        raise TransferError(f"only approval and choose-1 elections can be imported, not {election.vote_type}")
    if not election.projects:
        raise TransferError("the election has no projects")
    actor_id = services.system_actor_id(session)
    if actor_id is None:
        raise TransferError("create a person first (the import is recorded in their name)")
    now = utcnow()
    meta = election.meta
    title = " ".join(x for x in (meta.get("unit"), meta.get("subunit"), meta.get("instance")) if x) or source
    rnd = Round(team_id=team.id, title=f"{title} (imported)"[:120], budget_pence=_pence(election.budget, "the budget"),
                opens_at=now - dt.timedelta(days=30), closes_at=now - dt.timedelta(seconds=1),
                ballot_type="approval", rule=rule, created_by_id=actor_id, imported_from=source[:200])
    session.add(rnd)
    session.flush()
    idea_of: dict[str, int] = {}
    for pid, project in election.projects.items():
        cost = _pence(project.cost, f"the cost of project {pid}")
        idea = Idea(team_id=team.id, proposer_id=None, title=(project.name or f"Project {pid}")[:120],
                    description=f"Imported from {source}, project {pid}.", estimated_cost_pence=cost,
                    team_cost_pence=cost, status=IdeaStatus.FEASIBLE.value, created_at=now, updated_at=now)
        session.add(idea)
        session.flush()
        idea_of[pid] = idea.id
        session.add(RoundIdea(round_id=rnd.id, idea_id=idea.id, cost_pence=cost))
    session.flush()
    rows = [
        dict(round_id=rnd.id, voter_key=f"import:{n}", source="imported",
             choices=",".join(str(i) for i in sorted({idea_of[c] for c in ballot.choices})),
             reference=secrets.token_hex(5).upper(), cast_at=rnd.closes_at)
        for n, ballot in enumerate(election.ballots, start=1)
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Ballot), rows[start:start + 5000])
    return services.close_round(session=session, round_id=rnd.id, actor_id=actor_id, now=now)


def export_election(*, session: Session, round_id: int) -> Election:
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise TransferError(f"no round {round_id}")
    team = session.get(Team, rnd.team_id)
    rows = services.round_ideas(session=session, round_id=rnd.id)
    projects = {str(idea.id): Project(str(idea.id), Fraction(ri.cost_pence, 100), idea.title) for ri, idea in rows}
    ballots = [
        PbBallot(reference, tuple(str(i) for i in services.decode(choices)), None)
        for reference, choices in session.execute(
            select(Ballot.reference, Ballot.choices)
            .where(Ballot.round_id == rnd.id, Ballot.spoilt_reason.is_(None))  # spoilt ballots carry no votes
            .order_by(Ballot.reference)
        )
    ]
    meta = {
        "description": rnd.title,
        "country": "United Kingdom",
        "unit": team.name,
        "instance": rnd.closes_at.date().isoformat(),
        "currency": "GBP",
        "rule": {"greedy": "greedy", "mes-add1-greedy": "equalshares/add1-greedy"}[rnd.rule],
        "date_begin": rnd.opens_at.date().isoformat(),
        "date_end": rnd.closes_at.date().isoformat(),
    }
    if rnd.ballot_type == "approval_k" and rnd.max_choices:
        meta["max_length"] = str(rnd.max_choices)
    if rnd.ballot_type == "knapsack":
        meta["max_sum_cost"] = format_number(Fraction(rnd.budget_pence, 100))
    return Election(meta=meta, budget=Fraction(rnd.budget_pence, 100), vote_type="approval",
                    projects=projects, ballots=ballots)
