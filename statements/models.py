"""Frozen statements: the bytes of a closed month's statement (a team's, or the county pack),
stored once with their SHA-256 and served byte-identically ever after.

``migrations/versions/0006_statements.py`` adds triggers refusing UPDATE and DELETE (and
TRUNCATE on PostgreSQL), so a frozen statement can never change; the unique constraint on
(month, scope) makes "freeze on first request" race-safe: the loser of a race reads the
winner's row.
"""

import datetime as dt

from sqlalchemy import CheckConstraint, Column, Date, Integer, LargeBinary, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from community.db import UTCDateTime, utcnow

COUNTY_SCOPE = "county"


def team_scope(team_id: int) -> str:
    return f"team:{team_id}"


class FrozenStatement(SQLModel, table=True):
    """One closed month's statement for one team (scope ``team:<id>``) or the county pack
    (scope ``county``): the PDF and the CSV, each with its SHA-256."""

    __tablename__ = "statement_frozen"
    __table_args__ = (
        UniqueConstraint("month_start", "scope", name="uq_statement_frozen_month_scope"),
        CheckConstraint("scope = 'county' OR scope LIKE 'team:%'", name="ck_statement_frozen_scope"),
        CheckConstraint(
            "length(pdf_sha256) = 64 AND length(csv_sha256) = 64", name="ck_statement_frozen_sha256"
        ),
        CheckConstraint("pdf_size > 0 AND csv_size > 0", name="ck_statement_frozen_size"),
    )

    id: int | None = Field(default=None, primary_key=True)
    month_start: dt.date = Field(sa_column=Column(Date, nullable=False))
    scope: str = Field(sa_column=Column(String(30), nullable=False))
    team_id: int | None = Field(default=None, foreign_key="team.id")
    statement_id: str = Field(sa_column=Column(String(60), nullable=False, unique=True))
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    pdf_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    pdf_size: int = Field(sa_column=Column(Integer, nullable=False))
    csv: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    csv_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    csv_size: int = Field(sa_column=Column(Integer, nullable=False))
    # True when built by the month-close job (after the close-month response, or by the
    # `statements freeze-pending` cron); False when frozen lazily on first download (or by
    # `statements build`).
    frozen_at_close: bool = Field(default=False)
    generated_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
