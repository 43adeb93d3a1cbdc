"""spoilt paper ballots: a paper ballot that breaks the round's rules is kept, marked spoilt

Revision ID: 0022_items20
Revises: 0021_confirm

``vote_ballot.spoilt_reason`` says why a paper ballot does not count (more ideas than the round
allows, ideas over the budget, nothing marked); NULL for every ballot that counts. Only paper
ballots can be spoilt (CHECK ``ck_vote_ballot_spoilt``): online ballots are refused instead.
SQLite adds the column and its CHECK in place (``ALTER TABLE … ADD COLUMN``), so the table is
not rebuilt and the closed-round triggers of 0004_votes stay (issue 20, item 6).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_items20"
down_revision: str | Sequence[str] | None = "0021_confirm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "spoilt_reason IS NULL OR source = 'paper'"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE vote_ballot ADD COLUMN spoilt_reason VARCHAR(200) "
                   f"CONSTRAINT ck_vote_ballot_spoilt CHECK ({CHECK})")
    else:
        op.execute("ALTER TABLE vote_ballot ADD COLUMN spoilt_reason VARCHAR(200)")
        op.execute(f"ALTER TABLE vote_ballot ADD CONSTRAINT ck_vote_ballot_spoilt CHECK ({CHECK})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE vote_ballot DROP COLUMN spoilt_reason")  # SQLite ≥ 3.35
    else:
        op.execute("ALTER TABLE vote_ballot DROP CONSTRAINT ck_vote_ballot_spoilt")
        op.execute("ALTER TABLE vote_ballot DROP COLUMN spoilt_reason")
