"""Assisted sign-up end to end in Chromium on a phone (issue 14): a Shirebrook team member signs
up a resident who has no email (the check page first, then the printable slip with the one-time
voting code), and the resident votes in Shirebrook's open round with the code from the slip."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from community.db import get_engine, open_session
from community.models import Membership, Person, PostcodeDistrict, Team
from tests.prove.harness import minted_cookie

from .test_foundation import PHONE, assert_accessible

pytestmark = pytest.mark.browser


def _member_page(browser, live_server):
    """A phone-sized page signed in as a Shirebrook team member with their second factor (a
    minted cookie: TOTP codes are single-use and other tests sign members in)."""
    app = live_server["app"]
    with open_session(get_engine(app), write=False) as s:
        team = s.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        member_id = s.execute(select(Membership.person_id).where(
            Membership.team_id == team.id, Membership.role == "member")).scalars().first()
        outward = s.execute(select(PostcodeDistrict.outward_code).where(
            PostcodeDistrict.place_id == team.place_id)).scalars().first()
    context = browser.new_context(viewport=PHONE)
    context.add_cookies([{"name": app.config["SESSION_COOKIE_NAME"], "url": live_server["url"],
                          "value": minted_cookie(app, member_id, second_factor=True)}])
    return context.new_page(), f"{outward} 9ZZ"


def test_a_member_signs_up_a_resident_without_email_who_votes_with_the_slips_code(browser, live_server, shot):
    base = live_server["url"]
    page, postcode = _member_page(browser, live_server)
    page.goto(base + "/teams/shirebrook")
    page.get_by_role("link", name="Sign up a resident without email").click()
    expect(page.get_by_role("heading", name="Sign up a resident without email")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Full name").fill("Olive Offline")
    page.get_by_label("Home postcode").fill("SK13 0AA")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("is not in Shirebrook").first).to_be_visible()  # beside the field
    page.get_by_label("Home postcode").fill(postcode)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check before you sign them up")).to_be_visible()
    expect(page.get_by_text("nobody can sign in to it")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Sign them up and print the slip").click()
    expect(page.get_by_role("heading", name="Olive Offline is signed up")).to_be_visible()
    assert_accessible(page)
    code = page.locator("[data-voting-code]").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
    shot(page, "40-assisted-slip")
    page.emulate_media(media="print")
    shot(page, "41-assisted-slip-print")
    expect(page.get_by_role("button", name="Print the slip")).to_be_hidden()

    with open_session(get_engine(live_server["app"]), write=False) as s:
        olive = s.execute(select(Person).where(Person.name == "Olive Offline")).scalar_one()
        assert olive.password_hash is None and olive.email.endswith("@no-email.invalid")

    resident = browser.new_context(viewport=PHONE).new_page()  # at the Local Net's computer, signed out
    resident.goto(base + "/vote-with-a-code")
    expect(resident.get_by_role("heading", name="Vote with a code")).to_be_visible()
    assert_accessible(resident)
    resident.get_by_label("Voting code").fill("AAAAA-AAAAA")
    resident.get_by_role("button", name="Continue").click()
    expect(resident.get_by_text("not a voting code of ours").first).to_be_visible()
    resident.get_by_label("Voting code").fill(code.lower().replace("-", " "))
    resident.get_by_role("button", name="Continue").click()
    expect(resident.get_by_text("Hello Olive")).to_be_visible()
    assert_accessible(resident)
    resident.locator("input[name=idea]").first.check()
    shot(resident, "42-code-ballot")
    resident.get_by_role("button", name="Cast my vote").click()
    expect(resident.get_by_role("heading", name="Your vote is recorded")).to_be_visible()
    assert_accessible(resident)
    shot(resident, "43-code-voted")

    resident.goto(base + "/vote-with-a-code")
    resident.get_by_label("Voting code").fill(code)
    resident.get_by_role("button", name="Continue").click()
    expect(resident.get_by_text("already been used").first).to_be_visible()
