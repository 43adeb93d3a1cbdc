"""A voter submitting twice at once leaves exactly one ballot, the database's doing."""

import threading
import time

import pytest
from sqlalchemy import func, select, text

from community.db import open_session
from community.models import Person
from tests.votes.conftest import SECRET, feasible_idea, open_round
from votes import services
from votes.models import Ballot


def _race(engine, round_id, person_id, choices):
    errors = []
    barrier = threading.Barrier(len(choices))

    def submit(idea_ids):
        try:
            barrier.wait(timeout=5)
            with open_session(engine, write=True) as s:
                services.cast_ballot(session=s, rnd_id=round_id, person=s.get(Person, person_id), secret=SECRET,
                                     idea_ids=idea_ids)
                s.commit()
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(c,)) for c in choices]
    services._BETWEEN_READ_AND_WRITE = lambda: time.sleep(0.3)  # both read "no ballot yet" (PostgreSQL)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        services._BETWEEN_READ_AND_WRITE = None
    return errors


@pytest.fixture
def race_round(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    session.commit()
    return rnd, ideas, world["residents"][1].id


def test_two_submissions_at_once_leave_one_ballot(engine, session, race_round):
    rnd, ideas, voter = race_round
    session.close()
    errors = _race(engine, rnd.id, voter, [[ideas[0].id], [ideas[1].id]])
    assert errors == []
    with open_session(engine, write=False) as s:
        rows = s.execute(select(Ballot)).scalars().all()
    assert len(rows) == 1 and rows[0].choices in (str(ideas[0].id), str(ideas[1].id))


def test_without_the_unique_constraint_the_race_makes_two_ballots(engine, session, race_round):
    """Shows the test above can fail: drop the constraint and the same race double-votes."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises write transactions (BEGIN IMMEDIATE), so the race cannot interleave")
    rnd, ideas, voter = race_round
    session.execute(text("ALTER TABLE vote_ballot DROP CONSTRAINT uq_vote_ballot_round_voter"))
    session.commit()
    session.close()
    _race(engine, rnd.id, voter, [[ideas[0].id], [ideas[1].id]])
    with open_session(engine, write=False) as s:
        assert s.execute(select(func.count()).select_from(Ballot)).scalar() == 2
