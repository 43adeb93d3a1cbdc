"""A resident signs up; a team member signs in with TOTP; the pages have no axe violations."""

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from demo.people import DEMO_DOMAIN, DEMO_PASSWORD, totp_secret_for

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def assert_accessible(page):
    """No axe violations, and the page never scrolls sideways (WCAG 1.4.10 Reflow): a wide table
    either stacks on a phone or scrolls inside its own labelled region."""
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} is {width[0]} px wide in a {width[1]} px window"


def test_resident_signs_up_on_a_phone(page, live_server, shot):
    page.set_viewport_size(PHONE)
    page.goto(live_server["url"] + "/")
    expect(page.get_by_role("link", name="Shirebrook Connected Team")).to_be_visible()
    assert_accessible(page)
    shot(page, "01-home-phone")
    page.get_by_role("button", name="Menu").click()  # the service navigation folds up on a phone
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Full name").fill("Rita Browser")
    page.get_by_label("Email address").fill("rita.browser@example.org")
    page.get_by_label("Create a password", exact=True).fill("a long browser password")
    page.get_by_label("Home postcode").fill("NG20 8XY")
    page.get_by_label("Home postcode").fill("not a postcode")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Enter a real postcode").first).to_be_visible()
    assert_accessible(page)
    shot(page, "02-sign-up-error")
    page.get_by_label("Create a password", exact=True).fill("a long browser password")
    page.get_by_label("Home postcode").fill("NG20 8XY")
    page.get_by_role("button", name="Create account").click()
    # The same answer whether or not the address had an account (issue 14): nobody is signed in.
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label("Email address").fill("rita.browser@example.org")
    page.get_by_label("Password", exact=True).fill("a long browser password")
    page.get_by_role("button", name="Sign in").click()
    # A resident lands on their place's team page (issue 20 item 10); the account page says where they live.
    expect(page.get_by_role("heading", name="Shirebrook Connected Team", exact=True)).to_be_visible()
    page.goto(page.url.split("/teams/")[0] + "/account")
    expect(page.get_by_text("Shirebrook (Bolsover)")).to_be_visible()
    assert_accessible(page)
    shot(page, "03-account")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out")).to_be_visible()


def test_team_member_signs_in_with_totp(page, live_server, shot):
    email = f"ben.shirebrook@{DEMO_DOMAIN}"
    page.goto(live_server["url"] + "/sign-in")
    assert_accessible(page)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(pyotp.TOTP(totp_secret_for(email)).now())
    assert_accessible(page)
    shot(page, "04-totp-code")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your to-do list")).to_be_visible()  # staff land on it
    page.get_by_role("link", name="Staff").click()
    expect(page.get_by_text("Shirebrook Connected Team").first).to_be_visible()
    assert_accessible(page)
    shot(page, "05-staff-home")
    page.goto(live_server["url"] + "/teams/shirebrook")
    expect(page.get_by_role("listitem").filter(has_text="Ben")).to_be_visible()
    assert_accessible(page)
    shot(page, "06-team-page")
