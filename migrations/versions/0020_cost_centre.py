"""cost centre: each team has its own (issue 20 item 7)

Revision ID: 0020_cost_centre
Revises: 0019_gdpr

A unique index on ``team.cost_centre``. A database where two teams already share one stops here
with a sentence naming them, so finance can decide which team keeps it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_cost_centre"
down_revision: str | None = "0019_gdpr"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    shared = op.get_bind().execute(sa.text(
        "SELECT cost_centre, COUNT(*) FROM team GROUP BY cost_centre HAVING COUNT(*) > 1")).all()
    if shared:
        names = ", ".join(f"{code} ({count} teams)" for code, count in shared)
        raise RuntimeError(f"Teams share cost centres: {names}. Give each team its own, then migrate again.")
    op.create_index("uq_team_cost_centre", "team", ["cost_centre"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_team_cost_centre", table_name="team")
