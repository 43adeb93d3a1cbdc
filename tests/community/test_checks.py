"""Every CHECK constraint of the migrated database is the one its model declares (issue 15).

Alembic's autogenerate comparison (test_migrations.py) ignores CHECK constraints, so a model's
CHECK can drift from its migration unseen; this compares them by name and by text.
"""

from __future__ import annotations

import re

from sqlalchemy import CheckConstraint, text
from sqlmodel import SQLModel


def _normal(sql: str) -> str:
    """A CHECK's text with spaces, case and redundant outer parentheses dropped."""
    sql = re.sub(r"\s+", "", sql).lower()
    while sql.startswith("(") and sql.endswith(")") and _balanced(sql[1:-1]):
        sql = sql[1:-1]
    return sql


def _balanced(sql: str) -> bool:
    depth = 0
    for ch in sql:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _literals(sql: str) -> list[str]:
    """The quoted strings and numbers a CHECK mentions (PostgreSQL rewrites the rest)."""
    return sorted(re.findall(r"'([^']*)'", sql)) + sorted(re.findall(r"(?<![\w'])(\d+)(?![\w'])", sql))


def model_checks() -> dict[tuple[str, str], str]:
    checks = {}
    for table in SQLModel.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                checks[(table.name, constraint.name)] = str(constraint.sqltext)
    return checks


def _sqlite_checks(connection) -> dict[tuple[str, str], str]:
    checks = {}
    rows = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL")
    )
    for table, sql in rows:
        for match in re.finditer(r"CONSTRAINT\s+\"?(\w+)\"?\s+CHECK\s*\(", sql, flags=re.IGNORECASE):
            start = depth = match.end() - 1
            depth = 0
            for end in range(start, len(sql)):
                depth += {"(": 1, ")": -1}.get(sql[end], 0)
                if depth == 0:
                    break
            checks[(table, match.group(1))] = sql[start : end + 1]
    return checks


def _postgresql_checks(connection) -> dict[tuple[str, str], str]:
    rows = connection.execute(
        text(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE k.contype = 'c' AND n.nspname = current_schema()"
        )
    )
    return {(table, name): definition.removeprefix("CHECK ") for table, name, definition in rows}


def database_checks(engine) -> dict[tuple[str, str], str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            return _sqlite_checks(connection)
        return _postgresql_checks(connection)


def test_the_models_declare_check_constraints(app):
    checks = model_checks()
    assert ("ledger_account", "ck_account_kind") in checks
    assert all(name for _, name in checks), "every CHECK has a name"


def test_every_check_in_the_migrated_database_is_the_models(engine):
    models = model_checks()
    database = database_checks(engine)
    tables = {table for table, _ in models}
    database = {key: sql for key, sql in database.items() if key[0] in tables}
    assert sorted(set(database) - set(models)) == [], "CHECKs in the database that no model declares"
    assert sorted(set(models) - set(database)) == [], "CHECKs a model declares that no migration made"
    if engine.dialect.name == "sqlite":
        differ = {
            key: (models[key], database[key])
            for key in models
            if _normal(models[key]) != _normal(database[key])
        }
    else:  # PostgreSQL rewrites the text (casts, ANY (ARRAY[...])): compare what it mentions
        differ = {
            key: (models[key], database[key])
            for key in models
            if _literals(models[key]) != _literals(database[key])
        }
    assert differ == {}, "model CHECK (left) differs from the migrated database's (right)"
