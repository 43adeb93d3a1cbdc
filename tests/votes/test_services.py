"""Services of the votes domain: ideas, review, rounds and the ledger, ballots, close, paper."""


import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from community.db import open_session, utcnow
from ledger import services as ledger
from ledger.errors import InsufficientFunds
from ledger.models import Hold
from tests.support.factories import SECRET, feasible_idea, open_round
from votes import services
from votes.models import Ballot, Idea, IdeaSupport, Round


def test_a_resident_proposes_and_an_outsider_cannot(session, world):
    idea = services.propose_idea(session=session, team=world["team"], proposer=world["residents"][0],
                                 title="  Bench  by the pond ", description="Somewhere to sit", estimated_cost_pence=40_000)
    assert idea.status == "proposed" and idea.title == "Bench by the pond"
    with pytest.raises(services.NotEligible):
        services.propose_idea(session=session, team=world["team"], proposer=world["outsider"], title="x",
                              description="y", estimated_cost_pence=100)
    with pytest.raises(services.VotesError, match="more than"):
        services.propose_idea(session=session, team=world["team"], proposer=world["residents"][0], title="x",
                              description="y", estimated_cost_pence=0)


def test_support_is_once_per_person_and_withdrawable(session, world):
    idea = services.propose_idea(session=session, team=world["team"], proposer=world["residents"][0],
                                 title="Bench", description="Sit", estimated_cost_pence=40_000)
    r1 = world["residents"][1]
    assert services.support(session=session, idea_id=idea.id, person=r1) is True
    assert services.support(session=session, idea_id=idea.id, person=r1) is False
    assert services.support_count(session=session, idea_id=idea.id) == 1
    with pytest.raises(services.NotEligible):
        services.support(session=session, idea_id=idea.id, person=world["outsider"])
    assert services.unsupport(session=session, idea_id=idea.id, person=r1) is True
    assert services.support_count(session=session, idea_id=idea.id) == 0
    services.support(session=session, idea_id=idea.id, person=r1)
    session.commit()
    # The database itself refuses a second support row.
    with pytest.raises(IntegrityError):
        session.add(IdeaSupport(idea_id=idea.id, person_id=r1.id))
        session.flush()
    session.rollback()


def test_review_decisions_need_a_cost_or_a_reason(session, world):
    team, member = world["team"], world["member"]
    idea = services.propose_idea(session=session, team=team, proposer=world["residents"][0], title="Bench",
                                 description="Sit", estimated_cost_pence=40_000)
    with pytest.raises(services.VotesError, match="cost estimate"):
        services.review_idea(session=session, team=team, idea_id=idea.id, reviewer_id=member.id, decision="feasible")
    for decision in ("needs_changes", "not_feasible", "hidden"):
        with pytest.raises(services.VotesError, match="Enter"):
            services.review_idea(session=session, team=team, idea_id=idea.id, reviewer_id=member.id, decision=decision)
    services.review_idea(session=session, team=team, idea_id=idea.id, reviewer_id=member.id,
                         decision="needs_changes", note="Say where exactly")
    assert idea.status == "needs_changes" and idea.review_note == "Say where exactly"
    services.edit_idea(session=session, idea_id=idea.id, person=world["residents"][0], title="Bench by the pond",
                       description="Sit", estimated_cost_pence=45_000)
    assert idea.status == "proposed"
    with pytest.raises(services.VotesError, match="Only the person"):
        services.edit_idea(session=session, idea_id=idea.id, person=world["residents"][1], title="x",
                           description="y", estimated_cost_pence=1)
    services.review_idea(session=session, team=team, idea_id=idea.id, reviewer_id=member.id,
                         decision="not_feasible", note="The pond is private land")
    assert idea.status == "not_feasible"
    services.review_idea(session=session, team=team, idea_id=idea.id, reviewer_id=member.id,
                         decision="feasible", team_cost_pence=50_000)
    assert idea.status == "feasible" and idea.team_cost_pence == 50_000
    session.commit()
    # The database refuses a feasible idea without the team's cost.
    with pytest.raises(IntegrityError):
        session.execute(update(Idea).where(Idea.id == idea.id).values(team_cost_pence=None))
    session.rollback()


def test_hidden_ideas_leave_the_public_list(session, world):
    idea = services.propose_idea(session=session, team=world["team"], proposer=world["residents"][0],
                                 title="Rude", description="rude", estimated_cost_pence=100)
    services.review_idea(session=session, team=world["team"], idea_id=idea.id, reviewer_id=world["member"].id,
                         decision="hidden", note="Abusive language")
    assert services.visible_ideas(session=session, team=world["team"]) == []


def test_opening_a_round_holds_its_budget_and_is_refused_over_available(session, world):
    team = world["team"]
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas, budget=150_000)
    hold = session.get(Hold, rnd.hold_id)
    assert hold.amount_pence == 150_000 and hold.status == "open"
    assert ledger.available_of(session=session, team=team) == 350_000
    other = feasible_idea(session, world, "Garden", 60_000)
    with pytest.raises(InsufficientFunds):
        open_round(session, world, [other], budget=400_000)
    with pytest.raises(services.VotesError, match="Already on the ballot"):
        open_round(session, world, [ideas[0]], budget=1_000)
    not_feasible = services.propose_idea(session=session, team=team, proposer=world["residents"][0], title="X",
                                         description="y", estimated_cost_pence=100)
    with pytest.raises(services.VotesError, match="feasible"):
        open_round(session, world, [not_feasible], budget=1_000)


def _cast(session, rnd, who, ideas, **kw):
    return services.cast_ballot(session=session, rnd_id=rnd.id, person=who, secret=SECRET,
                                idea_ids=[i.id for i in ideas], **kw)


def test_one_ballot_per_voter_replaced_and_keyed_without_the_person(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    voter = world["residents"][1]
    first = _cast(session, rnd, voter, ideas[:1])
    second = _cast(session, rnd, voter, ideas[1:])
    session.commit()
    assert first.id == second.id and second.choices == str(ideas[1].id)
    rows = session.execute(select(Ballot)).scalars().all()
    assert len(rows) == 1
    assert rows[0].voter_key == services.voter_key(SECRET, rnd.id, voter.id)
    assert str(voter.id) not in rows[0].voter_key.split(":")
    assert not hasattr(Ballot, "person_id")
    with pytest.raises(services.NotEligible):
        _cast(session, rnd, world["outsider"], ideas[:1])
    with pytest.raises(IntegrityError):  # the database's one-ballot rule
        session.add(Ballot(round_id=rnd.id, voter_key=rows[0].voter_key, source="online", choices="",
                           reference="DUPLICATE1"))
        session.flush()
    session.rollback()


def test_changing_a_ballot_stores_the_new_choices(session, engine, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    voter = world["residents"][1]
    cast_at = utcnow()
    first = _cast(session, rnd, voter, ideas[:1], now=cast_at)
    session.commit()
    _cast(session, rnd, voter, ideas[1:], now=cast_at + dt.timedelta(minutes=5))
    session.commit()
    with open_session(engine, write=False) as fresh:  # what the database holds, not what was returned
        stored = fresh.execute(select(Ballot).where(Ballot.round_id == rnd.id)).scalars().all()
    assert len(stored) == 1
    assert services.decode(stored[0].choices) == [ideas[1].id]
    assert stored[0].reference == first.reference  # the receipt stays the same
    assert stored[0].cast_at == cast_at + dt.timedelta(minutes=5)


def test_ballot_rules_knapsack_and_k(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 60_000),
             feasible_idea(session, world, "Bulbs", 10_000)]
    rnd = open_round(session, world, ideas, budget=150_000, ballot_type="knapsack")
    with pytest.raises(services.OverBudget, match="£1,600.00"):
        _cast(session, rnd, world["residents"][1], ideas[:2])
    ok = services.check_ballot(session=session, rnd=rnd, idea_ids=[ideas[0].id, ideas[2].id])
    assert ok.total_pence == 110_000
    session.rollback()
    # On SQLite the next round takes the rolled-back round's number: the rules kept for casting
    # (votes.services._rules) must not be that round's.
    ideas = [feasible_idea(session, world, f"Idea {n}", 1_000) for n in range(3)]
    rnd = open_round(session, world, ideas, budget=10_000, ballot_type="approval_k", k=2)
    with pytest.raises(services.VotesError, match="no more than 2"):
        _cast(session, rnd, world["residents"][1], ideas)
    with pytest.raises(services.VotesError, match="only ideas"):
        services.cast_ballot(session=session, rnd_id=rnd.id, person=world["residents"][1], secret=SECRET,
                             idea_ids=[999_999])


def test_no_ballot_after_the_close_even_in_the_database(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000)]
    rnd = open_round(session, world, ideas)
    with pytest.raises(services.RoundClosed):
        _cast(session, rnd, world["residents"][1], ideas, now=rnd.closes_at)
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    session.commit()
    with pytest.raises(Exception, match="round is closed"):
        session.add(Ballot(round_id=rnd.id, voter_key="sneaky", source="online", choices="", reference="SNEAKY0001"))
        session.flush()
    session.rollback()


def test_close_tallies_explains_and_moves_the_holds(session, world):
    team = world["team"]
    bench, garden, mural = (feasible_idea(session, world, "Bench", 100_000),
                            feasible_idea(session, world, "Garden", 60_000),
                            feasible_idea(session, world, "Mural", 40_000))
    rnd = open_round(session, world, [bench, garden, mural], budget=150_000)
    r = world["residents"]
    _cast(session, rnd, r[0], [bench])
    _cast(session, rnd, r[1], [bench, garden])
    _cast(session, rnd, r[2], [garden, mural])
    _cast(session, rnd, r[3], [mural])
    _cast(session, rnd, r[4], [bench])
    session.commit()
    with pytest.raises(services.VotesError):
        services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id)
    session.rollback()
    assert services.close_due(session=session, actor_id=world["member"].id, now=rnd.closes_at) == [rnd.id]
    session.commit()
    rows = {idea.title: ri for ri, idea in services.results(session=session, rnd=session.get(Round, rnd.id))}
    assert rows["Bench"].funded and rows["Mural"].funded and not rows["Garden"].funded
    assert rows["Bench"].votes == 3 and rows["Garden"].votes == 2
    assert rows["Bench"].explanation.startswith("funded: 3 votes, fitted in the £1,500.00 left")
    assert rows["Garden"].explanation.startswith("not funded: 2 votes, cost £600.00 but only £500.00 was left")
    holds = session.execute(select(Hold).order_by(Hold.id)).scalars().all()
    assert [(h.amount_pence, h.status) for h in holds] == [(150_000, "voided"), (100_000, "open"), (40_000, "open")]
    assert ledger.available_of(session=session, team=team) == 500_000 - 140_000
    assert session.get(Idea, bench.id).status == "funded"
    # Closing again (cron and a page load at once) changes nothing.
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    assert session.execute(select(func.count()).select_from(Hold)).scalar() == 3


def test_equal_shares_explains_how_the_cost_was_shared(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Garden", 60_000),
             feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas, budget=150_000, rule="mes-add1-greedy")
    r = world["residents"]
    for who, chosen in ((r[0], [0]), (r[1], [0, 1]), (r[2], [1, 2]), (r[3], [2]), (r[4], [0])):
        _cast(session, rnd, who, [ideas[i] for i in chosen])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    text_of = {idea.title: ri.explanation for ri, idea in services.results(session=session, rnd=rnd)}
    assert "shared by its supporters" in text_of["Bench"]
    assert text_of["Garden"].startswith("not funded")


def test_paper_double_keying_with_a_mismatch(session, world, make_person):
    team = world["team"]
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    m, e = world["member"], world["enabler"]
    kw = dict(session=session, rnd_id=rnd.id)
    assert services.key_paper_ballot(**kw, serial="p-001", keyer_id=m.id, idea_ids=[ideas[0].id]) == "waiting"
    with pytest.raises(services.VotesError, match="different team member"):
        services.key_paper_ballot(**kw, serial="P-001", keyer_id=m.id, idea_ids=[ideas[0].id])
    assert services.key_paper_ballot(**kw, serial="P-001", keyer_id=e.id, idea_ids=[ideas[0].id]) == "counted"
    services.key_paper_ballot(**kw, serial="P-002", keyer_id=m.id, idea_ids=[ideas[0].id])
    assert services.key_paper_ballot(**kw, serial="P-002", keyer_id=e.id, idea_ids=[ideas[1].id]) == "mismatch"
    third = make_person("third@example.org", role="member", team=team)
    with pytest.raises(services.VotesError, match="keyed twice"):
        services.key_paper_ballot(**kw, serial="P-002", keyer_id=third.id, idea_ids=[ideas[1].id])
    status = services.paper_status(session=session, round_id=rnd.id)
    assert status.counted == 1 and status.mismatches == [("P-002", [ideas[0].id], [ideas[1].id])]
    assert services.turnout(session=session, round_id=rnd.id)["paper"] == 1
    with pytest.raises(services.VotesError, match="a third team member"):
        services.decide_mismatch(**kw, serial="P-002", decider_id=e.id, accept_pass=2, reason="Cross is on Mural")
    services.decide_mismatch(**kw, serial="P-002", decider_id=third.id, accept_pass=2, reason="Cross is on Mural")
    status = services.paper_status(session=session, round_id=rnd.id)
    assert status.counted == 2 and status.mismatches == []
    _cast(session, rnd, world["residents"][0], ideas[:1])
    counts = services.turnout(session=session, round_id=rnd.id)
    assert counts == {"online": 1, "paper": 2, "imported": 0, "spoilt": 0, "total": 3}
    services.close_round(session=session, round_id=rnd.id, actor_id=m.id, now=rnd.closes_at)
    votes = {idea.title: ri.votes for ri, idea in services.results(session=session, rnd=rnd)}
    assert votes == {"Bench": 2, "Mural": 1}


def test_delivery_moves_one_step_at_a_time(session, world):
    idea = feasible_idea(session, world, "Bench", 100_000)
    rnd = open_round(session, world, [idea])
    _cast(session, rnd, world["residents"][1], [idea])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    kw = dict(session=session, team=world["team"], idea_id=idea.id, author_id=world["member"].id)
    with pytest.raises(services.VotesError, match="closing note"):
        services.add_delivery_update(**kw, status="done", text="Done already?")
    services.add_delivery_update(**kw, status="in_delivery", text="Ordered from the joiner")
    with pytest.raises(services.VotesError, match="closing note"):  # done is votes.delivery.mark_done's
        services.add_delivery_update(**kw, status="done", text="Installed")
    with pytest.raises(services.VotesError, match="one step"):
        services.add_delivery_update(**kw, status="funded", text="Back again?")
    assert session.get(Idea, idea.id).status == "in_delivery"
    assert [u.status for u in services.updates_of(session=session, idea_id=idea.id)][-1:] == ["in_delivery"]


@pytest.mark.parametrize("rule", ["greedy", "mes-add1-greedy"])
def test_ties_go_to_the_idea_proposed_first_as_the_page_says(session, world, rule):
    ideas = [feasible_idea(session, world, f"Idea {n}", 10_000) for n in range(1, 11)]
    nine, ten = ideas[8], ideas[9]
    assert (nine.id, ten.id) == (9, 10)  # as strings, "10" < "9": padding makes 9 win
    rnd = open_round(session, world, [ten, nine], budget=10_000, rule=rule)
    _cast(session, rnd, world["residents"][0], [nine])
    _cast(session, rnd, world["residents"][1], [ten])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    funded = [idea.id for ri, idea in services.results(session=session, rnd=rnd) if ri.funded]
    assert funded == [9]


def _key_twice(session, world, rnd, serial, ideas):
    kw = dict(session=session, rnd_id=rnd.id, serial=serial, idea_ids=[i.id for i in ideas])
    services.key_paper_ballot(**kw, keyer_id=world["member"].id)
    return services.key_paper_ballot(**kw, keyer_id=world["enabler"].id)


def test_a_paper_ballot_over_the_budget_is_spoilt_counted_in_turnout_not_in_votes(session, world):
    """Issue 20 item 6: the same rule as online (which refuses it); matching keyings do not
    make an over-budget paper ballot count."""
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 60_000)]
    rnd = open_round(session, world, ideas, budget=150_000, ballot_type="knapsack")
    with pytest.raises(services.OverBudget):
        _cast(session, rnd, world["residents"][0], ideas)
    assert _key_twice(session, world, rnd, "P-1", ideas) == "spoilt"
    assert _key_twice(session, world, rnd, "P-2", ideas[1:]) == "counted"
    status = services.paper_status(session=session, round_id=rnd.id)
    assert status.counted == 1 and [s for s, _reason in status.spoilt] == ["P-1"]
    assert "more than the budget of £1,500.00" in status.spoilt[0][1]
    assert services.turnout(session=session, round_id=rnd.id) == {
        "online": 0, "paper": 2, "imported": 0, "spoilt": 1, "total": 2}
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    votes = {idea.title: ri.votes for ri, idea in services.results(session=session, rnd=rnd)}
    assert votes == {"Bench": 0, "Mural": 1}
    assert session.get(Round, rnd.id).paper_ballots == 2


def test_a_paper_ballot_over_k_is_spoilt_also_when_a_mismatch_is_decided(session, world, make_person):
    ideas = [feasible_idea(session, world, f"Idea {n}", 1_000) for n in range(3)]
    rnd = open_round(session, world, ideas, budget=10_000, ballot_type="approval_k", k=2)
    assert _key_twice(session, world, rnd, "K-1", ideas) == "spoilt"
    kw = dict(session=session, rnd_id=rnd.id, serial="K-2")
    services.key_paper_ballot(**kw, keyer_id=world["member"].id, idea_ids=[i.id for i in ideas])
    assert services.key_paper_ballot(**kw, keyer_id=world["enabler"].id, idea_ids=[ideas[0].id]) == "mismatch"
    third = make_person("third@example.org", role="member", team=world["team"])
    services.decide_mismatch(**kw, decider_id=third.id, accept_pass=1, reason="Three crosses on the paper")
    spoilt = session.execute(select(Ballot.voter_key, Ballot.spoilt_reason).order_by(Ballot.voter_key)).all()
    assert [key for key, _ in spoilt] == ["paper:K-1", "paper:K-2"]
    assert all("no more than 2" in reason for _, reason in spoilt)
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    assert {ri.votes for ri, _ in services.results(session=session, rnd=rnd)} == {0}


def test_only_paper_ballots_can_be_spoilt_in_the_database(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000)]
    rnd = open_round(session, world, ideas)
    with pytest.raises(IntegrityError):
        session.add(Ballot(round_id=rnd.id, voter_key="k", source="online", choices=str(ideas[0].id),
                           reference="SPOILT0001", spoilt_reason="Too many"))
        session.flush()
    session.rollback()
