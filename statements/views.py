"""HTTP views of monthly statements: finance's page for a month (every team, the county pack,
the SHA-256 of frozen files), PDF / CSV downloads for finance (any team, the pack) and for a
team's own members and enablers (others 404), and a team's list of its statements.

A closed month serves the stored, frozen bytes (frozen now if the month's freeze has not
reached it yet, or it was closed before freezing existed); an open month is built on request
with a DRAFT watermark.
"""

import datetime as dt

from flask import Blueprint, Response, abort, current_app, make_response, render_template, request

from community.auth import finance_only, team_or_404, team_staff
from community.db import get_engine, get_session, london_today
from community.i18n import _
from community.models import Team
from ledger import reversals, services
from statements import figures, freeze, listing, store

statements_bp = Blueprint("statements", __name__)


def _month_or_404(text: str) -> dt.date:
    try:
        return figures.parse_month(text)
    except ValueError:
        abort(404)


def _respond(files: store.Files, fmt: str) -> Response:
    if fmt == "pdf":
        body, content_type, digest = files.pdf, "application/pdf", files.pdf_sha256
    else:
        body, content_type, digest = files.csv, "text/csv; charset=utf-8", files.csv_sha256
    response = Response(body, content_type=content_type)  # a mimetype would get a second charset
    response.headers["Content-Disposition"] = f'attachment; filename="{files.filename}.{fmt}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-SHA256"] = digest
    response.headers["X-Statement-Id"] = files.statement_id
    response.headers["X-Statement-Status"] = "frozen" if files.frozen else "draft"
    return response


def _download(team: Team, month: str, fmt: str) -> Response:
    month_start = _month_or_404(month)
    try:
        files = store.get_team_files(get_engine(), get_session(), team, month_start)
    except store.FrozenStatementCorrupt:
        current_app.logger.error("frozen statement of %s for %s fails its SHA-256", team.slug, month)
        abort(500)
    return _respond(files, fmt)


@statements_bp.get("/finance")
@finance_only
def finance_home():
    session = get_session()
    return render_template("statements/finance_home.html", rows=services.team_balances(session=session),
                           preparing=freeze.pending_months(session),
                           reversals_waiting=len(reversals.list_pending(session=session)))


@statements_bp.get("/finance/statements")
@finance_only
def finance_statements():
    default = (london_today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    month_text = request.args.get("month") or default
    month = _month_or_404(month_text)
    listed = listing.month_statements(session=get_session(), month=month)
    return render_template("statements/finance_list.html", rows=listed.rows, month=month_text, month_start=month,
                           closed=listed.closed, pack=listed.pack, preparing=listed.preparing)


@statements_bp.get("/finance/statements/<slug>/<month>.<any(pdf, csv):fmt>")
@finance_only
def finance_download(slug: str, month: str, fmt: str):
    return _download(team_or_404(get_session(), slug), month, fmt)


@statements_bp.get("/finance/county-pack/<month>.<any(pdf, csv):fmt>")
@finance_only
def county_pack_download(month: str, fmt: str):
    month_start = _month_or_404(month)
    session = get_session()
    preparing = freeze.month_status(session, month_start)
    if preparing is not None and not preparing.pack_ready:
        return _pack_preparing(preparing, month_start)
    try:
        files = store.get_pack_files(get_engine(), session, month_start)
    except store.FrozenStatementCorrupt:
        current_app.logger.error("frozen county pack for %s fails its SHA-256", month)
        abort(500)
    return _respond(files, fmt)


def _pack_preparing(status, month_start: dt.date) -> Response:
    """Closed, and its freeze (cron, or the thread started after the close) is under way. The pack
    needs every team's statement first (~1.6 s a team), longer than a proxy waits, so the download
    says how far it is instead of building it here."""
    if current_app.config["STATEMENT_FREEZE"] == "after_response":  # a worker restart ends the thread
        freeze.start_background_freeze(current_app._get_current_object(), month_start)
    response = make_response(render_template("statements/pack_preparing.html", status=status,
                                             title=_("County pack being prepared")), 503)
    response.headers["Retry-After"] = "60"
    response.headers["Cache-Control"] = "no-store"
    return response


@statements_bp.get("/teams/<slug>/statements")
@team_staff
def team_statements(team: Team):
    """The team's months (newest first) with their status and, once frozen, their SHA-256."""
    rows = listing.team_months(session=get_session(), team=team, today=london_today())
    return render_template("statements/team_list.html", team=team, rows=rows)


@statements_bp.get("/teams/<slug>/statements/<month>.<any(pdf, csv):fmt>")
@team_staff
def team_download(team: Team, month: str, fmt: str):
    return _download(team, month, fmt)
