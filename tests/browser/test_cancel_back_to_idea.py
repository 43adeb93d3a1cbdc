"""In Chromium (issue 17): approved spend for a funded demo idea is cancelled by a team member, who
reads where the money goes before pressing the button and is told after; the idea's commitment is
whole again. A screenshot is left at /tmp/cancel_back_to_idea.png to look at."""

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from community.db import get_engine, open_session, utcnow
from community.models import AuthSession, Person, Team
from demo.people import DEMO_DOMAIN
from ledger.models import Hold
from spend import services as spend
from tests.browser.test_reflow import _signed_in
from votes.models import Idea

pytestmark = pytest.mark.browser

SCREENSHOT = Path(tempfile.gettempdir()) / "cancel_back_to_idea.png"


def _approved_for_planters(app) -> tuple[int, int, int]:
    """Ben asks for £40 of compost for the planters; Asha approves it (drawing on the idea)."""
    with open_session(get_engine(app), write=True) as s:
        team = s.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        ben, asha = (s.execute(select(Person).where(Person.email == f"{who}.shirebrook@{DEMO_DOMAIN}")).scalar_one()
                     for who in ("ben", "asha"))
        planters = s.execute(select(Idea).where(Idea.title == "Planters on Main Street")).scalar_one()
        before = s.get(Hold, planters.hold_id).amount_pence
        request = spend.request_spend(session=s, team=team, requester=ben, amount_pence=4_000, payee="Garden centre",
                                      payee_is_individual=False, purpose="Compost for the planters",
                                      category="equipment", idea_id=planters.id)
        fresh = AuthSession(token_hash=f"cancel-back-{utcnow().timestamp()}", person_id=asha.id, second_factor=True,
                            created_at=utcnow() - dt.timedelta(minutes=1))
        s.add(fresh)
        s.flush()
        spend.approve(session=s, team=team, request_id=request.id, approver=asha, auth_session=fresh,
                      idempotency_key=f"cancel-back-{request.id}")
        s.commit()
        return request.id, planters.id, before


def test_cancelling_says_the_money_goes_back_to_the_idea_and_it_does(browser, live_server):
    url, app = live_server["url"], live_server["app"]
    request_id, idea_id, before = _approved_for_planters(app)
    page = _signed_in(browser, live_server, f"ben.shirebrook@{DEMO_DOMAIN}").new_page()
    page.goto(f"{url}/teams/shirebrook/spend/{request_id}")
    expect(page.locator("#cancel-effect")).to_have_text(
        "Cancelling gives £40.00 back to the idea “Planters on Main Street”, committed to it again.")
    button = page.get_by_role("button", name="Cancel the approval")
    expect(button).to_have_attribute("aria-describedby", "cancel-effect")
    button.click()
    expect(page.get_by_text("The approval was cancelled: £40.00 went back to the idea “Planters on Main Street”."))\
        .to_be_visible()
    expect(page.locator("#status")).to_have_text("Cancelled")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    with open_session(get_engine(app), write=False) as s:
        idea = s.get(Idea, idea_id)
        assert s.get(Hold, idea.hold_id).amount_pence == before and s.get(Hold, idea.hold_id).status == "open"
    page.context.close()
