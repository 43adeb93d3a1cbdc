"""Quick-spend requests: a team member asks, another approves (a ledger hold), someone pays.

State machine (enforced by a trigger in ``migrations/versions/0003_spend.py`` as well):

    pending → approved | rejected | withdrawn | expired
    approved → paid | cancelled

``idea_id`` names the resident idea the spend delivers (optional).

:class:`SpendLimitChange` is one change of a team's approval limits (issue 14 finding 9):
applied at once when it raises nothing above the council's defaults, otherwise pending until
finance or an admin who did not ask approves or refuses it.
"""

import datetime as dt
import enum

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from community.db import UTCDateTime, check_in, utcnow
from ledger.codes import METHODS, REQUESTABLE_CATEGORIES  # one list each, used by the CHECKs and forms

# The categories a request may have: the one list in ledger/codes.py (labels, GL codes).
CATEGORIES = REQUESTABLE_CATEGORIES


class SpendStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    PAID = "paid"
    CANCELLED = "cancelled"



_STATUSES = tuple(s.value for s in SpendStatus)
_CATEGORY_CODES = tuple(c for c, _ in CATEGORIES)
_METHOD_CODES = tuple(m for m, _ in METHODS)


class SpendRequest(SQLModel, table=True):
    """One request to spend team money, from request to payment."""

    __tablename__ = "spend_request"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="ck_spend_amount_positive"),
        CheckConstraint(check_in("status", _STATUSES), name="ck_spend_status"),
        CheckConstraint(check_in("category", _CATEGORY_CODES), name="ck_spend_category"),
        CheckConstraint(f"method IS NULL OR {check_in('method', _METHOD_CODES)}", name="ck_spend_method"),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requester_id", name="ck_spend_not_own"),
        CheckConstraint(
            "status NOT IN ('approved', 'paid', 'cancelled') OR (hold_id IS NOT NULL AND decided_by_id IS NOT NULL)",
            name="ck_spend_approved_has_hold",
        ),
        CheckConstraint(
            "status <> 'paid' OR (paid_entry_id IS NOT NULL AND paid_pence IS NOT NULL "
            "AND paid_pence > 0 AND paid_pence <= amount_pence AND receipt_ref IS NOT NULL)",
            name="ck_spend_paid",
        ),
        CheckConstraint("status <> 'rejected' OR rejection_reason IS NOT NULL", name="ck_spend_rejected_reason"),
        Index("ix_spend_request_team_status", "team_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    requester_id: int = Field(foreign_key="person.id")
    amount_pence: int = Field(sa_column=Column(BigInteger, nullable=False))
    payee: str = Field(max_length=200)
    payee_is_individual: bool = Field(default=False)
    purpose: str = Field(max_length=500)
    category: str = Field(max_length=30)
    # None: the team budget; otherwise one of the team's restricted funds.
    account_id: int | None = Field(default=None, foreign_key="ledger_account.id")
    idea_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("vote_idea.id"), nullable=True))
    status: str = Field(default=SpendStatus.PENDING.value, max_length=12)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    rejection_reason: str | None = Field(default=None, max_length=500)
    hold_id: int | None = Field(default=None, foreign_key="ledger_hold.id", unique=True)
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    closed_by_id: int | None = Field(default=None, foreign_key="person.id")
    flagged_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    paid_entry_id: int | None = Field(default=None, foreign_key="journal_entry.id", unique=True)
    paid_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    paid_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    method: str | None = Field(default=None, max_length=20)
    receipt_ref: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, unique=True))
    receipt_content_type: str | None = Field(default=None, max_length=40)


class LimitChangeStatus(enum.StrEnum):
    APPLIED = "applied"  # within the defaults (or lower than now): made at once by the enabler
    PENDING = "pending"  # a raise above the defaults, waiting for finance or an admin
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


_LIMIT_STATUSES = tuple(s.value for s in LimitChangeStatus)


class SpendLimitChange(SQLModel, table=True):
    """One change of a team's approval limits, with the limits it replaced. The database
    refuses a decision by the person who asked and a second pending change for the same team."""

    __tablename__ = "spend_limit_change"
    __table_args__ = (
        CheckConstraint(check_in("status", _LIMIT_STATUSES), name="ck_limit_change_status"),
        CheckConstraint("member_limit_pence >= 0 AND enabler_limit_pence >= member_limit_pence",
                        name="ck_limit_change_limits"),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> requested_by_id",
                        name="ck_limit_change_second_person"),
        CheckConstraint("status NOT IN ('approved', 'refused') OR decided_by_id IS NOT NULL",
                        name="ck_limit_change_decided"),
        CheckConstraint("status <> 'refused' OR reason IS NOT NULL", name="ck_limit_change_refused_reason"),
        Index("ix_spend_limit_change_team", "team_id", "requested_at"),
        Index("uq_spend_limit_change_pending_team", "team_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    member_limit_pence: int
    enabler_limit_pence: int
    previous_member_limit_pence: int
    previous_enabler_limit_pence: int
    status: str = Field(max_length=10)
    requested_by_id: int = Field(foreign_key="person.id")
    requested_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    reason: str | None = Field(default=None, max_length=500)  # why finance refused
