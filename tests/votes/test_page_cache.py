"""The public-page micro-cache (community/cache.py) on the idea list: cookie-less visitors share
a page for a few seconds; anyone with a cookie, and anyone signed in, always gets it built
fresh, and nothing built for them is ever shared."""

import pytest
from flask import redirect

from community import cache
from tests.support.factories import feasible_idea


@pytest.fixture
def cached(app, monkeypatch):
    """The app with the production setting (2 s) and a clock the test moves."""
    clock = {"now": 1_000_000.0}
    monkeypatch.setattr("cachelib.simple.time", lambda: clock["now"])
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 2
    cache.init_app(app)
    return clock


def _titles(response) -> str:
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_cookieless_visitors_share_the_page_for_a_few_seconds(app, session, world, cached):
    url = f"/teams/{world['team'].slug}/ideas"
    feasible_idea(session, world, "Community fridge", 30_000)
    session.commit()
    visitor = app.test_client(use_cookies=False)
    assert "Community fridge" in _titles(visitor.get(url))

    feasible_idea(session, world, "Skate ramp", 90_000)
    session.commit()
    assert "Skate ramp" not in _titles(visitor.get(url)), "served from the cache within 2 s"

    with_cookie = app.test_client()
    with_cookie.set_cookie("seen-banner", "1")
    assert "Skate ramp" in _titles(with_cookie.get(url)), "a visitor with any cookie gets it fresh"

    cached["now"] += 3
    assert "Skate ramp" in _titles(visitor.get(url)), "rebuilt once the 2 s have passed"


def test_a_signed_in_page_is_never_shared_and_never_stale(app, client, session, world, sign_in, cached):
    url = f"/teams/{world['team'].slug}/ideas"
    resident = world["residents"][0]
    feasible_idea(session, world, "Community fridge", 30_000)
    session.commit()
    assert sign_in(resident).status_code == 302
    mine = _titles(client.get(url))
    assert "Propose an idea" in mine  # only a signed-in resident of the place gets the button

    visitor = app.test_client(use_cookies=False)
    public = _titles(visitor.get(url))
    assert "Propose an idea" not in public and "Sign in" in public

    feasible_idea(session, world, "Skate ramp", 90_000)
    session.commit()
    assert "Skate ramp" in _titles(client.get(url)), "signed in: built fresh every time"


def test_without_the_setting_nothing_is_cached(app, session, world):
    """The tests' default (PUBLIC_PAGE_CACHE_SECONDS = 0): every page is built for its request."""
    assert app.config["PUBLIC_PAGE_CACHE_SECONDS"] == 0
    url = f"/teams/{world['team'].slug}/ideas"
    visitor = app.test_client(use_cookies=False)
    feasible_idea(session, world, "Community fridge", 30_000)
    session.commit()
    assert "Community fridge" in _titles(visitor.get(url))
    feasible_idea(session, world, "Skate ramp", 90_000)
    session.commit()
    assert "Skate ramp" in _titles(visitor.get(url))


def test_only_a_plain_page_that_left_the_session_empty_is_stored(app):
    from flask import session

    with app.test_request_context("/"):
        assert cache._shareable("<html>page</html>")
        assert not cache._shareable(redirect("/elsewhere"))
        assert not cache._shareable(("<html>not found</html>", 404))
        session["csrf_token"] = "made while building the page"
        assert not cache._shareable("<html>a form</html>")
