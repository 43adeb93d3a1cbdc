"""person.language: the language a signed-in person's pages and emails are in (en, pl or ro)

Revision ID: babel_0001
Revises: notify_0001

Everyone already here keeps English (the server default); issue 16, languages.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "babel_0001"
down_revision: str | Sequence[str] | None = "notify_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(2), nullable=False, server_default="en"))
        batch_op.create_check_constraint("ck_person_language", "language IN ('en', 'pl', 'ro')")


def downgrade() -> None:
    with op.batch_alter_table("person") as batch_op:
        batch_op.drop_constraint("ck_person_language", type_="check")
        batch_op.drop_column("language")
