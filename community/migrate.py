"""Bring a database's schema up to date with the Alembic revisions in ``migrations/``."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    """The project's Alembic configuration."""
    return Config(str(ROOT / "alembic.ini"))


class MigrationError(Exception):
    """A migration left the database in a state it must not be in."""


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply every migration up to ``revision`` on ``engine`` (every branch head by default).

    On SQLite, Alembic's batch mode rebuilds a table by copying it and dropping the original,
    which the foreign keys pointing at it refuse. SQLite's own recipe is followed: foreign keys
    off for the migration (a pragma that only works outside a transaction), every foreign key
    checked before the commit, and back on afterwards.
    """
    cfg = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise MigrationError(f"the migration broke {len(broken)} foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                _pragma(connection, "PRAGMA foreign_keys=ON")


def _pragma(connection: Connection, statement: str) -> None:
    """Run a pragma on the DBAPI connection, outside any transaction (SQLAlchemy's begin event
    would otherwise wrap it in BEGIN, where ``foreign_keys`` is silently ignored)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()
