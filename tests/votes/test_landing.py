"""Issue 20 item 10: after sign-in each person lands on their next step."""

import datetime as dt
import re

from sqlmodel import select

from community.formatting import london_datetime
from pledges import services as pledges
from spend import services as spend
from spend.models import SpendRequest
from tests.support.clock import today
from tests.support.factories import feasible_idea, open_round
from votes import services


def _land(sign_in, person):
    response = sign_in(person)
    assert response.status_code == 302
    return response.headers["Location"]


def test_a_resident_lands_on_their_place_with_vote_now_until_they_vote(client, session, world, sign_in):
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 50_000), feasible_idea(session, world, "Garden", 40_000)]
    rnd = open_round(session, world, ideas, budget=150_000)
    session.commit()
    voter = world["residents"][1]
    assert _land(sign_in, voter).endswith(f"/teams/{slug}")
    page = client.get(f"/teams/{slug}").get_data(as_text=True)
    assert f"Vote now — Spring round, closes {london_datetime(rnd.closes_at)}" in page
    assert f'href="/teams/{slug}/rounds/{rnd.id}"' in page
    assert client.post(f"/teams/{slug}/rounds/{rnd.id}/ballot",
                       data={"idea": [ideas[0].id], "action": "submit"}).status_code == 302
    assert "Vote now" not in client.get(f"/teams/{slug}").get_data(as_text=True)


def test_no_vote_now_for_outsiders_visitors_or_without_an_open_round(client, session, world, sign_in):
    slug = world["team"].slug
    assert _land(sign_in, world["residents"][0]).endswith(f"/teams/{slug}")
    assert "Vote now" not in client.get(f"/teams/{slug}").get_data(as_text=True)
    open_round(session, world, [feasible_idea(session, world, "Bench", 50_000)])
    session.commit()
    client.post("/sign-out")
    assert "Vote now" not in client.get(f"/teams/{slug}").get_data(as_text=True)
    assert _land(sign_in, world["outsider"]).endswith("/account")  # no team works in Gamesley
    assert "Vote now" not in client.get(f"/teams/{slug}").get_data(as_text=True)


def test_an_explicit_next_still_wins(client, world):
    response = client.post("/sign-in?next=/teams/shirebrook/ideas",
                           data={"email": world["residents"][0].email, "password": "correct horse battery"})
    assert response.headers["Location"].endswith("/teams/shirebrook/ideas")
    evil = client.post("/sign-in?next=//evil.example",
                       data={"email": world["residents"][0].email, "password": "correct horse battery"})
    assert evil.headers["Location"].endswith("/teams/shirebrook")


def test_finance_lands_on_the_finance_home(client, world, sign_in):
    assert _land(sign_in, world["finance"]).endswith("/finance")


def test_staff_land_on_a_to_do_list(client, session, world, sign_in):
    team, member, enabler = world["team"], world["member"], world["enabler"]
    assert _land(sign_in, member).endswith("/staff")
    assert "Nothing waiting" in client.get("/staff").get_data(as_text=True)
    # One idea to review, a request by the enabler (mine to approve), one of mine (not for me),
    # an approved request with no receipt yet, and a pledge due this week.
    services.propose_idea(session=session, team=team, proposer=world["residents"][0], title="Swings",
                          description="For the park", estimated_cost_pence=30_000)
    spend.request_spend(session=session, team=team, requester=enabler, amount_pence=2_000, payee="Shop",
                        payee_is_individual=False, purpose="Tea", category="equipment")
    spend.request_spend(session=session, team=team, requester=member, amount_pence=1_000, payee="Shop",
                        payee_is_individual=False, purpose="Milk", category="equipment")
    approved = spend.request_spend(session=session, team=team, requester=enabler, amount_pence=1_500,
                                   payee="Shop", payee_is_individual=False, purpose="Cups", category="equipment")
    spend.approve(session=session, team=team, request_id=approved.id, approver=member, auth_session=None,
                  idempotency_key="ap-1", fresh_above_pence=10**9)
    pledges.make_pledge(session=session, team=team, made_by=world["residents"][0], kind="goods",
                        description="Ten chairs", quantity=10, today=today(),
                        due_on=today() + dt.timedelta(days=2))
    session.commit()
    page = client.get("/staff").get_data(as_text=True)
    assert "Nothing waiting" not in page
    slug = team.slug
    for label, count, href in [
        ("Approvals waiting for me", 1, f"/teams/{slug}/spend"),
        ("Ideas to review", 1, f"/teams/{slug}/ideas"),
        ("Receipts missing", 1, f"/teams/{slug}/spend"),
        ("Pledges due", 1, f"/teams/{slug}/pledges/reminders"),
    ]:
        assert re.search(rf'href="{re.escape(href)}[^"]*">{label}[^<]*</a> <strong[^>]*data-count="{count}"', page), label
    assert "Paper ballots to decide" not in page


def test_the_to_do_counts_agree_with_the_pages_they_link_to(client, session, world, sign_in, make_person):
    """The staff to-do list counts in SQL (issue 18): paper mismatches as paper_status lists them
    (decided ones gone), and approvals as approvers_of would list me (over my limit only when the
    request is within a funded idea's vote)."""
    team, member, enabler = world["team"], world["member"], world["enabler"]
    _land(sign_in, member)
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    kw = dict(session=session, rnd_id=rnd.id)
    for serial, second in (("P-001", ideas[0]), ("P-002", ideas[1]), ("P-003", ideas[1]), ("P-004", None)):
        services.key_paper_ballot(**kw, serial=serial, keyer_id=member.id, idea_ids=[ideas[0].id])
        if second is not None:
            services.key_paper_ballot(**kw, serial=serial, keyer_id=enabler.id, idea_ids=[second.id])
    third = make_person("third@example.org", role="member", team=team)
    services.decide_mismatch(**kw, serial="P-003", decider_id=third.id, accept_pass=2, reason="Cross on Mural")
    make_person("erin@example.org", role="enabler", team=team)  # so the enabler's over-limit request has an approver
    limit = team.member_limit_pence
    for amount in (limit, limit + 1, limit // 2):
        spend.request_spend(session=session, team=team, requester=enabler, amount_pence=amount, payee="Shop",
                            payee_is_individual=False, purpose=f"Tea {amount}", category="equipment")
    session.commit()
    mismatches = len(services.paper_status(session=session, round_id=rnd.id).mismatches)
    assert [(r.id, r.mismatches) for r in services.open_rounds_of(session=session, team_ids=[team.id])] \
        == [(rnd.id, mismatches)] == [(rnd.id, 1)]
    pending = session.exec(select(SpendRequest).where(SpendRequest.team_id == team.id)).all()
    mine = sum(any(p.id == member.id for p in spend.approvers_of(session=session, team=team, request=r))
               for r in pending)
    waiting = spend.waiting_on(session=session, teams=[team], person=member, roles={team.id: "member"})
    assert waiting[team.id].approvals == mine == 2
    session.rollback()  # end the read: a write session holds SQLite's lock
    page = client.get("/staff").get_data(as_text=True)
    assert re.search(r'>Paper ballots to decide — Spring round[^<]*</a> <strong[^>]*data-count="1"', page)
    assert re.search(r'>Approvals waiting for me[^<]*</a> <strong[^>]*data-count="2"', page)
