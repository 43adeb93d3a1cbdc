"""spend: quick-spend requests, and the re-authentication time of a sign-in session

Revision ID: 0003_spend
Revises: 0004_votes

The table's CHECK constraints say what each state needs (an approval has a hold and an
approver who is not the requester; a payment has an entry, an amount no more than approved and
a receipt). Triggers on both SQLite and PostgreSQL allow only these transitions:
pending → approved | rejected | withdrawn | expired, approved → paid | cancelled; the amount,
team, requester and funding source never change; rows are never deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0003_spend"
# Was down_revision "0002" with depends_on 0004_votes; the same order, as a parent, so the history
# has one head (see 0008_one_head). Databases already migrated are unaffected.
down_revision: str | None = "0004_votes"  # spend may deliver an idea
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BAD_TRANSITION = """
    NOT ((OLD.status = NEW.status)
         OR (OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected', 'withdrawn', 'expired'))
         OR (OLD.status = 'approved' AND NEW.status IN ('paid', 'cancelled')))
    OR NEW.amount_pence <> OLD.amount_pence OR NEW.team_id <> OLD.team_id
    OR NEW.requester_id <> OLD.requester_id
    OR COALESCE(NEW.account_id, -1) <> COALESCE(OLD.account_id, -1)"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER spend_request_transition BEFORE UPDATE ON spend_request
    BEGIN
        SELECT RAISE(ABORT, 'spend: that change of state is not allowed')
        WHERE {_BAD_TRANSITION};
    END""",
    """CREATE TRIGGER spend_request_no_delete BEFORE DELETE ON spend_request
    BEGIN SELECT RAISE(ABORT, 'spend: requests are never deleted'); END""",
]

POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION spend_request_transition() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {_BAD_TRANSITION} THEN
            RAISE EXCEPTION 'spend: that change of state is not allowed';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION spend_request_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'spend: requests are never deleted';
    END $$""",
    """CREATE TRIGGER spend_request_transition BEFORE UPDATE ON spend_request
    FOR EACH ROW EXECUTE FUNCTION spend_request_transition()""",
    """CREATE TRIGGER spend_request_no_delete BEFORE DELETE ON spend_request
    FOR EACH ROW EXECUTE FUNCTION spend_request_refuse()""",
    """CREATE TRIGGER spend_request_no_truncate BEFORE TRUNCATE ON spend_request
    FOR EACH STATEMENT EXECUTE FUNCTION spend_request_refuse()""",
]


def _utc(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, community.db.UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.add_column("auth_session", _utc("reauthenticated_at"))
    op.create_table(
        "spend_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("requester_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("payee", sa.String(200), nullable=False),
        sa.Column("payee_is_individual", sa.Boolean(), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("ledger_account.id"), nullable=True),
        sa.Column("idea_id", sa.Integer(), sa.ForeignKey("vote_idea.id"), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        _utc("created_at", nullable=False),
        _utc("decided_at"),
        sa.Column("decided_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("rejection_reason", sa.String(500), nullable=True),
        sa.Column("hold_id", sa.Integer(), sa.ForeignKey("ledger_hold.id"), nullable=True, unique=True),
        _utc("closed_at"),
        sa.Column("closed_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        _utc("flagged_at"),
        sa.Column("paid_entry_id", sa.Integer(), sa.ForeignKey("journal_entry.id"), nullable=True, unique=True),
        sa.Column("paid_pence", sa.BigInteger(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("method", sa.String(20), nullable=True),
        sa.Column("receipt_ref", sa.String(64), nullable=True, unique=True),
        sa.Column("receipt_content_type", sa.String(40), nullable=True),
        sa.CheckConstraint("amount_pence > 0", name="ck_spend_amount_positive"),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'withdrawn', 'expired', 'paid', 'cancelled')",
            name="ck_spend_status",
        ),
        sa.CheckConstraint(
            "category IN ('food', 'travel', 'equipment', 'venue', 'activity materials', "
            "'crisis support', 'other')",
            name="ck_spend_category",
        ),
        sa.CheckConstraint(
            "method IS NULL OR method IN ('purchase card', 'invoice', 'petty cash')", name="ck_spend_method"
        ),
        sa.CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requester_id", name="ck_spend_not_own"),
        sa.CheckConstraint(
            "status NOT IN ('approved', 'paid', 'cancelled') OR (hold_id IS NOT NULL AND decided_by_id IS NOT NULL)",
            name="ck_spend_approved_has_hold",
        ),
        sa.CheckConstraint(
            "status <> 'paid' OR (paid_entry_id IS NOT NULL AND paid_pence IS NOT NULL "
            "AND paid_pence > 0 AND paid_pence <= amount_pence AND receipt_ref IS NOT NULL)",
            name="ck_spend_paid",
        ),
        sa.CheckConstraint("status <> 'rejected' OR rejection_reason IS NOT NULL", name="ck_spend_rejected_reason"),
    )
    op.create_index("ix_spend_request_team_status", "spend_request", ["team_id", "status"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = SQLITE_TRIGGERS
    elif dialect == "postgresql":
        statements = POSTGRES_TRIGGERS
    else:  # pragma: no cover
        raise RuntimeError(f"spend triggers are written for sqlite and postgresql, not {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("spend_request")
    if op.get_bind().dialect.name == "postgresql":
        for function in ("spend_request_transition", "spend_request_refuse"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}() CASCADE")
    with op.batch_alter_table("auth_session") as batch:
        batch.drop_column("reauthenticated_at")
