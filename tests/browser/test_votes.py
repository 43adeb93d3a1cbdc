"""In Chromium: a demo resident votes in the demo's open round straight away and reads the last
round's results; propose → review → open a round → vote on a phone → close → results."""

import datetime as dt
import re

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from community.db import get_engine, open_session, utcnow
from community.models import Person, Team
from demo.people import DEMO_DOMAIN, DEMO_PASSWORD, totp_secret_for
from ledger import services as ledger
from tests.support.clock import today
from votes import services
from votes.models import Idea, Round

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


def test_a_demo_resident_votes_in_the_open_demo_round_and_reads_the_last_results(browser, live_server, shot):
    url, app = live_server["url"], live_server["app"]
    with open_session(get_engine(app), write=False) as s:
        team = s.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        last, current = s.execute(select(Round).where(Round.team_id == team.id).order_by(Round.id).limit(2)).scalars()
        assert last.status == "closed" and services.is_open_for_voting(current)
        before = services.turnout(session=s, round_id=current.id)["total"]
    assert before >= 1

    # Tom voted when the demo was loaded: the ballot says so.
    tom = browser.new_context().new_page()
    _sign_in(tom, url, f"tom@{DEMO_DOMAIN}")
    tom.goto(url + "/teams/shirebrook/ideas")
    tom.get_by_role("link", name=current.title).click()
    expect(tom.get_by_text("You have voted.")).to_be_visible()

    # Rita has not: she signs in on her phone and votes straight away.
    rita = browser.new_context(viewport=PHONE).new_page()
    _sign_in(rita, url, f"rita@{DEMO_DOMAIN}")
    rita.goto(url + "/teams/shirebrook/ideas")
    rita.get_by_role("link", name=current.title).click()
    rita.get_by_label("Christmas lights on Market Square", exact=False).check()
    rita.get_by_label("Dog waste bins on the rec", exact=False).check()
    expect(rita.get_by_text("You have voted.")).not_to_be_visible()  # on the ballot, now loaded
    expect(rita.get_by_text("£200.00 of the budget left")).to_be_visible()
    shot(rita, "48-votes-demo-round-phone")
    rita.get_by_role("button", name="Review my choices").click()
    rita.get_by_role("button", name="Submit my vote").click()
    expect(rita.get_by_text("Your vote is recorded")).to_be_visible()
    assert_accessible(rita)
    with open_session(get_engine(app), write=False) as s:
        assert services.turnout(session=s, round_id=current.id)["total"] == before + 1

    # The last round's results: who voted, what was funded, and why one idea was not.
    rita.goto(url + "/teams/shirebrook/ideas")
    rita.get_by_role("link", name="Voting rounds and results").click()
    rita.get_by_role("link", name=last.title).click()
    expect(rita.get_by_role("heading", name=f"Results: {last.title}")).to_be_visible()
    expect(rita.get_by_text("5 people voted")).to_be_visible()
    expect(rita.get_by_text("Not funded", exact=True)).to_be_visible()
    assert_accessible(rita)
    shot(rita, "49-votes-demo-results-phone")


def test_propose_review_vote_on_a_phone_close_and_results(browser, live_server, shot):
    url, app = live_server["url"], live_server["app"]
    engine = get_engine(app)
    with open_session(engine, write=True) as s:
        team = s.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        finance = s.execute(select(Person).where(Person.is_finance)).scalars().first()
        tom = s.execute(select(Person).where(Person.email == f"tom@{DEMO_DOMAIN}")).scalar_one()
        ledger.allocate(gl_code="R1000", session=s, team=team, amount_pence=300_000, actor_id=finance.id,
                        effective_date=today(), idempotency_key="browser-votes-alloc")
        for title, cost in (("Litter pickers", 30_000), ("Defibrillator cabinet", 50_000)):
            services.propose_idea(session=s, team=team, proposer=tom, title=title,
                                  description=f"{title}: for everyone", estimated_cost_pence=cost)
        s.commit()

    # 1. A resident proposes an idea on a phone.
    resident = browser.new_context(viewport=PHONE).new_page()
    _sign_in(resident, url, f"rita@{DEMO_DOMAIN}")
    resident.goto(url + "/teams/shirebrook/ideas")
    resident.get_by_role("link", name="Propose an idea").click()
    resident.get_by_label("Title").fill("Street library box")
    resident.get_by_label("What it is and who it helps").fill("A weatherproof box of books to borrow, "
                                                               "outside the community centre.")
    resident.get_by_label("Estimated cost in pounds").fill("300")
    assert_accessible(resident)
    shot(resident, "50-votes-propose-phone")
    resident.get_by_role("button", name="Propose idea").click()
    expect(resident.get_by_text("Waiting for review").first).to_be_visible()
    shot(resident, "51-votes-idea-proposed-phone")

    # 2. A team member reviews the three ideas and opens a round.
    member = browser.new_context().new_page()
    # Asha, not Carol: test_pledges signs Carol in, and a two-factor code is refused if used
    # twice in its 30 seconds.
    _sign_in(member, url, f"asha.shirebrook@{DEMO_DOMAIN}", totp=True)
    with open_session(engine, write=False) as s:
        mine = ("Street library box", "Litter pickers", "Defibrillator cabinet")
        ideas = {i.title: i.id for i in s.execute(select(Idea).where(Idea.team_id == team.id)).scalars()
                 if i.title in mine}
    for title, cost in (("Street library box", "350"), ("Litter pickers", "300"), ("Defibrillator cabinet", "500")):
        member.goto(f"{url}/teams/shirebrook/ideas/{ideas[title]}/review")
        member.get_by_label("Feasible: can go on a ballot").check()
        member.get_by_label("The team's cost estimate in pounds").fill(cost)
        if title == "Street library box":
            assert_accessible(member)
            shot(member, "52-votes-review")
        member.get_by_role("button", name="Save review").click()
        expect(member.get_by_text("Review saved: Feasible")).to_be_visible()
    member.goto(url + "/teams/shirebrook/rounds/new")
    member.get_by_label("Title").fill("Spring 2027 round")
    member.get_by_label("Budget in pounds").fill("800")
    london = dt.datetime.now(dt.UTC).astimezone(services_london())
    for which, moment in (("opens", london - dt.timedelta(hours=1)), ("closes", london + dt.timedelta(days=7))):
        box = member.get_by_role("group", name=re.compile(f"^Date the round {which}"))  # GOV.UK date input
        for part, value in (("Day", moment.day), ("Month", moment.month), ("Year", moment.year)):
            box.get_by_label(part).fill(str(value))
        member.get_by_label(f"Time it {which}").fill(moment.strftime("%H:%M"))
    for title in ideas:
        member.get_by_label(title, exact=False).check()
    member.get_by_label("Knapsack: choose ideas whose costs fit the budget").check()
    member.get_by_label("Method of Equal Shares with completion", exact=False).check()
    assert_accessible(member)
    shot(member, "53-votes-open-round")
    member.get_by_role("button", name="Open round and hold its budget").click()
    expect(member.get_by_text("£800.00 is held on the team's ledger")).to_be_visible()

    # 3. The resident votes on the phone: over budget refused, then a fitting choice.
    resident.goto(url + "/teams/shirebrook/ideas")
    resident.get_by_role("link", name="Spring 2027 round").click()
    for title in ideas:
        resident.get_by_label(title, exact=False).check()
    expect(resident.get_by_text("over the budget")).to_be_visible()  # the live total (JavaScript)
    shot(resident, "54-votes-ballot-over-phone")
    resident.get_by_role("button", name="Review my choices").click()
    expect(resident.get_by_text("more than the budget of £800.00").first).to_be_visible()  # the server's check
    resident.get_by_label("Defibrillator cabinet", exact=False).uncheck()
    expect(resident.get_by_text("£150.00 of the budget left")).to_be_visible()
    assert_accessible(resident)
    shot(resident, "55-votes-ballot-phone")
    resident.get_by_role("button", name="Review my choices").click()
    expect(resident.get_by_text("£650.00").first).to_be_visible()
    assert_accessible(resident)
    shot(resident, "56-votes-check-phone")
    resident.get_by_role("button", name="Submit my vote").click()
    expect(resident.get_by_text("Your vote is recorded")).to_be_visible()
    assert_accessible(resident)
    shot(resident, "57-votes-receipt-phone")

    with open_session(engine, write=True) as s:
        rnd = s.execute(select(Round).where(Round.title == "Spring 2027 round")).scalar_one()
        tom = s.execute(select(Person).where(Person.email == f"tom@{DEMO_DOMAIN}")).scalar_one()
        services.cast_ballot(session=s, rnd_id=rnd.id, person=tom, secret=app.config["SECRET_KEY"],
                             idea_ids=[ideas["Defibrillator cabinet"], ideas["Litter pickers"]])
        # 4. Time passes: the closing time is reached.
        s.execute(update(Round).where(Round.id == rnd.id).values(closes_at=utcnow() - dt.timedelta(seconds=1)))
        s.commit()
        round_id = rnd.id

    resident.goto(f"{url}/teams/shirebrook/rounds/{round_id}")  # closes on page load
    expect(resident.get_by_role("heading", name="Results: Spring 2027 round")).to_be_visible()
    expect(resident.get_by_text("2 people voted")).to_be_visible()
    expect(resident.get_by_text("shared by its supporters").first).to_be_visible()
    expect(resident.get_by_text("Ties:")).to_be_visible()
    assert_accessible(resident)
    shot(resident, "58-votes-results-phone")
    resident.get_by_role("link", name="Litter pickers").click()
    expect(resident.get_by_text("Funded").first).to_be_visible()
    shot(resident, "59-votes-funded-idea-phone")


def services_london():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/London")
