"""The access-control matrix over gunicorn (security.md C1, C2): every route in the URL map ×
every role → the status its declared permission decorator implies.

Nothing here lists routes: they come from ``app.url_map`` and the expectation from the
view's ``permission`` attribute (set by the decorators in community/auth.py). A route added
later is covered as soon as it merges; a route with no declared permission fails.

URL arguments are built by ``ARG_FACTORIES`` (name → function(served, "own" | "other")). A
domain that adds routes with object ids (``<int:request_id>``, ``<int:idea_id>`` …) should
add a factory here that creates the object in team A ("own") or team B ("other"); the matrix
then also proves that team A's member gets 404 for team B's object. Unknown arguments get a
placeholder, and for those an allowed role may see 404 (there is no such object).
"""

import datetime as dt
import re
from collections.abc import Callable

import pytest

from community.auth import PERMISSIONS
from tests.prove.conftest import Served
from tests.prove.harness import ROLES, _app_for

SIGN_IN, FORBIDDEN, NOT_FOUND, ALLOWED, SECOND_FACTOR = "sign-in", "403", "404", "allowed", "2fa"
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
STAFF = ("member", "other_member", "enabler", "finance", "admin")


def expected(permission: str, role: str) -> str:
    """The policy table: declared permission × role → outcome (the decorators' contract)."""
    if permission in ("public", "development"):  # development: the server runs in testing mode
        return ALLOWED
    if role == "anonymous":
        return SIGN_IN
    if permission == "signed_in":
        return ALLOWED
    if role == "resident":
        return FORBIDDEN
    if permission == "staff":
        return ALLOWED
    if permission == "team":  # the "own" team is team A: its member and enabler
        return ALLOWED if role in ("member", "enabler") else NOT_FOUND
    if permission == "finance":
        return ALLOWED if role == "finance" else FORBIDDEN
    if permission == "admin":
        return ALLOWED if role == "admin" else FORBIDDEN
    raise AssertionError(f"no expectation for permission {permission!r}")


def _last_month() -> str:
    first = dt.date.today().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


ARG_FACTORIES: dict[str, Callable[[Served, str], object]] = {
    "slug": lambda s, which: s.world.team_a if which == "own" else s.world.team_b,
    "person_id": lambda s, which: s.world.actors["resident"].person_id,
    "token": lambda s, which: "no-such-invitation-token",
    "month": lambda s, which: _last_month(),
    "fmt": lambda s, which: "csv",
    "filename": lambda s, which: "css/app.css",
}
ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def build(served: Served, rule, which: str = "own") -> tuple[str, bool]:
    """The URL of a rule with arguments filled in; and whether every argument was known."""
    known = True

    def fill(match):
        nonlocal known
        converter, name = match.group(1), match.group(2)
        if name in ARG_FACTORIES:
            return str(ARG_FACTORIES[name](served, which))
        known = False
        return "999999" if converter in ("int", "float") else "unknown"

    return ARG.sub(fill, rule.rule), known


def rules(served: Served):
    app = _app_for(served.database_url)
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"], app


def undeclared(app) -> list[str]:
    """Routes whose view declares no permission (or one the policy table does not know)."""
    return [r.rule for r in app.url_map.iter_rules()
            if r.endpoint != "static" and getattr(app.view_functions[r.endpoint], "permission", None)
            not in PERMISSIONS]


def outcome(response) -> str:
    location = response.headers.get("Location", "")
    if response.status_code in (301, 302, 303) and re.search(r"/sign-in(\?|$)", location):
        return SIGN_IN
    if response.status_code in (301, 302, 303) and "/two-factor/setup" in location:
        return SECOND_FACTOR
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code == 404:
        return NOT_FOUND
    return ALLOWED


def test_every_route_declares_a_permission(served):
    _, app = rules(served)
    assert undeclared(app) == []


def test_a_route_without_a_permission_is_caught(served):
    """The checker itself can fail: an undeclared route added to an app is reported."""
    from wsgi import create_app

    app = create_app({"ENV_NAME": "testing", "SECRET_KEY": "k" * 40, "DATABASE_URL": served.database_url})
    app.add_url_rule("/sneaky", "sneaky", lambda: "open to all")
    assert undeclared(app) == ["/sneaky"]


def test_matrix_every_route_every_role(served):
    all_rules, app = rules(served)
    browsers = {role: served.browser(role) for role in ROLES}
    problems = []
    checked = 0
    for rule in all_rules:
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        url, known = build(served, rule)
        method = "GET" if "GET" in rule.methods else sorted(rule.methods & STATE_CHANGING)[0]
        for role in ROLES:
            if method == "GET":
                response = browsers[role].get(url)
            else:  # a fresh session each time: the POST may sign out or change the session
                fresh = served.browser(role)
                fresh.csrf("/sign-in")
                response = fresh.post(url, {})
            checked += 1
            got, want = outcome(response), expected(permission, role)
            if response.status_code >= 500:
                problems.append(f"{method} {url} as {role}: {response.status_code}")
            elif permission == "public" and got != FORBIDDEN:
                continue  # a public page may still send you on (e.g. /sign-in/code with nothing pending)
            elif got != want and not (want == ALLOWED and got == NOT_FOUND and not known):
                problems.append(f"{method} {url} [{permission}] as {role}: got {got} "
                                f"({response.status_code}), want {want}")
    assert checked >= len(all_rules) * len(ROLES)
    assert problems == [], "\n".join(problems)


def test_other_teams_objects_are_404(served):
    """Team A's member and enabler asking for team B's pages and objects get 404, never 403."""
    all_rules, app = rules(served)
    problems, checked = [], 0
    for rule in all_rules:
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        if permission in ("public", "development") or "GET" not in rule.methods:
            continue
        url, known = build(served, rule, "other")
        own_url, _ = build(served, rule, "own")
        if url == own_url:  # no team-scoped argument in this route
            continue
        for role in ("member", "enabler"):
            if expected(permission, role) != ALLOWED:
                continue
            response = served.browser(role).get(url)
            checked += 1
            if response.status_code != 404:
                problems.append(f"GET {url} as {role} of team A: {response.status_code}")
    assert checked > 0
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("role", STAFF)
def test_staff_pages_need_the_second_factor(served, role):
    """Signed in with a password only: every staff, team, finance and admin page sends the
    person to set up or use their second factor; none of them is served."""
    all_rules, app = rules(served)
    browser = served.browser(role, second_factor=False)
    problems = []
    for rule in all_rules:
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        if permission not in ("staff", "team", "finance", "admin") or "GET" not in rule.methods:
            continue
        url, _ = build(served, rule)
        response = browser.get(url)
        if outcome(response) not in (SECOND_FACTOR, FORBIDDEN, NOT_FOUND) or response.status_code == 200:
            problems.append(f"GET {url} [{permission}] as {role} without 2FA: {response.status_code}")
    assert problems == [], "\n".join(problems)


def test_development_pages_are_404_in_production(served):
    from wsgi import create_app

    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "p" * 40, "DATABASE_URL": served.database_url})
    client = app.test_client()
    dev = [r for r in app.url_map.iter_rules()
           if getattr(app.view_functions[r.endpoint], "permission", None) == "development"]
    for rule in dev:
        url, _ = build(served, rule)
        assert client.get(url, base_url="https://localhost").status_code == 404, url


@pytest.fixture
def served(shared_served):
    """This module only reads, or changes its own sessions: the shared server will do."""
    return shared_served
