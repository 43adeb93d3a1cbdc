"""GOV.UK Notify as the outbox's backend, text messages, and UK mobile numbers (issue 16).

No real Notify is reachable: a local HTTP server answers the documented API (``POST
/v2/notifications/email`` and ``/sms``, 201 with the documented body; its 400, 403, 429 and 500
error bodies), checking the client's JWT (HS256 with the key's secret, ``iss`` the service id,
``iat`` now). The app's ``NOTIFY_BASE_URL`` points the client at it."""

import datetime as dt
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from sqlalchemy import select

from community import mail, notify
from community.db import utcnow
from community.models import MailMessage, NotificationPreference, Person

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
FAKE_KEY = f"thriving_test-{SERVICE_ID}-{SECRET}"
EMAIL_TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
SMS_TEMPLATE = "a4b5c6d7-1111-4222-8333-944445555666"

ERRORS = {
    400: {"status_code": 400, "errors": [{"error": "BadRequestError",
                                          "message": "Can't send to this recipient using a team-only API key"}]},
    403: {"status_code": 403, "errors": [{"error": "AuthError", "message": "Invalid token: API key not found"}]},
    429: {"status_code": 429, "errors": [{"error": "RateLimitError",
                                          "message": "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"}]},
    500: {"status_code": 500, "errors": [{"error": "Exception", "message": "Internal server error"}]},
}


class FakeNotify:
    """The local Notify: records each accepted request; ``answers`` (a list of status codes)
    is used up first, one per request, then 201."""

    def __init__(self):
        self.requests, self.answers, self.refused_tokens = [], [], []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path not in ("/v2/notifications/email", "/v2/notifications/sms"):
                    return self._answer(404, {"status_code": 404, "errors": [{"error": "NotFound"}]})
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                try:
                    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
                    assert claims["iss"] == SERVICE_ID and abs(claims["iat"] - time.time()) < 30
                except (jwt.InvalidTokenError, AssertionError, KeyError):
                    fake.refused_tokens.append(token)
                    return self._answer(403, ERRORS[403])
                if fake.answers:
                    status = fake.answers.pop(0)
                    return self._answer(status, ERRORS[status])
                fake.requests.append((self.path, body))
                self._answer(201, self._created(body))

            def _created(self, body):
                content = ({"body": body["personalisation"]["body"], "from_number": "GOVUK"}
                           if self.path.endswith("sms") else
                           {"body": body["personalisation"]["body"], "subject": body["personalisation"]["subject"],
                            "from_email": "thriving@notifications.service.gov.uk"})
                nid = str(uuid.uuid4())
                return {"id": nid, "reference": body.get("reference"), "content": content,
                        "uri": f"https://api.notifications.service.gov.uk/v2/notifications/{nid}",
                        "template": {"id": body["template_id"], "version": 1,
                                     "uri": f"https://api.notifications.service.gov.uk/v2/template/{body['template_id']}"}}

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_notify(app):
    server = FakeNotify()
    app.config.update(NOTIFY_API_KEY=FAKE_KEY, NOTIFY_EMAIL_TEMPLATE_ID=EMAIL_TEMPLATE,
                      NOTIFY_SMS_TEMPLATE_ID=SMS_TEMPLATE, NOTIFY_BASE_URL=server.url, MAIL_DELIVERY="queue")
    yield server
    server.close()


def _row(session, message_id):
    """A snapshot of the row; the test's transaction is ended (SQLite's one writer is free)."""
    from types import SimpleNamespace

    session.expire_all()
    row = session.get(MailMessage, message_id)
    snapshot = SimpleNamespace(**{c.name: getattr(row, c.name) for c in MailMessage.__table__.columns})
    session.rollback()
    return snapshot


def test_an_email_goes_through_notify_with_its_row_id_as_reference(app, session, fake_notify):
    header = "<https://thriving.example/unsubscribe/abc>, <mailto:unsubscribe@thriving.example?subject=x>"
    message_id = mail.send(session=session, to="rita@example.org", subject="The results", body="Hello Rita",
                           list_unsubscribe=header)
    session.commit()
    report = mail.deliver_pending(app)
    assert (report.sent, report.failed, report.gave_up) == (1, 0, 0)
    [(path, body)] = fake_notify.requests
    assert path == "/v2/notifications/email"
    assert body == {"email_address": "rita@example.org", "template_id": EMAIL_TEMPLATE,
                    "personalisation": {"subject": "The results", "body": "Hello Rita"},
                    "reference": str(message_id), "one_click_unsubscribe_url": "https://thriving.example/unsubscribe/abc"}
    assert _row(session, message_id).sent_at is not None
    assert not fake_notify.refused_tokens


def test_a_text_goes_through_notify(app, session, fake_notify):
    message_id = mail.send_text(session=session, to_phone="+447700900982", body="Last chance to vote")
    session.commit()
    assert mail.deliver_pending(app).sent == 1
    [(path, body)] = fake_notify.requests
    assert path == "/v2/notifications/sms"
    assert body == {"phone_number": "+447700900982", "template_id": SMS_TEMPLATE,
                    "personalisation": {"body": "Last chance to vote"}, "reference": str(message_id)}


def test_a_text_without_notify_is_given_up_with_the_reason(app, session):
    message_id = mail.send_text(session=session, to_phone="+447700900982", body="Hello")
    session.commit()
    assert mail.deliver_pending(app).gave_up == 1
    assert "THRIVING_NOTIFY_API_KEY" in _row(session, message_id).last_error


@pytest.mark.parametrize("status", [400, 403])
def test_a_400_or_403_gives_up_at_once_with_the_reason(app, session, fake_notify, status):
    fake_notify.answers = [status]
    message_id = mail.send(session=session, to="rita@example.org", subject="Hi", body="Hello")
    session.commit()
    report = mail.deliver_pending(app)
    assert (report.sent, report.failed, report.gave_up) == (0, 0, 1)
    row = _row(session, message_id)
    assert row.sent_at is None and row.attempts == app.config["MAIL_MAX_ATTEMPTS"]
    assert ERRORS[status]["errors"][0]["message"] in row.last_error
    assert mail.deliver_pending(app, now=utcnow() + dt.timedelta(days=1)).sent == 0  # never again
    assert fake_notify.requests == []


@pytest.mark.parametrize("status", [429, 500])
def test_a_429_or_500_is_retried_after_the_back_off_then_sent(app, session, fake_notify, status):
    fake_notify.answers = [status]
    message_id = mail.send_text(session=session, to_phone="+447700900982", body="Hello")
    session.commit()
    now = utcnow()
    first = mail.deliver_pending(app, now=now)
    assert (first.sent, first.failed) == (0, 1)
    row = _row(session, message_id)
    assert row.attempts == 1 and str(status) in row.last_error and row.next_attempt_at > now
    assert mail.deliver_pending(app, now=now).sent == 0  # not before the back-off
    assert mail.deliver_pending(app, now=now + dt.timedelta(minutes=2)).sent == 1
    assert len(fake_notify.requests) == 1 and _row(session, message_id).sent_at is not None


def test_no_connection_is_retried_too(app, session, fake_notify):
    app.config["NOTIFY_BASE_URL"] = "http://127.0.0.1:1"  # nothing listens there
    mail.send(session=session, to="rita@example.org", subject="Hi", body="Hello")
    session.commit()
    assert mail.deliver_pending(app).failed == 1


def test_it_gives_up_after_the_maximum_attempts(app, session, fake_notify):
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    fake_notify.answers = [500] * 3
    message_id = mail.send(session=session, to="rita@example.org", subject="Hi", body="Hello")
    session.commit()
    reports = [mail.deliver_pending(app, now=utcnow() + dt.timedelta(hours=3 * n)) for n in range(4)]
    assert [(r.failed, r.gave_up) for r in reports] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    row = _row(session, message_id)
    assert row.sent_at is None and row.attempts == 3 and fake_notify.requests == []


# --------------------------------------------------------------------------- texts queued


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _choose(session, person, channel, phone=None):
    notify.set_preferences(session=session, person=person, choices=dict.fromkeys(notify.KINDS, channel),
                           phone=phone)
    session.commit()


def test_a_text_is_queued_for_a_person_who_chose_texts_and_none_for_email_only(
        app, session, make_person, fake_notify, ctx):
    rita, sue = make_person(), make_person("sue@example.org")
    _choose(session, rita, "sms", "07700 900982")
    for person in (rita, sue, rita):  # rita twice: idempotent per event and person
        notify.notify(session=session, person=person, kind="round_opened", event="round:1", subject="A vote",
                      body="Hello, a long email", text="A vote is open: https://x.example/r/1")
    people = session.execute(select(Person).where(Person.id.in_([rita.id, sue.id]))).scalars().all()
    notify.notify_many(session=session, people=people, kind="round_closing", event="round:1",
                       write=lambda p: ("Last chance", "Hello", "Last chance: vote"))
    notify.notify_many(session=session, people=people, kind="round_closing", event="round:1",
                       write=lambda p: ("Last chance", "Hello", "Last chance: vote"))
    session.commit()
    rows = session.execute(select(MailMessage).order_by(MailMessage.id)).scalars().all()
    texts = [(m.to_phone, m.body.splitlines()[0]) for m in rows if m.channel == "sms"]
    assert texts == [("+447700900982", "A vote is open: https://x.example/r/1"),
                     ("+447700900982", "Last chance: vote")]
    assert [m.to_address for m in rows if m.channel == "email"] == ["sue@example.org", "sue@example.org"]


def test_an_email_row_cannot_have_a_phone_nor_a_text_lack_one(session):
    from sqlalchemy.exc import IntegrityError

    for row in ({"channel": "sms", "to_phone": None}, {"channel": "email", "to_phone": "+447700900982"},
                {"channel": "fax", "to_phone": None}):
        with pytest.raises(IntegrityError):
            session.execute(mail._QUEUE, {"to_address": "", "subject": "", "body": "x", "created_at": utcnow(),
                                          "attempts": 0, **row})
        session.rollback()


# --------------------------------------------------------------------------- phone numbers


@pytest.mark.parametrize(("typed", "stored"), [
    ("07700 900982", "+447700900982"), ("07700900982", "+447700900982"), ("+44 7700 900982", "+447700900982"),
    ("(07700) 900-982", "+447700900982"), ("0044 7700 900 982", "+447700900982"), ("07911 123456", "+447911123456"),
])
def test_a_uk_mobile_in_any_usual_format_is_stored_in_e164(client, session, make_person, sign_in, fake_notify,
                                                            typed, stored):
    rita = make_person()
    sign_in(rita)
    response = client.post("/account/notifications", data={**dict.fromkeys(notify.KINDS, "email"),
                                                           "round_closing": "sms", "phone": typed})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Person, rita.id).phone == stored


@pytest.mark.parametrize(("typed", "error"), [
    ("", "Enter a UK mobile number to get text messages"),
    ("01623 123456", "not a landline"),
    ("0800 123 4567", "not a landline"),
    ("07700 900", "Enter a UK mobile number, like 07700 900 982"),
    ("07700 9OO982", "Enter a UK mobile number, like 07700 900 982"),
    ("call me", "Enter a UK mobile number, like 07700 900 982"),
    ("+1 202 555 0143", "outside the UK"),
    ("+33 6 12 34 56 78", "outside the UK"),
])
def test_a_wrong_number_is_refused_beside_the_field_and_nothing_is_written(
        client, session, make_person, sign_in, fake_notify, typed, error):
    rita = make_person()
    sign_in(rita)
    response = client.post("/account/notifications", data={**dict.fromkeys(notify.KINDS, "email"),
                                                           "round_closing": "sms", "phone": typed})
    assert response.status_code == 400
    assert 'id="phone-error"' in response.text and error in response.text
    session.expire_all()
    assert session.get(Person, rita.id).phone is None
    assert session.execute(select(NotificationPreference)).first() is None


def test_the_number_is_asked_only_when_notify_is_configured(client, app, make_person, sign_in):
    rita = make_person()
    sign_in(rita)
    assert 'name="phone"' not in client.get("/account").text
    app.config["NOTIFY_API_KEY"] = FAKE_KEY
    page = client.get("/account").text
    assert 'name="phone"' in page and 'value="sms"' in page and 'type="tel"' in page


def test_the_number_is_removed_when_texts_are_no_longer_chosen(client, session, make_person, sign_in, fake_notify):
    rita = make_person()
    sign_in(rita)
    choices = dict.fromkeys(notify.KINDS, "email")
    client.post("/account/notifications", data={**choices, "round_results": "sms", "phone": "07700 900982"})
    session.expire_all()
    assert session.get(Person, rita.id).phone == "+447700900982"
    session.rollback()
    assert client.post("/account/notifications", data={**choices, "phone": "07700 900982"}).status_code == 302
    session.expire_all()
    assert session.get(Person, rita.id).phone is None


def test_a_contact_number_not_given_for_texts_is_kept(client, session, make_person, sign_in, fake_notify):
    """An assisted sign-up's contact number (any phone, for the team to ring) is not the
    notifications form's: saving email-only choices leaves it."""
    rita = make_person()
    rita.phone = "01246 123456"
    session.add(rita)
    session.commit()
    sign_in(rita)
    assert client.post("/account/notifications", data=dict.fromkeys(notify.KINDS, "email")).status_code == 302
    session.expire_all()
    assert session.get(Person, rita.id).phone == "01246 123456"


def test_an_overlapping_run_queues_nothing_twice(session, make_person, ctx, monkeypatch):
    """Two reminder runs at once: the second read "already told" before the first committed, so
    only the unique key of notification_sent stands between them."""
    people = [make_person(f"r{i}@example.org") for i in range(3)]
    monkeypatch.setattr(notify, "already_notified", lambda **_kw: set())  # the overlapping run's stale read
    write = lambda p: ("Last chance", "Hello", "Last chance")  # noqa: E731
    first = notify.notify_many(session=session, people=people, kind="round_closing", event="round:9", write=write)
    second = notify.notify_many(session=session, people=people, kind="round_closing", event="round:9", write=write)
    session.commit()
    assert (first, second) == (3, 0)
    assert len(session.execute(select(MailMessage)).scalars().all()) == 3
