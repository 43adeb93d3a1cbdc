"""In Chromium on a phone (issue 17): the team adds a step with a photo to a funded demo idea and
marks another done; a visitor follows the idea from the team page and reads its steps, progress
and money, and nothing on the way scrolls sideways."""

import io
import tempfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect
from sqlalchemy import select

from community.db import get_engine, london_today, open_session
from demo.people import DEMO_DOMAIN
from tests.browser.test_reflow import _signed_in
from votes.models import Idea

pytestmark = pytest.mark.browser

PHONE = {"width": 320, "height": 640}
WIDTH = "() => [document.documentElement.scrollWidth, window.innerWidth]"
SCREENSHOT = Path(tempfile.gettempdir()) / "delivery_phone.png"  # /tmp/delivery_phone.png, to look at


def _photo(path) -> None:
    """A 640×400 'photo' of planters: green ground, three brown boxes, a sky."""
    image = Image.new("RGB", (640, 400), (135, 190, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 250, 640, 400), fill=(70, 140, 60))
    for left in (60, 260, 460):
        draw.rectangle((left, 200, left + 120, 290), fill=(120, 80, 40))
        draw.ellipse((left + 10, 150, left + 110, 220), fill=(220, 60, 120))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    path.write_bytes(out.getvalue())


def _fits(page) -> None:
    page.wait_for_load_state("load")  # evaluating mid-navigation finds no document to measure
    scroll, inner = page.evaluate(WIDTH)
    assert scroll <= inner, f"{page.url} is {scroll} px wide in a {inner} px window"


def test_a_funded_ideas_steps_are_followed_on_a_phone(browser, live_server, tmp_path):
    url, app = live_server["url"], live_server["app"]
    with open_session(get_engine(app), write=False) as s:
        planters = s.execute(select(Idea).where(Idea.title == "Planters on Main Street")).scalar_one()
    assert planters.status == "in_delivery"  # the demo's steps (demo/votes.py DELIVERY)
    idea_url = f"{url}/teams/shirebrook/ideas/{planters.id}"

    staff = _signed_in(browser, live_server, f"asha.shirebrook@{DEMO_DOMAIN}").new_page()
    staff.goto(idea_url)
    staff.get_by_role("link", name="Add a step").click()
    expect(staff.get_by_label("What the step is")).to_be_visible()  # the form's page, not the idea's
    _fits(staff)
    staff.get_by_label("What the step is").fill("Deliver the planters to Main Street")
    today = london_today()
    planned = staff.get_by_role("group", name="Date it is planned for")
    planned.get_by_label("Day").fill(str(today.day))
    planned.get_by_label("Month").fill(str(today.month))
    planned.get_by_label("Year").fill(str(today.year))
    done = staff.get_by_role("group", name="Date it was done")
    done.get_by_label("Day").fill(str(today.day))
    done.get_by_label("Month").fill(str(today.month))
    done.get_by_label("Year").fill(str(today.year))
    staff.get_by_label("Note for residents (optional)").fill("Three planters outside the Co-op, the chemist and the café.")
    photo = tmp_path / "planters.jpg"
    _photo(photo)
    staff.get_by_label("Photo (optional)").set_input_files(str(photo))
    staff.get_by_role("button", name="Save step").click()
    expect(staff.get_by_text("Step added")).to_be_visible()
    assert staff.url.split("?")[0] == idea_url
    staff.get_by_role("button", name="Mark done Plant them with the school garden club").click()
    expect(staff.get_by_text("Step marked done")).to_be_visible()
    staff.context.close()

    visitor = browser.new_context(viewport=PHONE).new_page()
    visitor.goto(url + "/teams/shirebrook")
    expect(visitor.get_by_role("heading", name="What the votes funded")).to_be_visible()
    expect(visitor.get_by_text("Done", exact=True).first).to_be_visible()  # the grit bins
    _fits(visitor)
    visitor.get_by_role("link", name="Planters on Main Street").first.click()
    expect(visitor.get_by_text("3 of 4 steps done")).to_be_visible()
    expect(visitor.get_by_role("progressbar", name="3 of 4 steps done")).to_be_visible()
    for step in ("Order the planters from the garden centre", "Plant them with the school garden club",
                 "Deliver the planters to Main Street", "Agree the watering rota with the shops"):
        expect(visitor.get_by_role("heading", name=step)).to_be_visible()
    expect(visitor.get_by_text("Not done yet")).to_be_visible()
    expect(visitor.get_by_text("Committed by the vote")).to_be_visible()
    image = visitor.get_by_role("img", name="Photo of the step: Deliver the planters to Main Street")
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 640
    box = image.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    _fits(visitor)
    visitor.get_by_role("heading", name="Delivery").scroll_into_view_if_needed()
    visitor.screenshot(path=str(SCREENSHOT), full_page=True)
    visitor.context.close()
