"""a voided hold says how much of it was committed again (moved), so statements tell moves from cancellations

Revision ID: holds_0001
Revises: i18n_0001

``ledger_hold`` gains ``recommitted_pence``. Spend drawing on a funded idea's commitment, a round's
budget becoming its funded ideas' commitments, and cancelled spend going back to its idea all end
one hold and make others with the same money; statements listed the ended hold as "voided
(cancelled)" with all of it released. The transition trigger now also refuses a re-committed
amount set on anything but the void itself, or outside 0 … the hold's amount.

Holds voided before this keep no amount: updating an ended hold is what the trigger refuses, and
the migration does not lift it. Their statements (already frozen for closed months) stay as issued.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "holds_0001"
down_revision: str | Sequence[str] | None = "i18n_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSED = """OLD.status <> 'open' OR NEW.status NOT IN ('settled', 'voided')
           OR NEW.amount_pence <> OLD.amount_pence OR NEW.team_id <> OLD.team_id
           OR NEW.account_id <> OLD.account_id"""
_RECOMMITTED = """
           OR (NEW.recommitted_pence IS NOT NULL AND (NEW.status <> 'voided' OR NEW.recommitted_pence < 0
               OR NEW.recommitted_pence > NEW.amount_pence))"""


def _sqlite_trigger(condition: str) -> str:
    return f"""CREATE TRIGGER ledger_hold_transition BEFORE UPDATE ON ledger_hold
    BEGIN
        SELECT RAISE(ABORT, 'ledger: a hold may only go from open to settled or voided')
        WHERE {condition};
    END"""


def _postgres_function(condition: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION ledger_hold_transition() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {condition} THEN
            RAISE EXCEPTION 'ledger: a hold may only go from open to settled or voided';
        END IF;
        RETURN NEW;
    END $$"""


def _set_trigger(condition: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER ledger_hold_transition")
        op.execute(_sqlite_trigger(condition))
    else:
        op.execute(_postgres_function(condition))


def upgrade() -> None:
    op.add_column("ledger_hold", sa.Column("recommitted_pence", sa.BigInteger(), nullable=True))
    _set_trigger(_REFUSED + _RECOMMITTED)


def downgrade() -> None:
    _set_trigger(_REFUSED)
    # Not batch mode: rebuilding the table on SQLite would drop its append-only triggers.
    op.execute("ALTER TABLE ledger_hold DROP COLUMN recommitted_pence")
