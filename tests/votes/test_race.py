"""A voter submitting twice at once leaves exactly one ballot, the database's doing.

Casting is one ``INSERT … ON CONFLICT (round_id, voter_key) DO UPDATE`` resting on the unique
constraint. The two tests after the first show that the first can fail: without the constraint
the database refuses the upsert, and a read-then-write cast (what the upsert replaces) run
through the same race writes two ballots for one voter.
"""

import time

import pytest
from sqlalchemy import func, insert, select, text, update

from community.db import open_session
from community.models import Person
from tests.support.factories import SECRET, feasible_idea, open_round
from tests.support.race import race
from votes import services
from votes.models import Ballot


def _race(engine, round_id, person_id, choices):
    """Every attempt ``"ok"`` or its error; both transactions have read the round and are about to
    write when the pause ends (PostgreSQL)."""
    def cast(idea_ids):
        def attempt(session, _i):
            services.cast_ballot(session=session, rnd_id=round_id, person=session.get(Person, person_id),
                                 secret=SECRET, idea_ids=idea_ids)
        return attempt

    services._BETWEEN_READ_AND_WRITE = lambda: time.sleep(0.3)
    try:
        return race(engine, [cast(c) for c in choices], timeout=30)
    finally:
        services._BETWEEN_READ_AND_WRITE = None


@pytest.fixture
def race_round(session, world):
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    session.commit()
    return rnd, ideas, world["residents"][1].id


def _ballots(engine):
    with open_session(engine, write=False) as s:
        return s.execute(select(Ballot)).scalars().all()


def test_two_submissions_at_once_leave_one_ballot(engine, session, race_round):
    rnd, ideas, voter = race_round
    session.close()
    assert _race(engine, rnd.id, voter, [[ideas[0].id], [ideas[1].id]]) == ["ok", "ok"]
    rows = _ballots(engine)
    assert len(rows) == 1 and rows[0].choices in (str(ideas[0].id), str(ideas[1].id))


def _drop_constraint(session):
    session.execute(text("ALTER TABLE vote_ballot DROP CONSTRAINT uq_vote_ballot_round_voter"))
    session.commit()
    session.close()


def test_without_the_unique_constraint_the_upsert_is_refused(engine, session, race_round):
    """The one-ballot rule is the constraint's: without it the database refuses every cast."""
    if engine.dialect.name != "postgresql":
        pytest.skip("dropping a constraint on SQLite means rebuilding the table")
    rnd, ideas, voter = race_round
    _drop_constraint(session)
    outcomes = _race(engine, rnd.id, voter, [[ideas[0].id], [ideas[1].id]])
    assert all(o.startswith("error: ") and "ON CONFLICT" in o for o in outcomes), outcomes
    assert _ballots(engine) == []


def test_a_read_then_write_cast_races_into_two_ballots(engine, session, race_round, monkeypatch):
    """Shows the race above really interleaves: replace the upsert with a read, then an insert
    or update (the pause in between), drop the constraint, and the same race double-votes."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises write transactions (BEGIN IMMEDIATE), so the race cannot interleave")
    rnd, ideas, voter = race_round
    _drop_constraint(session)

    def read_then_write(connection, params):
        table = Ballot.__table__
        existing = connection.execute(select(table.c.id).where(
            table.c.round_id == params["round_id"], table.c.voter_key == params["voter_key"])).scalar()
        services._BETWEEN_READ_AND_WRITE()
        if existing is not None:
            connection.execute(update(table).where(table.c.id == existing).values(choices=params["choices"]))
            return existing, ""
        row = connection.execute(insert(table).values(
            round_id=params["round_id"], voter_key=params["voter_key"], source="online",
            choices=params["choices"], reference=services._new_reference(), cast_at=params["cast_at"],
        ).returning(table.c.id)).one()
        return row[0], ""

    monkeypatch.setattr(services, "_write_ballot", read_then_write)
    assert _race(engine, rnd.id, voter, [[ideas[0].id], [ideas[1].id]]) == ["ok", "ok"]
    with open_session(engine, write=False) as s:
        assert s.execute(select(func.count()).select_from(Ballot)).scalar() == 2
