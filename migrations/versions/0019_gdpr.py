"""gdpr: a deleted account's own pledges may show "Deleted resident" instead of their name

Revision ID: 0019_gdpr
Revises: 0015_reversals

``pledge.pledger_name`` is fixed once a pledge is made (0005_pledges). Deleting an account
(issue 14, community/rights.py) must erase the name of a person who pledged for themselves, so
the pledge trigger now allows exactly one change of it: to 'Deleted resident', on a pledge
linked to an account (``pledger_person_id`` set). Names typed by staff for organisations or
people without an account stay fixed. No table or column changes.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_gdpr"
down_revision: str | Sequence[str] | None = "0015_reversals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELETED_NAME = "Deleted resident"  # community.rights.DELETED_NAME, written out: a migration is frozen
_OTHERS = ("team_id", "kind", "amount_pence", "minutes", "frequency", "quantity", "made_by_id", "created_at")
_FINAL = "('withdrawn', 'lapsed', 'fulfilled')"


def _sqlite(name_rule: str) -> str:
    fixed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _OTHERS)
    return f"""CREATE TRIGGER pledge_update BEFORE UPDATE ON pledge
    BEGIN
        SELECT RAISE(ABORT, 'pledges: only a pledge''s status may change')
        WHERE {fixed} OR ({name_rule});
        SELECT RAISE(ABORT, 'pledges: a withdrawn, lapsed or fulfilled pledge is final')
        WHERE OLD.status IN {_FINAL} AND NEW.status IS NOT OLD.status;
    END"""


def _postgres(name_rule: str) -> str:
    fixed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _OTHERS)
    return f"""CREATE OR REPLACE FUNCTION pledges_pledge_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {fixed} OR ({name_rule}) THEN
            RAISE EXCEPTION 'pledges: only a pledge''s status may change';
        END IF;
        IF OLD.status IN {_FINAL} AND NEW.status IS DISTINCT FROM OLD.status THEN
            RAISE EXCEPTION 'pledges: a withdrawn, lapsed or fulfilled pledge is final';
        END IF;
        RETURN NEW;
    END $$"""


def _apply(sqlite_rule: str, postgres_rule: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS pledge_update")
        op.execute(_sqlite(sqlite_rule))
    else:
        op.execute(_postgres(postgres_rule))


def upgrade() -> None:
    _apply(
        f"NEW.pledger_name IS NOT OLD.pledger_name AND NOT (OLD.pledger_person_id IS NOT NULL "
        f"AND NEW.pledger_name = '{DELETED_NAME}')",
        f"NEW.pledger_name IS DISTINCT FROM OLD.pledger_name AND NOT (OLD.pledger_person_id IS NOT NULL "
        f"AND NEW.pledger_name = '{DELETED_NAME}')",
    )


def downgrade() -> None:
    _apply("NEW.pledger_name IS NOT OLD.pledger_name", "NEW.pledger_name IS DISTINCT FROM OLD.pledger_name")
