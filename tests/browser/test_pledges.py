"""On a phone: a resident pledges time (after a refused 25 hours) and signs "Being Kind in
Shirebrook"; a team member records the Co-op's money received (after a refused over-receipt)."""

import datetime as dt
import re

import pyotp
import pytest
from playwright.sync_api import expect

from demo.people import DEMO_DOMAIN, DEMO_PASSWORD, totp_secret_for
from tests.support.clock import today

from .test_foundation import PHONE, assert_accessible

pytestmark = pytest.mark.browser


def _sign_in(page, url, email, totp=False):
    page.goto(url + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if totp:
        page.get_by_label("Code").fill(pyotp.TOTP(totp_secret_for(email)).now())
        page.get_by_role("button", name="Continue").click()


def test_a_resident_pledges_time_and_signs_a_community_pledge(page, live_server, shot):
    page.set_viewport_size(PHONE)
    url = live_server["url"]
    _sign_in(page, url, f"jack@{DEMO_DOMAIN}")
    page.goto(url + "/teams/shirebrook/pledges")
    expect(page.get_by_text("Social value").first).to_be_visible()
    assert_accessible(page)
    shot(page, "20-pledge-wall-phone")
    page.get_by_role("button", name="Make a pledge").click()
    page.get_by_role("link", name="Time").click()
    page.get_by_label("What are you pledging?").fill("Help at the youth club")
    page.get_by_label("Hours each time").fill("25")
    page.get_by_role("button", name="Make pledge").click()
    expect(page.get_by_text("A day has 24 hours").first).to_be_visible()
    assert_accessible(page)
    shot(page, "21-pledge-time-error-phone")
    page.get_by_label("Hours each time").fill("2")
    page.get_by_label("Every week").check()
    until = today() + dt.timedelta(days=56)
    box = page.get_by_role("group", name=re.compile("^Until when?"))  # the GOV.UK date input
    for part, value in (("Day", until.day), ("Month", until.month), ("Year", until.year)):
        box.get_by_label(part).fill(str(value))
    page.get_by_role("button", name="Make pledge").click()
    expect(page.get_by_text("Thank you. Pledge")).to_be_visible()
    expect(page.locator("#progress")).to_contain_text(re.compile(r"^0 of 18 hours given"))  # 9 weeks, today included
    assert_accessible(page)
    shot(page, "22-pledge-made-phone")

    page.goto(url + "/teams/shirebrook/pledges")
    page.get_by_role("link", name="Being Kind in Shirebrook").click()
    expect(page.locator("#signature-count")).to_contain_text(re.compile(r"^2 "))
    page.get_by_role("button", name="Sign this pledge").click()
    expect(page.get_by_text("Thank you for signing")).to_be_visible()
    expect(page.locator("#signature-count")).to_contain_text(re.compile(r"^3 "))
    expect(page.get_by_role("listitem").filter(has_text="Jack Bell")).to_be_visible()
    assert_accessible(page)
    shot(page, "23-community-pledge-signed-phone")


def test_a_team_member_records_money_received(page, live_server, shot):
    page.set_viewport_size(PHONE)
    url = live_server["url"]
    _sign_in(page, url, f"carol.shirebrook@{DEMO_DOMAIN}", totp=True)
    page.goto(url + "/teams/shirebrook/pledges")
    expect(page.get_by_text("overdue and").or_(page.get_by_text("No pledges are overdue")).first).to_be_visible()
    page.get_by_role("link", name="£200 towards the youth space").click()
    expect(page.get_by_text("community@shirebrook-coop.example.org")).to_be_visible()  # the team sees contact details
    page.get_by_role("button", name="Record fulfilment").click()
    page.get_by_label("Amount received in pounds").fill("200")
    page.get_by_label("Receipt or bank reference").fill("BACS CO-OP 0002")
    page.get_by_role("button", name="Record money received").click()
    expect(page.get_by_text("more than the £150.00 still promised").first).to_be_visible()
    assert_accessible(page)
    shot(page, "24-over-receipt-refused-phone")
    page.get_by_label("Amount received in pounds").fill("150")
    page.get_by_role("button", name="Record money received").click()
    expect(page.get_by_text("Recorded £150.00 received")).to_be_visible()
    expect(page.locator("#progress")).to_have_text("£200.00 of £200.00 received")
    expect(page.get_by_text("Fulfilled").first).to_be_visible()
    assert_accessible(page)
    shot(page, "25-money-received-phone")
    page.goto(url + "/teams/shirebrook/pledges/reminders")
    expect(page.get_by_role("heading", name="Pledges due")).to_be_visible()
    expect(page.get_by_text("A fridge for the community café")).to_be_visible()  # due within the week
    page.get_by_role("button", name="Remind A local family").click()
    expect(page.get_by_text("A polite reminder about pledge")).to_be_visible()
    assert_accessible(page)
    shot(page, "26-reminders-phone")
