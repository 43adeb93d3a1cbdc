"""confirm: email confirmation at sign-up, and voting codes for assisted sign-up

Revision ID: 0021_confirm
Revises: 0018_limits

``person.email_confirmed_at`` says when the person proved they read their mail; everyone who
exists already counts as confirmed (set to their ``created_at``), so only new sign-ups wait.
``person.phone`` is for residents signed up at a Local Net without email. ``email_confirmation``
holds one row per emailed link (SHA-256 of its token, 7 days, used once). ``voting_code`` holds
the keyed hash of a one-time voting code given on a printed slip (issue 14).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0021_confirm"
down_revision: str | Sequence[str] | None = "0018_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_confirmed_at", community.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(40), nullable=True))
    op.execute("UPDATE person SET email_confirmed_at = created_at")
    op.create_table(
        "email_confirmation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", community.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("expires_at > created_at", name="ck_email_confirmation_expiry"),
        sa.CheckConstraint("used_at IS NULL OR used_at >= created_at", name="ck_email_confirmation_used"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_email_confirmation_person_id", "email_confirmation", ["person_id"], unique=False)
    op.create_table(
        "voting_code",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("created_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", community.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("used_at IS NULL OR used_at >= created_at", name="ck_voting_code_used"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index("ix_voting_code_person_id", "voting_code", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_voting_code_person_id", table_name="voting_code")
    op.drop_table("voting_code")
    op.drop_index("ix_email_confirmation_person_id", table_name="email_confirmation")
    op.drop_table("email_confirmation")
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("email_confirmed_at")
