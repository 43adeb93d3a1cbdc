"""text messages: the outbox's channel (email or sms) and a text's phone number (GOV.UK Notify)

Revision ID: gnotify_0001
Revises: delivery_0001

Every existing row is an email. A text (``channel = 'sms'``) has ``to_phone`` (E.164) and an email
never has one: a CHECK holds both (issue 16).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gnotify_0001"
down_revision: str | Sequence[str] | None = "delivery_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mail_message") as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(10), nullable=False, server_default="email"))
        batch_op.add_column(sa.Column("to_phone", sa.String(20), nullable=True))
        batch_op.create_check_constraint("ck_mail_message_channel", "channel IN ('email', 'sms')")
        batch_op.create_check_constraint(
            "ck_mail_message_to_phone",
            "(channel = 'email' AND to_phone IS NULL) OR (channel = 'sms' AND to_phone IS NOT NULL)")


def downgrade() -> None:
    op.execute("DELETE FROM mail_message WHERE channel = 'sms'")
    with op.batch_alter_table("mail_message") as batch_op:
        batch_op.drop_constraint("ck_mail_message_to_phone", type_="check")
        batch_op.drop_constraint("ck_mail_message_channel", type_="check")
        batch_op.drop_column("to_phone")
        batch_op.drop_column("channel")
