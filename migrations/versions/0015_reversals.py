"""reversals: a reversal above the threshold waits for a second finance person

Revision ID: 0015_reversals
Revises: 0011_reset

``reversal_request`` holds a reversal until another finance person approves it (issue 20,
item 5). The database refuses a decision by the person who asked (CHECK) and a second pending
request for the same entry (a partial unique index, on SQLite and PostgreSQL alike).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0015_reversals"
down_revision: str | Sequence[str] | None = "0011_reset"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reversal_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("journal_entry.id"), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("requested_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("decided_at", community.db.UTCDateTime(), nullable=True),
        sa.Column("reversal_entry_id", sa.Integer(), sa.ForeignKey("journal_entry.id"), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'reversed', 'refused')", name="ck_reversal_status"),
        sa.CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id",
                           name="ck_reversal_second_person"),
        sa.CheckConstraint("amount_pence > 0", name="ck_reversal_amount_positive"),
    )
    op.create_index("ix_reversal_request_entry_id", "reversal_request", ["entry_id"])
    op.create_index("uq_reversal_request_pending_entry", "reversal_request", ["entry_id"], unique=True,
                    sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("uq_reversal_request_pending_entry", table_name="reversal_request")
    op.drop_index("ix_reversal_request_entry_id", table_name="reversal_request")
    op.drop_table("reversal_request")
