"""``votes import`` and ``votes export``: Pabulib in and out; pabutools reads our export back."""

from collections import Counter

import pytest
from sqlalchemy import select

from community.db import open_session
from tests.support.factories import SECRET, feasible_idea, open_round
from tests.votes import pabulib_data
from votes import services
from votes.models import Ballot, Idea, Round, RoundIdea
from votes.pabulib import read_pb
from votes.tally import tally

DATA = pabulib_data.DATA
LAS = DATA / "Poland_Warszawa_2019_Las.pb"


@pytest.mark.usefixtures("pabulib")  # skips with the reason when the data is missing; fails under CI
def test_import_makes_a_closed_round_with_anonymous_ballots(runner, session, world, engine):
    session.close()
    result = runner.invoke(args=["votes", "import", str(LAS), "--team", world["team"].slug])
    assert result.exit_code == 0, result.output
    election = read_pb(LAS)
    expected = set(tally(election, "greedy").selected)
    with open_session(engine, write=False) as s:
        rnd = s.execute(select(Round)).scalar_one()
        assert rnd.status == "closed" and rnd.hold_id is None and rnd.imported_from == LAS.name
        assert s.query(Ballot).count() == len(election.ballots) == 127
        assert {b.source for b in s.execute(select(Ballot)).scalars()} == {"imported"}
        funded = {idea.description.split("project ")[1].rstrip(".")
                  for ri, idea in s.execute(select(RoundIdea, Idea).join(Idea, Idea.id == RoundIdea.idea_id)
                                            .where(RoundIdea.funded.is_(True))).all()}
    assert funded == expected


def test_import_refuses_unknown_team_and_ordinal_files(runner, session, world):
    session.close()
    assert runner.invoke(args=["votes", "import", str(LAS), "--team", "nope"]).exit_code != 0
    ordinal = next(DATA.glob("*rankings.pb"), None)
    if ordinal is not None:
        result = runner.invoke(args=["votes", "import", str(ordinal), "--team", world["team"].slug])
        assert result.exit_code != 0 and "approval" in result.output


def test_export_is_read_back_by_pabutools_as_the_same_profile(runner, session, world, engine, tmp_path):
    pabutools = pytest.importorskip("pabutools.election")
    ideas = [feasible_idea(session, world, "Bench", 100_050), feasible_idea(session, world, "Garden", 60_000),
             feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas, budget=150_000)
    r = world["residents"]
    choices = {0: [0], 1: [0, 1], 2: [1, 2], 3: [2], 4: [0, 2]}
    for n, chosen in choices.items():
        services.cast_ballot(session=session, rnd_id=rnd.id, person=r[n], secret=SECRET,
                             idea_ids=[ideas[i].id for i in chosen])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    session.commit()
    session.close()
    out = tmp_path / "round.pb"
    result = runner.invoke(args=["votes", "export", str(rnd.id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    instance, profile = pabutools.parse_pabulib(str(out))
    assert instance.budget_limit == 1500
    assert {p.name: p.cost for p in instance} == {str(i.id): c for i, c in
                                                  zip(ideas, (pabutools_frac("1000.5"), 600, 400), strict=True)}
    got = Counter(frozenset(p.name for p in ballot) for ballot in profile)
    want = Counter(frozenset(str(ideas[i].id) for i in chosen) for chosen in choices.values())
    assert got == want
    with open_session(engine, write=False) as s:
        references = {b.reference for b in s.execute(select(Ballot)).scalars()}
    # pabutools does not keep voter ids; our reader does: voters are the receipt references.
    assert {ballot.id for ballot in read_pb(out).ballots} == references
    text = out.read_text()
    assert all(p.email not in text and p.name not in text for p in r)


def pabutools_frac(text):
    from fractions import Fraction

    return Fraction(text)
