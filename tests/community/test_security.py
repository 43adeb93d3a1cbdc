"""Every route declares its permission; every form needs a CSRF token; headers and cookies."""

import re

import pytest

from tests.conftest import PROD_TOTP_KEYS
from tests.support.factories import PASSWORD
from wsgi import ConfigurationError, create_app

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def test_every_route_declares_its_permission(app):
    from community.auth import PERMISSIONS

    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "permission", None) not in PERMISSIONS:
            missing.append(rule.rule)
    assert missing == []


@pytest.fixture
def csrf_client(app):
    """CSRF switched back on: these tests prove every state-changing route needs it."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app.test_client()


def _state_changing_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.methods & STATE_CHANGING and rule.endpoint != "static":
            yield re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?\w+>", _sample_value, rule.rule)


def _sample_value(match: re.Match) -> str:
    """A value each converter accepts: 1 for int, the first choice for any(...), x otherwise."""
    converter, arguments = match.group(1), match.group(2)
    if converter == "int":
        return "1"
    if converter == "any":
        return arguments.split(",")[0].strip()
    return "x"


def test_every_state_changing_route_refuses_a_missing_token(app, csrf_client):
    urls = list(_state_changing_rules(app))
    assert "/sign-in" in urls and "/sign-out" in urls
    for url in urls:
        assert csrf_client.post(url, data={"x": "1"}).status_code == 400, url


def test_a_token_from_another_session_is_refused(app, csrf_client, make_person):
    other = app.test_client()
    page = other.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    csrf_client.get("/sign-in")
    response = csrf_client.post("/sign-in", data={"csrf_token": token, "email": "a@example.org", "password": "x"})
    assert response.status_code == 400
    # and the right token works
    mine = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                     csrf_client.get("/sign-in").get_data(as_text=True)).group(1)
    person = make_person()
    ok = csrf_client.post("/sign-in", data={"csrf_token": mine, "email": person.email, "password": PASSWORD})
    assert ok.status_code == 302


@pytest.mark.parametrize("raise_it", ["community", "ledger"])
def test_a_not_found_from_any_domain_answers_404_with_its_message(database_url, tmp_path, raise_it):
    """One DomainError base, one NotFound: raised by any service and not caught, it is a 404 page."""
    import community.errors
    import ledger.errors

    app = create_app({"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": "x" * 40, "DATABASE_URL": database_url,
                      "OUTBOX_DIR": str(tmp_path / "outbox"), "RATELIMIT_ENABLED": False})
    error = {"community": community.errors.NotFound, "ledger": ledger.errors.NotFound}[raise_it]

    @app.get("/raises-not-found")
    def raises():  # permission: public (a test route)
        raise error("No such entry: L000341.")

    response = app.test_client().get("/raises-not-found")
    assert response.status_code == 404
    assert "No such entry: L000341." in response.get_data(as_text=True)


def test_security_headers_on_every_page(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "<script>" not in response.get_data(as_text=True)  # no inline script at all


def test_production_cookie_flags_and_hsts(database_url, tmp_path, make_person, place_and_team):
    prod = create_app({"ENV_NAME": "production", "SECRET_KEY": "p" * 40, "TOTP_KEYS": PROD_TOTP_KEYS, "DATABASE_URL": database_url,
                       "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    client = prod.test_client()
    person = make_person()
    response = client.post("/sign-in", data={"email": person.email, "password": PASSWORD},
                           base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_production_refuses_a_missing_or_short_secret(database_url):
    with pytest.raises(ConfigurationError):
        create_app({"ENV_NAME": "production", "DATABASE_URL": database_url})
    with pytest.raises(ConfigurationError):
        create_app({"ENV_NAME": "production", "SECRET_KEY": "short", "DATABASE_URL": database_url})


def test_sign_in_is_rate_limited_per_account(database_url, tmp_path, make_person):
    from community.limits import limiter
    from tests.conftest import TEST_SECRET

    limited = create_app({"ENV_NAME": "testing", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                          "RATELIMIT_STORAGE_URI": "memory://"})
    client = limited.test_client()
    limiter.reset()
    person = make_person()
    statuses = [client.post("/sign-in", data={"email": person.email, "password": "wrong wrong"}).status_code
                for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    limiter.reset()
