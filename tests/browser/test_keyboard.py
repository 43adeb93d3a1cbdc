"""Keyboard only (issue 19): a resident (Sue) votes and a team member approves quick spend with Tab,
Shift+Tab, Space and Enter, never a click. Focus goes through the ballot's choices in the page's
order, and every element that takes focus shows it (GOV.UK's yellow focus state)."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from community.db import get_engine, open_session
from community.models import Team
from demo.people import DEMO_DOMAIN, DEMO_PASSWORD
from votes import services
from votes.models import Round

from .test_accessibility_crawl import next_code

pytestmark = pytest.mark.browser

# What focus changes on the element (or, for a GOV.UK checkbox or radio, on the box its label
# draws): outline, box-shadow, background and border width. Not colours that follow the text's
# (an outline of style none, a border's colour): a darker link alone is no focus indicator.
STYLE = """el => {
  const pick = (s) => [s.outlineStyle === 'none' ? 'none' : `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
                       s.boxShadow, s.backgroundColor, s.borderTopWidth].join('|');
  const box = ['checkbox', 'radio'].includes(el.type) && el.labels.length
    ? getComputedStyle(el.labels[0], '::before') : null;
  return pick(getComputedStyle(el)) + (box ? '|' + pick(box) : '');
}"""
FOCUSED = """() => {
  const el = document.activeElement;
  return {tag: el.tagName, id: el.id, type: el.type || '', checked: !!el.checked,
          text: (el.innerText || el.value || '').trim().slice(0, 60)};
}"""
NO_FOCUS_STYLE = ("*:focus{outline:none!important;box-shadow:none!important;background-color:transparent!important}"
                  ".govuk-checkboxes__input:focus+.govuk-checkboxes__label::before"
                  "{box-shadow:none!important;border-width:2px!important}")
MAX_TABS = 80


def focus_shows(page) -> bool:
    """The focused element looks different from itself unfocused."""
    focused = page.evaluate(f"() => ({STYLE})(document.activeElement)")
    unfocused = page.evaluate(f"""() => {{ const el = document.activeElement; el.blur();
        const s = ({STYLE})(el); el.focus({{focusVisible: true}}); return s; }}""")
    return focused != unfocused


def tab_until(page, done, problems: list, seen: list | None = None) -> dict:
    """Press Tab until ``done(focused)``; every element on the way must show its focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        now = page.evaluate(FOCUSED)
        if seen is not None:
            seen.append(now)
        if now["tag"] != "BODY" and not focus_shows(page):
            problems.append(f"{page.url}: no visible focus on {now}")
        if done(now):
            return now
    raise AssertionError(f"{MAX_TABS} presses of Tab on {page.url} never reached it")


def sign_in_by_keyboard(page, base, app, email):
    page.goto(base + "/sign-in")
    page.get_by_label("Email address").focus()
    page.keyboard.type(email)
    page.get_by_label("Password", exact=True).focus()
    page.keyboard.type(DEMO_PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    if "/sign-in/code" in page.url:
        page.get_by_label("Code").focus()
        page.keyboard.type(next_code(app, email))
        with page.expect_navigation():
            page.keyboard.press("Enter")
    assert "/sign-in" not in page.url, page.url


def test_a_resident_votes_with_the_keyboard_only(browser, live_server):
    base, app = live_server["url"], live_server["app"]
    with open_session(get_engine(app), write=False) as s:
        team = s.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        rnd = next(r for r in s.execute(select(Round).where(Round.team_id == team.id)).scalars()
                   if services.is_open_for_voting(r))
    page = browser.new_context().new_page()
    sign_in_by_keyboard(page, base, app, f"sue@{DEMO_DOMAIN}")
    page.goto(f"{base}/teams/shirebrook/rounds/{rnd.id}")
    boxes = page.eval_on_selector_all("form[data-ballot] input[type=checkbox]", "els => els.map(e => e.id)")
    assert len(boxes) >= 2, boxes

    problems, seen = [], []
    first = tab_until(page, lambda f: f["type"] == "checkbox", problems, seen)
    assert first["id"] == boxes[0]
    # Only the first idea chosen (Sue, not Rita: test_votes.py needs Rita not to have voted; only a last vote counts).
    order, current = [], first
    while True:
        if current["type"] == "checkbox":
            order.append(current["id"])
            if current["checked"] != (current["id"] == boxes[0]):
                page.keyboard.press("Space")
        if current["tag"] == "BUTTON":
            break
        current = tab_until(page, lambda f: f["type"] == "checkbox" or f["tag"] == "BUTTON", problems, seen)
    assert order == boxes, "focus did not go through the choices in the page's order"
    assert current["text"] == "Review my choices"
    expect(page.locator(f"#{boxes[0]}")).to_be_checked()
    # Shift+Tab goes back to what came before the button, Tab returns to it.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(FOCUSED) == seen[-2]
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["text"] == "Review my choices"
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Submit my vote")).to_be_visible()
    tab_until(page, lambda f: f["text"] == "Submit my vote", problems)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Your vote is recorded")).to_be_visible()
    assert not problems, "\n".join(problems)


def test_a_team_member_approves_quick_spend_with_the_keyboard_only(browser, live_server):
    base, app = live_server["url"], live_server["app"]
    page = browser.new_context().new_page()
    sign_in_by_keyboard(page, base, app, f"ben.shirebrook@{DEMO_DOMAIN}")  # Carol asked (demo/spend.py)
    page.goto(base + "/teams/shirebrook/spend")
    problems = []
    tab_until(page, lambda f: f["text"].startswith("£45.00: Monthly bus pass"), problems)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Approve £45.00")).to_be_visible()
    tab_until(page, lambda f: f["text"] == "Approve £45.00", problems)
    page.keyboard.press("Enter")
    expect(page.get_by_text("Approved: £45.00 is committed")).to_be_visible()
    assert not problems, "\n".join(problems)


def test_the_focus_check_fails_when_focus_is_not_shown(browser, live_server):
    """The check above can fail: with GOV.UK's focus state removed, a focused checkbox and link
    look as they do unfocused."""
    page = browser.new_context(bypass_csp=True).new_page()  # the site's CSP refuses inline styles
    page.goto(live_server["url"] + "/sign-up")
    page.add_style_tag(content=NO_FOCUS_STYLE)
    problems = []
    tab_until(page, lambda f: f["tag"] == "A" and "govuk-link" in page.evaluate(
        "() => document.activeElement.className"), problems)
    assert not focus_shows(page)
    assert problems  # every element on the way was reported
