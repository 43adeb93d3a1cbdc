"""one head: join the spend, pledges and statements/mail branches

Revision ID: 0008_one_head
Revises: 0003_spend, 0005_pledges, 0007_mail

The domains' migrations were written side by side: 0003 (spend) and 0005 (pledges) follow 0004
(votes), 0006 (statements) and 0007 (mail) follow 0002, which left Alembic with three heads.
This revision changes no table; it joins them, so ``alembic upgrade head`` works and the next
migration has one parent. (0003 and 0005 named 0004 as a ``depends_on`` rather than as their
parent; they now name it as their parent, which orders them the same way.)
"""

from collections.abc import Sequence

revision: str = "0008_one_head"
down_revision: str | Sequence[str] | None = ("0003_spend", "0005_pledges", "0007_mail")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
