"""Notifications to people: what kinds there are, how each person wants each (email, a text
message — a channel to come, with GOV.UK Notify — or nothing), the one-click unsubscribe link
every notification email carries (RFC 8058), and :func:`notify`, which queues one notification
of one event at most once per person through the outbox (community/mail.py).

The domains above write the messages (votes/notifications.py) and call :func:`notify`; this
module knows nothing of ideas or rounds beyond the names of the kinds.

Every user-facing string here goes through ``_`` so that the translations to come (issue 16,
languages) only need to swap it for Flask-Babel's ``gettext``; placeholders are named.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from flask import current_app, has_app_context, has_request_context, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlmodel import Session

from community import mail
from community.db import utcnow
from community.errors import UnsubscribeLinkInvalid
from community.models import NOTIFICATION_CHANNELS, NotificationPreference, NotificationSent, Person

log = logging.getLogger(__name__)


def _(message: str) -> str:
    """Mark a string for translation (gettext to come); returns it unchanged for now."""
    return message


@dataclass(frozen=True)
class Kind:
    """One kind of notification a person can choose how to receive."""

    name: str
    label: str  # the question on the account page
    default: str  # "email" or "none"


KINDS = {
    kind.name: kind
    for kind in (
        Kind("idea_reviewed", _("The team's review of an idea you proposed"), "email"),
        Kind("idea_on_round", _("An idea you support goes on a voting round"), "email"),
        Kind("round_opened", _("A voting round opens where you live"), "email"),
        Kind("round_closing", _("A reminder 48 hours before a round closes, if you have not voted"), "email"),
        Kind("round_results", _("The results of rounds you voted in or supported an idea in"), "email"),
        Kind("idea_delivery", _("Delivery updates on funded ideas you support"), "email"),
    )
}
CHANNEL_LABELS = {"email": _("Email"), "sms": _("Text message"), "none": _("Do not tell me")}
UNSUBSCRIBE_SALT = "notify.unsubscribe"
UNSUBSCRIBE_MAX_AGE = dt.timedelta(days=365)  # a year-old email's link still works


# --------------------------------------------------------------------------- preferences


def channels_for(person: Person) -> list[str]:
    """The channels the account page offers this person: text messages only with a phone number
    and when GOV.UK Notify is configured (``NOTIFY_API_KEY``)."""
    sms = bool(person.phone) and bool(current_app.config.get("NOTIFY_API_KEY"))
    return [c for c in NOTIFICATION_CHANNELS if c != "sms" or sms]


def preferences(*, session: Session, person: Person) -> dict[str, str]:
    """Every kind's channel for this person ("email", "sms" or "none"), defaults filled in."""
    stored = dict(session.execute(
        select(NotificationPreference.kind, NotificationPreference.channel)
        .where(NotificationPreference.person_id == person.id)).all())
    return {name: stored.get(name, kind.default) for name, kind in KINDS.items()}


def wants(*, session: Session, person: Person, kind: str) -> str | None:
    """The channel ``person`` wants ``kind`` by ("email" or "sms"), or None for nothing."""
    channel = preferences(session=session, person=person)[kind]
    return None if channel == "none" else channel


def set_preferences(*, session: Session, person: Person, choices: dict[str, str]) -> None:
    """Save the person's channel for each kind named in ``choices``. ValueError for an unknown
    kind; DomainError (beside the kind's field) for a channel not offered to them."""
    from community.errors import DomainError

    offered = channels_for(person)
    for kind, channel in choices.items():
        if kind not in KINDS:
            raise ValueError(f"notify: no kind {kind!r}")
        if channel not in offered:
            raise DomainError(_("Choose how you want to be told."), field=kind)
        _store(session, person.id, kind, channel)
    session.flush()


def _store(session: Session, person_id: int, kind: str, channel: str) -> None:
    row = session.execute(select(NotificationPreference).where(
        NotificationPreference.person_id == person_id, NotificationPreference.kind == kind)
        .with_for_update()).scalar_one_or_none()
    if row is None:
        session.add(NotificationPreference(person_id=person_id, kind=kind, channel=channel))
    else:
        row.channel, row.updated_at = channel, utcnow()


def wanted_by(*, session: Session, person_ids: Iterable[int], kind: str) -> dict[int, str | None]:
    """:func:`wants` for many people in one query (a whole place): person id → channel or None."""
    ids = list(person_ids)
    stored = {}
    if ids:
        stored = dict(session.execute(select(NotificationPreference.person_id, NotificationPreference.channel).where(
            NotificationPreference.kind == kind, NotificationPreference.person_id.in_(ids))).all())
    default = KINDS[kind].default
    return {pid: (None if stored.get(pid, default) == "none" else stored.get(pid, default)) for pid in ids}


# --------------------------------------------------------------------------- unsubscribe


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=UNSUBSCRIBE_SALT)


def unsubscribe_token(secret: str, *, person_id: int, kind: str) -> str:
    """A signed token naming one person and one kind (nothing else can be turned off with it)."""
    return _serializer(secret).dumps({"p": person_id, "k": kind})


def read_unsubscribe_token(secret: str, token: str, *, now: dt.datetime | None = None) -> tuple[int, str]:
    """(person id, kind) of a good token; UnsubscribeLinkInvalid for a changed, forged or
    malformed one, and (``expired``) for one older than ``UNSUBSCRIBE_MAX_AGE``."""
    serializer = _serializer(secret)
    try:
        if now is None:
            data = serializer.loads(token, max_age=int(UNSUBSCRIBE_MAX_AGE.total_seconds()))
        else:  # tests of the expiry: check the signature, then the age against ``now``
            data, signed_at = serializer.loads(token, return_timestamp=True)
            if now - signed_at > UNSUBSCRIBE_MAX_AGE:
                raise SignatureExpired("too old")
    except SignatureExpired:
        raise UnsubscribeLinkInvalid(_("This unsubscribe link is too old. Sign in and choose what you are "
                                       "told about on your account page."), expired=True) from None
    except (BadSignature, UnicodeError, ValueError):
        raise UnsubscribeLinkInvalid(_("This unsubscribe link is not valid. Check it was copied in full, or "
                                       "sign in and choose what you are told about on your account page.")) from None
    if not isinstance(data, dict) or not isinstance(data.get("p"), int) or data.get("k") not in KINDS:
        raise UnsubscribeLinkInvalid(_("This unsubscribe link is not valid."))
    return data["p"], data["k"]


@dataclass(frozen=True)
class Unsubscribe:
    """What an unsubscribe link names: the person and the kind, with its label."""

    person: Person
    kind: str
    label: str


def check_unsubscribe(*, session: Session, secret: str, token: str) -> Unsubscribe:
    """What the link would turn off (the confirmation page). UnsubscribeLinkInvalid as above,
    also for an account that no longer exists."""
    person_id, kind = read_unsubscribe_token(secret, token)
    person = session.get(Person, person_id)
    if person is None or not person.is_active:
        raise UnsubscribeLinkInvalid(_("This unsubscribe link is for an account that no longer exists."))
    return Unsubscribe(person, kind, KINDS[kind].label)


def unsubscribe(*, session: Session, secret: str, token: str) -> Unsubscribe:
    """Turn off the kind the link names, for the person it names (no sign-in: the signed token
    is the proof). Doing it twice is harmless."""
    found = check_unsubscribe(session=session, secret=secret, token=token)
    _store(session, found.person.id, found.kind, "none")
    session.flush()
    return found


# --------------------------------------------------------------------------- sending


def can_send() -> bool:
    """Whether notifications can be written here: an app (its secret), and a way to make absolute
    links (a request, or ``PUBLIC_URL``/``SERVER_NAME`` for cron). Without one nothing is sent:
    a service test on a bare session, or cron in production before ``PUBLIC_URL`` is set (logged,
    so that ``close-due`` still closes rounds)."""
    if not has_app_context():
        return False
    if has_request_context() or current_app.config.get("PUBLIC_URL") or current_app.config.get("SERVER_NAME"):
        return True
    log.error("notify: THRIVING_PUBLIC_URL is not set, so notifications outside a request are not sent")
    return False


def link(endpoint: str, **values) -> str:
    """An absolute link: the request's host inside a request, else ``PUBLIC_URL`` (cron)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        return url_for(endpoint, _external=True, **values)  # SERVER_NAME, or Flask says what is missing
    scheme, _sep, rest = base.partition("://")
    host, _sep, root = rest.partition("/")
    adapter = current_app.url_map.bind(host, script_name="/" + root.rstrip("/"), url_scheme=scheme)
    return adapter.build(endpoint, values, force_external=True)


def _once(session: Session, person_id: int, kind: str, event: str, channel: str) -> bool:
    """Record that ``event`` was notified to the person; False if it already was (the unique
    key decides, so two runs at once record, and send, one)."""
    table = NotificationSent.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = (dialect_insert(table)
            .values(person_id=person_id, kind=kind, event=event, channel=channel, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["person_id", "kind", "event"])
            .returning(table.c.id))
    return session.execute(stmt).first() is not None


def already_notified(*, session: Session, kind: str, event: str) -> set[int]:
    """The people ``event`` was already notified to (one query)."""
    return set(session.execute(select(NotificationSent.person_id).where(
        NotificationSent.kind == kind, NotificationSent.event == event)).scalars())


def notify(*, session: Session, person: Person, kind: str, event: str, subject: str, body: str,
           channel: str | None = "") -> bool:
    """Queue one notification of ``event`` (e.g. "round:12") to ``person``, if they want ``kind``
    and were not already told of it; True if queued. The email carries a one-click unsubscribe
    for this kind. ``channel``, when the caller already knows it (a bulk run), skips the lookup."""
    if kind not in KINDS:
        raise ValueError(f"notify: no kind {kind!r}")
    if channel == "":
        channel = wants(session=session, person=person, kind=kind)
    if channel is None or not person.is_active or not _once(session, person.id, kind, event, channel):
        return False
    # "sms": there is no text-message backend yet (GOV.UK Notify comes next), so it goes by email.
    token = unsubscribe_token(current_app.config["SECRET_KEY"], person_id=person.id, kind=kind)
    stop = link("community.unsubscribe", token=token)
    footer = _("You get this because of your choices on your account page. To stop emails like this one, "
               "open: {link}").format(link=stop)
    mailto = quote(f"unsubscribe {token}")
    header = f"<{stop}>, <mailto:{current_app.config['MAIL_UNSUBSCRIBE_TO']}?subject={mailto}>"
    mail.send(session=session, to=person.email, subject=subject, body=f"{body.rstrip()}\n\n--\n{footer}\n",
              list_unsubscribe=header)
    return True
