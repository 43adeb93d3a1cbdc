"""The votes domain's part of each person's next step (registered in ``wsgi.register_next_steps``):
"Vote now" on a resident's place page, and ideas to review and paper mismatches on the staff
to-do list. Everything is read through :mod:`votes.services` and the votes tables."""

from flask import current_app, url_for
from sqlalchemy import func, select

from community.formatting import london_datetime
from community.models import Team
from community.next_steps import Step
from votes import services
from votes.models import Idea, IdeaStatus


def _staff_teams(session, user) -> list[Team]:
    if not user.has_second_factor:
        return []
    return [team for team_id in sorted(user.team_roles) if (team := session.get(Team, team_id)) is not None]


def vote_now(session, user, team: Team) -> list[Step]:
    """One step per round open for this resident in which they have not voted yet."""
    if not services.is_resident(user.person, team):
        return []
    secret = current_app.config["SECRET_KEY"]
    return [
        Step(f"Vote now — {rnd.title}, closes {london_datetime(rnd.closes_at)}",
             url_for("votes.round_page", slug=team.slug, round_id=rnd.id))
        for rnd in reversed(services.rounds_of(session=session, team=team))  # the soonest to close first
        if services.is_open_for_voting(rnd)
        and services.my_ballot(session=session, rnd=rnd, person=user.person, secret=secret) is None
    ]


def _ideas_to_review(session, team: Team) -> int:
    return session.execute(select(func.count()).select_from(Idea).where(
        Idea.team_id == team.id, Idea.status == IdeaStatus.PROPOSED.value)).scalar_one()


def staff_todo(session, user) -> list[Step]:
    """Ideas waiting for review, and mismatched paper ballots waiting for a decision, per team."""
    steps = []
    many = len(user.team_roles) > 1
    for team in _staff_teams(session, user):
        suffix = f" ({team.name})" if many else ""
        steps.append(Step(f"Ideas to review{suffix}", url_for("votes.ideas", slug=team.slug),
                          _ideas_to_review(session, team)))
        for rnd in services.rounds_of(session=session, team=team):
            if rnd.status != "open":
                continue
            mismatches = len(services.paper_status(session=session, round_id=rnd.id).mismatches)
            steps.append(Step(f"Paper ballots to decide — {rnd.title}{suffix}",
                              url_for("votes.paper", slug=team.slug, round_id=rnd.id), mismatches))
    return steps
