"""limits: approval-limit changes, a raise above the defaults waiting for finance

Revision ID: 0018_limits
Revises: 0016_controls

``spend_limit_change`` records every change of a team's approval limits (issue 14 finding 9). A
raise above the council's defaults stays pending until finance or an admin approves or refuses
it; the database refuses a decision by the person who asked (CHECK) and a second pending change
for the same team (a partial unique index, on SQLite and PostgreSQL alike).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0018_limits"
down_revision: str | Sequence[str] | None = "0016_controls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "spend_limit_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("member_limit_pence", sa.Integer(), nullable=False),
        sa.Column("enabler_limit_pence", sa.Integer(), nullable=False),
        sa.Column("previous_member_limit_pence", sa.Integer(), nullable=False),
        sa.Column("previous_enabler_limit_pence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("requested_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("decided_at", community.db.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.CheckConstraint("status IN ('applied', 'pending', 'approved', 'refused', 'withdrawn')",
                           name="ck_limit_change_status"),
        sa.CheckConstraint("member_limit_pence >= 0 AND enabler_limit_pence >= member_limit_pence",
                           name="ck_limit_change_limits"),
        sa.CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id",
                           name="ck_limit_change_second_person"),
        sa.CheckConstraint("status NOT IN ('approved', 'refused') OR decided_by_id IS NOT NULL",
                           name="ck_limit_change_decided"),
        sa.CheckConstraint("status <> 'refused' OR reason IS NOT NULL", name="ck_limit_change_refused_reason"),
    )
    op.create_index("ix_spend_limit_change_team", "spend_limit_change", ["team_id", "requested_at"])
    op.create_index("uq_spend_limit_change_pending_team", "spend_limit_change", ["team_id"], unique=True,
                    sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_index("uq_spend_limit_change_pending_team", table_name="spend_limit_change")
    op.drop_index("ix_spend_limit_change_team", table_name="spend_limit_change")
    op.drop_table("spend_limit_change")
