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
    teams = my_teams(session, user)
    due = services.due_soon_counts(session=session, team_ids=[team.id for team in teams], today=london_today())
    many = len(user.team_roles) > 1
    return [Step(_("Pledges due this week or overdue") + (f" ({team.name})" if many else ""),
                 url_for("pledges.reminders", slug=team.slug), due.get(team.id, 0))
            for team in teams]
