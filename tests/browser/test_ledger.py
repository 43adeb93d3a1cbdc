"""Finance allocates money in the browser; anyone then sees it on the team's public ledger."""

import pyotp
import pytest
from playwright.sync_api import expect

from demo.people import DEMO_DOMAIN, DEMO_PASSWORD, totp_secret_for

from .test_foundation import PHONE, assert_accessible

pytestmark = pytest.mark.browser


def test_finance_allocates_and_the_public_ledger_shows_it(page, live_server, shot, browser):
    email = f"finance@{DEMO_DOMAIN}"
    page.goto(live_server["url"] + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(pyotp.TOTP(totp_secret_for(email)).now())
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Finance").first.click()
    assert_accessible(page)
    shot(page, "10-finance-home")
    page.goto(live_server["url"] + "/finance/allocate")
    page.get_by_label("Team", exact=True).select_option(label="Gamesley Connected Team")
    page.get_by_label("Amount").fill("12.345")
    page.get_by_role("button").filter(has_text="Allocate").click()
    expect(page.get_by_text("two decimal places", exact=False).first).to_be_visible()
    assert_accessible(page)
    shot(page, "11-allocate-error")
    page.get_by_label("Amount").fill("1,250.50")
    page.get_by_role("button").filter(has_text="Allocate").click()
    expect(page.get_by_text("£1,250.50").first).to_be_visible()

    anonymous = browser.new_context(viewport=PHONE).new_page()
    anonymous.goto(live_server["url"] + "/teams/gamesley")
    anonymous.get_by_role("link", name="See this team’s ledger").click()
    expect(anonymous.get_by_text("£1,250.50").first).to_be_visible()
    assert_accessible(anonymous)
    shot(anonymous, "12-public-ledger-phone")
