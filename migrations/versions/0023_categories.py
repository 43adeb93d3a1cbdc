"""categories: quick spend offers the one category list (ledger/codes.py SPEND_CATEGORIES)

Revision ID: 0023_categories
Revises: 0022_confirm

``ck_spend_category`` grows from the request form's seven categories to every requestable
category of the one list (adds volunteer expenses, printing and grants), so the form, the
ledger, the statements and the GL mapping share one vocabulary (issue 20 item 9). SQLite cannot
alter a CHECK: the table is rebuilt (Alembic batch) and its triggers, which a rebuild drops,
are read from ``sqlite_master`` first and created again exactly as they were.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_categories"
down_revision: str | Sequence[str] | None = "0022_confirm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("food", "travel", "equipment", "venue", "activity materials", "crisis support", "other")
NEW = ("food", "travel", "volunteer expenses", "equipment", "venue", "activity materials", "printing",
       "grants", "crisis support", "other")


def _in(codes: tuple[str, ...]) -> str:
    return "category IN (" + ", ".join(f"'{c}'" for c in codes) + ")"


def _replace_check(codes: tuple[str, ...]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint("ck_spend_category", "spend_request", type_="check")
        op.create_check_constraint("ck_spend_category", "spend_request", _in(codes))
        return
    triggers = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                    "AND tbl_name = 'spend_request' ORDER BY name")).scalars().all()
    with op.batch_alter_table("spend_request", recreate="always") as batch_op:
        batch_op.drop_constraint("ck_spend_category", type_="check")
        batch_op.create_check_constraint("ck_spend_category", _in(codes))
    for sql in triggers:
        op.execute(sql)


def upgrade() -> None:
    _replace_check(NEW)


def downgrade() -> None:
    _replace_check(OLD)
