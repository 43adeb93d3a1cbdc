"""Pages of the votes domain: permissions, forms, the ballot flow without JavaScript, results."""

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from community.db import open_session, utcnow
from ledger.models import Hold
from tests.date_parts import moment_parts
from tests.support.factories import feasible_idea, open_round
from votes import services
from votes.models import Ballot, Idea, Round


def _ids(session, world):
    return world["team"].slug


def test_propose_support_review_and_the_proposer_sees_the_reason(client, session, world, sign_in, engine):
    slug = world["team"].slug
    resident, other = world["residents"][0], world["residents"][1]
    sign_in(resident)
    assert client.get(f"/teams/{slug}/ideas/new").status_code == 200
    bad = client.post(f"/teams/{slug}/ideas/new", data={"title": "", "description": "x", "estimated_cost": "abc"})
    assert bad.status_code == 400 and "Enter a title" in bad.get_data(as_text=True)
    response = client.post(f"/teams/{slug}/ideas/new", data={"title": "Bench by the pond",
                                                              "description": "Somewhere to sit",
                                                              "estimated_cost": "400"})
    assert response.status_code == 302
    with open_session(engine, write=False) as s:
        idea = s.execute(select(Idea)).scalar_one()
    assert idea.estimated_cost_pence == 40_000
    client.post("/sign-out")
    sign_in(other)
    client.post(f"/teams/{slug}/ideas/{idea.id}/support", data={"action": "support"})
    client.post(f"/teams/{slug}/ideas/{idea.id}/support", data={"action": "support"})
    page = client.get(f"/teams/{slug}/ideas/{idea.id}").get_data(as_text=True)
    assert "You support this idea" in page and re.search(r"Supporters</dt><dd[^>]*>1<", page)
    # A resident cannot review.
    assert client.get(f"/teams/{slug}/ideas/{idea.id}/review").status_code == 403
    client.post("/sign-out")
    sign_in(world["member"])
    refused = client.post(f"/teams/{slug}/ideas/{idea.id}/review", data={"decision": "not_feasible", "note": ""})
    assert "Enter the reason it is not feasible" in refused.get_data(as_text=True)
    client.post(f"/teams/{slug}/ideas/{idea.id}/review",
                data={"decision": "not_feasible", "note": "The pond is on private land"})
    client.post("/sign-out")
    sign_in(resident)
    page = client.get(f"/teams/{slug}/ideas/{idea.id}").get_data(as_text=True)
    assert "Not feasible" in page and "The pond is on private land" in page


def test_outsiders_cannot_propose_and_other_teams_get_404(client, session, world, sign_in, make_person):
    from community import services as community

    slug = world["team"].slug
    sign_in(world["outsider"])
    page = client.get(f"/teams/{slug}/ideas/new").get_data(as_text=True)
    assert "Only residents" in page
    assert client.post(f"/teams/{slug}/ideas/new", data={"title": "x", "description": "y",
                                                         "estimated_cost": "1"}).status_code == 200
    with open_session(session.get_bind(), write=False) as s:
        assert s.execute(select(Idea)).first() is None
    client.post("/sign-out")
    other_team = community.create_team(session, actor_id=None, name="Other", slug="other",
                                       place_id=world["place"].id, cost_centre="TC9")
    session.commit()
    stranger = make_person("stranger@example.org", role="member", team=other_team)
    idea = feasible_idea(session, world, "Bench", 10_000)
    session.commit()
    sign_in(stranger)
    assert client.get(f"/teams/{slug}/ideas/{idea.id}/review").status_code == 404
    assert client.get(f"/teams/{slug}/rounds/new").status_code == 404


def test_hidden_idea_is_404_for_the_public(client, session, world):
    idea = feasible_idea(session, world, "Rude", 100)
    from votes import services

    services.review_idea(session=session, team=world["team"], idea_id=idea.id, reviewer_id=world["member"].id,
                         decision="hidden", note="Abuse")
    session.commit()
    assert client.get(f"/teams/{world['team'].slug}/ideas/{idea.id}").status_code == 404
    assert "Rude" not in client.get(f"/teams/{world['team'].slug}/ideas").get_data(as_text=True)


def test_team_opens_a_round_and_over_available_is_refused(client, session, world, sign_in, engine):
    slug = world["team"].slug
    a, b = feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)
    session.commit()
    sign_in(world["member"])
    now = utcnow() + dt.timedelta(hours=1)
    data = {"title": "Spring round", "budget": "6000", **moment_parts("opens", "2026-01-01 09:00"),
            **moment_parts("closes", (now + dt.timedelta(days=7)).strftime("%Y-%m-%d %H:%M")),
            "ideas": [a.id, b.id], "ballot_type": "knapsack", "rule": "greedy", "idempotency_key": "k1"}
    refused = client.post(f"/teams/{slug}/rounds/new", data=data)
    assert "has £5,000.00 available, not enough for £6,000.00" in refused.get_data(as_text=True)
    response = client.post(f"/teams/{slug}/rounds/new", data={**data, "budget": "1500", "idempotency_key": "k2"})
    assert response.status_code == 302
    with open_session(engine, write=False) as s:
        rnd = s.execute(select(Round)).scalar_one()
        assert s.get(Hold, rnd.hold_id).amount_pence == 150_000


def test_vote_review_submit_receipt_change_and_email(client, session, world, sign_in, engine, app):
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Garden", 60_000),
             feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas, budget=150_000, ballot_type="knapsack")
    session.commit()
    voter = world["residents"][2]
    sign_in(voter)
    page = client.get(f"/teams/{slug}/rounds/{rnd.id}").get_data(as_text=True)
    assert "Review my choices" in page and 'data-cost="100000"' in page
    over = client.post(f"/teams/{slug}/rounds/{rnd.id}/review", data={"idea": [ideas[0].id, ideas[1].id]})
    assert over.status_code == 400 and "more than the budget of £1,500.00" in over.get_data(as_text=True)
    client.post(f"/teams/{slug}/rounds/{rnd.id}/review", data={"idea": [ideas[0].id, ideas[2].id]})
    text = client.get(f"/teams/{slug}/rounds/{rnd.id}/review").get_data(as_text=True)
    assert "Check your vote" in text and "£1,400.00" in text
    # Over budget is refused at submission too, not only on the review page.
    assert client.post(f"/teams/{slug}/rounds/{rnd.id}/ballot",
                       data={"idea": [ideas[0].id, ideas[1].id], "action": "submit"}).status_code == 400
    done = client.post(f"/teams/{slug}/rounds/{rnd.id}/ballot",
                       data={"idea": [ideas[0].id, ideas[2].id], "action": "submit"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/receipt")
    receipt = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Bench" in receipt and "Mural" in receipt and "Garden" not in receipt
    outbox = list(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    assert any("Your vote in Spring round" in p.read_text() and "Mural" in p.read_text() for p in outbox)
    client.post(f"/teams/{slug}/rounds/{rnd.id}/ballot", data={"idea": [ideas[1].id], "action": "submit"})
    with open_session(engine, write=False) as s:
        assert [b.choices for b in s.execute(select(Ballot)).scalars()] == [str(ideas[1].id)]
    client.post("/sign-out")
    sign_in(world["outsider"])
    refused = client.post(f"/teams/{slug}/rounds/{rnd.id}/ballot", data={"idea": [ideas[1].id], "action": "submit"})
    assert refused.status_code == 400 and "Only residents" in refused.get_data(as_text=True)
    assert client.get(f"/teams/{slug}/rounds/{rnd.id}/receipt").status_code == 404


def test_staff_cannot_see_how_a_named_person_voted(client, session, world, sign_in):
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Secret garden", 60_000)]
    rnd = open_round(session, world, ideas)
    session.commit()
    sign_in(world["residents"][3])
    client.post(f"/teams/{slug}/rounds/{rnd.id}/ballot", data={"idea": [ideas[1].id], "action": "submit"})
    client.post("/sign-out")
    sign_in(world["enabler"])
    # The staff member's own receipt page shows only their own ballot (they have none).
    assert client.get(f"/teams/{slug}/rounds/{rnd.id}/receipt").status_code == 404
    for path in (f"/teams/{slug}/rounds/{rnd.id}", f"/teams/{slug}/rounds", f"/teams/{slug}/ideas",
                 f"/teams/{slug}/rounds/{rnd.id}/paper"):
        body = client.get(path).get_data(as_text=True)
        assert world["residents"][3].name not in body.replace("Signed in as " + world["enabler"].name, "")
        assert world["residents"][3].email not in body
    # Nothing in the ballot table points at a person.
    with open_session(session.get_bind(), write=False) as s:
        ballot = s.execute(select(Ballot)).scalar_one()
    assert str(world["residents"][3].id) != ballot.voter_key and len(ballot.voter_key) == 64


def test_results_close_on_page_load_and_explain(client, session, world, engine):
    slug = world["team"].slug
    from tests.support.factories import SECRET
    from votes import services

    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Garden", 60_000),
             feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    r = world["residents"]
    for who, chosen in ((r[0], [0]), (r[1], [0, 1]), (r[2], [1, 2]), (r[3], [2]), (r[4], [0])):
        services.cast_ballot(session=session, rnd_id=rnd.id, person=who, secret=SECRET,
                             idea_ids=[ideas[i].id for i in chosen])
    session.execute(update(Round).where(Round.id == rnd.id).values(closes_at=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    response = client.get(f"/teams/{slug}/rounds/{rnd.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/results")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "funded: 3 votes, fitted in the £1,500.00 left" in page
    assert "not funded: 2 votes, cost £600.00 but only £500.00 was left" in page
    assert "proposed first" in page and "5 people voted" in page


def test_close_due_command(runner, session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000)]
    rnd = open_round(session, world, ideas)
    session.execute(update(Round).where(Round.id == rnd.id).values(closes_at=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    session.close()
    result = runner.invoke(args=["votes", "close-due"])
    assert result.exit_code == 0, result.output
    assert f"closed round {rnd.id}" in result.output
    assert "no round was due" in runner.invoke(args=["votes", "close-due"]).output


def test_paper_pages(client, session, world, sign_in, make_person, engine):
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    session.commit()
    url = f"/teams/{slug}/rounds/{rnd.id}/paper"
    sign_in(world["member"])
    client.post(url, data={"serial": "A1", "idea": [ideas[0].id]})
    assert client.post(url, data={"serial": "A1", "idea": [ideas[0].id]}).status_code == 400
    client.post("/sign-out")
    sign_in(world["enabler"])
    client.post(url, data={"serial": "A1", "idea": [ideas[1].id]})
    page = client.get(url).get_data(as_text=True)
    assert "Ballot A1" in page and "Mismatches" in page
    client.post("/sign-out")
    sign_in(make_person("third@example.org", role="member", team=world["team"]))
    client.post(f"{url}/decide", data={"serial": "A1", "accept": "1", "reason": "Cross on Bench"})
    page = client.get(url).get_data(as_text=True)
    assert "Paper ballots counted so far: <strong>1</strong>" in page
    client.post("/sign-out")
    sign_in(world["residents"][0])
    assert client.get(url).status_code == 403


def test_proposer_edits_after_needs_changes_and_team_posts_delivery(client, session, world, sign_in, engine):
    from tests.support.factories import SECRET
    from votes import services

    slug = world["team"].slug
    proposer = world["residents"][0]
    idea = services.propose_idea(session=session, team=world["team"], proposer=proposer, title="Bench",
                                 description="Sit", estimated_cost_pence=10_000)
    services.review_idea(session=session, team=world["team"], idea_id=idea.id, reviewer_id=world["member"].id,
                         decision="needs_changes", note="Where exactly?")
    session.commit()
    sign_in(world["residents"][1])
    assert client.get(f"/teams/{slug}/ideas/{idea.id}/edit").status_code == 404
    client.post("/sign-out")
    sign_in(proposer)
    assert "Where exactly?" in client.get(f"/teams/{slug}/ideas/{idea.id}").get_data(as_text=True)
    form = client.get(f"/teams/{slug}/ideas/{idea.id}/edit").get_data(as_text=True)
    assert 'value="100.00"' in form
    client.post(f"/teams/{slug}/ideas/{idea.id}/edit", data={"title": "Bench by the pond", "description": "Sit",
                                                             "estimated_cost": "120"})
    with open_session(engine, write=False) as s:
        got = s.get(Idea, idea.id)
        assert (got.title, got.status, got.estimated_cost_pence) == ("Bench by the pond", "proposed", 12_000)
    assert client.post(f"/teams/{slug}/ideas/{idea.id}/delivery",
                       data={"status": "in_delivery", "text": "x"}).status_code == 403
    client.post("/sign-out")
    with open_session(engine, write=True) as s:
        services.review_idea(session=s, team=world["team"], idea_id=idea.id, reviewer_id=world["member"].id,
                             decision="feasible", team_cost_pence=12_000)
        rnd = open_round(s, world, [s.get(Idea, idea.id)])
        services.cast_ballot(session=s, rnd_id=rnd.id, person=s.get(type(proposer), proposer.id), secret=SECRET,
                             idea_ids=[idea.id])
        services.close_round(session=s, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
        s.commit()
    sign_in(world["member"])
    client.post(f"/teams/{slug}/ideas/{idea.id}/delivery", data={"status": "in_delivery",
                                                                 "text": "Ordered from the joiner"})
    page = client.get(f"/teams/{slug}/ideas/{idea.id}").get_data(as_text=True)
    assert "In delivery" in page and "Ordered from the joiner" in page and "No spend has been charged" in page


def test_a_vote_posted_after_the_closing_time_closes_the_round_and_is_refused(client, session, world, sign_in,
                                                                              engine):
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 100_000)]
    rnd = open_round(session, world, ideas)
    session.commit()
    sign_in(world["residents"][0])
    session.execute(update(Round).where(Round.id == rnd.id).values(closes_at=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    response = client.post(f"/teams/{slug}/rounds/{rnd.id}/ballot", data={"idea": [ideas[0].id], "action": "submit"})
    assert response.status_code == 400 and "This round is closed" in response.get_data(as_text=True)
    with open_session(engine, write=False) as s:
        assert s.get(Round, rnd.id).status == "closed"
        assert s.execute(select(Ballot)).first() is None


def test_a_team_member_proposes_an_idea_for_the_team(client, session, world, sign_in, make_person, engine):
    """For a resident who is not online, or spend above the team's limits (the quick-spend page
    links here): the team's own member proposes it, and it is reviewed like any other idea."""
    from community import services as community

    slug = world["team"].slug
    mo = world["member"]
    mo.place_id = None  # staff rarely live in the place they work in
    other_team = community.create_team(session, actor_id=None, name="Other", slug="other",
                                       place_id=world["place"].id, cost_centre="TC9")
    stranger = make_person("stranger@example.org", role="member", team=other_team)
    stranger.place_id = None
    session.add_all([mo, stranger])
    session.commit()
    data = {"title": "Hall hire for the year", "description": "For Mrs Jones, met at the Local Net",
            "estimated_cost": "1200"}

    sign_in(stranger)  # another team's member: not this team's, not a resident
    assert "Only residents" in client.get(f"/teams/{slug}/ideas/new").get_data(as_text=True)
    assert client.post(f"/teams/{slug}/ideas/new", data=data).status_code == 200
    with open_session(engine, write=False) as s:
        assert s.execute(select(Idea)).first() is None
    client.post("/sign-out")

    sign_in(mo)
    assert "Propose an idea" in client.get(f"/teams/{slug}/ideas").get_data(as_text=True)
    page = client.get(f"/teams/{slug}/ideas/new").get_data(as_text=True)
    assert "You are proposing this for the team" in page and "Only residents" not in page
    response = client.post(f"/teams/{slug}/ideas/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with open_session(engine, write=False) as s:
        idea = s.execute(select(Idea)).scalar_one()
        assert (idea.proposer_id, idea.status, idea.estimated_cost_pence) == (mo.id, "proposed", 120_000)
    with pytest.raises(services.NotEligible):  # the service checks it too, whatever the view says
        services.propose_idea(session=session, team=world["team"], proposer=stranger, title="x",
                              description="y", estimated_cost_pence=100, as_team=True)


def test_an_over_budget_paper_ballot_shows_as_spoilt_on_the_paper_page_and_results(client, session, world, sign_in):
    """Issue 20 item 6: the paper page lists it as spoilt; the results count it in turnout only."""
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 60_000)]
    rnd = open_round(session, world, ideas, budget=150_000, ballot_type="knapsack")
    session.commit()
    url = f"/teams/{slug}/rounds/{rnd.id}/paper"
    for keyer in (world["member"], world["enabler"]):
        client.post("/sign-out")
        sign_in(keyer)
        assert client.post(url, data={"serial": "S1", "idea": [i.id for i in ideas]}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Paper ballots counted so far: <strong>0</strong>; spoilt: <strong>1</strong>" in page
    assert "Ballot S1: spoilt – The ideas marked cost £1,600.00, more than the budget of £1,500.00." in page
    session.execute(update(Round).where(Round.id == rnd.id).values(closes_at=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    results = client.get(f"/teams/{slug}/rounds/{rnd.id}/results").get_data(as_text=True)
    assert "1 person voted" in results and "1 on paper, of which 1 spoilt and not counted in the votes" in results


def test_the_ballot_review_is_a_get_so_back_after_voting_never_resubmits_a_form(client, session, world, sign_in):
    """Issue 20 item 11 (post/redirect/get): choosing ideas redirects to a "check your vote"
    page (a GET of the choices kept in the session), casting redirects to the receipt, and
    going Back to the check page afterwards is a plain GET again."""
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Garden", 60_000),
             feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas, budget=150_000, ballot_type="knapsack")
    session.commit()
    sign_in(world["residents"][2])
    base = f"/teams/{slug}/rounds/{rnd.id}"
    chosen = client.post(f"{base}/review", data={"idea": [ideas[0].id, ideas[2].id]})
    assert chosen.status_code in (302, 303) and chosen.headers["Location"] == f"{base}/review"
    check = client.get(f"{base}/review")
    text = check.get_data(as_text=True)
    assert check.status_code == 200 and "Check your vote" in text and "£1,400.00" in text
    assert client.get(f"{base}/review").status_code == 200  # reloading it is a GET too
    # "Change my choices" is a link back to the ballot, with the choices still ticked.
    assert f'href="{base}">Change my choices' in text
    change = client.post(f"{base}/ballot", data={"idea": [ideas[0].id, ideas[2].id], "action": "change"})  # an older page
    assert change.status_code in (302, 303) and change.headers["Location"] == base
    ballot = client.get(base).get_data(as_text=True)
    assert ballot.count(" checked") == 2 and f'value="{ideas[0].id}" data-cost="100000" checked' in ballot
    done = client.post(f"{base}/ballot", data={"idea": [ideas[0].id, ideas[2].id], "action": "submit"})
    assert done.status_code in (302, 303) and done.headers["Location"].endswith("/receipt")
    back = client.get(f"{base}/review")  # Back from the receipt: the check page is gone, the ballot shows
    assert back.status_code in (302, 303) and back.headers["Location"] == base
    # Validation errors still answer the form with its message (the PRG exception).
    over = client.post(f"{base}/review", data={"idea": [ideas[0].id, ideas[1].id]})
    assert over.status_code == 400 and "more than the budget" in over.get_data(as_text=True)


def test_a_resident_gives_their_idea_a_category_and_the_list_finds_it_by_it(client, world, sign_in, engine):
    """Issue 17, "Ideas residents can find": the category is chosen on the propose form, refused
    beside the field when it is not on the list (nothing written), shown on the idea's page, and
    the ideas list's category filter finds it."""
    slug = world["team"].slug
    sign_in(world["residents"][0])
    form = {"title": "Bench by the pond", "description": "Somewhere to sit", "estimated_cost": "400"}
    page = client.get(f"/teams/{slug}/ideas/new").get_data(as_text=True)
    assert 'name="category"' in page and "Parks and green spaces" in page
    bad = client.post(f"/teams/{slug}/ideas/new", data={**form, "category": "casino"})
    assert bad.status_code == 400 and "Choose a category from the list." in bad.get_data(as_text=True)
    with open_session(engine, write=False) as s:
        assert s.execute(select(Idea)).first() is None
    assert client.post(f"/teams/{slug}/ideas/new", data={**form, "category": "green_spaces"}).status_code == 302
    with open_session(engine, write=False) as s:
        idea = s.execute(select(Idea)).scalar_one()
    assert idea.category == "green_spaces"
    assert "Parks and green spaces" in client.get(f"/teams/{slug}/ideas/{idea.id}").get_data(as_text=True)
    assert "Bench by the pond" in client.get(f"/teams/{slug}/ideas?category=green_spaces").get_data(as_text=True)
    assert "Bench by the pond" not in client.get(f"/teams/{slug}/ideas?category=streets").get_data(as_text=True)


def test_the_idea_list_names_the_open_rounds_only_soonest_to_close_last(client, session, world):
    ideas = [feasible_idea(session, world, title, 40_000) for title in ("Bench", "Mural", "Planters")]
    spring = open_round(session, world, ideas[:1], closes_in=dt.timedelta(days=1))
    services.close_round(session=session, round_id=spring.id, actor_id=world["member"].id,
                         now=spring.closes_at + dt.timedelta(seconds=1))
    now = utcnow()
    for title, days, idea in (("Summer round", 3, ideas[1]), ("Autumn round", 10, ideas[2])):
        services.open_round(session=session, team=world["team"], actor_id=world["member"].id, title=title,
                            budget_pence=50_000, opens_at=now - dt.timedelta(hours=1),
                            closes_at=now + dt.timedelta(days=days), idea_ids=[idea.id], ballot_type="approval",
                            rule="greedy", max_choices=None, idempotency_key=f"round-{title}")
    session.commit()
    page = client.get(f"/teams/{world['team'].slug}/ideas").get_data(as_text=True)
    shown = re.findall(r"Voting is open: <a [^>]*>([^<]+)</a>", page)
    assert shown == ["Autumn round", "Summer round"]  # the closed Spring round is not offered
