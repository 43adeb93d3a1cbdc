"""Votes fixtures: ``world`` is the shared votes world (tests/support/factories.py: a place with
its team and £5,000 allocated, residents, team staff); ``pabulib`` is the sample elections;
``funded`` is a £400 idea (COST) funded by a closed round."""

import pytest

from tests.support.factories import SECRET, feasible_idea, open_round
from tests.votes import pabulib_data
from votes import services
from votes.models import Idea

COST = 40_000


@pytest.fixture
def pabulib():
    """The Pabulib sample data folder: skip (with the reason) when it is missing, fail under CI."""
    return pabulib_data.require()


@pytest.fixture
def world(votes_world):
    return votes_world


@pytest.fixture
def funded(session, world):
    """A £400 idea funded by a closed round (resident 0 voted for it)."""
    idea = feasible_idea(session, world, "Benches by the pond", COST)
    rnd = open_round(session, world, [idea])
    services.cast_ballot(
        session=session, rnd_id=rnd.id, person=world["residents"][0], secret=SECRET, idea_ids=[idea.id]
    )
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, force=True)
    session.commit()
    return session.get(Idea, idea.id)
