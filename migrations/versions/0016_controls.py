"""controls: a paper-ballot mismatch is decided by a third team member

Revision ID: 0016_controls
Revises: 0020_cost_centre

Issue 14, finding 3. The decision row names its decider, the keyings name the two keyers, in
another table, so a CHECK constraint (one row only) cannot compare them: a trigger on SQLite and
PostgreSQL refuses a ``vote_paper_decision`` whose ``decided_by_id`` keyed that ballot.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_controls"
down_revision: str | Sequence[str] | None = "0020_cost_centre"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "votes: a third team member must decide a paper-ballot mismatch, not one who keyed it"
KEYED_IT = """EXISTS (SELECT 1 FROM vote_paper_keying k
                  WHERE k.round_id = NEW.round_id AND k.serial = NEW.serial
                    AND k.keyed_by_id = NEW.decided_by_id)"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER vote_paper_decision_third_person_insert BEFORE INSERT ON vote_paper_decision
    BEGIN
        SELECT RAISE(ABORT, '{MESSAGE}') WHERE {KEYED_IT};
    END""",
    f"""CREATE TRIGGER vote_paper_decision_third_person_update BEFORE UPDATE ON vote_paper_decision
    BEGIN
        SELECT RAISE(ABORT, '{MESSAGE}') WHERE {KEYED_IT};
    END""",
]

PG_TRIGGERS = [
    f"""CREATE FUNCTION vote_paper_decision_third_person() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {KEYED_IT} THEN
            RAISE EXCEPTION '{MESSAGE}';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER vote_paper_decision_third_person BEFORE INSERT OR UPDATE ON vote_paper_decision
    FOR EACH ROW EXECUTE FUNCTION vote_paper_decision_third_person()""",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_TRIGGERS if sqlite else PG_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS vote_paper_decision_third_person_insert")
        op.execute("DROP TRIGGER IF EXISTS vote_paper_decision_third_person_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS vote_paper_decision_third_person ON vote_paper_decision")
        op.execute("DROP FUNCTION IF EXISTS vote_paper_decision_third_person()")
