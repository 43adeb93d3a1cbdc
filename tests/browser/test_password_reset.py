"""Password reset end to end in Chromium (issue 14): "Forgot your password?" on the sign-in page,
the link read from the development outbox (as an admin: the outbox is theirs only), a new
password, then a sign-in that still asks for the member of staff's second factor."""

import re

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from community.db import get_engine, open_session
from community.models import Person
from demo.people import DEMO_DOMAIN, DEMO_PASSWORD, totp_secret_for
from tests.prove.harness import minted_cookie

from .test_foundation import PHONE, assert_accessible

pytestmark = pytest.mark.browser

# A Gamesley team member no other browser test signs in (their password changes here).
EMAIL = f"farid.gamesley@{DEMO_DOMAIN}"
NEW = "a new password for the browser"
LINK = re.compile(r"https?://[^\s]+/reset-password/[A-Za-z0-9_-]{43}")


def _admin_page(browser, live_server):
    """A phone-sized page signed in as the demo admin without the sign-in form (TOTP codes are
    single-use and other tests sign the admin in)."""
    app = live_server["app"]
    with open_session(get_engine(app), write=False) as s:
        admin_id = s.execute(select(Person.id).where(Person.email == f"admin@{DEMO_DOMAIN}")).scalar_one()
    context = browser.new_context(viewport=PHONE)
    context.add_cookies([{"name": app.config["SESSION_COOKIE_NAME"], "url": live_server["url"],
                          "value": minted_cookie(app, admin_id, second_factor=True)}])
    return context.new_page()


def _sign_in(page, base, password):
    page.goto(base + "/sign-in")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_member_of_staff_resets_their_password_and_still_needs_their_code(browser, live_server, shot):
    base = live_server["url"]
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(base + "/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Email address").fill("not an email")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("Enter an email address like").first).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Email address").fill(EMAIL.upper())
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_accessible(page)
    shot(page, "30-reset-check-email")

    outbox = _admin_page(browser, live_server)
    outbox.goto(base + "/dev/outbox")
    message = outbox.locator(".govuk-inset-text").filter(has_text=f"To: {EMAIL}").first
    expect(message).to_contain_text("Reset your Thriving Communities password")
    link = LINK.search(message.inner_text()).group(0)
    anonymous = browser.new_context().new_page()
    assert anonymous.goto(base + "/dev/outbox").url.startswith(base + "/sign-in")  # not for anyone else

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("8 characters or more").first).to_be_visible()
    page.get_by_label("New password").fill(NEW)
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("Your password has been changed")).to_be_visible()
    shot(page, "31-reset-done")

    outbox.goto(base + "/dev/outbox")
    expect(outbox.locator(".govuk-inset-text").filter(has_text=f"To: {EMAIL}").first
           ).to_contain_text("Your password was changed")

    _sign_in(page, base, DEMO_PASSWORD)
    expect(page.get_by_text("Enter a correct email address and password").first).to_be_visible()
    _sign_in(page, base, NEW)
    page.get_by_label("Code").fill(pyotp.TOTP(totp_secret_for(EMAIL)).now())  # the second factor, as always
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Your to-do list")).to_be_visible()  # staff land on it

    page.goto(link)
    expect(page.get_by_role("heading", name="This link has been used")).to_be_visible()
    assert_accessible(page)
    page.goto(base + "/reset-password/" + "A" * 43)
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
