"""Notifications to people: what kinds there are, how each person wants each (email, a text
message — a channel to come, with GOV.UK Notify — or nothing), the one-click unsubscribe link
every notification email carries (RFC 8058), and :func:`notify`, which queues one notification
of one event at most once per person through the outbox (community/mail.py).

The domains above write the messages (votes/notifications.py) and call :func:`notify`; this
module knows nothing of ideas or rounds beyond the names of the kinds.

Every user-facing string here goes through community/i18n.py (``lazy_gettext`` for the labels
made at import time); the email is rendered in the recipient's language (``force_locale``).
"""

from __future__ import annotations

import datetime as dt
import functools
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
from community.i18n import _, force_locale, lazy_gettext
from community.models import NOTIFICATION_CHANNELS, NotificationPreference, NotificationSent, Person

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """One kind of notification a person can choose how to receive."""

    name: str
    label: str  # the question on the account page
    default: str  # "email" or "none"


KINDS = {
    kind.name: kind
    for kind in (
        Kind("idea_reviewed", lazy_gettext("The team's review of an idea you proposed"), "email"),
        Kind("idea_on_round", lazy_gettext("An idea you support goes on a voting round"), "email"),
        Kind("round_opened", lazy_gettext("A voting round opens where you live"), "email"),
        Kind("round_closing", lazy_gettext("A reminder 48 hours before a round closes, if you have not voted"), "email"),
        Kind("round_results", lazy_gettext("The results of rounds you voted in or supported an idea in"), "email"),
        Kind("idea_delivery", lazy_gettext("Delivery updates on funded ideas you support"), "email"),
    )
}
CHANNEL_LABELS = {"email": lazy_gettext("Email"), "sms": lazy_gettext("Text message"), "none": lazy_gettext("Do not tell me")}
UNSUBSCRIBE_SALT = "notify.unsubscribe"
UNSUBSCRIBE_MAX_AGE = dt.timedelta(days=365)  # a year-old email's link still works


# --------------------------------------------------------------------------- preferences


def texts_possible() -> bool:
    """Text messages can be sent: GOV.UK Notify is configured (``NOTIFY_API_KEY``)."""
    return bool(current_app.config.get("NOTIFY_API_KEY"))


def channels_for(person: Person) -> list[str]:
    """The channels the account page offers this person: text messages only when GOV.UK Notify
    is configured (the page then asks for a mobile number)."""
    return [c for c in NOTIFICATION_CHANNELS if c != "sms" or texts_possible()]


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


def set_preferences(*, session: Session, person: Person, choices: dict[str, str], phone: str | None = None) -> None:
    """Save the person's channel for each kind named in ``choices``. ValueError for an unknown
    kind; DomainError (beside the kind's field) for a channel not offered to them. When a kind
    then goes by text, ``phone`` (as typed; None keeps the stored one) must be a UK mobile
    (community/phones.py, DomainError beside ``phone``) and is stored in E.164; when none does
    any more, the number is removed (a number recorded otherwise, such as an assisted sign-up's
    contact number, is kept). Everything is checked before anything is written."""
    from community.errors import DomainError
    from community.phones import uk_mobile

    offered = channels_for(person)
    for kind, channel in choices.items():
        if kind not in KINDS:
            raise ValueError(f"notify: no kind {kind!r}")
        if channel not in offered:
            raise DomainError(_("Choose how you want to be told."), field=kind)
    before = preferences(session=session, person=person)
    texts = "sms" in (before | choices).values()
    number = uk_mobile(person.phone if phone is None else phone) if texts else None
    for kind, channel in choices.items():
        _store(session, person.id, kind, channel)
    if texts or "sms" in before.values():
        # A number given for texts goes with them; one recorded otherwise (an assisted sign-up's
        # contact number, for the team to ring) is not the notifications form's to remove.
        person.phone = number
    session.add(person)
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


@functools.lru_cache(maxsize=4)  # one per secret: a reminder run signs thousands of tokens
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
    """An absolute link: the request's host inside a request, else ``PUBLIC_URL`` (cron). It never
    carries the ``?lang=`` of the request that wrote the email (community/i18n.py)."""
    values.setdefault("lang", None)
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        return url_for(endpoint, _external=True, **values)  # SERVER_NAME, or Flask says what is missing
    return _adapter(current_app.url_map, base).build(endpoint, values, force_external=True)


def _adapter(url_map, base: str):
    """The URL adapter for ``PUBLIC_URL`` (kept on the map: a reminder run builds thousands of links)."""
    cached = getattr(url_map, "_thriving_public_adapter", None)
    if cached is None or cached[0] != base:
        scheme, _sep, rest = base.partition("://")
        host, _sep, root = rest.partition("/")
        cached = (base, url_map.bind(host, script_name="/" + root.rstrip("/"), url_scheme=scheme))
        url_map._thriving_public_adapter = cached
    return cached[1]


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


def _once_many(session: Session, person_ids: list[int], kind: str, event: str, channels: dict[int, str]) -> set[int]:
    """:func:`_once` for many people in one executemany INSERT … ON CONFLICT DO NOTHING RETURNING:
    the people recorded now (the unique key still decides between two runs at once)."""
    if not person_ids:
        return set()
    table = NotificationSent.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    now = utcnow()
    stmt = (dialect_insert(table).on_conflict_do_nothing(index_elements=["person_id", "kind", "event"])
            .returning(table.c.person_id))
    rows = [{"person_id": pid, "kind": kind, "event": event, "channel": channels[pid], "created_at": now}
            for pid in person_ids]
    return set(session.execute(stmt, rows).scalars())


def notify_many(*, session: Session, people: Iterable[Person], kind: str, event: str, write,
                channels: dict[int, str | None] | None = None) -> int:
    """:func:`notify` for many people at once (a round's residents): their choices and who was
    already told read in one query each, recorded in one INSERT, queued in another.
    ``write(person)`` gives (subject, body, text). Returns how many were queued."""
    if kind not in KINDS:
        raise ValueError(f"notify: no kind {kind!r}")
    people = [p for p in people if p.is_active]
    if channels is None:
        channels = wanted_by(session=session, person_ids=[p.id for p in people], kind=kind)
    done = already_notified(session=session, kind=kind, event=event)
    texts = texts_possible()
    chosen = {p.id: ("sms" if channels[p.id] == "sms" and texts and p.phone else "email")
              for p in people if channels.get(p.id) is not None and p.id not in done}
    recorded = _once_many(session, list(chosen), kind, event, chosen)
    secret, mailbox = current_app.config["SECRET_KEY"], current_app.config["MAIL_UNSUBSCRIBE_TO"]
    account = link("community.account")
    rows = []
    for person in people:
        if person.id not in recorded:
            continue
        with force_locale(person.language):  # write() and the footers in the recipient's language
            subject, body, text = write(person)
            if chosen[person.id] == "sms" and text:
                stop = _("Change what you are told about: %(link)s", link=account)
                rows.append(mail.text_row(to_phone=person.phone, body=f"{text.rstrip()}\n{stop}"))
                continue
            rows.append(_email_row(secret, mailbox, person, kind, subject, body))
    return mail.queue_many(session, [row for row in rows if row is not None])


def _email_row(secret: str, mailbox: str, person: Person, kind: str, subject: str, body: str) -> dict | None:
    token = unsubscribe_token(secret, person_id=person.id, kind=kind)
    stop = link("community.unsubscribe", token=token, lang=person.language)  # no sign-in: say the language
    footer = _("You get this because of your choices on your account page. To stop emails like this "
               "one, open: %(link)s", link=stop)
    header = f"<{stop}>, <mailto:{mailbox}?subject={quote(f'unsubscribe {token}')}>"
    return mail.email_row(to=person.email, subject=subject, body=f"{body.rstrip()}\n\n--\n{footer}\n",
                          list_unsubscribe=header)


def already_notified(*, session: Session, kind: str, event: str) -> set[int]:
    """The people ``event`` was already notified to (one query)."""
    return set(session.execute(select(NotificationSent.person_id).where(
        NotificationSent.kind == kind, NotificationSent.event == event)).scalars())


def notify(*, session: Session, person: Person, kind: str, event: str, subject: str, body: str,
           channel: str | None = "", text: str | None = None) -> bool:
    """Queue one notification of ``event`` (e.g. "round:12") to ``person``, if they want ``kind``
    and were not already told of it; True if queued. The email carries a one-click unsubscribe
    for this kind; a person who chose texts gets ``text`` (short) by text message instead, when
    there is one, a mobile number and GOV.UK Notify (else the email). ``channel``, when the
    caller already knows it (a bulk run), skips the lookup."""
    if kind not in KINDS:
        raise ValueError(f"notify: no kind {kind!r}")
    if channel == "":
        channel = wants(session=session, person=person, kind=kind)
    if channel == "sms" and not (text and person.phone and texts_possible()):
        channel = "email"
    if channel is None or not person.is_active or not _once(session, person.id, kind, event, channel):
        return False
    if channel == "sms":
        with force_locale(person.language):
            stop = _("Change what you are told about: %(link)s", link=link("community.account"))
        mail.send_text(session=session, to_phone=person.phone, body=f"{text.rstrip()}\n{stop}")
        return True
    token = unsubscribe_token(current_app.config["SECRET_KEY"], person_id=person.id, kind=kind)
    stop = link("community.unsubscribe", token=token, lang=person.language)  # no sign-in: say the language
    with force_locale(person.language):  # the caller wrote subject and body in it too
        footer = _("You get this because of your choices on your account page. To stop emails like this "
                   "one, open: %(link)s", link=stop)
    mailto = quote(f"unsubscribe {token}")
    header = f"<{stop}>, <mailto:{current_app.config['MAIL_UNSUBSCRIBE_TO']}?subject={mailto}>"
    mail.send(session=session, to=person.email, subject=subject, body=f"{body.rstrip()}\n\n--\n{footer}\n",
              list_unsubscribe=header)
    return True
