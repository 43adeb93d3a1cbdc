"""Security headers on every page (security.md G1, G2) over gunicorn, every GET route as an
anonymous visitor and as each staff role, error pages included; HSTS in production mode."""

import re

import pytest

from tests.conftest import PROD_TOTP_KEYS
from tests.prove.harness import unsafe_markup
from tests.prove.test_access import build, rules


def check(response, url) -> list[str]:
    problems = []
    h = response.headers
    csp = h.get("Content-Security-Policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    attachment = h.get("Content-Disposition", "").startswith("attachment")
    image = h.get("Content-Type", "").startswith(("image/jpeg", "image/png"))
    if (attachment or image) and "text/html" not in h.get("Content-Type", "") and directives.get("sandbox") == "sandbox" \
            and directives.get("default-src") == "default-src 'none'":
        # A download (a receipt) or a delivery step's photo: stricter than any page — sandboxed,
        # nothing may load or run.
        directives.update({"script-src": "script-src 'self'", "frame-ancestors": "frame-ancestors 'none'"})
        csp += "; object-src 'none'; base-uri 'none'; form-action 'self'"
    if directives.get("script-src") != "script-src 'self'":
        problems.append(f"{url}: script-src is {directives.get('script-src')!r}")
    if "unsafe-inline" in csp or "unsafe-eval" in csp:
        problems.append(f"{url}: CSP allows unsafe-inline/eval")
    if directives.get("frame-ancestors") != "frame-ancestors 'none'":
        problems.append(f"{url}: frame-ancestors is {directives.get('frame-ancestors')!r}")
    for needed in ("object-src 'none'", "base-uri 'none'", "form-action 'self'"):
        if needed not in csp:
            problems.append(f"{url}: CSP lacks {needed}")
    if h.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{url}: no nosniff")
    if h.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin-when-cross-origin",
                                        "strict-origin"):
        problems.append(f"{url}: Referrer-Policy {h.get('Referrer-Policy')!r}")
    if "text/html" in h.get("Content-Type", ""):
        if "charset=utf-8" not in h["Content-Type"].lower():
            problems.append(f"{url}: HTML without charset")
        problems += [f"{url}: {bad}" for bad in unsafe_markup(response.text)]
    return problems


@pytest.mark.parametrize("role", ["anonymous", "member", "finance", "admin"])
def test_every_page_carries_the_headers(served, role):
    all_rules, _ = rules(served)
    browser = served.browser(role)
    problems = []
    urls = {build(served, r)[0] for r in all_rules if "GET" in r.methods}
    urls |= {"/no-such-page", "/teams/no-such-team"}  # 404 pages too
    for url in sorted(urls):
        response = browser.get(url)
        problems += check(response, url)
        if role != "anonymous" and response.status_code == 200 and "Cache-Control" in response.headers:
            if "no-store" not in response.headers["Cache-Control"] and not url.startswith("/static"):
                problems.append(f"{url}: signed-in page cacheable: {response.headers['Cache-Control']}")
        elif role != "anonymous" and response.status_code == 200 and not url.startswith("/static"):
            problems.append(f"{url}: signed-in page without Cache-Control: no-store")
    # 405 (wrong method) error page too
    problems += check(browser.http.delete(served.url + "/"), "DELETE /")
    assert problems == [], "\n".join(problems)


def test_hsts_and_secure_cookie_in_production_mode(served):
    from wsgi import create_app

    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "p" * 40, "TOTP_KEYS": PROD_TOTP_KEYS, "DATABASE_URL": served.database_url,
                      "RATELIMIT_ENABLED": False})
    client = app.test_client()
    response = client.get("/sign-in", base_url="https://localhost")
    hsts = response.headers["Strict-Transport-Security"]
    assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31_536_000 and "includeSubDomains" in hsts
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("__Host-session=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "Domain=" not in cookie
    assert check(response, "/sign-in (production)") == []


@pytest.fixture
def served(shared_served):
    """This module only reads, or changes its own sessions: the shared server will do."""
    return shared_served
