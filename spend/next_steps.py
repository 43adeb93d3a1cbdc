"""Quick spend's part of the staff to-do list (registered in ``wsgi.register_next_steps``):
requests waiting for my approval (never my own) and approved spend with no receipt yet."""

from flask import url_for
from sqlalchemy import bindparam, func, select

from community.i18n import _
from community.next_steps import Step, my_teams
from spend import services as spend
from spend.models import SpendRequest, SpendStatus

_UNPAID = (select(func.count()).select_from(SpendRequest)
           .where(SpendRequest.team_id == bindparam("team_id"), SpendRequest.status == SpendStatus.APPROVED.value))


def staff_todo(session, user) -> list[Step]:
    if not user.has_second_factor:
        return []
    me = user.person
    many = len(user.team_roles) > 1
    steps = []
    for team in my_teams(session, user):
        suffix = f" ({team.name})" if many else ""
        mine = spend.awaiting_approval_by(session=session, team=team, person=me, role=user.team_roles[team.id])
        unpaid = session.execute(_UNPAID, {"team_id": team.id}).scalar_one()
        href = url_for("spend.dashboard", slug=team.slug)
        steps += [Step(_("Approvals waiting for me") + suffix, href, mine),
                  Step(_("Receipts missing: approved spend not yet paid") + suffix, href, unpaid)]
    return steps
