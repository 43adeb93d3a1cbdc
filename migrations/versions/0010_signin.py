"""signin: staff second-factor recovery codes, stored as SHA-256 digests, each usable once

Revision ID: 0010_signin
Revises: 0009_audit_team
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import community.db

revision: str = "0010_signin"
down_revision: str | Sequence[str] | None = "0009_audit_team"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", community.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_code_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_code_person_id"))
    op.drop_table("recovery_code")
