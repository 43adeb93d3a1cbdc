"""Tables of the pledges domain: pledges (a memorandum, not money), their fulfilments and status
history, community pledges with their signatures, and finance's notional hourly rate.

Nothing here is ever deleted, and fulfilments, events and rates are never edited: triggers in
``migrations/versions/0005_pledges.py`` enforce that on SQLite and PostgreSQL. Money reaches the
ledger only when received (``pledge_fulfilment.journal_entry_id``), never when promised.
"""

import datetime as dt
import enum

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, Index, String, text
from sqlmodel import Field, SQLModel

from community.db import UTCDateTime, check_in, utcnow


def _utc(nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class PledgeKind(enum.StrEnum):
    MONEY = "money"
    TIME = "time"
    GOODS = "goods"
    SPACE = "space"


class Visibility(enum.StrEnum):
    PUBLIC_NAMED = "public_named"
    PUBLIC_ANONYMOUS = "public_anonymous"
    PRIVATE = "private"


class PledgeStatus(enum.StrEnum):
    PROMISED = "promised"
    PARTLY_FULFILLED = "partly_fulfilled"
    FULFILLED = "fulfilled"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"


class Frequency(enum.StrEnum):
    ONCE = "once"
    WEEK = "week"
    MONTH = "month"


class FulfilmentKind(enum.StrEnum):
    MONEY = "money"  # money received into the pledge's restricted fund
    HOURS = "hours"  # time given
    DELIVERY = "delivery"  # goods handed over, or a room used


OPEN_STATUSES = (PledgeStatus.PROMISED.value, PledgeStatus.PARTLY_FULFILLED.value)


class Pledge(SQLModel, table=True):
    """A promise of money, time, goods or space to a team, optionally towards one idea."""

    __tablename__ = "pledge"
    __table_args__ = (
        CheckConstraint(check_in("kind", PledgeKind), name="ck_pledge_kind"),
        CheckConstraint(check_in("visibility", Visibility), name="ck_pledge_visibility"),
        CheckConstraint(check_in("status", PledgeStatus), name="ck_pledge_status"),
        CheckConstraint("kind <> 'money' OR (amount_pence IS NOT NULL AND amount_pence > 0)",
                        name="ck_pledge_money_amount"),
        CheckConstraint(f"kind <> 'time' OR (minutes IS NOT NULL AND minutes > 0 "
                        f"AND {check_in('frequency', Frequency)})", name="ck_pledge_time"),
        CheckConstraint("kind <> 'goods' OR (quantity IS NOT NULL AND quantity > 0)", name="ck_pledge_goods"),
        CheckConstraint("estimated_value_pence IS NULL OR estimated_value_pence >= 0",
                        name="ck_pledge_estimated_value"),
        CheckConstraint("status NOT IN ('withdrawn', 'lapsed') OR status_reason IS NOT NULL",
                        name="ck_pledge_reason"),
        Index("ix_pledge_team_status", "team_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    # The idea this pledge is towards (optional).
    idea_id: int | None = Field(default=None, foreign_key="vote_idea.id", index=True)
    kind: str = Field(max_length=10)
    description: str = Field(max_length=500)
    # Who promised: a signed-in person pledging for themselves, or a name entered by staff for an
    # organisation or a person without an account.
    pledger_person_id: int | None = Field(default=None, foreign_key="person.id")
    pledger_name: str = Field(max_length=200)
    pledger_is_organisation: bool = Field(default=False)
    contact_email: str | None = Field(default=None, max_length=254)  # seen by the team only
    contact_phone: str | None = Field(default=None, max_length=40)  # seen by the team only
    visibility: str = Field(max_length=20)
    made_by_id: int = Field(foreign_key="person.id")
    amount_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    minutes: int | None = Field(default=None)  # time: per occurrence
    frequency: str | None = Field(default=None, max_length=10)  # time: once | week | month
    quantity: int | None = Field(default=None)  # goods
    room: str | None = Field(default=None, max_length=200)  # space
    when_text: str | None = Field(default=None, max_length=200)  # space: "Fridays 6–8pm"
    # Goods: estimated value in total; space: estimated value each time it is used.
    estimated_value_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    starts_on: dt.date = Field(sa_column=Column(Date, nullable=False))
    due_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))  # by / until
    status: str = Field(default=PledgeStatus.PROMISED.value, max_length=20)
    status_reason: str | None = Field(default=None, max_length=500)
    restricted_account_id: int | None = Field(default=None, foreign_key="ledger_account.id")
    # An over-fulfilment of another money pledge, recorded as a separate gift.
    gift_of_pledge_id: int | None = Field(default=None, foreign_key="pledge.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())

    @property
    def reference(self) -> str:
        return f"P{self.id:05d}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class PledgeFulfilment(SQLModel, table=True):
    """Money received, hours given, or goods / space delivered against one pledge. Append-only."""

    __tablename__ = "pledge_fulfilment"
    __table_args__ = (
        CheckConstraint(check_in("kind", FulfilmentKind), name="ck_fulfilment_kind"),
        CheckConstraint("kind <> 'money' OR (amount_pence > 0 AND journal_entry_id IS NOT NULL)",
                        name="ck_fulfilment_money"),
        CheckConstraint("kind <> 'hours' OR (minutes > 0 AND minutes <= 1440)", name="ck_fulfilment_hours"),
        CheckConstraint("quantity IS NULL OR quantity > 0", name="ck_fulfilment_quantity"),
        Index("ix_pledge_fulfilment_team_date", "team_id", "effective_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pledge_id: int = Field(foreign_key="pledge.id", index=True)
    team_id: int = Field(foreign_key="team.id")
    kind: str = Field(max_length=10)
    effective_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    amount_pence: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    minutes: int | None = Field(default=None)
    quantity: int | None = Field(default=None)
    given_by: str | None = Field(default=None, max_length=200)
    method: str | None = Field(default=None, max_length=30)
    receipt_ref: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=500)
    journal_entry_id: int | None = Field(default=None, foreign_key="journal_entry.id")
    recorded_by_id: int = Field(foreign_key="person.id")
    idempotency_key: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())


class PledgeEvent(SQLModel, table=True):
    """A pledge's history: made, status changes with their reasons, reminders sent. Append-only."""

    __tablename__ = "pledge_event"

    id: int | None = Field(default=None, primary_key=True)
    pledge_id: int = Field(foreign_key="pledge.id", index=True)
    action: str = Field(max_length=30)  # made | partly_fulfilled | fulfilled | withdrawn | lapsed | reminded
    reason: str | None = Field(default=None, max_length=500)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())


class CommunityPledge(SQLModel, table=True):
    """A short promise people sign, e.g. "Being Kind in Shirebrook"."""

    __tablename__ = "community_pledge"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    title: str = Field(max_length=120)
    promise: str = Field(max_length=1000)
    created_by_id: int = Field(foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())


class PledgeSignature(SQLModel, table=True):
    """One person's signature. At most one standing signature per person and pledge (a partial
    unique index); a withdrawn signature stays, marked withdrawn."""

    __tablename__ = "pledge_signature"
    __table_args__ = (
        Index("uq_pledge_signature_standing", "community_pledge_id", "person_id", unique=True,
              sqlite_where=text("withdrawn_at IS NULL"), postgresql_where=text("withdrawn_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    community_pledge_id: int = Field(foreign_key="community_pledge.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    anonymous: bool = Field(default=False)
    signed_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())
    withdrawn_at: dt.datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class SocialValueRate(SQLModel, table=True):
    """Finance's notional hourly rate for valuing time given; the newest row applies."""

    __tablename__ = "pledge_social_value_rate"
    __table_args__ = (CheckConstraint("hourly_pence > 0", name="ck_social_value_rate_positive"),)

    id: int | None = Field(default=None, primary_key=True)
    hourly_pence: int = Field()
    set_by_id: int = Field(foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc())
