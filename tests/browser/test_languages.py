"""In Chromium with JavaScript off: the resident journey in Polish (issue 16). A visitor switches
to Polski, signs in as a demo resident, sees the ideas, votes and gets the receipt; then saves
Română on the account with the switch at the top of the page. Screenshots go to
tests/browser/screenshots/languages/, or to ``$THRIVING_SHOTS_DIR`` when it is set."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from community.db import get_engine, open_session
from community.models import Person, Team
from demo.people import DEMO_DOMAIN, DEMO_PASSWORD
from votes import services
from votes.models import Idea, Round, RoundIdea

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("THRIVING_SHOTS_DIR") or SCREENSHOTS / "languages")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_resident_journey_in_polish_without_javascript(browser, live_server):
    url, app = live_server["url"], live_server["app"]
    with open_session(get_engine(app), write=False) as s:
        team = s.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        # The demo's open round, which offers the Christmas lights (test_votes.py may have opened
        # and closed a newer round on this server before this test runs: pytest-randomly).
        current = s.execute(
            select(Round).join(RoundIdea, RoundIdea.round_id == Round.id).join(Idea, Idea.id == RoundIdea.idea_id)
            .where(Round.team_id == team.id, Idea.title == "Christmas lights on Market Square")
            .order_by(Round.id.desc())).scalars().first()
        assert current is not None and services.is_open_for_voting(current)
    page = browser.new_context(java_script_enabled=False).new_page()

    page.goto(url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("link", name="Polski").click()
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    expect(page.get_by_role("heading", name="Zespoły Connected Teams")).to_be_visible()
    _shot(page, "01-home-pl")

    page.get_by_role("link", name="Zaloguj się").first.click()
    assert "lang=pl" in page.url
    page.get_by_label("Adres e-mail").fill(f"sue@{DEMO_DOMAIN}")
    page.get_by_label("Hasło", exact=True).fill(DEMO_PASSWORD)
    _shot(page, "02-sign-in-pl")
    page.get_by_role("button", name="Zaloguj się").click()
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    expect(page.get_by_text("Zalogowano jako")).to_be_visible()

    page.goto(url + "/teams/shirebrook/ideas?lang=pl")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    _shot(page, "03-ideas-pl")

    page.goto(url + f"/teams/shirebrook/rounds/{current.id}?lang=pl")
    expect(page.get_by_role("group", name="Pomysły")).to_be_visible()
    # Sue may have voted already in this server (test_keyboard.py; only a last vote counts):
    # her earlier choices come back ticked, so start from none.
    for box in page.locator("form[data-ballot] input[type=checkbox]").all():
        box.uncheck()
    page.get_by_label("Christmas lights on Market Square", exact=False).check()
    _shot(page, "04-ballot-pl")
    page.get_by_role("button", name="Sprawdź mój wybór").click()
    expect(page.get_by_role("heading", name="Sprawdź swój głos")).to_be_visible()
    _shot(page, "05-check-pl")
    page.get_by_role("button", name="Wyślij mój głos").click()
    expect(page.get_by_role("heading", name="Twój głos został zapisany")).to_be_visible()
    expect(page.get_by_text("Nikt inny, także pracownicy rady i zespołu, nie może zobaczyć")).to_be_visible()
    _shot(page, "06-receipt-pl")

    # The switch at the top of the page saves the choice on the account (a POST, then back here).
    page.goto(url + "/account")
    page.get_by_role("button", name="Română").click()
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(page.get_by_role("heading", name="Contul dumneavoastră")).to_be_visible()
    expect(page.get_by_text("Limba a fost salvată.")).to_be_visible()
    _shot(page, "07-account-ro")
    with open_session(get_engine(app), write=False) as s:
        assert s.execute(select(Person.language).where(Person.email == f"sue@{DEMO_DOMAIN}")).scalar_one() == "ro"
