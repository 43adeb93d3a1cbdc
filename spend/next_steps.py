"""Quick spend's part of the staff to-do list (registered in ``wsgi.register_next_steps``):
requests waiting for my approval (never my own) and approved spend with no receipt yet."""

from flask import url_for

from community.i18n import _
from community.next_steps import Step, my_teams
from spend import services as spend


def staff_todo(session, user) -> list[Step]:
    if not user.has_second_factor:
        return []
    teams = my_teams(session, user)
    waiting = spend.waiting_on(session=session, teams=teams, person=user.person, roles=user.team_roles)
    many = len(user.team_roles) > 1
    steps = []
    for team in teams:
        suffix = f" ({team.name})" if many else ""
        href = url_for("spend.dashboard", slug=team.slug)
        steps += [Step(_("Approvals waiting for me") + suffix, href, waiting[team.id].approvals),
                  Step(_("Receipts missing: approved spend not yet paid") + suffix, href, waiting[team.id].unpaid)]
    return steps
