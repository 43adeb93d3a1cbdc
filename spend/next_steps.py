"""Quick spend's part of the staff to-do list (registered in ``wsgi.register_next_steps``):
requests waiting for my approval (never my own) and approved spend with no receipt yet."""

from flask import url_for
from sqlalchemy import func, select

from community.models import Person, Team
from community.next_steps import Step
from spend import services as spend
from spend.models import SpendRequest, SpendStatus


def staff_todo(session, user) -> list[Step]:
    if not user.has_second_factor:
        return []
    me = session.get(Person, user.id)
    many = len(user.team_roles) > 1
    steps = []
    for team_id in sorted(user.team_roles):
        team = session.get(Team, team_id)
        if team is None:
            continue
        suffix = f" ({team.name})" if many else ""
        pending = session.execute(select(SpendRequest).where(
            SpendRequest.team_id == team.id, SpendRequest.status == SpendStatus.PENDING.value,
            SpendRequest.requester_id != me.id)).scalars()
        mine = sum(1 for request in pending
                   if any(p.id == me.id for p in spend.approvers_of(session=session, team=team, request=request)))
        unpaid = session.execute(select(func.count()).select_from(SpendRequest).where(
            SpendRequest.team_id == team.id, SpendRequest.status == SpendStatus.APPROVED.value)).scalar_one()
        href = url_for("spend.dashboard", slug=team.slug)
        steps += [Step(f"Approvals waiting for me{suffix}", href, mine),
                  Step(f"Receipts missing: approved spend not yet paid{suffix}", href, unpaid)]
    return steps
