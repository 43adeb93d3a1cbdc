"""Outgoing email through a queue in the database (a transactional outbox).

``send()`` only inserts a ``MailMessage`` row in the request's transaction: it is committed with the
action it belongs to, so a rolled-back action sends nothing and a committed one never loses its
email, and no request waits on SMTP. ``deliver_pending()`` builds each message and sends it by
SMTP when ``SMTP_HOST`` is set, otherwise writes ``.eml`` files into ``OUTBOX_DIR``.

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
from sqlalchemy.engine import Engine
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


def send(*, to: str, subject: str, body: str, session: Session | None = None,
         list_unsubscribe: str | None = None) -> int | None:
    """Queue one plain-text message in ``session`` (the request's by default); it goes out once
    the caller commits. Cheap: one INSERT, no message building, no network. Returns its row id,
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
    pending = (select(MailMessage.id)
               .where(MailMessage.sent_at.is_(None), MailMessage.attempts < max_attempts,
                      or_(MailMessage.next_attempt_at.is_(None), MailMessage.next_attempt_at <= clock()))
               .order_by(MailMessage.id))
    try:
        for session, message_id in jobs.claimed(engine, pending, limit=limit):
            claimed = _claim(session, message_id, clock())
            if undeliverable(claimed.to_address):  # queued before ``send`` skipped them: never sent
                _give_up(engine, claimed.id, max_attempts, "no email address (assisted sign-up or deleted account)")
                report.gave_up += 1
                continue
            try:
                smtp = _deliver(config, _build(config, claimed), smtp)
            except (smtplib.SMTPException, OSError, ValueError) as error:
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
                       row.list_unsubscribe)
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
