"""The migrations: one line of history, and they build exactly the schema the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from community.migrate import alembic_config


def test_the_history_has_one_head():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several heads: {heads}; add a merge revision"


# Search objects the migrations make and no model declares (delivery_0001): SQLAlchemy has no
# model for an FTS5 virtual table (SQLite makes its shadow tables itself) nor, portably, for an
# expression GIN index; votes.services.find_ideas is the one place that uses them, and
# tests/votes/test_search.py proves they work (and stay in step with vote_idea) on both databases.
SEARCH_OBJECTS = ("vote_idea_fts", "ix_vote_idea_search")


def _not_search(name, type_, _parent_names) -> bool:
    return not (name or "").startswith(SEARCH_OBJECTS)


def test_the_migrated_database_matches_the_models(engine):
    """Tables, columns, types, nullability, indexes, uniques and foreign keys (Alembic's
    autogenerate comparison) of the migrated test database against the models' metadata."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": _not_search})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


def _normal(sql: str) -> str:
    """A CHECK's text without the spelling the database adds: case, spaces, brackets, quotes and
    PostgreSQL's casts and ``= ANY (ARRAY[…])`` for ``IN (…)``."""
    import re

    text = sql.lower()
    text = re.sub(r"::(character varying|text|integer|bigint|numeric|boolean)(\[\])?", "", text)  # 'a'::text
    text = re.sub(r"= any \(array\[(.*?)\]\)", r"in (\1)", text)
    text = re.sub(r"<> all \(array\[(.*?)\]\)", r"not in (\1)", text)
    text = text.replace(" ~~ ", " like ")
    return re.sub(r"[\s()\"]", "", text)


def test_every_check_in_the_migrated_database_is_the_models_check(engine):
    """Alembic's comparison ignores CHECK constraints: compare them here, by name and by text, so
    a model's rule and its migration cannot drift apart (issue 15)."""
    from sqlalchemy import CheckConstraint, inspect

    declared, found = {}, {}
    for table in SQLModel.metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint) and constraint.name:
                declared[(table.name, constraint.name)] = _normal(str(constraint.sqltext))
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        for check in inspector.get_check_constraints(table.name):
            if check["name"]:
                found[(table.name, check["name"])] = _normal(check["sqltext"])
    assert sorted(set(declared) - set(found)) == [], "declared in a model but missing from the migrations"
    assert sorted(set(found) - set(declared)) == [], "in the migrated database but in no model"
    drifted = {key: (declared[key], found[key]) for key in declared if declared[key] != found[key]}
    assert drifted == {}
