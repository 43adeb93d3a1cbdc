"""The page chrome rendered once and reused (community/chrome.py, issue 18): what it is cached by
must be everything it shows, so nobody is ever shown another person's navigation or language."""

from __future__ import annotations

import re

import pytest

from community import chrome
from tests.prove.harness import COOKIE

NAV = re.compile(r'<nav aria-label="[^"]*" class="govuk-service-navigation__wrapper">(.*?)</nav>', re.S)


def nav_links(html: str) -> list[str]:
    """The service navigation's link texts, in order."""
    found = NAV.search(html)
    assert found, "no service navigation on the page"
    return [
        re.sub(r"\s+", " ", text).strip()
        for text in re.findall(r'class="govuk-service-navigation__link"[^>]*>(.*?)</a>', found.group(1), re.S)
    ]


def footer(html: str) -> str:
    return html[html.index('<footer class="govuk-footer app-footer">') :]


# Each visitor, in the order they come, with the navigation they must see. A resident after a
# finance officer, an admin after a member, an anonymous visitor last: a cache keyed by less
# than every flag would show the earlier one's links.
VISITORS = [
    (None, ["Teams", "Sign in", "Create an account"]),
    ("finance", ["Teams", "Staff", "Finance", "Your account"]),
    ("resident", ["Teams", "Your account"]),
    ("member", ["Teams", "Staff", "Your account"]),
    ("admin", ["Teams", "Staff", "Admin", "Your account"]),
    (None, ["Teams", "Sign in", "Create an account"]),
]


@pytest.fixture
def visit(app, place_and_team, make_person, sign_in, client):
    """Get a page on the shared client as a person of ``role`` (one person per role, made on
    first use; None: nobody signed in)."""
    _, team = place_and_team
    cookies = {}  # role -> session cookie (a TOTP code is single-use: sign each in once)

    def go(role: str | None, path: str = "/privacy", **headers: str) -> str:
        client.delete_cookie(COOKIE)
        if role is not None:
            if role not in cookies:
                person = make_person(
                    f"{role}@example.org", role=None if role == "resident" else role, team=team
                )
                assert sign_in(person).status_code == 302
                cookies[role] = client.get_cookie(COOKIE).value
            client.set_cookie(COOKIE, cookies[role])
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    return go


def test_the_navigation_follows_the_visitor_not_the_cache(app, visit):
    for role, expected in VISITORS:
        assert nav_links(visit(role)) == expected, role
    # One rendering per combination seen, reused after that.
    cache = app.extensions["chrome_cache"]
    headers = [key for key in cache if key[0] == "chrome/header.html"]
    assert len(headers) == 5


def test_the_language_of_the_page_is_the_language_of_its_chrome(app, visit):
    english = visit(None)
    polish = visit(None, "/privacy?lang=pl")
    assert nav_links(english) == ["Teams", "Sign in", "Create an account"]
    assert nav_links(polish) != nav_links(english)
    assert "Sign in" not in nav_links(polish)
    # Links in a ?lang= page keep it; the English page's links do not carry it.
    assert 'href="/sign-in?lang=pl"' in polish
    assert "?lang=pl" not in footer(english) and "?lang=pl" in footer(polish)
    assert visit(None) == english  # and English again, from the cache, as it was
    # Polish chosen by the browser, not the address: the same words, links without ?lang=.
    browser_polish = visit(None, "/privacy", **{"Accept-Language": "pl"})
    assert nav_links(browser_polish) == nav_links(polish)
    assert "?lang=" not in NAV.search(browser_polish).group(1) + footer(browser_polish)


def test_the_chrome_is_the_same_html_as_rendering_it_afresh(app, visit):
    visit("member")

    def without_tokens(html: str) -> str:
        return re.sub(r'name="csrf_token" value="[^"]*"', "", html)

    warm = visit("member")  # the second visit in this test: the chrome from the cache
    assert app.extensions["chrome_cache"]
    app.extensions["chrome_cache"].clear()
    fresh = visit("member")
    assert without_tokens(fresh) == without_tokens(warm)


def test_the_cache_stays_bounded(app, visit, monkeypatch):
    monkeypatch.setattr(chrome, "MAX_ENTRIES", 2)
    visit(None)
    visit(None, "/privacy?lang=pl")
    assert len(app.extensions["chrome_cache"]) <= 2
    assert nav_links(visit(None, "/privacy?lang=ro")) != nav_links(visit(None))
