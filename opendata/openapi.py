"""The OpenAPI 3.1 document of the read-only API (``/api/v1/openapi.json``): the source of truth.
The tests validate it (openapi-spec-validator) and every answer of every endpoint against it
(openapi-core), bad parameters included."""

from __future__ import annotations

VERSION = "1.0.0"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "An error, as a JSON body")
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "description": "The team's short name, as in its web address (/teams/shirebrook)."}
ROUND_ID = {"name": "round_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
# Parameters are described as strings so that a malformed one (page=abc) reaches the app, which
# answers 400 with a JSON error; the accepted forms are in each pattern and description.
PAGE = {"name": "page", "in": "query", "required": False,
        "schema": {"type": "string"}, "description": "Page number, 1 or more (ASCII digits). Default 1."}
PER_PAGE = {"name": "per_page", "in": "query", "required": False,
            "schema": {"type": "string"}, "description": "Items a page, 1 to 100 (ASCII digits). Default 20."}
CACHED = {
    "ETag": {"schema": {"type": "string"}, "description": "Send it back in If-None-Match for a 304."},
    "Cache-Control": {"schema": {"type": "string"}},
}


def _get(summary: str, ok: dict, *, params=(), not_found: bool = True, bad: bool = False) -> dict:
    responses = {"200": {**ok, "headers": CACHED}, "304": {"description": "Not modified (If-None-Match matched)"},
                 "429": ERROR}
    if not_found:
        responses["404"] = ERROR
    if bad:
        responses["400"] = ERROR
    return {"get": {"summary": summary, "parameters": list(params), "responses": responses}}


_NULLABLE_INT = {"type": ["integer", "null"]}
_NULLABLE_STR = {"type": ["string", "null"]}
_LINK = {"type": ["string", "null"]}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {"type": "object", "required": ["code", "message"], "additionalProperties": False,
                                 "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "Team": {
        "type": "object", "required": ["slug", "name", "place", "links"], "additionalProperties": False,
        "properties": {
            "slug": {"type": "string"}, "name": {"type": "string"}, "place": {"type": "string"},
            "links": {"type": "object", "required": ["ideas", "rounds", "ledger"], "additionalProperties": False,
                      "properties": {"ideas": {"type": "string"}, "rounds": {"type": "string"},
                                     "ledger": {"type": "string"}}},
        },
    },
    "Teams": {"type": "object", "required": ["data"], "additionalProperties": False,
              "properties": {"data": {"type": "array", "items": _ref("Team")}}},
    "Idea": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "title", "status", "status_label", "cost_pence", "supporters"],
        "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
                       "status": {"type": "string", "enum": ["proposed", "needs_changes", "feasible", "not_feasible",
                                                             "funded", "in_delivery", "done"]},
                       "status_label": {"type": "string"}, "cost_pence": {"type": "integer"},
                       "supporters": {"type": "integer", "minimum": 0}},
    },
    "IdeasPage": {
        "type": "object", "required": ["data", "meta", "links"], "additionalProperties": False,
        "properties": {
            "data": {"type": "array", "items": _ref("Idea")},
            "meta": {"type": "object", "required": ["page", "per_page", "total", "pages"], "additionalProperties": False,
                     "properties": {"page": {"type": "integer", "minimum": 1},
                                    "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
                                    "total": {"type": "integer", "minimum": 0},
                                    "pages": {"type": "integer", "minimum": 1}}},
            "links": {"type": "object", "required": ["self", "first", "last", "next", "prev"],
                      "additionalProperties": False,
                      "properties": {"self": {"type": "string"}, "first": {"type": "string"},
                                     "last": {"type": "string"}, "next": _LINK, "prev": _LINK}},
        },
    },
    "Round": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "title", "status", "budget_pence", "ballot_type", "max_choices", "rule", "opens_at",
                     "closes_at", "closed_at"],
        "properties": {"id": {"type": "integer"}, "title": {"type": "string"},
                       "status": {"type": "string", "enum": ["open", "closed"]},
                       "budget_pence": {"type": "integer"}, "ballot_type": {"type": "string"},
                       "max_choices": _NULLABLE_INT, "rule": {"type": "string"},
                       "opens_at": {"type": "string", "format": "date-time"},
                       "closes_at": {"type": "string", "format": "date-time"},
                       "closed_at": {"type": ["string", "null"], "format": "date-time"},
                       "spent_pence": {"type": "integer"},
                       "links": {"type": "object", "additionalProperties": False,
                                 "properties": {"results": _LINK}}},
    },
    "Rounds": {"type": "object", "required": ["data"], "additionalProperties": False,
               "properties": {"data": {"type": "array", "items": _ref("Round")}}},
    "Results": {
        "type": "object", "required": ["team", "round", "turnout", "ideas", "licence"], "additionalProperties": False,
        "properties": {
            "team": {"type": "string"}, "round": _ref("Round"), "licence": {"type": "string"},
            "turnout": {"type": "object", "required": ["online", "imported", "paper", "spoilt", "total"],
                        "additionalProperties": False,
                        "properties": {k: {"type": "integer", "minimum": 0}
                                       for k in ("online", "imported", "paper", "spoilt", "total")}},
            "ideas": {"type": "array", "items": {
                "type": "object", "additionalProperties": False,
                "required": ["idea_id", "title", "cost_pence", "votes", "funded", "funded_order", "explanation"],
                "properties": {"idea_id": {"type": "integer"}, "title": {"type": "string"},
                               "cost_pence": {"type": "integer"}, "votes": {"type": "integer", "minimum": 0},
                               "funded": {"type": "boolean"}, "funded_order": _NULLABLE_INT,
                               "explanation": {"type": "string"}}}},
        },
    },
    "LedgerTotals": {
        "type": "object", "required": ["team", "balance_pence", "committed_pence", "available_pence", "links"],
        "additionalProperties": False,
        "properties": {"team": {"type": "string"}, "balance_pence": {"type": "integer"},
                       "committed_pence": {"type": "integer"}, "available_pence": {"type": "integer"},
                       "links": {"type": "object", "required": ["csv"], "additionalProperties": False,
                                 "properties": {"csv": {"type": "string"}}}},
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Thriving Communities open data API",
        "version": VERSION,
        "description": ("Read-only, public and anonymous: Connected Teams, their ideas, voting rounds and results, "
                        "and their public ledger totals. Money is in integer pence. No cookies, no sign-in. "
                        "Answers carry an ETag and Cache-Control; requests are rate-limited per address "
                        "(429 with a JSON error). Errors are JSON: {\"error\": {\"code\", \"message\"}}."),
        "license": {"name": "Open Government Licence v3.0", "identifier": "OGL-UK-3.0"},
    },
    "servers": [{"url": "/api/v1"}],
    "paths": {
        "/teams": _get("Every Connected Team", _json(_ref("Teams"), "The teams, by name"), not_found=False),
        "/teams/{slug}/ideas": _get("A team's ideas, newest first, a page at a time",
                                    _json(_ref("IdeasPage"), "One page of ideas"),
                                    params=(SLUG, PAGE, PER_PAGE), bad=True),
        "/teams/{slug}/rounds": _get("A team's voting rounds, newest first", _json(_ref("Rounds"), "The rounds"),
                                     params=(SLUG,)),
        "/teams/{slug}/rounds/{round_id}/results": _get(
            "A closed round's results (404 while the round is open)", _json(_ref("Results"), "The results"),
            params=(SLUG, ROUND_ID)),
        "/teams/{slug}/ledger": _get("A team's public ledger totals", _json(_ref("LedgerTotals"), "The totals"),
                                     params=(SLUG,)),
    },
    "components": {"schemas": SCHEMAS},
}
