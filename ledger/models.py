"""Tables of the ledger domain: accounts, journal entries and postings, holds (commitments),
closed months with their sealed closing balances, idempotency records and the chain head.

Append-only rules, sum-to-zero and closed months are enforced by triggers written in
``migrations/versions/0002_ledger.py`` (SQLite and PostgreSQL); the constraints declared here
are the ones SQLAlchemy can express.
"""

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from community.db import UTCDateTime, check_in, utcnow

GENESIS_HASH = "0" * 64


class AccountKind(enum.StrEnum):
    COUNCIL_FUND = "council_fund"  # the county's source of allocations (goes negative)
    BUDGET = "budget"  # a team's spendable money
    SPEND = "spend"  # what a team has paid out, one account per category
    RESTRICTED = "restricted"  # money received for a pledge, one account per pledge
    CONTRIBUTIONS = "contributions"  # outside money received for a team's pledges (goes negative)


class EntryKind(enum.StrEnum):
    ALLOCATION = "allocation"
    VIREMENT = "virement"
    SPEND = "spend"
    RESTRICTED_RECEIPT = "restricted_receipt"
    REVERSAL = "reversal"


class HoldStatus(enum.StrEnum):
    OPEN = "open"
    SETTLED = "settled"
    VOIDED = "voided"



class LedgerAccount(SQLModel, table=True):
    """An account: the county's council fund, or a team's budget / spend / restricted fund."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        CheckConstraint(check_in("kind", AccountKind), name="ck_account_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # A stable, unique name: "county:council_fund", "team:3:budget", "team:3:spend:equipment".
    code: str = Field(sa_column=Column(String(120), nullable=False, unique=True))
    kind: str = Field(max_length=20)
    team_id: int | None = Field(default=None, foreign_key="team.id", index=True)
    label: str = Field(max_length=120)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class JournalEntry(SQLModel, table=True):
    """The header of a balanced set of postings; immutable once written, chained by hash.

    ``id`` is assigned by the service (chain head + 1) because the postings are written
    before the header (see the migration for why).
    """

    __tablename__ = "journal_entry"
    __table_args__ = (Index("ix_journal_entry_team_date", "team_id", "effective_date", "id"),)

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    effective_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    kind: str = Field(max_length=30)
    reason: str | None = Field(default=None, max_length=500)
    actor_id: int = Field(foreign_key="person.id")
    reverses_entry_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("journal_entry.id"), nullable=True, unique=True),
    )
    idempotency_key: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    request_hash: str = Field(max_length=64)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    description: str = Field(max_length=500)
    payee: str | None = Field(default=None, max_length=200)
    payee_is_individual: bool = Field(default=False)
    cost_centre: str | None = Field(default=None, max_length=20)
    gl_code: str | None = Field(default=None, max_length=20)
    category: str | None = Field(default=None, max_length=60)
    method: str | None = Field(default=None, max_length=30)
    receipt_ref: str | None = Field(default=None, max_length=200)
    proposer_id: int | None = Field(default=None, foreign_key="person.id")
    approver_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Posting(SQLModel, table=True):
    """One signed amount in pence against one account; an entry's postings sum to zero."""

    __tablename__ = "posting"
    __table_args__ = (
        CheckConstraint("amount_pence <> 0", name="ck_posting_amount_nonzero"),
        Index("ix_posting_account_date", "account_id", "effective_date", "entry_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Deferred: the postings are inserted before their header.
    entry_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("journal_entry.id", deferrable=True, initially="DEFERRED"),
            nullable=False,
            index=True,
        )
    )
    account_id: int = Field(foreign_key="ledger_account.id")
    amount_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    # A copy of the entry's date (checked equal by the trigger) so balances index by date.
    effective_date: dt.date = Field(sa_column=Column(Date, nullable=False))


class Hold(SQLModel, table=True):
    """A commitment: approved spend not yet paid. Only open → settled / voided may change."""

    __tablename__ = "ledger_hold"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="ck_hold_amount_positive"),
        CheckConstraint(check_in("status", HoldStatus), name="ck_hold_status"),
        Index("ix_ledger_hold_team_status", "team_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    account_id: int = Field(foreign_key="ledger_account.id")
    amount_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    description: str = Field(max_length=500)
    category: str = Field(max_length=60)
    payee: str | None = Field(default=None, max_length=200)
    payee_is_individual: bool = Field(default=False)
    status: str = Field(default=HoldStatus.OPEN.value, max_length=10)
    actor_id: int = Field(foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    settled_entry_id: int | None = Field(default=None, foreign_key="journal_entry.id")
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Of a voided hold, how much was committed again, to new holds made in the same transaction
    # (spend drawing on a funded idea, a round's budget becoming its funded ideas, cancelled spend
    # going back to its idea); the rest was released. Set only by the void (the transition trigger).
    recommitted_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class LedgerPeriod(SQLModel, table=True):
    """A closed month. Closing a month closes every month before it as well."""

    __tablename__ = "ledger_period"

    month_start: dt.date = Field(sa_column=Column(Date, primary_key=True))
    next_month_start: dt.date = Field(sa_column=Column(Date, nullable=False))
    closed_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_by_id: int = Field(foreign_key="person.id")
    chain_head_entry_id: int = Field(default=0)
    chain_head_hash: str = Field(max_length=64)


class PeriodBalance(SQLModel, table=True):
    """An account's closing balance at the end of a closed month (the sealed opening balance
    of the next), so balances and the public page need not sum the whole history."""

    __tablename__ = "ledger_period_balance"
    __table_args__ = (UniqueConstraint("month_start", "account_id", name="uq_period_balance"),)

    id: int | None = Field(default=None, primary_key=True)
    month_start: dt.date = Field(
        sa_column=Column(Date, ForeignKey("ledger_period.month_start"), nullable=False)
    )
    account_id: int = Field(foreign_key="ledger_account.id", index=True)
    balance_pence: int = Field(sa_column=Column(BigInteger, nullable=False))


class LedgerRequest(SQLModel, table=True):
    """An idempotency key seen by a money-moving service, its request hash and its result."""

    __tablename__ = "ledger_request"

    key: str = Field(sa_column=Column(String(100), primary_key=True))
    operation: str = Field(max_length=30)
    request_hash: str = Field(max_length=64)
    entry_id: int | None = Field(default=None)
    hold_id: int | None = Field(default=None)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class ChainHead(SQLModel, table=True):
    """The single row naming the last entry of the hash chain; writers lock it to extend it."""

    __tablename__ = "ledger_chain_head"

    id: int = Field(default=1, primary_key=True)
    entry_id: int = Field(default=0)
    hash: str = Field(default=GENESIS_HASH, max_length=64)


class ReversalStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for a second finance person
    REVERSED = "reversed"
    REFUSED = "refused"


class ReversalRequest(SQLModel, table=True):
    """A reversal above the second-approval threshold, held until a second finance person
    approves it (as quick spend holds a request). The database refuses a decision by the person
    who asked, and a second pending request for the same entry."""

    __tablename__ = "reversal_request"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s.value}'" for s in ReversalStatus) + ")", name="ck_reversal_status"
        ),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id", name="ck_reversal_second_person"),
        CheckConstraint("amount_pence > 0", name="ck_reversal_amount_positive"),
        Index(
            "uq_reversal_request_pending_entry",
            "entry_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="journal_entry.id", index=True)
    amount_pence: int = Field(sa_column=Column(BigInteger, nullable=False))  # what the entry moved
    reason: str = Field(max_length=500)
    effective_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    status: str = Field(default=ReversalStatus.PENDING.value, max_length=10)
    requested_by_id: int = Field(foreign_key="person.id")
    requested_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    idempotency_key: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    reversal_entry_id: int | None = Field(default=None, foreign_key="journal_entry.id")
