"""ledger: accounts, journal entries, postings, holds, closed months, idempotency

Revision ID: 0002
Revises: 0001

How "postings sum to zero" is enforced without deferred constraints (SQLite has none):
the service writes an entry's postings first, then its header. A BEFORE INSERT trigger on the
header checks that the entry has at least two postings, that they sum to zero and carry the
header's date, and that the date is not in a closed month. A BEFORE INSERT trigger on posting
refuses a leg for an entry whose header already exists (sealed). Postings whose header never
arrives are refused at COMMIT by the DEFERRABLE INITIALLY DEFERRED foreign key
posting.entry_id → journal_entry.id (honoured by SQLite and PostgreSQL). So every committed
entry is balanced. UPDATE and DELETE on entries and postings (and TRUNCATE on PostgreSQL)
raise; holds may only move open → settled / voided.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64

SQLITE_TRIGGERS = [
    """CREATE TRIGGER ledger_posting_sealed BEFORE INSERT ON posting
    BEGIN
        SELECT RAISE(ABORT, 'ledger: entry is sealed; postings cannot be added')
        WHERE EXISTS (SELECT 1 FROM journal_entry WHERE id = NEW.entry_id);
    END""",
    """CREATE TRIGGER ledger_entry_seal BEFORE INSERT ON journal_entry
    BEGIN
        SELECT RAISE(ABORT, 'ledger: an entry needs two or more postings summing to zero')
        WHERE (SELECT COUNT(*) FROM posting WHERE entry_id = NEW.id) < 2
           OR (SELECT COALESCE(SUM(amount_pence), 0) FROM posting WHERE entry_id = NEW.id) <> 0
           OR EXISTS (SELECT 1 FROM posting
                      WHERE entry_id = NEW.id AND effective_date <> NEW.effective_date);
        SELECT RAISE(ABORT, 'ledger: the month is closed')
        WHERE EXISTS (SELECT 1 FROM ledger_period WHERE NEW.effective_date < next_month_start);
    END""",
    """CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON journal_entry
    BEGIN SELECT RAISE(ABORT, 'ledger: entries are append-only'); END""",
    """CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON journal_entry
    BEGIN SELECT RAISE(ABORT, 'ledger: entries are append-only'); END""",
    """CREATE TRIGGER ledger_posting_no_update BEFORE UPDATE ON posting
    BEGIN SELECT RAISE(ABORT, 'ledger: postings are append-only'); END""",
    """CREATE TRIGGER ledger_posting_no_delete BEFORE DELETE ON posting
    BEGIN SELECT RAISE(ABORT, 'ledger: postings are append-only'); END""",
    """CREATE TRIGGER ledger_hold_transition BEFORE UPDATE ON ledger_hold
    BEGIN
        SELECT RAISE(ABORT, 'ledger: a hold may only go from open to settled or voided')
        WHERE OLD.status <> 'open' OR NEW.status NOT IN ('settled', 'voided')
           OR NEW.amount_pence <> OLD.amount_pence OR NEW.team_id <> OLD.team_id
           OR NEW.account_id <> OLD.account_id;
    END""",
    """CREATE TRIGGER ledger_hold_no_delete BEFORE DELETE ON ledger_hold
    BEGIN SELECT RAISE(ABORT, 'ledger: holds are never deleted'); END""",
    """CREATE TRIGGER ledger_period_no_update BEFORE UPDATE ON ledger_period
    BEGIN SELECT RAISE(ABORT, 'ledger: closed months stay closed'); END""",
    """CREATE TRIGGER ledger_period_no_delete BEFORE DELETE ON ledger_period
    BEGIN SELECT RAISE(ABORT, 'ledger: closed months stay closed'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION ledger_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger: % on % is not allowed (append-only)', TG_OP, TG_TABLE_NAME;
    END $$""",
    """CREATE FUNCTION ledger_posting_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM journal_entry WHERE id = NEW.entry_id) THEN
            RAISE EXCEPTION 'ledger: entry is sealed; postings cannot be added';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION ledger_entry_seal() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT COUNT(*) FROM posting WHERE entry_id = NEW.id) < 2
           OR (SELECT COALESCE(SUM(amount_pence), 0) FROM posting WHERE entry_id = NEW.id) <> 0
           OR EXISTS (SELECT 1 FROM posting
                      WHERE entry_id = NEW.id AND effective_date <> NEW.effective_date) THEN
            RAISE EXCEPTION 'ledger: an entry needs two or more postings summing to zero';
        END IF;
        IF EXISTS (SELECT 1 FROM ledger_period WHERE NEW.effective_date < next_month_start) THEN
            RAISE EXCEPTION 'ledger: the month is closed';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION ledger_hold_transition() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.status <> 'open' OR NEW.status NOT IN ('settled', 'voided')
           OR NEW.amount_pence <> OLD.amount_pence OR NEW.team_id <> OLD.team_id
           OR NEW.account_id <> OLD.account_id THEN
            RAISE EXCEPTION 'ledger: a hold may only go from open to settled or voided';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER ledger_posting_sealed BEFORE INSERT ON posting
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_sealed()""",
    """CREATE TRIGGER ledger_entry_seal BEFORE INSERT ON journal_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_seal()""",
    """CREATE TRIGGER ledger_hold_transition BEFORE UPDATE ON ledger_hold
    FOR EACH ROW EXECUTE FUNCTION ledger_hold_transition()""",
]
for _table in ("journal_entry", "posting", "ledger_hold", "ledger_period"):
    if _table in ("journal_entry", "posting", "ledger_period"):
        POSTGRES_TRIGGERS.append(
            f"CREATE TRIGGER {_table}_no_update BEFORE UPDATE ON {_table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse()"
        )
    POSTGRES_TRIGGERS.append(
        f"CREATE TRIGGER {_table}_no_delete BEFORE DELETE ON {_table} "
        "FOR EACH ROW EXECUTE FUNCTION ledger_refuse()"
    )
    POSTGRES_TRIGGERS.append(
        f"CREATE TRIGGER {_table}_no_truncate BEFORE TRUNCATE ON {_table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse()"
    )


def _created_at() -> sa.Column:
    return sa.Column("created_at", community.db.UTCDateTime(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "ledger_account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(120), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=True),
        sa.Column("label", sa.String(120), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "kind IN ('council_fund', 'budget', 'spend', 'restricted', 'contributions')", name="ck_account_kind"
        ),
    )
    op.create_index("ix_ledger_account_team_id", "ledger_account", ["team_id"])

    op.create_table(
        "journal_entry",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column(
            "reverses_entry_id",
            sa.Integer(),
            sa.ForeignKey("journal_entry.id"),
            nullable=True,
            unique=True,
        ),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=True),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("payee", sa.String(200), nullable=True),
        sa.Column("payee_is_individual", sa.Boolean(), nullable=False),
        sa.Column("cost_centre", sa.String(20), nullable=True),
        sa.Column("gl_code", sa.String(20), nullable=True),
        sa.Column("category", sa.String(60), nullable=True),
        sa.Column("method", sa.String(30), nullable=True),
        sa.Column("receipt_ref", sa.String(200), nullable=True),
        sa.Column("proposer_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("approver_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        _created_at(),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_journal_entry_team_date", "journal_entry", ["team_id", "effective_date", "id"])

    op.create_table(
        "posting",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "entry_id",
            sa.Integer(),
            sa.ForeignKey("journal_entry.id", deferrable=True, initially="DEFERRED"),
            nullable=False,
        ),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("ledger_account.id"), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.CheckConstraint("amount_pence <> 0", name="ck_posting_amount_nonzero"),
    )
    op.create_index("ix_posting_entry_id", "posting", ["entry_id"])
    op.create_index("ix_posting_account_date", "posting", ["account_id", "effective_date", "entry_id"])

    op.create_table(
        "ledger_hold",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("ledger_account.id"), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("payee", sa.String(200), nullable=True),
        sa.Column("payee_is_individual", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        _created_at(),
        sa.Column("expires_at", community.db.UTCDateTime(), nullable=True),
        sa.Column("settled_entry_id", sa.Integer(), sa.ForeignKey("journal_entry.id"), nullable=True),
        sa.Column("resolved_at", community.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("amount_pence > 0", name="ck_hold_amount_positive"),
        sa.CheckConstraint("status IN ('open', 'settled', 'voided')", name="ck_hold_status"),
    )
    op.create_index("ix_ledger_hold_team_status", "ledger_hold", ["team_id", "status"])

    op.create_table(
        "ledger_period",
        sa.Column("month_start", sa.Date(), primary_key=True),
        sa.Column("next_month_start", sa.Date(), nullable=False),
        sa.Column("closed_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("chain_head_entry_id", sa.Integer(), nullable=False),
        sa.Column("chain_head_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "ledger_period_balance",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month_start", sa.Date(), sa.ForeignKey("ledger_period.month_start"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("ledger_account.id"), nullable=False),
        sa.Column("balance_pence", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("month_start", "account_id", name="uq_period_balance"),
    )
    op.create_index("ix_ledger_period_balance_account_id", "ledger_period_balance", ["account_id"])
    op.create_table(
        "ledger_request",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("operation", sa.String(30), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("hold_id", sa.Integer(), nullable=True),
        _created_at(),
    )
    chain_head = op.create_table(
        "ledger_chain_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(chain_head, [{"id": 1, "entry_id": 0, "hash": GENESIS}])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = SQLITE_TRIGGERS
    elif dialect == "postgresql":
        statements = POSTGRES_TRIGGERS
    else:  # pragma: no cover
        raise RuntimeError(f"ledger triggers are written for sqlite and postgresql, not {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in (
        "ledger_chain_head",
        "ledger_request",
        "ledger_period_balance",
        "ledger_period",
        "ledger_hold",
        "posting",
        "journal_entry",
        "ledger_account",
    ):
        op.drop_table(table)
    if dialect == "postgresql":
        for function in (
            "ledger_refuse",
            "ledger_posting_sealed",
            "ledger_entry_seal",
            "ledger_hold_transition",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {function}() CASCADE")
