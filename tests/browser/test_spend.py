"""Quick spend on a phone: a member asks, another member (signed in with TOTP) approves, the
first pays with a photo of the receipt, and the payment appears on the public ledger."""


import pyotp
import pytest
from playwright.sync_api import expect

from community.db import get_engine, open_session
from community.models import Person, Team
from demo.people import DEMO_DOMAIN, DEMO_PASSWORD, totp_secret_for
from demo.spend import tiny_png
from ledger import services
from tests.support.clock import today

from .test_foundation import PHONE, assert_accessible

pytestmark = pytest.mark.browser


def _sign_in(page, base, email):
    page.goto(base + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(pyotp.TOTP(totp_secret_for(email)).now())
    page.get_by_role("button", name="Continue").click()


@pytest.fixture
def staveley(live_server, tmp_path):
    app = live_server["app"]
    app.config["RECEIPTS_DIR"] = str(tmp_path / "receipts")
    with open_session(get_engine(app), write=True) as session:
        team = session.query(Team).filter_by(slug="staveley").one()
        finance = session.query(Person).filter_by(email=f"finance@{DEMO_DOMAIN}").one()
        services.allocate(gl_code="R1000", session=session, team=team, amount_pence=50_000, actor_id=finance.id,
                          effective_date=today(), idempotency_key="browser-spend-staveley")
        session.commit()
    return tmp_path


def test_request_approve_pay_on_a_phone(browser, live_server, staveley, shot):
    base = live_server["url"]
    wendy = browser.new_context(viewport=PHONE).new_page()
    _sign_in(wendy, base, f"wendy.staveley@{DEMO_DOMAIN}")
    wendy.goto(base + "/teams/staveley/spend")
    expect(wendy.get_by_text("£500.00").first).to_be_visible()
    assert_accessible(wendy)
    shot(wendy, "20-spend-dashboard-phone")
    wendy.get_by_role("link", name="Ask to spend money").click()
    wendy.get_by_label("How much").fill("45")
    wendy.get_by_label("Who will be paid").fill("Stagecoach")
    wendy.get_by_label("What is it for?").fill("Monthly bus pass so a young man can start his apprenticeship")
    wendy.get_by_label("Travel").check()
    assert_accessible(wendy)
    shot(wendy, "21-spend-request-phone")
    wendy.get_by_role("button", name="Send for approval").click()
    expect(wendy.get_by_text("was sent to the team for approval")).to_be_visible()
    expect(wendy.get_by_role("button", name="Approve")).to_have_count(0)  # never your own
    request_url = wendy.url
    shot(wendy, "22-spend-requested-phone")

    yusuf = browser.new_context(viewport=PHONE).new_page()
    _sign_in(yusuf, base, f"yusuf.staveley@{DEMO_DOMAIN}")
    yusuf.goto(base + "/teams/staveley/spend")
    yusuf.get_by_role("link", name="£45.00: Monthly bus pass").click()
    assert_accessible(yusuf)
    shot(yusuf, "23-spend-approve-phone")
    yusuf.get_by_role("button", name="Approve £45.00").click()
    expect(yusuf.get_by_text("Approved: £45.00 is committed")).to_be_visible()
    shot(yusuf, "24-spend-approved-phone")

    wendy.goto(request_url)
    wendy.get_by_role("link", name="Record the payment").click()
    wendy.get_by_label("Amount actually paid").fill("42.00")
    wendy.get_by_label("Purchase card").check()
    receipt = staveley / "till-receipt.jpg"
    receipt.write_text("<html><script>alert(1)</script></html>")  # not a photo, whatever the name
    wendy.get_by_label("Receipt").set_input_files(str(receipt))
    wendy.get_by_role("button", name="Record payment").click()
    expect(wendy.get_by_text("must be a photo (JPEG or PNG) or a PDF").first).to_be_visible()
    assert_accessible(wendy)
    shot(wendy, "25-spend-pay-error-phone")
    photo = staveley / "till-receipt.png"
    photo.write_bytes(tiny_png())
    wendy.get_by_label("Receipt").set_input_files(str(photo))
    wendy.get_by_role("button", name="Record payment").click()
    expect(wendy.get_by_text("Payment of £42.00 recorded")).to_be_visible()
    expect(wendy.get_by_role("link", name="Download the receipt")).to_be_visible()
    assert_accessible(wendy)
    shot(wendy, "26-spend-paid-phone")

    public = browser.new_context(viewport=PHONE).new_page()
    public.goto(base + "/teams/staveley/ledger")
    expect(public.get_by_text("Monthly bus pass so a young man can start his apprenticeship")).to_be_visible()
    expect(public.get_by_text("£42.00").first).to_be_visible()
    assert_accessible(public)
    shot(public, "27-spend-public-ledger-phone")
