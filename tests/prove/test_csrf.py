"""CSRF over gunicorn with CSRF on (security.md D1): every state-changing route in the URL map,
posted by a role allowed on it, is refused with 400 without a token and with another session's
token; the session's own token gets past the check (so the refusals are the CSRF check's)."""

import pytest

from tests.prove.harness import ROLES
from tests.prove.test_access import ALLOWED, STATE_CHANGING, build, expected, rules

EXPIRED = "Your form expired"
# The one route exempt from CSRF: RFC 8058's one-click unsubscribe is POSTed by mail clients with
# no cookie and no token; the signed token in its URL is the proof (community/views.py).
CSRF_EXEMPT = {"community.unsubscribe"}


def _allowed_role(permission: str) -> str:
    return next(r for r in reversed(ROLES) if expected(permission, r) == ALLOWED)


def _state_changing(served):
    all_rules, app = rules(served)
    for rule in all_rules:
        if rule.methods & STATE_CHANGING and rule.endpoint not in CSRF_EXEMPT:
            yield rule, getattr(app.view_functions[rule.endpoint], "permission", None)


def test_every_state_changing_route_needs_this_sessions_token(served):
    stranger = served.browser("anonymous")
    foreign_token = stranger.csrf("/sign-in")
    problems, checked = [], 0
    for rule, permission in _state_changing(served):
        url, _ = build(served, rule)
        role = _allowed_role(permission)
        for label, token in (("no token", False), ("another session's token", foreign_token)):
            browser = served.browser(role)
            response = browser.post(url, {"x": "1"}, csrf=token)
            checked += 1
            if response.status_code != 400 or EXPIRED not in response.text:
                problems.append(f"POST {url} as {role} with {label}: {response.status_code}")
        own = served.browser(role)
        own.csrf("/sign-in")
        response = own.post(url, {"x": "1"})
        if EXPIRED in response.text or response.status_code >= 500:
            problems.append(f"POST {url} as {role} with its own token: {response.status_code}")
    assert checked >= 4  # sign-in and sign-out at least
    assert problems == [], "\n".join(problems)


def test_get_never_changes_state(served):
    """D2: GET every route as every role; nothing but sign-in bookkeeping is written."""
    from tests.prove.harness import table_counts, writes_excluding_sessions

    all_rules, _ = rules(served)
    browsers = {role: served.browser(role) for role in ROLES}
    # Build every URL first: the argument factories create their objects (a spend request, a
    # pledge …) on first use, which must not be counted as the GETs' writes.
    urls = [build(served, rule)[0] for rule in all_rules if "GET" in rule.methods]
    before = table_counts(served.database_url)
    for url in urls:
        for browser in browsers.values():
            assert browser.get(url).status_code < 500, url
    assert writes_excluding_sessions(before, table_counts(served.database_url)) == {}


@pytest.fixture
def served(shared_served):
    """This module only reads, or changes its own sessions: the shared server will do."""
    return shared_served


def test_only_the_one_click_unsubscribe_is_exempt_from_csrf():
    from community.security import csrf
    from wsgi import create_app

    create_app({"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": "s" * 40})
    assert csrf._exempt_views == {"community.views.unsubscribe"}
