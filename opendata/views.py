"""Public pages and files of open data: the Transparency page and its monthly Code files, a
team's public ledger as CSV, its ideas as CSV/JSON, a closed round's results (CSV, JSON, .pb),
and the statistics pages. Anyone, signed in or not; nothing personal in any of it."""

from __future__ import annotations

import json

from flask import Blueprint, Response, make_response, render_template, request

from community.auth import public, team_or_404
from community.db import get_session
from community.i18n import _
from opendata import exports, statistics, transparency

bp = Blueprint("opendata", __name__)

LICENCE_LINK = f'<{transparency.OGL_URL}>; rel="license"'


def _file(body: bytes, content_type: str, filename: str, *, immutable: bool = False) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Link"] = LICENCE_LINK
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if immutable else "public, max-age=60"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/transparency")
@public
def transparency_page():
    found = transparency.listing(session=get_session())
    return render_template("opendata/transparency.html", listing=found, licence_url=transparency.OGL_URL,
                           licence=transparency.OGL_NAME, spend_columns=transparency.SPEND_COLUMNS,
                           card_columns=transparency.CARD_COLUMNS, redacted=transparency.REDACTED)


@bp.get("/transparency/<month>/<any('spend-over-500', 'purchase-card'):kind>.csv")
@public
def transparency_file(month: str, kind: str):
    try:
        found = transparency.month_file(session=get_session(), month_text=month, kind=kind)
    except transparency.NotPublished as refused:
        return _not_published(refused)
    response = _file(found.body, "text/csv; charset=utf-8", found.filename, immutable=True)
    response.headers["X-Content-SHA256"] = found.sha256
    return response


def _not_published(refused: transparency.NotPublished) -> Response:
    status = 503 if refused.preparing else 404
    title = _("Not published yet") if refused.preparing else _("Page not found")
    response = make_response(render_template("errors/error.html", code=status, title=title,
                                             message=refused.message), status)
    if refused.preparing:
        response.headers["Retry-After"] = "60"
    return response


@bp.get("/teams/<slug>/ledger.csv")
@public
def team_ledger_csv(slug: str):
    session = get_session()
    team = team_or_404(session, slug)
    return _file(exports.team_ledger_csv(session=session, team=team), "text/csv; charset=utf-8",
                 f"ledger-{team.slug}.csv")


@bp.get("/teams/<slug>/ideas.<any(csv, json):fmt>")
@public
def team_ideas(slug: str, fmt: str):
    session = get_session()
    team = team_or_404(session, slug)
    rows = exports.ideas(session=session, team=team)
    if fmt == "csv":
        return _file(exports.ideas_csv(rows), "text/csv; charset=utf-8", f"ideas-{team.slug}.csv")
    return _file(_json({"team": team.slug, "ideas": rows, "licence": "OGL-UK-3.0"}), "application/json",
                 f"ideas-{team.slug}.json")


def _json(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


@bp.get("/teams/<slug>/rounds/<int:round_id>/results.<any(csv, json, pb):fmt>")
@public
def round_file(slug: str, round_id: int, fmt: str):
    session = get_session()
    team = team_or_404(session, slug)
    rnd = exports.closed_round(session=session, team=team, round_id=round_id)
    name = f"results-{team.slug}-round-{rnd.id}.{fmt}"
    if fmt == "pb":
        found = exports.pabulib(session=session, team=team, rnd=rnd)
        return _file(found.text.encode("utf-8"), "text/plain; charset=utf-8", name)
    data = exports.results(session=session, team=team, rnd=rnd)
    if fmt == "csv":
        return _file(exports.results_csv(data), "text/csv; charset=utf-8", name)
    return _file(_json(data), "application/json", name)


@bp.get("/statistics")
@public
def county_statistics():
    return _statistics(None)


@bp.get("/teams/<slug>/statistics")
@public
def team_statistics(slug: str):
    return _statistics(team_or_404(get_session(), slug))


def _statistics(team):
    found = statistics.figures(session=get_session(), team=team)
    return render_template("opendata/statistics.html", team=team, figures=found, charts=statistics.charts(found))


