"""confirm: voting codes expire, remember the form that made them, and keep only the day of use

Revision ID: 0022_confirm
Revises: 0021_confirm

``voting_code.expires_at``: a code works for 90 days from printing (a slip lost in a drawer
stops working). ``voting_code.request_key``: the assisted sign-up form's one-time key, so the
same form sent twice (a reload) does not make a second account. ``used_at`` now holds only the
London day the code was used (its midnight, in UTC): an exact time would equal the ballot's
``cast_at`` and link a named person to their choices, which online ballots never are. The old
check ``used_at >= created_at`` is replaced by the expiry check for that reason.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0022_confirm"
down_revision: str | Sequence[str] | None = "0022_items20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("voting_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", community.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("request_key", sa.String(64), nullable=True))
        batch_op.drop_constraint("ck_voting_code_used", type_="check")
    codes = sa.table("voting_code", sa.column("id", sa.Integer()), sa.column("created_at", community.db.UTCDateTime()),
                     sa.column("expires_at", community.db.UTCDateTime()))
    bind = op.get_bind()
    for row_id, created_at in bind.execute(sa.select(codes.c.id, codes.c.created_at)).all():
        bind.execute(sa.update(codes).where(codes.c.id == row_id)
                     .values(expires_at=created_at + dt.timedelta(days=90)))
    with op.batch_alter_table("voting_code", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=community.db.UTCDateTime(), nullable=False)
        batch_op.create_check_constraint("ck_voting_code_expiry", "expires_at > created_at")
        batch_op.create_unique_constraint("uq_voting_code_request_key", ["request_key"])


def downgrade() -> None:
    with op.batch_alter_table("voting_code", schema=None) as batch_op:
        batch_op.drop_constraint("uq_voting_code_request_key", type_="unique")
        batch_op.drop_constraint("ck_voting_code_expiry", type_="check")
        batch_op.drop_column("request_key")
        batch_op.drop_column("expires_at")
        batch_op.create_check_constraint("ck_voting_code_used", "used_at IS NULL OR used_at >= created_at")
