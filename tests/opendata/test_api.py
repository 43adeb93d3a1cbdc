"""The read-only API: its OpenAPI 3.1 document is valid, and every endpoint's answers, good and
bad parameters alike, validate against it (openapi-core: it validates a real answer of the real
app against the document in-process, quickly; schemathesis would generate requests too, but its
runs take minutes on two shared cores and our bad-input table is explicit). Errors are JSON,
never a 500; answers carry an ETag (304) and public caching, and set no cookie; pagination walks
by its links; too many requests get a JSON 429."""

import json

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate
from sqlalchemy import select

from opendata.openapi import DOCUMENT
from votes.models import Round


@pytest.fixture(scope="module")
def spec():
    return OpenAPI.from_dict(DOCUMENT)


def test_the_document_is_valid_openapi_3_1_and_is_what_is_served(world):
    validate(DOCUMENT)
    response = world["client"].get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json == json.loads(json.dumps(DOCUMENT))
    assert response.json["openapi"].startswith("3.1")


def _rounds(db):
    closed = db.execute(select(Round).where(Round.status == "closed")).scalars().first()
    still_open = db.execute(select(Round).where(Round.status == "open")).scalars().first()
    return closed, still_open


def _table(db):
    closed, still_open = _rounds(db)
    s = "/api/v1/teams/shirebrook"
    return [
        ("/api/v1/teams", 200),
        (f"{s}/ideas", 200),
        (f"{s}/ideas?page=1&per_page=1", 200),
        (f"{s}/ideas?page=2&per_page=3", 200),
        (f"{s}/ideas?per_page=100", 200),
        (f"{s}/rounds", 200),
        (f"{s}/rounds/{closed.id}/results", 200),
        (f"{s}/ledger", 200),
        ("/api/v1/teams/gamesley/ledger", 200),
        ("/api/v1/teams/ashbourne/ideas", 200),  # a team with no budget yet, some ideas or none
        (f"{s}/ideas?page=abc", 400),
        (f"{s}/ideas?page=0", 400),
        (f"{s}/ideas?page=-1", 400),
        (f"{s}/ideas?page=1.5", 400),
        (f"{s}/ideas?page=%D9%A2", 400),  # Arabic-Indic two
        (f"{s}/ideas?page=", 400),
        (f"{s}/ideas?page={10**9}", 404),
        (f"{s}/ideas?page={10**30}", 400),
        (f"{s}/ideas?per_page=1000", 400),
        (f"{s}/ideas?per_page=0", 400),
        (f"{s}/ideas?per_page=x", 400),
        ("/api/v1/teams/nowhere/ideas", 404),
        ("/api/v1/teams/nowhere/rounds", 404),
        ("/api/v1/teams/nowhere/ledger", 404),
        ("/api/v1/teams/shirebrook/rounds/999999/results", 404),
        (f"/api/v1/teams/gamesley/rounds/{closed.id}/results", 404),  # another team's round
        (f"{s}/rounds/{still_open.id}/results", 404),
    ]


def test_every_answer_validates_against_the_document(world, db, spec):
    client = world["client"]
    for url, status in _table(db):
        response = client.get(url)
        assert response.status_code == status, (url, response.data[:300])
        assert response.content_type == "application/json", url
        spec.validate_response(WerkzeugOpenAPIRequest(response.request), WerkzeugOpenAPIResponse(response))
        if status >= 400:
            assert set(response.json["error"]) == {"code", "message"} and response.json["error"]["message"], url
        assert "Set-Cookie" not in response.headers, url


def test_unknown_addresses_and_open_rounds_answer_json_sentences(world, db):
    _closed, still_open = _rounds(db)
    client = world["client"]
    for url in ("/api/v1/nothing", "/api/v1/teams/shirebrook/rounds/abc/results", "/api/v1/teams/x/y/z"):
        response = client.get(url)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found", url
    open_round = client.get(f"/api/v1/teams/shirebrook/rounds/{still_open.id}/results")
    assert open_round.json["error"]["message"] == "Results are published when the round closes."
    assert client.post("/api/v1/teams").status_code == 405


def test_answers_are_cached_with_an_etag(world):
    client = world["client"]
    first = client.get("/api/v1/teams/shirebrook/ideas")
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get("/api/v1/teams/shirebrook/ideas", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/api/v1/teams/shirebrook/ideas?per_page=1",
                      headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


def test_pagination_walks_every_idea_once_by_its_links(world):
    client = world["client"]
    url, seen, pages = "/api/v1/teams/shirebrook/ideas?per_page=2", [], 0
    whole = client.get("/api/v1/teams/shirebrook/ideas?per_page=100").json
    while url:
        page = client.get(url).json
        seen += [i["id"] for i in page["data"]]
        url, pages = page["links"]["next"], pages + 1
        if url:
            assert client.get(url).json["links"]["prev"] == page["links"]["self"]
    assert seen == [i["id"] for i in whole["data"]] and len(seen) == whole["meta"]["total"]
    assert pages == whole["meta"]["total"] // 2 + (whole["meta"]["total"] % 2) == page["meta"]["pages"]


def test_too_many_requests_get_a_json_429(world):
    from wsgi import create_app

    app = create_app({**world["app"].config, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                      "API_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    statuses = [client.get("/api/v1/teams").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/teams")
    assert refused.json["error"]["code"] == "rate_limited"
    OpenAPI.from_dict(DOCUMENT).validate_response(WerkzeugOpenAPIRequest(refused.request),
                                                  WerkzeugOpenAPIResponse(refused))
