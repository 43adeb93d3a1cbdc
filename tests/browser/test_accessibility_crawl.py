"""Every page, every role: WCAG 2.2 AA by axe-core on a crawl (issue 19).

For each role, sign in through the real forms (staff with their TOTP code), then follow the
same-origin links shown, breadth first, from where sign-in lands them, after a few pages the
links would not reach within the budget (``must_visit``: the photo forms of ideas and delivery
steps, issue 17; the test fails if one is not visited). Each page is checked at
320 px and at 1280 px (one page, the viewport resized). A few form pages found on the way are
also submitted empty and the error page is checked. Every violation is collected and the test
fails once, at the end, with a list naming the page, role, width, rule, impact and the first
element. One live server and one browser for the whole crawl: a few minutes at most.
"""

import hashlib
import re
import time
from urllib.parse import parse_qsl, urlsplit

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import select

from community.db import get_engine, open_session
from community.models import Membership, Person, Team
from demo.people import DEMO_DOMAIN, DEMO_PASSWORD
from tests.browser.links import NEVER_FOLLOW
from votes.models import Idea, Milestone

pytestmark = pytest.mark.browser

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
OPTIONS = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
WIDTHS = (320, 1280)
PAGES_PER_ROLE = 35
PER_PATTERN = 2
# (role, email or None for a visitor): the demo accounts of demo/people.py. Carol and Asha, not
# Ben: the keyboard test signs Ben in to approve Carol's demo request.
ROLES = [
    ("visitor", None),
    ("resident who can vote", f"rita@{DEMO_DOMAIN}"),
    ("resident of another place", f"amira@{DEMO_DOMAIN}"),
    ("team member", f"carol.shirebrook@{DEMO_DOMAIN}"),
    ("enabler", f"asha.shirebrook@{DEMO_DOMAIN}"),
    ("finance", f"finance@{DEMO_DOMAIN}"),
    ("admin", f"admin@{DEMO_DOMAIN}"),
]
# Every role starts from where sign-in lands them and from Shirebrook, the place with the demo's
# open and closed rounds, pledges and quick spend (the other places' pages are much the same).
ALSO_START = "/teams/shirebrook"
NEVER = NEVER_FOLLOW  # tests/browser/links.py
# The form pages submitted empty to check their error summary: only forms where an empty post
# writes nothing and moves no money (never approve, pay, vote, withdraw, cancel or delete).
EMPTY_SUBMIT = re.compile(r"^/(sign-up|sign-in|finance/allocate|finance/virement|finance/reverse"
                          r"|teams/\{team\}/(ideas/new|ideas/\{n\}/edit|ideas/\{n\}/steps/new|ideas/\{n\}/steps/\{n\}/edit"
                          r"|ideas/\{n\}/done|pledges/new/[a-z]+"
                          r"|spend/new))$")
# The page's own content, without its one-time form keys: a page another role has already had
# checked (the privacy notice, another place's ledger) is not checked again, as the header and
# footer round it are checked on this role's other pages.
MAIN = """() => (document.querySelector('main') || document.body).outerHTML
  .replace(/value="[^"]*"/g, '')"""
LINKS = "els => els.map(e => e.href)"
CLEAR = """form => {
  for (const el of form.querySelectorAll('input, textarea')) {
    if (['hidden', 'submit', 'button'].includes(el.type)) continue;
    if (el.type === 'checkbox' || el.type === 'radio') el.checked = false; else el.value = '';
  }
}"""


def must_visit(app, email: str | None) -> list[str]:
    """Pages the breadth-first crawl does not reach within PAGES_PER_ROLE, visited first (after
    where sign-in lands) by the roles that can see them: a Shirebrook idea with a photo; for a
    resident, the propose form and the change form of their own idea, each also as it comes back
    from an upload over the request limit (``too_large=1``); for the team, a funded idea's step
    forms (new, with the too-large message, and change) and its "mark done" form."""
    with open_session(get_engine(app), write=False) as s:
        team = s.execute(select(Team).where(Team.slug == ALSO_START.rsplit("/", 1)[1])).scalar_one()
        ideas = s.execute(select(Idea).where(Idea.team_id == team.id).order_by(Idea.id)).scalars().all()
        person = s.execute(select(Person).where(Person.email == email)).scalar_one_or_none() if email else None
        staff = person is not None and s.execute(select(Membership.id).where(
            Membership.team_id == team.id, Membership.person_id == person.id)).first() is not None
        delivering = [i for i in ideas if i.status in ("funded", "in_delivery")]
        step = s.execute(select(Milestone.id).where(Milestone.idea_id == delivering[0].id)
                         .order_by(Milestone.id)).scalars().first() if delivering else None
    ideas_url = f"{ALSO_START}/ideas"
    urls = [f"{ideas_url}/{i.id}" for i in ideas if i.photo_ref][:1]
    if person is not None and not staff and person.place_id == team.place_id:
        own = [i.id for i in ideas if i.proposer_id == person.id and i.status in ("proposed", "needs_changes")][:1]
        urls += [f"{ideas_url}/new", f"{ideas_url}/new?too_large=1"]
        urls += [u for n in own for u in (f"{ideas_url}/{n}/edit", f"{ideas_url}/{n}/edit?too_large=1")]
    if staff and delivering:
        funded = f"{ideas_url}/{delivering[0].id}"
        urls += [f"{funded}/steps/new", f"{funded}/steps/new?too_large=1", f"{funded}/done"]
        urls += [f"{funded}/steps/{step}/edit"] if step is not None else []
    return urls


def pattern(url: str) -> str:
    """The page's kind: digits are {n}, the team's slug is {team}, a query keeps only its names
    (``page`` dropped): /finance/allocate?team=x is one kind whatever the team."""
    parts = urlsplit(url)
    path = re.sub(r"^/teams/[^/]+", "/teams/{team}", parts.path)
    path = re.sub(r"\d+", "{n}", path)
    names = sorted({k for k, _ in parse_qsl(parts.query) if k != "page"})
    return path + (f"?{'&'.join(names)}" if names else "")


def sign_in(page, base: str, app, email: str) -> None:
    """The sign-in form, then (staff) the TOTP code: the current one, or the next if another test
    used this one in the last 30 seconds (the app accepts one step of drift, each step once)."""
    page.goto(base + "/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if "/sign-in/code" not in page.url:
        return
    page.get_by_label("Code").fill(next_code(app, email))
    page.get_by_role("button", name="Continue").click()
    assert "/sign-in" not in page.url, f"{email} could not sign in: {page.url}"


def next_code(app, email: str) -> str:
    with open_session(get_engine(app), write=False) as s:
        person = s.execute(select(Person).where(Person.email == email)).scalar_one()
        secret, last = person.totp_secret, person.totp_last_step
    totp = pyotp.TOTP(secret)
    while True:
        step = max(totp.timecode(time.time()), last + 1)
        if step <= totp.timecode(time.time()) + 1:
            return totp.generate_otp(step)
        time.sleep(1)


class Crawl:
    def __init__(self, base: str):
        self.base, self.found, self.counts, self.visited = base, [], {}, {}
        self.script, self.axe_seconds, self.checked, self.must = Axe().axe_script, 0.0, set(), {}

    def run_axe(self, page) -> dict:
        """axe-core's results (injected once per document, run at each width)."""
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(self.script)
        return page.evaluate("options => axe.run(document, options)", OPTIONS)

    def check(self, page, role: str, label: str) -> None:
        """axe at each width on the page as it is now (the viewport resized, not reloaded)."""
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            page.wait_for_function(f"() => window.innerWidth === {width}")
            t0 = time.monotonic()
            results = self.run_axe(page)
            self.axe_seconds += time.monotonic() - t0
            for v in results["violations"]:
                target = v["nodes"][0]["target"][0] if v["nodes"] else "?"
                self.found.append(f"{label} [{role}, {width} px]: {v['id']} ({v['impact']}) at {target}"
                                  f" – {len(v['nodes'])} element(s)")
        page.set_viewport_size({"width": WIDTHS[0], "height": 800})

    def empty_submit(self, page, role: str, path: str) -> None:
        """Submit the page's main form empty; the error page must have an error summary."""
        form = page.locator("main form[method=post]:has(button:not([type=button]), input[type=submit])").first
        if form.count() == 0:
            return
        form.evaluate(CLEAR)
        with page.expect_navigation():
            form.locator("button:not([type=button]), input[type=submit]").first.press("Enter")
        label = f"{path} submitted empty"
        if page.locator(".govuk-error-summary").count() == 0:
            self.found.append(f"{label} [{role}]: no error summary on {urlsplit(page.url).path}")
        self.check(page, role, label)

    def role(self, browser, app, role: str, email: str | None) -> None:
        page = browser.new_context(viewport={"width": WIDTHS[0], "height": 800}).new_page()
        if email:
            sign_in(page, self.base, app, email)
            start = page.url
        else:
            start = self.base + "/"
        first = [self.base + url for url in must_visit(app, email)]
        self.must[role] = [url.removeprefix(self.base) for url in first]
        showing_refusal = {url for url in first if "too_large=1" in url}  # a form showing its error: 400
        queue, seen, per_pattern, submitted, pages = [start, *first, self.base + ALSO_START], set(), {}, set(), 0
        while queue and pages < PAGES_PER_ROLE:
            url = queue.pop(0).split("#")[0]
            kind = pattern(url)
            if url in seen or per_pattern.get(kind, 0) >= PER_PATTERN:
                continue
            seen.add(url)
            per_pattern[kind] = per_pattern.get(kind, 0) + 1
            response = page.goto(url)
            pages += 1
            self.visited.setdefault(role, []).append(url.removeprefix(self.base))
            path = url.removeprefix(self.base)
            refusal = response is not None and response.status == 400 and url in showing_refusal
            if response is None or (response.status >= 400 and not refusal):
                self.found.append(f"{path} [{role}]: HTTP {response.status if response else 'no response'}")
                continue
            links = page.eval_on_selector_all("a[href]", LINKS)
            main = hashlib.sha256(page.evaluate(MAIN).encode()).hexdigest()
            if main not in self.checked or pages == 1:
                self.checked.add(main)
                self.check(page, role, path)
            if EMPTY_SUBMIT.match(kind) and kind not in submitted:
                submitted.add(kind)
                self.empty_submit(page, role, path)
            for href in links:
                href = href.split("#")[0]
                if href.startswith(self.base + "/") and not NEVER.search(urlsplit(href).path) and href not in seen:
                    queue.append(href)
        self.counts[role] = (pages, len(submitted))
        page.context.close()


@pytest.mark.timeout(600)  # about 4 minutes on two busy cores: more than the suite's 300 s per test
def test_every_page_for_every_role_meets_wcag_22_aa(browser, live_server):
    started = time.monotonic()
    crawl = Crawl(live_server["url"])
    for role, email in ROLES:
        crawl.role(browser, live_server["app"], role, email)
    seconds = time.monotonic() - started
    summary = ", ".join(f"{role}: {n} pages, {forms} empty forms" for role, (n, forms) in crawl.counts.items())
    print(f"\naccessibility crawl: {summary}; {seconds:.0f} s (axe {crawl.axe_seconds:.0f} s)")
    for role, urls in crawl.visited.items():
        print(role, " ".join(urls))
    assert all(n >= 5 for n, _ in crawl.counts.values()), crawl.counts  # the crawl did get somewhere
    missed = {role: [u for u in urls if u not in crawl.visited.get(role, [])] for role, urls in crawl.must.items()}
    assert not any(missed.values()), f"must-visit pages not visited: {missed}"
    assert crawl.must["team member"] and crawl.must["resident who can vote"]  # the demo has what they need
    assert not crawl.found, f"{len(crawl.found)} accessibility problems:\n" + "\n".join(crawl.found)
