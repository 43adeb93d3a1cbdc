"""Sessions and sign-in over gunicorn (security.md A3, A6, B1–B3): real sign-ins through the
forms with TOTP, cookie flags, a fresh cookie at sign-in, a copied cookie refused after
sign-out, and the sign-in rate limit holding across four workers with the real Redis."""

import socket
import uuid

import pytest
import requests

from tests.prove.conftest import serve
from tests.prove.harness import COOKIE, Browser

REDIS = ("127.0.0.1", 6379)


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _set_cookie_header(response) -> str:
    return next((v for k, v in response.raw.headers.items() if k.lower() == "set-cookie"
                 and v.startswith(COOKIE + "=")), "")


def test_cookie_flags_and_a_fresh_cookie_at_sign_in(served):
    browser = Browser(served.url)
    page = browser.get("/sign-in")
    header = _set_cookie_header(page)
    before = browser.cookie
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in header, header
    assert "Domain=" not in header
    response = browser.sign_in(served.world.actors["member"])
    assert response.status_code == 302 and "/sign-in" not in response.headers["Location"]
    header = _set_cookie_header(response)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert browser.cookie != before  # session fixation: the pre-sign-in cookie is not reused
    # The pre-sign-in cookie gives no access.
    old = Browser(served.url)
    old.http.cookies.set(COOKIE, before, domain="127.0.0.1", path="/")
    assert "/sign-in" in old.get("/staff").headers.get("Location", "")
    assert browser.get("/staff").status_code == 200


def test_a_copied_cookie_is_refused_after_sign_out(served):
    browser = Browser(served.url)
    assert browser.sign_in(served.world.actors["finance"]).status_code == 302
    assert browser.get("/finance").status_code == 200
    stolen = browser.cookie
    browser.csrf("/account")
    assert browser.post("/sign-out").status_code == 302
    thief = Browser(served.url)
    thief.http.cookies.set(COOKIE, stolen, domain="127.0.0.1", path="/")
    for path in ("/finance", "/account", "/staff"):
        response = thief.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"], path


def test_staff_sign_in_stops_at_the_code_step(served):
    """Password right, no code: no staff page is reachable (A6)."""
    browser = Browser(served.url)
    response = browser.post("/sign-in", {"email": served.world.actors["admin"].email,
                                         "password": "correct horse battery"})
    assert response.headers["Location"].endswith("/sign-in/code")
    for path in ("/admin", "/staff", "/finance", f"/teams/{served.world.team_a}/ledger"):
        response = browser.get(path)
        assert response.status_code in (302, 200), path
        if response.status_code == 302:
            assert "/sign-in" in response.headers["Location"], path
        else:
            assert "Sign out" not in response.text  # the public ledger, seen as anonymous


@pytest.mark.prove_heavy
def test_sign_in_rate_limit_holds_across_workers(make_db, tmp_path_factory, backend):
    if backend == "postgresql":
        pytest.skip("the limiter's storage does not depend on the database: run once, on SQLite")
    if not _redis_answers():
        pytest.skip("no Redis answering on 127.0.0.1:6379: the shared-storage limit cannot be shown")
    served = serve(make_db, tmp_path_factory, env={
        "THRIVING_RATELIMIT_ENABLED": "true",
        "THRIVING_RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "THRIVING_RATELIMIT_KEY_PREFIX": f"prove-{uuid.uuid4().hex}",
    })
    try:
        email = served.world.actors["resident"].email
        statuses = []
        for i in range(12):
            # a new connection each time, so the attempts spread over the four workers;
            # a spoofed X-Forwarded-For must not reset anything
            browser = Browser(served.url)
            browser.http.headers["Connection"] = "close"
            browser.http.headers["X-Forwarded-For"] = f"203.0.113.{i}"
            statuses.append(browser.post("/sign-in", {"email": email, "password": "wrong wrong"}).status_code)
        # 5 per account per 5 minutes in total — not 5 per worker (which would allow 20).
        assert statuses[:5] == [200] * 5, statuses
        assert statuses[5:] == [429] * 7, statuses
        assert not served.server.error_lines()
    finally:
        served.server.stop()


def test_no_session_cookie_reaches_another_host(served):
    """Cookies are host-only: a request to a different host name gets none of them."""
    browser = Browser(served.url)
    browser.sign_in(served.world.actors["member"])
    prepared = browser.http.prepare_request(requests.Request("GET", f"http://localhost:{served.server.port}/"))
    assert COOKIE not in (prepared.headers.get("Cookie") or "")


@pytest.fixture
def served(shared_served):
    """This module only reads, or changes its own sessions: the shared server will do."""
    return shared_served
