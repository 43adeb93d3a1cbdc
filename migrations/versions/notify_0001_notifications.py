"""notifications: each person's preference per kind, the record of what was sent, unsubscribe headers

Revision ID: notify_0001
Revises: 0023_categories

``notification_preference`` holds a person's choice per kind (email, sms or none; no row is the
default), ``notification_sent`` one row per event and person so that each is notified once (a
reminder run twice sends one), and ``mail_message.list_unsubscribe`` the RFC 8058 header of a
queued notification (issue 16).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from community.db import UTCDateTime

revision: str = "notify_0001"
down_revision: str | Sequence[str] | None = "0023_categories"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_preference",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("person_id", "kind", name="uq_notification_preference"),
        sa.CheckConstraint("channel IN ('email', 'sms', 'none')", name="ck_notification_channel"),
    )
    op.create_table(
        "notification_sent",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("person_id", "kind", "event", name="uq_notification_sent"),
    )
    op.create_index("ix_notification_sent_event", "notification_sent", ["kind", "event"])
    op.add_column("mail_message", sa.Column("list_unsubscribe", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail_message") as batch_op:
        batch_op.drop_column("list_unsubscribe")
    op.drop_index("ix_notification_sent_event", table_name="notification_sent")
    op.drop_table("notification_sent")
    op.drop_table("notification_preference")
