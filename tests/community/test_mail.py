"""The mail queue (community.mail): queued in the action's transaction, delivered afterwards by
the after-request hook (development, testing) or ``flask mail deliver`` (cron, production)."""

import datetime as dt
import smtplib
import threading
import time
from pathlib import Path

import pytest
from flask import abort
from sqlalchemy import inspect, select

from community import mail
from community.db import get_engine, get_session, open_session, utcnow
from community.models import MailMessage
from tests.conftest import PROD_TOTP_KEYS


def rows(engine) -> list[MailMessage]:
    with open_session(engine, write=False) as s:
        return list(s.execute(select(MailMessage).order_by(MailMessage.id)).scalars())


def eml_files(app) -> list[Path]:
    return sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))


def queue(engine, count: int, to: str = "rita@example.org") -> None:
    with open_session(engine, write=True) as s:
        for i in range(count):
            mail.send(to=to, subject=f"Message {i}", body=f"Body {i}\n", session=s)
        s.commit()


class FakeSMTP:
    """Stands in for smtplib.SMTP: records what it sends; ``fail`` makes connecting refuse."""

    sent: list[str] = []
    fail = False
    delay = 0.0
    lock = threading.Lock()

    def __init__(self, host, port, timeout=None):
        if FakeSMTP.fail:
            raise ConnectionRefusedError(111, "Connection refused")

    def starttls(self):
        pass

    def login(self, user, password):
        pass

    def send_message(self, message):
        time.sleep(FakeSMTP.delay)
        with FakeSMTP.lock:
            FakeSMTP.sent.append(message["Subject"])

    def quit(self):
        pass

    def close(self):
        pass


@pytest.fixture
def smtp(app, monkeypatch):
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(FakeSMTP, "sent", [])
    monkeypatch.setattr(FakeSMTP, "fail", False)
    monkeypatch.setattr(FakeSMTP, "delay", 0.0)
    app.config.update(SMTP_HOST="smtp.example.org", MAIL_DELIVERY="queue")
    return FakeSMTP


@pytest.fixture
def mail_routes(app):
    """Two test-only views: one queues mail then fails (rolled back), one queues and commits."""

    def refused():
        mail.send(to="rita@example.org", subject="Never", body="Rolled back\n")
        get_session().flush()
        abort(400)  # no commit: teardown rolls the request's transaction back

    def committed():
        mail.send(to="rita@example.org", subject="Kept", body="Committed\n")
        get_session().commit()
        return "ok"

    app.add_url_rule("/_test/mail/refused", "test_mail_refused", refused, methods=["POST"])
    app.add_url_rule("/_test/mail/committed", "test_mail_committed", committed, methods=["POST"])


# --------------------------------------------------------------------------- queued with the action


def test_send_in_a_request_that_rolls_back_queues_nothing(app, client, engine, mail_routes):
    assert client.post("/_test/mail/refused").status_code == 400
    assert rows(engine) == [] and eml_files(app) == []


def test_send_in_a_committed_request_queues_one_row(app, client, engine, mail_routes):
    app.config["MAIL_DELIVERY"] = "queue"
    assert client.post("/_test/mail/committed").status_code == 200
    [row] = rows(engine)
    assert (row.to_address, row.subject, row.body) == ("rita@example.org", "Kept", "Committed\n")
    assert row.sent_at is None and row.attempts == 0
    assert eml_files(app) == []  # queue mode: nothing is delivered in the request


def test_after_request_mode_delivers_before_the_test_client_returns(app, client, engine, mail_routes):
    assert app.config["MAIL_DELIVERY"] == "after_request"  # the testing default
    assert client.post("/_test/mail/committed").status_code == 200
    [row] = rows(engine)
    assert row.sent_at is not None and row.attempts == 1
    [eml] = eml_files(app)
    assert "Subject: Kept" in eml.read_text() and "To: rita@example.org" in eml.read_text()


def test_a_refused_invitation_queues_no_mail(app, client, engine, make_person, sign_in):
    """The invitation form refused (no team for a member) queues no email."""
    sign_in(make_person("admin@example.org", role="admin"))
    response = client.post("/admin/invite", data={"email": "new@example.org", "role": "member", "team_id": 0})
    assert response.status_code == 200 and "Choose the team" in response.get_data(as_text=True)
    assert rows(engine) == [] and eml_files(app) == []


def test_send_refuses_a_header_injection(app, session):
    with pytest.raises(ValueError):
        mail.send(to="rita@example.org\nBcc: everyone@example.org", subject="x", body="y", session=session)
    message_id = mail.send(to="rita@example.org", subject="Line one\r\nBcc: x@example.org", body="y", session=session)
    assert session.get(MailMessage, message_id).subject == "Line one Bcc: x@example.org"


# --------------------------------------------------------------------------- delivery


def test_deliver_writes_the_eml_and_marks_sent(app, engine):
    queue(engine, 2)
    report = mail.deliver_pending(app)
    assert (report.sent, report.failed) == (2, 0)
    texts = [p.read_text() for p in eml_files(app)]
    assert len(texts) == 2 and all("To: rita@example.org" in t and "From: Thriving" in t for t in texts)
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows(engine))
    assert mail.deliver_pending(app).sent == 0  # nothing is sent twice
    assert len(eml_files(app)) == 2


def test_deliver_by_smtp(app, engine, smtp):
    queue(engine, 3)
    assert mail.deliver_pending(app, limit=2).sent == 2
    assert smtp.sent == ["Message 0", "Message 1"]
    assert mail.deliver_pending(app).sent == 1
    assert smtp.sent == ["Message 0", "Message 1", "Message 2"] and eml_files(app) == []


def test_a_failing_smtp_server_counts_the_attempt_and_a_later_run_sends(app, engine, smtp):
    queue(engine, 1)
    smtp.fail = True
    start = utcnow()
    report = mail.deliver_pending(app, now=start)
    assert (report.sent, report.failed) == (0, 1)
    [row] = rows(engine)
    assert row.sent_at is None and row.attempts == 1 and "Connection refused" in row.last_error
    smtp.fail = False
    assert mail.deliver_pending(app, now=start).sent == 0  # backing off: not tried again at once
    assert mail.deliver_pending(app, now=start + dt.timedelta(minutes=2)).sent == 1
    [row] = rows(engine)
    assert row.sent_at is not None and row.attempts == 2 and smtp.sent == ["Message 0"]


def test_delivery_gives_up_after_max_attempts_and_keeps_the_row(app, engine, smtp):
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    queue(engine, 1)
    smtp.fail = True
    later = utcnow()
    assert mail.deliver_pending(app, now=later).failed == 1
    later += dt.timedelta(hours=3)
    assert mail.deliver_pending(app, now=later).gave_up == 1
    smtp.fail = False
    assert mail.deliver_pending(app, now=later + dt.timedelta(days=1)).sent == 0
    [row] = rows(engine)
    assert row.sent_at is None and row.attempts == 2 and row.last_error and smtp.sent == []


def test_a_failing_smtp_in_after_request_mode_does_not_fail_the_request(app, client, engine, smtp, mail_routes):
    app.config["MAIL_DELIVERY"] = "after_request"
    smtp.fail = True
    assert client.post("/_test/mail/committed").status_code == 200
    [row] = rows(engine)
    assert row.sent_at is None and row.attempts == 1  # kept for the next run


def test_two_deliverers_at_once_send_each_message_once(app, engine, smtp):
    """Two processes' worth of deliverers (threads, separate sessions) racing over one queue."""
    queue(engine, 12)
    smtp.delay = 0.02  # a slow server: each claim is held while the other deliverer looks
    start = threading.Barrier(2)
    reports, errors = [], []

    def run():
        try:
            start.wait()
            reports.append(mail.deliver_pending(app))
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(smtp.sent) == sorted(f"Message {i}" for i in range(12))  # each exactly once
    assert sum(r.sent for r in reports) == 12
    assert all(r.sent_at is not None and r.attempts == 1 for r in rows(engine))


# --------------------------------------------------------------------------- CLI and the dev page


def test_cli_mail_deliver(app, runner, engine):
    queue(engine, 3)
    result = runner.invoke(args=["mail", "deliver", "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "2 sent, 0 failed" in result.output and len(eml_files(app)) == 2
    result = runner.invoke(args=["mail", "deliver"])
    assert "1 sent, 0 failed" in result.output and len(eml_files(app)) == 3
    assert runner.invoke(args=["mail", "deliver", "--limit", "0"]).exit_code != 0


def test_cli_reports_failures(app, runner, engine, smtp):
    queue(engine, 1)
    smtp.fail = True
    result = runner.invoke(args=["mail", "deliver"])
    assert result.exit_code == 0 and "0 sent, 1 failed (will retry)" in result.output
    assert "Connection refused" in result.output


def test_dev_outbox_lists_pending_and_sent_newest_first(app, client, engine, make_person, sign_in):
    sign_in(make_person("admin@example.org", role="admin"))  # admins only (issue 14, finding 7)
    queue(engine, 1)
    mail.deliver_pending(app)
    with open_session(engine, write=True) as s:
        mail.send(to="ben@example.org", subject="Still waiting", body="Pending body\n", session=s)
        s.commit()
    page = client.get("/dev/outbox").get_data(as_text=True)
    assert page.index("Still waiting") < page.index("Message 0")
    assert "govuk-tag--yellow\">Pending" in page and "govuk-tag--green\">Sent" in page and "ben@example.org" in page


def test_production_defaults_to_the_queue(app):
    from wsgi import ConfigurationError, create_app

    assert app.config["MAIL_DELIVERY"] == "after_request"
    prod = create_app({"ENV_NAME": "production", "SECRET_KEY": "p" * 40, "TOTP_KEYS": PROD_TOTP_KEYS,
                       "DATABASE_URL": app.config["DATABASE_URL"]})
    assert prod.config["MAIL_DELIVERY"] == "queue"
    get_engine(prod).dispose()
    with pytest.raises(ConfigurationError):
        create_app({"ENV_NAME": "testing", "SECRET_KEY": "t" * 40, "MAIL_DELIVERY": "cron",
                    "DATABASE_URL": app.config["DATABASE_URL"]})


def test_the_migration_adds_the_pending_index(engine):
    assert "ix_mail_message_pending" in {i["name"] for i in inspect(engine).get_indexes("mail_message")}


def test_an_invitation_is_queued_and_delivered_after_the_request(app, client, engine, make_person, sign_in):
    """A real view: the invitation is queued with the invitation and delivered after the request."""
    sign_in(make_person("admin@example.org", role="admin"))
    response = client.post("/admin/invite", data={"email": "new@example.org", "role": "finance", "team_id": 0})
    assert response.status_code == 302
    [row] = rows(engine)
    assert row.to_address == "new@example.org" and row.sent_at is not None
    assert "/invitations/" in eml_files(app)[0].read_text()


def test_residents_without_email_are_never_mailed(app, session, engine):
    """Assisted sign-up's placeholder addresses (NO_EMAIL_DOMAIN) and deleted accounts'
    (.invalid, RFC 2606): ``send`` queues nothing, and a row queued anyway is never sent."""
    placeholder = f"assisted-0123456789abcdef0123@{mail.NO_EMAIL_DOMAIN}"
    assert mail.send(to=placeholder, subject="Your vote", body="x", session=session) is None
    assert mail.send(to="deleted-1-ab@deleted.invalid", subject="Hello", body="x", session=session) is None
    session.commit()
    assert rows(engine) == []
    with open_session(engine, write=True) as s:  # queued before the check existed, or by hand
        s.add(MailMessage(to_address=placeholder, subject="Old", body="x"))
        s.add(MailMessage(to_address="rita@example.org", subject="Real", body="y"))
        s.commit()
    report = mail.deliver_pending(app)
    assert (report.sent, report.gave_up) == (1, 1)
    assert [p.read_text().count(mail.NO_EMAIL_DOMAIN) for p in eml_files(app)] == [0]
    assert mail.deliver_pending(app).sent == 0  # never tried again
    (skipped,) = [r for r in rows(engine) if r.to_address == placeholder]
    assert skipped.sent_at is None and "no email address" in skipped.last_error
