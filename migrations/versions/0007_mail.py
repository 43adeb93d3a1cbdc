"""mail: the outgoing mail queue (a transactional outbox)

Revision ID: 0007_mail
Revises: 0006_statements

A request adds a ``mail_message`` row in its own transaction, so a rolled-back action sends
nothing and a committed one never loses its email; ``flask mail deliver`` (cron) or, in
development and testing, a hook after the request sends the pending rows. ``next_attempt_at``
is the deliverer's claim (a short lease) and, after a failure, the back-off before the retry.
The partial index holds only the pending rows, so finding work stays cheap as sent mail piles up.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0007_mail"
down_revision: str | None = "0006_statements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", community.db.UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("next_attempt_at", community.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name="ck_mail_message_attempts"),
    )
    op.create_index(
        "ix_mail_message_pending",
        "mail_message",
        ["id"],
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_mail_message_pending", table_name="mail_message")
    op.drop_table("mail_message")
