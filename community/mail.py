"""Outgoing email through a queue in the database (a transactional outbox).

``send()`` (and ``send_text()``, a text message) only inserts a ``MailMessage`` row in the request's transaction: it is committed with the
action it belongs to, so a rolled-back action sends nothing and a committed one never loses its
email, and no request waits on SMTP. ``deliver_pending()`` sends each message through GOV.UK Notify
when ``NOTIFY_API_KEY`` is set (email and text messages: :func:`_notify_send`), else builds it and
sends it by SMTP when ``SMTP_HOST`` is set, otherwise writes ``.eml`` files into ``OUTBOX_DIR``.
A text message can only go by Notify: without it, it is given up at once with the reason.

Who delivers (``MAIL_DELIVERY``): ``"queue"`` (production default) leaves it to cron running
``flask --app wsgi mail deliver``; ``"after_request"`` (development and testing default) delivers
in the same process at the end of any request that queued mail, so ``make run`` and the tests see
their email without cron.

Two deliverers may run at once (cron overlapping itself, several gunicorn workers): each message
is *claimed* in its own short write transaction (:func:`community.jobs.claimed`: ``SELECT … FOR
UPDATE SKIP LOCKED`` on PostgreSQL, the exclusive ``BEGIN IMMEDIATE`` on SQLite) by pushing ``next_attempt_at`` a lease
into the future, and sent after that commit. No lock is held while talking to the SMTP server, so
web requests never queue behind a slow mail server. A deliverer that dies between sending and
marking the row sent leaves it to be sent again when the lease runs out (at least once, never lost).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from flask import Flask, current_app, g, has_request_context
from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from community import jobs
from community.db import close_session, get_engine, get_session, open_session, utcnow
from community.models import MailMessage

log = logging.getLogger(__name__)

DELIVERY_MODES = ("queue", "after_request")
CLAIM_LEASE = dt.timedelta(minutes=10)  # far longer than one send can take (10 s socket timeout)
MAX_BACKOFF = dt.timedelta(hours=2)
AFTER_REQUEST_LIMIT = 50
SMTP_TIMEOUT_SECONDS = 10
MAX_TO_LENGTH = 320
MAX_SUBJECT_LENGTH = 300
MAX_ERROR_LENGTH = 500
MAX_TEXT_LENGTH = 918  # GOV.UK Notify's limit: six text-message fragments
NOTIFY_TIMEOUT_SECONDS = 10
# Residents signed up at a Local Net without email have an address at this domain, and deleted
# accounts one at ``deleted.invalid``: RFC 2606 reserves ``.invalid``, so no such address can
# receive mail. ``send`` queues nothing for them and ``deliver_pending`` never sends one.
NO_EMAIL_DOMAIN = "no-email.invalid"


def undeliverable(address: str) -> bool:
    """True for an address that can never receive mail (a ``.invalid`` domain, RFC 2606)."""
    return address.strip().lower().rstrip(">").endswith(".invalid")


# Built once; a plain insert of the row (no ORM object to build and flush: a receipt is queued by
# every ballot cast).
_QUEUE = insert(MailMessage.__table__).returning(MailMessage.__table__.c.id)


def send(*, to: str, subject: str, body: str, session: Session | Connection | None = None,
         list_unsubscribe: str | None = None) -> int | None:
    """Queue one plain-text message in ``session`` (the request's by default, or a connection's
    transaction); it goes out once the caller commits. Cheap: one INSERT, no message building, no network. Returns its row id,
    or None when ``to`` can never receive mail (a resident without email): nothing is queued.
    ``list_unsubscribe`` (a notification's, community/notify.py) becomes its ``List-Unsubscribe``
    header, with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058)."""
    if len(to) > MAX_TO_LENGTH or "\r" in to or "\n" in to:
        raise ValueError("mail: not a single email address")
    if undeliverable(to):
        return None
    row = {"to_address": to, "subject": " ".join(subject.split())[:MAX_SUBJECT_LENGTH], "body": body,
           "created_at": utcnow(), "attempts": 0, "list_unsubscribe": list_unsubscribe}
    message_id = (session or get_session()).execute(_QUEUE, row).scalar_one()
    if has_request_context():
        g.mail_queued = True
    return message_id


def send_text(*, to_phone: str, body: str, session: Session | None = None) -> int:
    """Queue one text message to ``to_phone`` (E.164, community/phones.py) in ``session``; like
    :func:`send` it goes out once the caller commits, through GOV.UK Notify."""
    row = text_row(to_phone=to_phone, body=body)
    message_id = (session or get_session()).execute(_QUEUE, row).scalar_one()
    if has_request_context():
        g.mail_queued = True
    return message_id


def email_row(*, to: str, subject: str, body: str, list_unsubscribe: str | None = None) -> dict | None:
    """The outbox row :func:`send` would insert (None for an undeliverable address), for
    :func:`queue_many`."""
    if len(to) > MAX_TO_LENGTH or "\r" in to or "\n" in to:
        raise ValueError("mail: not a single email address")
    if undeliverable(to):
        return None
    return {"to_address": to, "to_phone": None, "channel": "email",
            "subject": " ".join(subject.split())[:MAX_SUBJECT_LENGTH], "body": body, "created_at": utcnow(),
            "attempts": 0, "list_unsubscribe": list_unsubscribe}


def text_row(*, to_phone: str, body: str) -> dict:
    """The outbox row :func:`send_text` would insert, for :func:`queue_many`."""
    if not to_phone.startswith("+") or not to_phone[1:].isdigit() or len(to_phone) > 16:
        raise ValueError("mail: not a phone number in E.164")
    return {"to_address": "", "to_phone": to_phone, "channel": "sms", "subject": "",
            "body": body[:MAX_TEXT_LENGTH], "created_at": utcnow(), "attempts": 0, "list_unsubscribe": None}


def queue_many(session: Session, rows: list[dict]) -> int:
    """Queue many messages (rows of :func:`email_row` / :func:`text_row`) in one executemany
    INSERT, in ``session``; they go out once the caller commits. Returns how many."""
    if rows:
        session.execute(insert(MailMessage.__table__), rows)
        if has_request_context():
            g.mail_queued = True
    return len(rows)


class GiveUp(Exception):
    """A failure that trying again cannot mend (GOV.UK Notify's 400 or 403): the message is
    given up at once, with the reason."""


@dataclasses.dataclass
class Delivery:
    """What one ``deliver_pending`` run did."""

    sent: int = 0
    failed: int = 0  # will be tried again after a back-off
    gave_up: int = 0  # reached MAIL_MAX_ATTEMPTS: kept, never tried again
    errors: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Claimed:
    id: int
    to_address: str
    subject: str
    body: str
    created_at: dt.datetime
    attempts: int
    list_unsubscribe: str | None = None
    channel: str = "email"
    to_phone: str | None = None


def deliver_pending(app: Flask | None = None, *, limit: int = 100, now: dt.datetime | None = None) -> Delivery:
    """Send up to ``limit`` pending messages, oldest first. Safe to run in several processes.

    Each message is claimed, sent, then marked in separate short transactions on a session of
    its own (never the request's). ``now`` fixes the clock (tests of the retry back-off)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    engine = get_engine(app)
    max_attempts = int(config["MAIL_MAX_ATTEMPTS"])
    clock = (lambda: now) if now is not None else utcnow
    report = Delivery()
    smtp: smtplib.SMTP | None = None
    notify_client = _notify_client(config)
    pending = (select(MailMessage.id)
               .where(MailMessage.sent_at.is_(None), MailMessage.attempts < max_attempts,
                      or_(MailMessage.next_attempt_at.is_(None), MailMessage.next_attempt_at <= clock()))
               .order_by(MailMessage.id))
    try:
        for session, message_id in jobs.claimed(engine, pending, limit=limit):
            claimed = _claim(session, message_id, clock())
            why = _cannot_send(claimed, notify_client)
            if why:
                _give_up(engine, claimed.id, max_attempts, why)
                report.gave_up += 1
                continue
            try:
                if notify_client is not None:
                    _notify_send(config, notify_client, claimed)
                else:
                    smtp = _deliver(config, _build(config, claimed), smtp)
            except GiveUp as error:
                _give_up(engine, claimed.id, max_attempts, f"GOV.UK Notify refused it: {error}")
                report.errors.append(f"message {claimed.id}: {error}")
                report.gave_up += 1
                log.error("mail: gave up on message %s at once: %s", claimed.id, error)
            except (smtplib.SMTPException, OSError, ValueError, NotifyRetry) as error:
                smtp = _quit(smtp)
                gave_up = _record_failure(engine, claimed, error, clock(), max_attempts)
                report.errors.append(f"message {claimed.id} to {claimed.to_address}: {error}")
                if gave_up:
                    report.gave_up += 1
                    log.error("mail: gave up on message %s after %s attempts: %s", claimed.id, max_attempts, error)
                else:
                    report.failed += 1
                    log.warning("mail: message %s not sent (will retry): %s", claimed.id, error)
            else:
                _mark_sent(engine, claimed.id, clock())
                report.sent += 1
    finally:
        _quit(smtp)
    return report


def _claim(session: Session, message_id: int, now: dt.datetime) -> _Claimed:
    """Hold a message claimed by :func:`community.jobs.claimed` for ``CLAIM_LEASE`` and commit,
    so no lock is held while it is sent."""
    row = session.get(MailMessage, message_id)
    claimed = _Claimed(row.id, row.to_address, row.subject, row.body, row.created_at, row.attempts,
                       row.list_unsubscribe, row.channel, row.to_phone)
    session.execute(update(MailMessage).where(MailMessage.id == message_id).values(next_attempt_at=now + CLAIM_LEASE))
    session.commit()
    return claimed


def _mark_sent(engine: Engine, message_id: int, now: dt.datetime) -> None:
    with open_session(engine, write=True) as session:
        session.execute(update(MailMessage).where(MailMessage.id == message_id)
                        .values(sent_at=now, attempts=MailMessage.attempts + 1, next_attempt_at=None))
        session.commit()


def _give_up(engine: Engine, message_id: int, max_attempts: int, why: str) -> None:
    """Never try this message again (it is kept, with the reason)."""
    with open_session(engine, write=True) as session:
        session.execute(update(MailMessage).where(MailMessage.id == message_id)
                        .values(attempts=max_attempts, last_error=why[:MAX_ERROR_LENGTH], next_attempt_at=None))
        session.commit()


def _record_failure(engine: Engine, claimed: _Claimed, error: Exception, now: dt.datetime,
                    max_attempts: int) -> bool:
    """Count the attempt and keep the error; retry after a back-off (1, 2, 4 … minutes, at most
    two hours). True when this was the last attempt allowed."""
    attempts = claimed.attempts + 1
    backoff = min(dt.timedelta(minutes=2 ** (attempts - 1)), MAX_BACKOFF)
    text = f"{type(error).__name__}: {error}"[:MAX_ERROR_LENGTH]
    with open_session(engine, write=True) as session:
        session.execute(update(MailMessage).where(MailMessage.id == claimed.id)
                        .values(attempts=MailMessage.attempts + 1, last_error=text, next_attempt_at=now + backoff))
        session.commit()
    return attempts >= max_attempts


def _cannot_send(claimed: _Claimed, notify_client) -> str | None:
    """Why this message can never be sent here, or None."""
    if claimed.channel == "sms":
        return None if notify_client is not None else "a text message needs GOV.UK Notify (THRIVING_NOTIFY_API_KEY)"
    if undeliverable(claimed.to_address):  # queued before ``send`` skipped them: never sent
        return "no email address (assisted sign-up or deleted account)"
    return None


class NotifyRetry(Exception):
    """GOV.UK Notify did not take the message this time (429, 5xx, no connection): try again later."""


def _notify_client(config):
    """A GOV.UK Notify client for this run, or None without ``NOTIFY_API_KEY``."""
    if not config.get("NOTIFY_API_KEY"):
        return None
    from notifications_python_client.notifications import NotificationsAPIClient

    base = config.get("NOTIFY_BASE_URL") or "https://api.notifications.service.gov.uk"
    return NotificationsAPIClient(config["NOTIFY_API_KEY"], base_url=base, timeout=NOTIFY_TIMEOUT_SECONDS)


def _notify_send(config, client, claimed: _Claimed) -> None:
    """Send one message through GOV.UK Notify, its row id as the ``reference`` (so a retry after a
    lost answer can be matched). 400 and 403 raise :class:`GiveUp` with Notify's reason; 429, 5xx
    and connection errors (the client's 503) raise :class:`NotifyRetry`."""
    from notifications_python_client.errors import APIError

    try:
        if claimed.channel == "sms":
            client.send_sms_notification(phone_number=claimed.to_phone, template_id=config["NOTIFY_SMS_TEMPLATE_ID"],
                                         personalisation={"body": claimed.body}, reference=str(claimed.id))
        else:
            stop = _one_click_url(claimed.list_unsubscribe)
            client.send_email_notification(
                email_address=claimed.to_address, template_id=config["NOTIFY_EMAIL_TEMPLATE_ID"],
                personalisation={"subject": claimed.subject, "body": claimed.body}, reference=str(claimed.id),
                **({"one_click_unsubscribe_url": stop} if stop else {}))
    except APIError as error:
        reason = _notify_reason(error)
        if error.status_code == 429 or error.status_code >= 500:
            raise NotifyRetry(f"{error.status_code} {reason}") from error
        raise GiveUp(f"{error.status_code} {reason}") from error


def _notify_reason(error) -> str:
    """Notify's error messages, joined (its body is ``{"errors": [{"error", "message"}]}``)."""
    message = error.message
    if isinstance(message, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in message)
    return str(message)


def _one_click_url(header: str | None) -> str | None:
    """The https link of a ``List-Unsubscribe`` header (Notify adds the headers itself)."""
    for part in (header or "").split(","):
        part = part.strip().strip("<>")
        if part.startswith(("https://", "http://")):
            return part
    return None


def _build(config, claimed: _Claimed) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = claimed.to_address
    message["Subject"] = claimed.subject
    message["Date"] = format_datetime(claimed.created_at)
    message.set_content(claimed.body)  # quoted-printable lines of 76 characters, encoded now
    if claimed.list_unsubscribe:
        # The header holds long links: folding it at 78 would turn it into RFC 2047 encoded words
        # that no mail client reads as a List-Unsubscribe, so it is kept on one line (RFC 5322
        # allows 998). The body above is already encoded, so this changes the headers only.
        message.policy = message.policy.clone(max_line_length=998)
        message["List-Unsubscribe"] = claimed.list_unsubscribe
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def _deliver(config, message: EmailMessage, smtp: smtplib.SMTP | None) -> smtplib.SMTP | None:
    """Send by SMTP (one connection reused for the whole run) or write an ``.eml`` file."""
    host = config["SMTP_HOST"]
    if not host:
        outbox = Path(config["OUTBOX_DIR"])
        outbox.mkdir(parents=True, exist_ok=True)
        (outbox / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(message))
        return None
    if smtp is None:
        smtp = smtplib.SMTP(host, int(config["SMTP_PORT"]), timeout=SMTP_TIMEOUT_SECONDS)
        try:
            smtp.starttls()
            if config["SMTP_USERNAME"]:
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        except BaseException:
            _quit(smtp)
            raise
    smtp.send_message(message)
    return smtp


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    return None


def recent(session: Session, limit: int = 100) -> list[MailMessage]:
    """The newest messages in the queue, pending and sent (the development outbox page)."""
    return list(session.execute(select(MailMessage).order_by(MailMessage.id.desc()).limit(limit)).scalars())


def init_app(app: Flask) -> None:
    """In ``after_request`` mode, deliver at the end of each request that queued mail."""

    @app.after_request
    def _deliver_queued_mail(response):
        if app.config["MAIL_DELIVERY"] != "after_request" or not g.pop("mail_queued", False):
            return response
        # The view has finished: end its transaction first (what teardown would do), so that on
        # SQLite the deliverer's write transactions do not wait on this request's lock.
        close_session()
        try:
            deliver_pending(app, limit=AFTER_REQUEST_LIMIT)
        except Exception:  # a database hiccup here must not fail a request whose work is committed
            log.exception("mail: delivery after the request failed; the messages stay queued")
        return response
