"""pledges: pledges, fulfilments, events, community pledges, signatures, social value rate

Revision ID: 0005_pledges
Revises: 0004_votes

Nothing in this domain is deleted: DELETE (and TRUNCATE on PostgreSQL) raises on every table.
Fulfilments, events and rates are also never updated. A pledge may be updated only in its
status (with its reason) and its restricted fund, and never back out of withdrawn / lapsed /
fulfilled. A signature may only be withdrawn, once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0005_pledges"
# Was down_revision "0002" with depends_on 0004_votes; the same order, as a parent, so the history
# has one head (see 0008_one_head). Databases already migrated are unaffected.
down_revision: str | None = "0004_votes"  # a pledge may be towards an idea
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("pledge_fulfilment", "pledge_event", "pledge_social_value_rate")
NO_DELETE = ("pledge", "pledge_fulfilment", "pledge_event", "community_pledge", "pledge_signature",
             "pledge_social_value_rate")

# The columns of a pledge that are fixed once it is made.
_FIXED = ("team_id", "kind", "amount_pence", "minutes", "frequency", "quantity", "pledger_name",
          "made_by_id", "created_at")
_SQLITE_FIXED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _FIXED)
_PG_FIXED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in _FIXED)
_FINAL = "('withdrawn', 'lapsed', 'fulfilled')"

SQLITE_TRIGGERS = [
    *(f"""CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t}
    BEGIN SELECT RAISE(ABORT, 'pledges: rows are never deleted'); END""" for t in NO_DELETE),
    *(f"""CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t}
    BEGIN SELECT RAISE(ABORT, 'pledges: rows are append-only'); END""" for t in APPEND_ONLY),
    f"""CREATE TRIGGER pledge_update BEFORE UPDATE ON pledge
    BEGIN
        SELECT RAISE(ABORT, 'pledges: only a pledge''s status may change')
        WHERE {_SQLITE_FIXED};
        SELECT RAISE(ABORT, 'pledges: a withdrawn, lapsed or fulfilled pledge is final')
        WHERE OLD.status IN {_FINAL} AND NEW.status IS NOT OLD.status;
    END""",
    """CREATE TRIGGER pledge_signature_update BEFORE UPDATE ON pledge_signature
    BEGIN
        SELECT RAISE(ABORT, 'pledges: a signature may only be withdrawn, once')
        WHERE OLD.withdrawn_at IS NOT NULL OR NEW.withdrawn_at IS NULL
           OR NEW.person_id IS NOT OLD.person_id OR NEW.community_pledge_id IS NOT OLD.community_pledge_id
           OR NEW.anonymous IS NOT OLD.anonymous;
    END""",
]

POSTGRES_TRIGGERS = [
    """CREATE FUNCTION pledges_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'pledges: % on % is not allowed', TG_OP, TG_TABLE_NAME;
    END $$""",
    f"""CREATE FUNCTION pledges_pledge_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {_PG_FIXED} THEN
            RAISE EXCEPTION 'pledges: only a pledge''s status may change';
        END IF;
        IF OLD.status IN {_FINAL} AND NEW.status IS DISTINCT FROM OLD.status THEN
            RAISE EXCEPTION 'pledges: a withdrawn, lapsed or fulfilled pledge is final';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION pledges_signature_update() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.withdrawn_at IS NOT NULL OR NEW.withdrawn_at IS NULL
           OR NEW.person_id IS DISTINCT FROM OLD.person_id
           OR NEW.community_pledge_id IS DISTINCT FROM OLD.community_pledge_id
           OR NEW.anonymous IS DISTINCT FROM OLD.anonymous THEN
            RAISE EXCEPTION 'pledges: a signature may only be withdrawn, once';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER pledge_update BEFORE UPDATE ON pledge
    FOR EACH ROW EXECUTE FUNCTION pledges_pledge_update()""",
    """CREATE TRIGGER pledge_signature_update BEFORE UPDATE ON pledge_signature
    FOR EACH ROW EXECUTE FUNCTION pledges_signature_update()""",
    *(f"""CREATE TRIGGER {t}_no_delete BEFORE DELETE ON {t}
    FOR EACH ROW EXECUTE FUNCTION pledges_refuse()""" for t in NO_DELETE),
    *(f"""CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
    FOR EACH STATEMENT EXECUTE FUNCTION pledges_refuse()""" for t in NO_DELETE),
    *(f"""CREATE TRIGGER {t}_no_update BEFORE UPDATE ON {t}
    FOR EACH ROW EXECUTE FUNCTION pledges_refuse()""" for t in APPEND_ONLY),
]


def _utc(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, community.db.UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "pledge",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("idea_id", sa.Integer(), sa.ForeignKey("vote_idea.id"), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("pledger_person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("pledger_name", sa.String(200), nullable=False),
        sa.Column("pledger_is_organisation", sa.Boolean(), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=True),
        sa.Column("contact_phone", sa.String(40), nullable=True),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("made_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("frequency", sa.String(10), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("room", sa.String(200), nullable=True),
        sa.Column("when_text", sa.String(200), nullable=True),
        sa.Column("estimated_value_pence", sa.BigInteger(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("restricted_account_id", sa.Integer(), sa.ForeignKey("ledger_account.id"), nullable=True),
        sa.Column("gift_of_pledge_id", sa.Integer(), sa.ForeignKey("pledge.id"), nullable=True),
        _utc("created_at"),
        sa.CheckConstraint("kind IN ('money', 'time', 'goods', 'space')", name="ck_pledge_kind"),
        sa.CheckConstraint("visibility IN ('public_named', 'public_anonymous', 'private')",
                           name="ck_pledge_visibility"),
        sa.CheckConstraint("status IN ('promised', 'partly_fulfilled', 'fulfilled', 'withdrawn', 'lapsed')",
                           name="ck_pledge_status"),
        sa.CheckConstraint("kind <> 'money' OR (amount_pence IS NOT NULL AND amount_pence > 0)",
                           name="ck_pledge_money_amount"),
        sa.CheckConstraint("kind <> 'time' OR (minutes IS NOT NULL AND minutes > 0 "
                           "AND frequency IN ('once', 'week', 'month'))", name="ck_pledge_time"),
        sa.CheckConstraint("kind <> 'goods' OR (quantity IS NOT NULL AND quantity > 0)", name="ck_pledge_goods"),
        sa.CheckConstraint("estimated_value_pence IS NULL OR estimated_value_pence >= 0",
                           name="ck_pledge_estimated_value"),
        sa.CheckConstraint("status NOT IN ('withdrawn', 'lapsed') OR status_reason IS NOT NULL",
                           name="ck_pledge_reason"),
    )
    op.create_index("ix_pledge_team_status", "pledge", ["team_id", "status"])
    op.create_index("ix_pledge_idea_id", "pledge", ["idea_id"])

    op.create_table(
        "pledge_fulfilment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pledge_id", sa.Integer(), sa.ForeignKey("pledge.id"), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("amount_pence", sa.BigInteger(), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("given_by", sa.String(200), nullable=True),
        sa.Column("method", sa.String(30), nullable=True),
        sa.Column("receipt_ref", sa.String(200), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("journal_entry_id", sa.Integer(), sa.ForeignKey("journal_entry.id"), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False, unique=True),
        _utc("created_at"),
        sa.CheckConstraint("kind IN ('money', 'hours', 'delivery')", name="ck_fulfilment_kind"),
        sa.CheckConstraint("kind <> 'money' OR (amount_pence > 0 AND journal_entry_id IS NOT NULL)",
                           name="ck_fulfilment_money"),
        sa.CheckConstraint("kind <> 'hours' OR (minutes > 0 AND minutes <= 1440)", name="ck_fulfilment_hours"),
        sa.CheckConstraint("quantity IS NULL OR quantity > 0", name="ck_fulfilment_quantity"),
    )
    op.create_index("ix_pledge_fulfilment_pledge_id", "pledge_fulfilment", ["pledge_id"])
    op.create_index("ix_pledge_fulfilment_team_date", "pledge_fulfilment", ["team_id", "effective_date"])

    op.create_table(
        "pledge_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pledge_id", sa.Integer(), sa.ForeignKey("pledge.id"), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("actor_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        _utc("created_at"),
    )
    op.create_index("ix_pledge_event_pledge_id", "pledge_event", ["pledge_id"])

    op.create_table(
        "community_pledge",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("team.id"), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("promise", sa.String(1000), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        _utc("created_at"),
    )
    op.create_index("ix_community_pledge_team_id", "community_pledge", ["team_id"])

    op.create_table(
        "pledge_signature",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("community_pledge_id", sa.Integer(), sa.ForeignKey("community_pledge.id"), nullable=False),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        _utc("signed_at"),
        _utc("withdrawn_at", nullable=True),
    )
    op.create_index("ix_pledge_signature_community_pledge_id", "pledge_signature", ["community_pledge_id"])
    op.create_index("uq_pledge_signature_standing", "pledge_signature", ["community_pledge_id", "person_id"],
                    unique=True, sqlite_where=sa.text("withdrawn_at IS NULL"),
                    postgresql_where=sa.text("withdrawn_at IS NULL"))

    op.create_table(
        "pledge_social_value_rate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("hourly_pence", sa.Integer(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        _utc("created_at"),
        sa.CheckConstraint("hourly_pence > 0", name="ck_social_value_rate_positive"),
    )

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements = SQLITE_TRIGGERS
    elif dialect == "postgresql":
        statements = POSTGRES_TRIGGERS
    else:  # pragma: no cover
        raise RuntimeError(f"pledges triggers are written for sqlite and postgresql, not {dialect}")
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS pledges_refuse() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS pledges_pledge_update() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS pledges_signature_update() CASCADE")
    for table in ("pledge_social_value_rate", "pledge_signature", "community_pledge", "pledge_event",
                  "pledge_fulfilment", "pledge"):
        op.drop_table(table)
