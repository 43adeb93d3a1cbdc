"""The votes domain's part of each person's next step (registered in ``wsgi.register_next_steps``):
"Vote now" on a resident's place page, and ideas to review and paper mismatches on the staff
to-do list. Everything is read through :mod:`votes.services` and the votes tables."""

from flask import current_app, url_for
from sqlalchemy import bindparam, func, select

from community.db import read_columns
from community.formatting import london_datetime
from community.i18n import _
from community.models import Team
from community.next_steps import Step, my_teams
from votes import services
from votes.models import Idea, IdeaStatus

_TO_REVIEW = (select(Idea.team_id, func.count()).where(Idea.team_id.in_(bindparam("ids", expanding=True)),
                                                       Idea.status == IdeaStatus.PROPOSED.value)
              .group_by(Idea.team_id))


def _staff_teams(session, user) -> list[Team]:
    if not user.has_second_factor or not user.team_roles:
        return []
    return my_teams(session, user)


def vote_now(session, user, team: Team) -> list[Step]:
    """One step per round open for this resident in which they have not voted yet."""
    if not services.is_resident(user.person, team):
        return []
    secret = current_app.config["SECRET_KEY"]
    return [
        Step(_("Vote now — %(round)s, closes %(when)s", round=rnd.title, when=london_datetime(rnd.closes_at)),
             url_for("votes.round_page", slug=team.slug, round_id=rnd.id))
        for rnd in reversed(services.rounds_of(session=session, team=team))  # the soonest to close first
        if services.is_open_for_voting(rnd)
        and services.my_ballot(session=session, rnd=rnd, person=user.person, secret=secret) is None
    ]


def staff_todo(session, user) -> list[Step]:
    """Ideas waiting for review, and mismatched paper ballots waiting for a decision, per team:
    two queries whatever the number of teams and rounds (the staff home is every staff
    member's landing page)."""
    teams = _staff_teams(session, user)
    if not teams:
        return []
    ids = {"ids": [team.id for team in teams]}
    to_review = dict(read_columns(session, _TO_REVIEW, ids).all())
    rounds = services.open_rounds_of(session=session, team_ids=ids["ids"])
    many = len(user.team_roles) > 1
    steps = []
    for team in teams:
        suffix = f" ({team.name})" if many else ""
        steps.append(Step(_("Ideas to review") + suffix, url_for("votes.ideas", slug=team.slug),
                          to_review.get(team.id, 0)))
        steps += [Step(_("Paper ballots to decide — %(round)s", round=rnd.title) + suffix,
                       url_for("votes.paper", slug=team.slug, round_id=rnd.id), rnd.mismatches)
                  for rnd in rounds if rnd.team_id == team.id]
    return steps
