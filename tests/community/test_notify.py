"""Notification preferences, the account page's form, and the one-click unsubscribe (issue 16)."""

import datetime as dt

import pytest
from sqlalchemy import select

from community import notify
from community.errors import DomainError
from community.models import NotificationPreference, Person
from tests.conftest import TEST_SECRET


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _get(session, person):
    session.expire_all()
    return session.get(Person, person.id)


def test_every_kind_defaults_to_email_and_the_reminder_is_on(session, make_person, ctx):
    rita = make_person()
    assert set(notify.preferences(session=session, person=rita).values()) == {"email"}
    assert notify.wants(session=session, person=rita, kind="round_closing") == "email"


def test_turning_a_kind_off_changes_that_kind_only(session, make_person, ctx):
    rita = make_person()
    notify.set_preferences(session=session, person=rita, choices={"round_opened": "none"})
    notify.set_preferences(session=session, person=rita, choices={"round_opened": "none"})  # a row per kind
    session.commit()
    assert notify.wants(session=session, person=rita, kind="round_opened") is None
    assert notify.wants(session=session, person=rita, kind="round_results") == "email"


def test_text_messages_are_offered_only_with_notify(app, session, make_person, ctx):
    rita = make_person()
    assert "sms" not in notify.channels_for(rita)
    app.config["NOTIFY_API_KEY"] = "key"
    assert "sms" in notify.channels_for(rita)  # the page then asks for the mobile number
    with pytest.raises(DomainError):
        app.config["NOTIFY_API_KEY"] = None
        notify.set_preferences(session=session, person=rita, choices={"round_opened": "sms"})


def test_the_account_page_shows_the_choices_and_saves_them(client, session, make_person, sign_in):
    rita = make_person()
    sign_in(rita)
    page = client.get("/account")
    assert "What you are told about" in page.text and 'name="round_closing"' in page.text
    assert 'value="sms"' not in page.text
    choices = {kind: "email" for kind in notify.KINDS} | {"round_opened": "none"}
    response = client.post("/account/notifications", data=choices)
    assert response.status_code == 302
    session.expire_all()
    stored = dict(session.execute(select(NotificationPreference.kind, NotificationPreference.channel)
                                  .where(NotificationPreference.person_id == rita.id)).all())
    assert stored["round_opened"] == "none" and stored["round_results"] == "email"


def test_a_channel_not_offered_is_refused_beside_the_field_and_nothing_is_saved(client, session, make_person,
                                                                               sign_in):
    rita = make_person()
    sign_in(rita)
    choices = {kind: "email" for kind in notify.KINDS} | {"round_opened": "sms"}
    response = client.post("/account/notifications", data=choices)
    assert response.status_code == 400 and "govuk-error-summary" in response.text
    assert session.execute(select(NotificationPreference)).first() is None


def test_the_token_names_its_person_and_kind(make_person, ctx):
    token = notify.unsubscribe_token(TEST_SECRET, person_id=7, kind="round_opened")
    assert notify.read_unsubscribe_token(TEST_SECRET, token) == (7, "round_opened")


def test_a_tampered_or_foreign_token_is_refused(ctx):
    token = notify.unsubscribe_token(TEST_SECRET, person_id=7, kind="round_opened")
    other = notify.unsubscribe_token(TEST_SECRET, person_id=8, kind="round_results")
    payload, stamp, signature = token.split(".")
    for bad in (payload + "x." + stamp + "." + signature, other.split(".")[0] + "." + stamp + "." + signature,
                notify.unsubscribe_token("another-secret" * 4, person_id=7, kind="round_opened"), "nonsense"):
        with pytest.raises(notify.UnsubscribeLinkInvalid) as error:
            notify.read_unsubscribe_token(TEST_SECRET, bad)
        assert not error.value.expired


def test_an_old_token_is_expired(ctx):
    token = notify.unsubscribe_token(TEST_SECRET, person_id=7, kind="round_opened")
    later = dt.datetime.now(dt.UTC) + notify.UNSUBSCRIBE_MAX_AGE + dt.timedelta(days=1)
    with pytest.raises(notify.UnsubscribeLinkInvalid) as error:
        notify.read_unsubscribe_token(TEST_SECRET, token, now=later)
    assert error.value.expired


def test_the_link_shows_a_button_and_the_post_turns_off_that_kind_only(client, session, make_person):
    rita, sue = make_person(), make_person("sue@example.org")
    token = notify.unsubscribe_token(TEST_SECRET, person_id=rita.id, kind="round_opened")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "Unsubscribe</button>" in page.text
    assert session.execute(select(NotificationPreference)).first() is None  # a GET changes nothing
    session.rollback()  # end the test's read before the request writes (SQLite's one writer)
    done = client.post(f"/unsubscribe/{token}")
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    session.expire_all()
    with client.application.app_context():
        assert notify.wants(session=session, person=rita, kind="round_opened") is None
        assert notify.wants(session=session, person=rita, kind="round_results") == "email"
        assert notify.wants(session=session, person=sue, kind="round_opened") == "email"


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_bad_link_gets_a_400_page_and_an_old_one_410(client, make_person, method, monkeypatch):
    rita = make_person()
    assert getattr(client, method)("/unsubscribe/not-a-token").status_code == 400
    token = notify.unsubscribe_token(TEST_SECRET, person_id=rita.id, kind="round_opened")
    monkeypatch.setattr(notify, "UNSUBSCRIBE_MAX_AGE", dt.timedelta(seconds=-1))
    response = getattr(client, method)(f"/unsubscribe/{token}")
    assert response.status_code == 410 and "too old" in response.text


def test_the_one_click_post_works_without_a_session_or_csrf_token(app, session, make_person):
    """RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click", with no cookie and no token."""
    app.config["WTF_CSRF_ENABLED"] = True
    rita = make_person()
    token = notify.unsubscribe_token(TEST_SECRET, person_id=rita.id, kind="round_closing")
    client = app.test_client(use_cookies=False)
    response = client.post(f"/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    with app.app_context():
        session.expire_all()
        assert notify.wants(session=session, person=rita, kind="round_closing") is None
    assert client.post("/account/notifications", data={}).status_code in (302, 400)  # other routes keep CSRF


def test_a_notification_email_has_the_rfc_8058_headers(app, session, make_person, tmp_path):
    from community import mail

    rita = make_person()
    with app.app_context():
        assert notify.notify(session=session, person=rita, kind="round_opened", event="round:1", subject="Hi",
                             body="Body")
        assert not notify.notify(session=session, person=rita, kind="round_opened", event="round:1", subject="Hi",
                                 body="Body")  # the same event again: once
        session.commit()
        mail.deliver_pending(app)
    [eml] = (tmp_path / "outbox").glob("*.eml")
    text = eml.read_text()
    assert "List-Unsubscribe: <http://127.0.0.1:5000/unsubscribe/" in text and "mailto:unsubscribe@" in text
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in text
