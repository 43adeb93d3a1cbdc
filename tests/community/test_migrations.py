"""The migrations: one line of history, and they build exactly the schema the models declare."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from community.migrate import alembic_config


def test_the_history_has_one_head():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several heads: {heads}; add a merge revision"


def test_the_migrated_database_matches_the_models(engine):
    """Tables, columns, types, nullability, indexes, uniques and foreign keys (Alembic's
    autogenerate comparison) of the migrated test database against the models' metadata."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
