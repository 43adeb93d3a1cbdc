"""The read-only JSON API, ``/api/v1/…`` (described by :mod:`opendata.openapi`).

Public and anonymous: no view reads or writes the session, so no cookie is ever set; GET only,
so CSRF does not arise. Every answer carries an ``ETag`` (and a 304 for a matching
``If-None-Match``) and ``Cache-Control: public, max-age=60``: clients and proxies cache it, and
building an answer is a few small queries, so no server-side cache is kept (the app's
Flask-Caching micro-cache only keeps pages as strings). Rate-limited per address
(``API_RATE_LIMIT``). Every error, a malformed parameter, an unknown team or address, a round
still open, too many requests, is JSON: ``{"error": {"code": …, "message": …}}``, never a 500
page.
"""

from __future__ import annotations

import json
import math

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from community.auth import public
from community.db import get_session
from community.errors import NotFound
from community.i18n import _
from community.limits import limiter
from community.models import Place, Team
from community.numbers import is_ascii_digits
from ledger.queries import team_balances
from opendata import exports
from opendata.openapi import DOCUMENT
from votes import services as votes

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])(api_bp)

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> Response:
    response = Response(json.dumps({"error": {"code": code, "message": message}}), status=status,
                        content_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@api_bp.errorhandler(ApiError)
def _api_error(error: ApiError):
    return _error(error.status, error.code, error.message)


@api_bp.errorhandler(NotFound)
def _not_found(error: NotFound):
    return _error(404, "not_found", error.message)


def _http_error(error: HTTPException):
    if error.code == 429:
        return _error(429, "rate_limited", _("Too many requests: wait a minute and try again."))
    if error.code == 405:
        return _error(405, "method_not_allowed", _("This API only answers GET."))
    return _error(error.code or 500, (error.name or "error").lower().replace(" ", "_"), error.description or "")


# By code, as the app's HTML error pages are (a code's handler is found before a class's).
for _code in (400, 404, 405, 429, 500):
    api_bp.register_error_handler(_code, _http_error)


def answer(data) -> Response:
    """``data`` as JSON with an ETag (304 when it matches) and public caching."""
    response = Response(json.dumps(data, ensure_ascii=False, sort_keys=True), content_type="application/json")
    response.headers["Cache-Control"] = "public, max-age=60"
    response.add_etag()
    return response.make_conditional(request)


def _number(name: str, default: int, maximum: int | None = None) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    if not is_ascii_digits(text) or len(text) > 12 or int(text) < 1:
        raise ApiError(400, "bad_parameter", _("%(name)s must be a whole number, 1 or more.", name=name))
    if maximum is not None and int(text) > maximum:
        raise ApiError(400, "bad_parameter", _("%(name)s must be at most %(max)s.", name=name, max=maximum))
    return int(text)


def _team(slug: str) -> Team:
    team = get_session().execute(select(Team).where(Team.slug == slug)).scalar_one_or_none()
    if team is None:
        raise ApiError(404, "not_found", _("There is no team called %(slug)s.", slug=slug))
    return team


@api_bp.get("/openapi.json")
@public
def openapi():
    return answer(DOCUMENT)


@api_bp.get("/teams")
@public
def teams():
    session = get_session()
    places = dict(session.execute(select(Place.id, Place.name)).all())
    found = session.execute(select(Team).order_by(Team.name, Team.slug)).scalars()
    return answer({"data": [_team_item(t, places.get(t.place_id, "")) for t in found]})


def _team_item(team: Team, place: str) -> dict:
    links = {name: url_for(f"api.{name}", slug=team.slug) for name in ("ideas", "rounds", "ledger")}
    return {"slug": team.slug, "name": team.name, "place": place, "links": links}


@api_bp.get("/teams/<slug>/ideas")
@public
def ideas(slug: str):
    team = _team(slug)
    page, per_page = _number("page", 1), _number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    rows = exports.ideas(session=get_session(), team=team)
    return answer(paginate(rows, page, per_page, lambda n: url_for("api.ideas", slug=slug, page=n, per_page=per_page)))


def paginate(rows: list, page: int, per_page: int, link) -> dict:
    pages = max(math.ceil(len(rows) / per_page), 1)
    if page > pages:
        raise ApiError(404, "no_such_page", _("There is no page %(page)s: the last page is %(last)s.",
                                              page=page, last=pages))
    return {"data": rows[(page - 1) * per_page: page * per_page],
            "meta": {"page": page, "per_page": per_page, "total": len(rows), "pages": pages},
            "links": {"self": link(page), "first": link(1), "last": link(pages),
                      "next": link(page + 1) if page < pages else None, "prev": link(page - 1) if page > 1 else None}}


@api_bp.get("/teams/<slug>/rounds")
@public
def rounds(slug: str):
    team = _team(slug)
    found = votes.rounds_of(session=get_session(), team=team)
    return answer({"data": [{**exports.round_summary(r), "links": {"results": url_for(
        "api.results", slug=slug, round_id=r.id) if r.status == "closed" else None}} for r in found]})


@api_bp.get("/teams/<slug>/rounds/<int:round_id>/results")
@public
def results(slug: str, round_id: int):
    team = _team(slug)
    session = get_session()
    rnd = exports.closed_round(session=session, team=team, round_id=round_id)
    return answer(exports.results(session=session, team=team, rnd=rnd))


@api_bp.get("/teams/<slug>/ledger")
@public
def ledger(slug: str):
    team = _team(slug)
    row = next(r for r in team_balances(session=get_session()) if r["team"].id == team.id)
    return answer({"team": slug, "balance_pence": row["balance"], "available_pence": row["available"],
                   "committed_pence": row["balance"] - row["available"],
                   "links": {"csv": url_for("opendata.team_ledger_csv", slug=slug)}})


@api_bp.get("/<path:rest>")
@public
def unknown(rest: str):
    raise ApiError(404, "not_found", _("There is no such address in this API: see /api/v1/openapi.json."))
