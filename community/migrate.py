"""Bring a database's schema up to date with the Alembic revisions in ``migrations/``."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    """The project's Alembic configuration."""
    return Config(str(ROOT / "alembic.ini"))


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply every migration up to ``revision`` on ``engine`` (every branch head by default)."""
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
