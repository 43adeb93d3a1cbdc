"""Every page a user can reach by following links fits a 320 px phone (WCAG 1.4.10 Reflow).

For each role, a crawl from its home and the site's home follows the links it is shown (never a form, never a
download: tests/browser/links.py) and records any page that answers with an error or is wider than the window. A wide
table must stack on a phone (``.app-table-stack``) or scroll inside its own labelled region.
"""

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from community.db import get_engine, open_session
from community.models import Person
from demo.people import DEMO_DOMAIN
from tests.browser.links import NEVER_FOLLOW
from tests.prove.harness import minted_cookie

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 640}
PAGES_PER_ROLE = 60
FOLLOW = ("/teams/shirebrook", "/account", "/staff", "/finance", "/admin")
NEVER = NEVER_FOLLOW  # tests/browser/links.py: downloads, signing out, the outbox
WIDTH = "() => [document.documentElement.scrollWidth, window.innerWidth]"
LINKS = "els => els.map(e => e.getAttribute('href'))"


def _signed_in(browser, live_server, email):
    """A browser context signed in as ``email`` (with the second factor) without the sign-in
    form: TOTP codes are single-use, and other tests sign the same demo staff in."""
    app = live_server["app"]
    context = browser.new_context(viewport=NARROW)
    if email is None:
        return context
    with open_session(get_engine(app), write=False) as s:
        person_id = s.execute(select(Person.id).where(Person.email == email)).scalar_one()
    value = minted_cookie(app, person_id, second_factor=True)
    context.add_cookies([{"name": app.config["SESSION_COOKIE_NAME"], "value": value, "url": live_server["url"]}])
    return context


@pytest.mark.parametrize(
    ("email", "start"),
    [
        (None, "/"),
        (f"rita@{DEMO_DOMAIN}", "/account"),
        (f"asha.shirebrook@{DEMO_DOMAIN}", "/staff"),
        (f"finance@{DEMO_DOMAIN}", "/finance"),
        (f"admin@{DEMO_DOMAIN}", "/admin"),
    ],
    ids=["anonymous", "resident", "team-member", "finance", "admin"],
)
def test_every_linked_page_fits_a_320_px_phone(browser, live_server, email, start):
    page = _signed_in(browser, live_server, email).new_page()
    seen, queue, problems = set(), [start, "/"], []
    while queue and len(seen) < PAGES_PER_ROLE:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(live_server["url"] + path)
        if response.status >= 400:
            problems.append(f"{path}: {response.status}")
            continue
        width, window = page.evaluate(WIDTH)
        if width > window:
            problems.append(f"{path}: {width} px wide in a {window} px window")
        for href in page.eval_on_selector_all("a[href^='/']", LINKS):
            link = urlsplit(href).path
            if link.startswith(FOLLOW) and not NEVER.search(link) and link not in seen:
                queue.append(link)
    assert not problems, "\n".join(problems)
    assert len(seen) >= 10, sorted(seen)  # the crawl did reach the team's pages
