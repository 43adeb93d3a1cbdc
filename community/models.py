"""Places, Connected Teams, people, memberships, sign-in sessions, invitations, the audit log and the mail queue."""

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from community.db import UTCDateTime, check_in, utcnow
from community.totp import SealedSecret


def _utc_column(nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class Place(SQLModel, table=True):
    """A neighbourhood the programme works in, e.g. Shirebrook in Bolsover district."""

    __tablename__ = "place"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=60, unique=True)
    name: str = Field(max_length=120)
    district: str = Field(max_length=120)  # the local authority district, e.g. "Bolsover"


class PostcodeDistrict(SQLModel, table=True):
    """An outward code (``NG20``) that belongs to exactly one place."""

    __tablename__ = "postcode_district"

    outward_code: str = Field(max_length=4, primary_key=True)
    place_id: int = Field(foreign_key="place.id", index=True)


class Team(SQLModel, table=True):
    """A Connected Team working in one place."""

    __tablename__ = "team"
    __table_args__ = (
        CheckConstraint("member_limit_pence >= 0", name="ck_team_member_limit"),
        CheckConstraint("enabler_limit_pence >= member_limit_pence", name="ck_team_enabler_limit"),
        Index("uq_team_cost_centre", "cost_centre", unique=True),  # finance books each team to its own
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=60, unique=True)
    name: str = Field(max_length=120)
    place_id: int = Field(foreign_key="place.id", index=True)
    cost_centre: str = Field(max_length=20)
    # Quick-spend approval limits, set by the team's enabler (defaults £250 and £1,000).
    member_limit_pence: int = Field(default=25_000)
    enabler_limit_pence: int = Field(default=100_000)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())


class Person(SQLModel, table=True):
    """Anyone with an account: a resident, or staff (member, enabler, finance, admin)."""

    __tablename__ = "person"
    __table_args__ = (CheckConstraint("length(email) <= 254", name="ck_person_email_length"),
                      CheckConstraint("language IN ('en', 'pl', 'ro')", name="ck_person_language"))

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=Column(String(254), nullable=False, unique=True))
    name: str = Field(max_length=100)
    password_hash: str | None = Field(default=None, max_length=255)
    postcode: str | None = Field(default=None, max_length=8)
    place_id: int | None = Field(default=None, foreign_key="place.id", index=True)
    is_admin: bool = Field(default=False)
    is_finance: bool = Field(default=False)
    # Encrypted at rest (community/totp.py): Python sees the secret, the column a Fernet token.
    totp_secret: str | None = Field(default=None, sa_column=Column(SealedSecret(), nullable=True))
    # The last TOTP time-step accepted: a code is never accepted twice.
    totp_last_step: int = Field(default=0)
    is_demo: bool = Field(default=False)
    is_active: bool = Field(default=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    # When the person proved they read mail at ``email`` (issue 14). Only the sign-up page makes
    # people unconfirmed (``request_sign_up`` sets None); everyone else is made confirmed: staff
    # (their invitation was emailed), admins from the CLI, demo people, and people made before
    # confirmation existed (migration 0021). Votes and pledges refuse the unconfirmed.
    email_confirmed_at: dt.datetime | None = Field(default_factory=utcnow, sa_column=_utc_column(nullable=True))
    # A phone number, for a resident signed up at a Local Net without email (assisted sign-up).
    phone: str | None = Field(default=None, max_length=40)
    # The language pages and emails are in for this person (community/i18n.py LANGUAGES).
    language: str = Field(default="en", sa_column=Column(String(2), nullable=False, server_default="en"))

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name


class TeamRole(enum.StrEnum):
    MEMBER = "member"
    ENABLER = "enabler"


class Membership(SQLModel, table=True):
    """A person's role in a team: member or enabler. One row per person and team."""

    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("team_id", "person_id", name="uq_membership_team_person"),
        CheckConstraint(check_in("role", TeamRole), name="ck_membership_role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Field(max_length=10)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())


class AuthSession(SQLModel, table=True):
    """A signed-in browser session, held on the server so that sign-out really revokes it.

    The browser's cookie carries only ``token``; Flask-Login loads the person through it.
    """

    __tablename__ = "auth_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    second_factor: bool = Field(default=False)
    # Set when the person confirms their password and code again (quick-spend approvals).
    reauthenticated_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class Invitation(SQLModel, table=True):
    """An admin's invitation for a member of staff to create their account."""

    __tablename__ = "invitation"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    role: str = Field(max_length=10)  # member | enabler | finance | admin
    invited_by_id: int = Field(foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    expires_at: dt.datetime = Field(sa_column=_utc_column())
    accepted_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class AuditEvent(SQLModel, table=True):
    """Who did what to whom: role grants, invitations, sign-ins. Append-only.

    ``team_id`` names the Connected Team an event belongs to, when it belongs to one (quick
    spend, refused overspends): statements select a team's events by it, never by parsing
    ``subject``, which is free text for people to read."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_created", "created_at"),
        Index("ix_audit_event_team_action", "team_id", "action", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    action: str = Field(max_length=60)
    subject: str = Field(max_length=200)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())


class MailMessage(SQLModel, table=True):
    """One outgoing email, queued in the transaction of the action it belongs to.

    ``community.mail.send`` adds the row; ``community.mail.deliver_pending`` sends it and sets
    ``sent_at``. A failure counts ``attempts`` and keeps ``last_error``; the row is kept either way.
    ``next_attempt_at`` is a deliverer's claim (a short lease) or, after a failure, the back-off.
    """

    __tablename__ = "mail_message"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="ck_mail_message_attempts"),
        CheckConstraint("channel IN ('email', 'sms')", name="ck_mail_message_channel"),
        CheckConstraint("(channel = 'email' AND to_phone IS NULL) OR (channel = 'sms' AND to_phone IS NOT NULL)",
                        name="ck_mail_message_to_phone"),
        Index("ix_mail_message_pending", "id", sqlite_where=text("sent_at IS NULL"),
              postgresql_where=text("sent_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(sa_column=Column(String(320), nullable=False))
    subject: str = Field(sa_column=Column(String(300), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    sent_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    last_error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    next_attempt_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    # The ``List-Unsubscribe`` header value (RFC 2369/8058) of a notification; None for the mail
    # every account gets (receipts, sign-in and password messages), which cannot be turned off.
    list_unsubscribe: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # "email", or "sms": a text message to ``to_phone`` (E.164), sent by GOV.UK Notify only.
    channel: str = Field(default="email", sa_column=Column(String(10), nullable=False, server_default="email"))
    to_phone: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))


NOTIFICATION_CHANNELS = ("email", "sms", "none")


class NotificationPreference(SQLModel, table=True):
    """How a person wants one kind of notification (community/notify.py KINDS): by email, by text
    message (a channel to come) or not at all. No row means the kind's default."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        UniqueConstraint("person_id", "kind", name="uq_notification_preference"),
        CheckConstraint("channel IN ('email', 'sms', 'none')", name="ck_notification_channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    kind: str = Field(max_length=30)
    channel: str = Field(max_length=10)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())


class NotificationSent(SQLModel, table=True):
    """One notification of one event to one person, recorded when it is queued: the unique key
    makes each event notify a person at most once (a reminder run twice, or two at once)."""

    __tablename__ = "notification_sent"
    __table_args__ = (
        UniqueConstraint("person_id", "kind", "event", name="uq_notification_sent"),
        Index("ix_notification_sent_event", "kind", "event"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id")
    kind: str = Field(max_length=30)
    event: str = Field(max_length=60)  # e.g. "round:12"
    channel: str = Field(max_length=10)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())


class RecoveryCode(SQLModel, table=True):
    """One of a staff member's ten one-time second-factor recovery codes (issue 14).

    Only a SHA-256 digest of the code is kept (the codes are 80-bit random, so no slow hash is
    needed); ``used_at`` is set once, by a single conditional UPDATE, so a code works once."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    used_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class PasswordReset(SQLModel, table=True):
    """A password-reset link sent by email: single use, 30 minutes, only its SHA-256 stored.

    ``used_at`` is set once, by a conditional update (``WHERE used_at IS NULL``), so two
    concurrent uses of one link cannot both succeed."""

    __tablename__ = "password_reset"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="ck_password_reset_expiry"),
        CheckConstraint("used_at IS NULL OR used_at >= created_at", name="ck_password_reset_used"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    expires_at: dt.datetime = Field(sa_column=_utc_column())
    used_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class EmailConfirmation(SQLModel, table=True):
    """An email-confirmation link sent at sign-up: single use, 7 days, only its SHA-256 stored.

    Used once, by a conditional update (``WHERE used_at IS NULL``), like ``PasswordReset``."""

    __tablename__ = "email_confirmation"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="ck_email_confirmation_expiry"),
        CheckConstraint("used_at IS NULL OR used_at >= created_at", name="ck_email_confirmation_used"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    expires_at: dt.datetime = Field(sa_column=_utc_column())
    used_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class VotingCode(SQLModel, table=True):
    """A one-time voting code for a resident signed up without email (assisted sign-up).

    ``code_hash`` is HMAC-SHA256 under the app secret of the normalised code (10 characters of a
    31-letter alphabet: a keyed hash, so a copy of the database alone cannot be searched for
    codes). It works until ``expires_at`` (90 days). ``used_at`` is set once, by a conditional
    UPDATE (``WHERE used_at IS NULL``) in the ballot's own transaction, so two uses at once
    cannot both vote; it holds only the London day of use (its midnight in UTC), because an exact
    time would equal the ballot's ``cast_at`` and link the person to their choices.
    ``request_key`` is the assisted sign-up form's one-time key: the form sent twice makes one
    account (migration 0022_confirm)."""

    __tablename__ = "voting_code"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="ck_voting_code_expiry"),
        UniqueConstraint("request_key", name="uq_voting_code_request_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_by_id: int = Field(foreign_key="person.id")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    expires_at: dt.datetime = Field(sa_column=_utc_column())
    used_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    request_key: str | None = Field(default=None, max_length=64)
