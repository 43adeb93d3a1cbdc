"""Pledges' part of the staff to-do list (registered in ``wsgi.register_next_steps``): open
pledges due this week or overdue."""

from flask import url_for

from community.db import london_today
from community.i18n import _
from community.next_steps import Step, my_teams
from pledges import services


def staff_todo(session, user) -> list[Step]:
    if not user.has_second_factor:
        return []
    many = len(user.team_roles) > 1
    steps = []
    for team in my_teams(session, user):
        suffix = f" ({team.name})" if many else ""
        steps.append(Step(_("Pledges due this week or overdue") + suffix, url_for("pledges.reminders", slug=team.slug),
                          services.due_soon_count(session=session, team=team, today=london_today())))
    return steps
