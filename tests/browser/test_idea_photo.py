"""In Chromium, on a phone: a demo resident proposes an idea with a photo and sees it on the
idea's page (decoded by the browser, with its alt text), then removes it; a demo idea and a delivery step show
the pictures the demo loaded. Screenshots of the idea's page and its change form are kept in
idea_photo.png and idea_photo_edit.png in the temporary folder (/tmp)."""

import io
import tempfile
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from community.db import get_engine, open_session
from demo import pictures
from demo.people import DEMO_DOMAIN, DEMO_PASSWORD
from votes.models import Idea

from .test_foundation import PHONE, assert_accessible

pytestmark = pytest.mark.browser

TITLE = "Picnic tables on the rec"
TMP = Path(tempfile.gettempdir())  # where the screenshots are looked at by hand


def _natural_width(page, alt: str) -> int:
    image = page.get_by_role("img", name=alt)
    expect(image).to_be_visible()
    image.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return image.evaluate("img => img.naturalWidth")


def test_a_resident_proposes_an_idea_with_a_photo_and_sees_it(browser, live_server, shot):
    url, app = live_server["url"], live_server["app"]
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(url + "/sign-in")
    page.get_by_label("Email address").fill(f"sue@{DEMO_DOMAIN}")
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(url + "/teams/shirebrook/ideas/new")
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("What it is and who it helps").fill("Two picnic tables by the play area, for families.")
    page.get_by_label("Estimated cost in pounds").fill("350")
    # Not a photo first: refused beside the field, what was typed is kept.
    page.get_by_label("Photo (optional)").set_input_files(
        files=[{"name": "tables.jpg", "mimeType": "image/jpeg", "buffer": b"<html>not a photo</html>"}]
    )
    page.get_by_role("button", name="Propose idea").click()
    expect(page.locator("#photo-error")).to_contain_text("The photo must be a JPEG or PNG image.")
    expect(page.get_by_label("Title")).to_have_value(TITLE)
    assert_accessible(page)
    # Then the photo.
    page.get_by_label("Photo (optional)").set_input_files(
        files=[{"name": "tables.jpg", "mimeType": "image/jpeg", "buffer": pictures.picture("benches")}]
    )
    page.get_by_role("button", name="Propose idea").click()
    expect(page.get_by_text("Thank you. Your idea was sent to the team for review.")).to_be_visible()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    assert _natural_width(page, f"Photo of the idea: {TITLE}") == pictures.WIDTH
    box = page.get_by_role("img", name=f"Photo of the idea: {TITLE}").bounding_box()
    assert box["width"] <= PHONE["width"]  # fits the phone's screen: no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_accessible(page)
    page.screenshot(path=TMP / "idea_photo.png", full_page=True)
    shot(page, "60-idea-with-photo-phone")
    with open_session(get_engine(app), write=False) as s:
        idea = s.execute(select(Idea).where(Idea.title == TITLE)).scalar_one()
        assert idea.photo_type == "image/jpeg" and idea.status == "proposed"
    served = page.request.get(f"{url}/teams/shirebrook/ideas/{idea.id}/photo")
    assert served.ok and served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.body())).size == (pictures.WIDTH, pictures.HEIGHT)
    # The change form shows the photo, and the photo can be removed.
    page.get_by_role("link", name="Change your idea").click()
    assert _natural_width(page, f"Photo of the idea: {TITLE}") == pictures.WIDTH
    assert_accessible(page)
    page.screenshot(path=TMP / "idea_photo_edit.png", full_page=True)
    page.get_by_label("Remove the photo").check()
    page.get_by_role("button", name="Send changes for review").click()
    expect(page.get_by_text("Your changes were sent to the team for review.")).to_be_visible()
    expect(page.get_by_role("img", name=f"Photo of the idea: {TITLE}")).to_have_count(0)
    page.context.close()


def test_the_demo_shows_its_pictures_on_an_idea_and_a_delivery_step(browser, live_server):
    url = live_server["url"]
    page = browser.new_context(viewport=PHONE).new_page()
    page.goto(url + "/teams/shirebrook/ideas?q=Planters")
    page.get_by_role("link", name="Planters on Main Street").click()
    assert _natural_width(page, "Photo of the idea: Planters on Main Street") == pictures.WIDTH
    step = "Order the planters from the garden centre"
    assert _natural_width(page, f"Photo of the step: {step}") == pictures.WIDTH
    page.context.close()
