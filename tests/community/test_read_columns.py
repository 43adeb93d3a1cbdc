"""community.db.read_columns: a Core read in the session's transaction that sees what the session
has pending, as ``session.execute`` does (and, inside ``no_autoflush``, does not)."""

from sqlalchemy import select

from community.db import read_columns
from community.models import Team


def test_a_column_read_sees_pending_changes_as_the_orm_would(session, place_and_team):
    place, _team = place_and_team
    session.add(Team(slug="gamesley", name="Gamesley Connected Team", place_id=place.id, cost_centre="TC1002"))
    by_slug = select(Team.name).where(Team.slug == "gamesley")
    with session.no_autoflush:
        assert read_columns(session, by_slug).scalar_one_or_none() is None
        assert session.execute(by_slug).scalar_one_or_none() is None
    assert read_columns(session, by_slug).scalar_one() == "Gamesley Connected Team" == session.execute(by_slug).scalar_one()
    session.rollback()
    assert read_columns(session, by_slug).scalar_one_or_none() is None  # the same transaction, rolled back
