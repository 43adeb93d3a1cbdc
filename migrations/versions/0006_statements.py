"""statements: frozen statements of closed months (PDF and CSV bytes with SHA-256)

Revision ID: 0006_statements
Revises: 0002

A frozen statement is written once and never changed: triggers refuse UPDATE and DELETE on
SQLite and PostgreSQL (and TRUNCATE on PostgreSQL). UNIQUE(month_start, scope) lets two
first requests race: one insert wins, the other reads the winner's bytes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0006_statements"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER statement_frozen_no_update BEFORE UPDATE ON statement_frozen
    BEGIN SELECT RAISE(ABORT, 'statements: a frozen statement cannot be changed'); END""",
    """CREATE TRIGGER statement_frozen_no_delete BEFORE DELETE ON statement_frozen
    BEGIN SELECT RAISE(ABORT, 'statements: a frozen statement cannot be deleted'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION statement_frozen_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'statements: % on a frozen statement is not allowed', TG_OP;
    END $$""",
    """CREATE TRIGGER statement_frozen_no_update BEFORE UPDATE ON statement_frozen
    FOR EACH ROW EXECUTE FUNCTION statement_frozen_refuse()""",
    """CREATE TRIGGER statement_frozen_no_delete BEFORE DELETE ON statement_frozen
    FOR EACH ROW EXECUTE FUNCTION statement_frozen_refuse()""",
    """CREATE TRIGGER statement_frozen_no_truncate BEFORE TRUNCATE ON statement_frozen
    FOR EACH STATEMENT EXECUTE FUNCTION statement_frozen_refuse()""",
]


def upgrade() -> None:
    op.create_table(
        "statement_frozen",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month_start", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(30), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=True),
        sa.Column("statement_id", sa.String(60), nullable=False, unique=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_sha256", sa.String(64), nullable=False),
        sa.Column("pdf_size", sa.Integer(), nullable=False),
        sa.Column("csv", sa.LargeBinary(), nullable=False),
        sa.Column("csv_sha256", sa.String(64), nullable=False),
        sa.Column("csv_size", sa.Integer(), nullable=False),
        sa.Column("frozen_at_close", sa.Boolean(), nullable=False),
        sa.Column("generated_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", community.db.UTCDateTime(), nullable=False),
        sa.UniqueConstraint("month_start", "scope", name="uq_statement_frozen_month_scope"),
        sa.CheckConstraint("scope = 'county' OR scope LIKE 'team:%'", name="ck_statement_frozen_scope"),
        sa.CheckConstraint(
            "length(pdf_sha256) = 64 AND length(csv_sha256) = 64", name="ck_statement_frozen_sha256"
        ),
        sa.CheckConstraint("pdf_size > 0 AND csv_size > 0", name="ck_statement_frozen_size"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = SQLITE_TRIGGERS
    elif dialect == "postgresql":
        statements = POSTGRES_TRIGGERS
    else:  # pragma: no cover
        raise RuntimeError(f"statement triggers are written for sqlite and postgresql, not {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("statement_frozen")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS statement_frozen_refuse() CASCADE")
