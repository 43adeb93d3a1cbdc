"""HTTP views of monthly statements: finance's list of teams for a month, and PDF / CSV
downloads for finance (any team) and for a team's own members and enablers (others 404)."""

import datetime as dt

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select

from community.auth import finance_only, team_staff
from community.db import get_session
from community.models import Team
from ledger import statements

statements_bp = Blueprint("statements", __name__)


def _month_or_404(text: str) -> dt.date:
    try:
        return statements.parse_month(text)
    except ValueError:
        abort(404)


def _download(team: Team, month: str, fmt: str) -> Response:
    statement = statements.build_statement(session=get_session(), team=team, month=_month_or_404(month))
    if fmt == "pdf":
        body, mimetype = statements.render_pdf(statement), "application/pdf"
    else:
        body, mimetype = statements.render_csv(statement).encode("utf-8"), "text/csv; charset=utf-8"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{statement.filename}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@statements_bp.get("/finance/statements")
@finance_only
def finance_statements():
    today = dt.date.today()
    default = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    month_text = request.args.get("month") or default
    month = _month_or_404(month_text)
    teams = get_session().execute(select(Team).order_by(Team.name)).scalars().all()
    return render_template(
        "statements/finance_list.html",
        teams=teams,
        month=month_text,
        month_start=month,
        closed=statements.is_closed(get_session(), month),
    )


@statements_bp.get("/finance/statements/<slug>/<month>.<any(pdf, csv):fmt>")
@finance_only
def finance_download(slug: str, month: str, fmt: str):
    team = get_session().execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()
    if team is None:
        abort(404)
    return _download(team, month, fmt)


@statements_bp.get("/teams/<slug>/statements/<month>.<any(pdf, csv):fmt>")
@team_staff
def team_download(team: Team, month: str, fmt: str):
    return _download(team, month, fmt)
