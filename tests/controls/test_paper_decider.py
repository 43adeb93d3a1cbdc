"""Issue 14 finding 3: a paper-ballot mismatch is decided by a third team member, never by
either of the two who keyed it — refused by the service and, underneath, by a trigger."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from community.db import open_session
from tests.support.factories import feasible_idea, open_round
from votes import services
from votes.models import Ballot, PaperDecision


@pytest.fixture
def mismatch(session, world, make_person):
    """Ballot P-7 keyed by the member (Bench) and the enabler (Mural); a third member, Tess."""
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    kw = dict(session=session, rnd_id=rnd.id, serial="P-7")
    services.key_paper_ballot(**kw, keyer_id=world["member"].id, idea_ids=[ideas[0].id])
    assert services.key_paper_ballot(**kw, keyer_id=world["enabler"].id, idea_ids=[ideas[1].id]) == "mismatch"
    session.commit()
    third = make_person("tess@example.org", role="member", team=world["team"])
    return dict(round=rnd, ideas=ideas, third=third)


def _decisions(session) -> int:
    return session.execute(select(func.count()).select_from(PaperDecision)).scalar_one()


@pytest.mark.parametrize("keyer", ["member", "enabler"])
def test_neither_keyer_may_decide_the_mismatch(session, world, mismatch, keyer):
    with pytest.raises(services.VotesError, match="a third team member"):
        services.decide_mismatch(session=session, rnd_id=mismatch["round"].id, serial="P-7",
                                 decider_id=world[keyer].id, accept_pass=1, reason="Cross on Bench")
    session.rollback()
    assert _decisions(session) == 0
    assert session.execute(select(func.count()).select_from(Ballot)).scalar_one() == 0


def test_a_third_team_member_decides_it(session, world, mismatch):
    decision = services.decide_mismatch(session=session, rnd_id=mismatch["round"].id, serial="P-7",
                                        decider_id=mismatch["third"].id, accept_pass=2, reason="Cross on Mural")
    session.commit()
    assert decision.decided_by_id == mismatch["third"].id and decision.decision == "count"
    assert services.paper_status(session=session, round_id=mismatch["round"].id).counted == 1


@pytest.mark.parametrize("keyer", ["member", "enabler"])
def test_the_database_refuses_a_decision_by_a_keyer(session, world, mismatch, keyer):
    """Written around the service: the trigger on vote_paper_decision refuses it."""
    session.add(PaperDecision(round_id=mismatch["round"].id, serial="P-7", decision="reject", choices=None,
                              reason="Bypassing the service", decided_by_id=world[keyer].id))
    with pytest.raises(DBAPIError, match="third team member"):
        session.flush()
    session.rollback()
    assert _decisions(session) == 0


def test_the_database_accepts_a_third_persons_decision(session, world, mismatch):
    session.add(PaperDecision(round_id=mismatch["round"].id, serial="P-7", decision="reject", choices=None,
                              reason="Torn", decided_by_id=mismatch["third"].id))
    session.flush()
    session.commit()
    assert _decisions(session) == 1


def test_a_keyer_posting_the_decision_sees_why_and_nothing_is_written(client, session, world, mismatch,
                                                                      sign_in, engine):
    slug, rnd = world["team"].slug, mismatch["round"]
    sign_in(world["enabler"])
    page = client.post(f"/teams/{slug}/rounds/{rnd.id}/paper/decide",
                       data={"serial": "P-7", "accept": "1", "reason": "Cross on Bench"}, follow_redirects=True)
    assert page.status_code == 200
    assert "a third team member" in page.get_data(as_text=True)
    with open_session(engine, write=False) as reader:
        assert _decisions(reader) == 0
    client.post("/sign-out")
    sign_in(mismatch["third"])
    client.post(f"/teams/{slug}/rounds/{rnd.id}/paper/decide",
                data={"serial": "P-7", "accept": "1", "reason": "Cross on Bench"})
    with open_session(engine, write=False) as reader:
        assert _decisions(reader) == 1
