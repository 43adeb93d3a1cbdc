"""Each person's next step: where they land after signing in, the nudges at the top of their
place's page, and the staff to-do list.

community sits at the bottom of the layers and must not know votes, quick spend or pledges, so
the domains above it offer their steps through this small registry, wired in
``wsgi.register_next_steps``:

* a **nudge** provider ``(session, user, team) -> list[Step]`` answers for a signed-in person on
  a team's page ("Vote now — December round, closes …");
* a **to-do** provider ``(session, user) -> list[Step]`` answers for staff ("Approvals waiting
  for me", with a count and a link). Steps with a count of 0 are left off.
"""

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, url_for
from sqlalchemy import bindparam
from sqlalchemy.orm.util import identity_key
from sqlmodel import select

from community.models import Team

_EXTENSION = "thriving_next_steps"


@dataclass(frozen=True)
class Step:
    label: str
    href: str
    count: int | None = None  # None for a nudge that is not a count


def _registry(app: Flask) -> dict[str, list[Callable]]:
    return app.extensions.setdefault(_EXTENSION, {"nudge": [], "todo": []})


def register_nudge(app: Flask, provider: Callable) -> None:
    _registry(app)["nudge"].append(provider)


def register_todo(app: Flask, provider: Callable) -> None:
    _registry(app)["todo"].append(provider)


def nudges(session, user, team: Team) -> list[Step]:
    """What this signed-in person should do next on ``team``'s page (empty for visitors)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [step for provider in _registry(current_app)["nudge"] for step in provider(session, user, team)]


_TEAMS_BY_ID = select(Team).where(Team.id.in_(bindparam("ids", expanding=True))).order_by(Team.id)


def my_teams(session, user) -> list[Team]:
    """The teams this person has a role in, by id: one query for those the session has not
    loaded yet, then the identity map (the staff home and each to-do provider ask)."""
    ids = sorted(user.team_roles)
    found = {team_id: session.identity_map.get(identity_key(Team, team_id)) for team_id in ids}
    missing = [team_id for team_id, team in found.items() if team is None]
    if missing:
        found.update((team.id, team) for team in session.execute(_TEAMS_BY_ID, {"ids": missing}).scalars())
    return [team for team in found.values() if team is not None]


def todo(session, user) -> list[Step]:
    """The staff to-do list, in the order the providers were registered; zero counts left off."""
    return [step for provider in _registry(current_app)["todo"] for step in provider(session, user)
            if step.count is None or step.count > 0]


def home_team(session, user) -> Team | None:
    """The team working in the person's home place, if any."""
    place_id = user.person.place_id
    if place_id is None:
        return None
    return session.exec(select(Team).where(Team.place_id == place_id).order_by(Team.id)).first()


def landing_url(session, user) -> str:
    """Where a person lands after signing in (an explicit, safe ``next=`` still wins):
    finance → the finance home; other staff → their to-do list; residents → their place's team
    page; anyone else → their account."""
    if user.person.is_finance:
        return url_for("statements.finance_home")
    if user.is_staff:
        return url_for("community.staff_home")
    team = home_team(session, user)
    if team is not None:
        return url_for("community.team", slug=team.slug)
    return url_for("community.account")
