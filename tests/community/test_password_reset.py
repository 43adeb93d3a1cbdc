"""Password reset by an emailed, single-use, 30-minute link whose token is stored only as SHA-256
(issue 14): the services, then the pages."""

import datetime as dt
import email
import email.policy
import hashlib
import re
from pathlib import Path

import pyotp
import pytest
from sqlmodel import func, select

from community import services
from community.db import open_session, utcnow
from community.errors import DomainError, InvalidCredentials, ResetLinkInvalid
from community.models import AuditEvent, AuthSession, MailMessage, PasswordReset, Person
from tests.support.factories import PASSWORD

NEW = "a brand new long password"
LINK = re.compile(r"/reset-password/([A-Za-z0-9_-]{43})")


def _request(session, address="rita@example.org", **kwargs) -> str | None:
    """Ask for a link; the token it carries (None when no link was made)."""
    made = []
    services.request_password_reset(session=session, email=address,
                                    link=lambda t: made.append(t) or f"http://x/reset-password/{t}", **kwargs)
    session.commit()
    return made[0] if made else None


def _rows(session, model) -> int:
    with open_session(session.get_bind().engine, write=False) as reader:
        return reader.exec(select(func.count()).select_from(model)).one()


# ---- services ------------------------------------------------------------------------------


def test_a_reset_link_sets_a_new_password_and_works_once(session, make_person):
    person = make_person()
    token = _request(session)
    services.reset_password(session=session, token=token, password=NEW)
    session.commit()
    assert services.authenticate(session, email=person.email, password=NEW).id == person.id
    with pytest.raises(InvalidCredentials):
        services.authenticate(session, email=person.email, password=PASSWORD)
    with pytest.raises(ResetLinkInvalid) as used:
        services.reset_password(session=session, token=token, password="yet another long one")
    assert used.value.reason == "used" and "already been used" in used.value.message


def test_only_the_sha256_of_the_token_is_stored_and_the_link_lasts_30_minutes(session, make_person):
    make_person()
    token = _request(session)
    row = session.exec(select(PasswordReset)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in repr(row)
    assert row.expires_at - row.created_at == dt.timedelta(minutes=30)
    body = session.exec(select(MailMessage.body)).one()
    assert f"/reset-password/{token}" in body


def test_an_expired_link_is_refused_and_nothing_changes(session, make_person):
    person = make_person()
    token = _request(session, now=utcnow() - dt.timedelta(minutes=31))
    with pytest.raises(ResetLinkInvalid) as expired:
        services.reset_password(session=session, token=token, password=NEW)
    assert expired.value.reason == "expired" and "expired" in expired.value.message
    session.rollback()
    assert services.authenticate(session, email=person.email, password=PASSWORD)
    assert session.exec(select(PasswordReset)).one().used_at is None


def test_a_link_29_minutes_old_still_works(session, make_person):
    make_person()
    token = _request(session, now=utcnow() - dt.timedelta(minutes=29))
    services.reset_password(session=session, token=token, password=NEW)


@pytest.mark.parametrize("token", ["x" * 43, "not-a-token", "", "a" * 500, "../../etc/passwd"])
def test_a_forged_link_is_refused(session, make_person, token):
    make_person()
    _request(session)
    with pytest.raises(ResetLinkInvalid) as forged:
        services.reset_password(session=session, token=token, password=NEW)
    assert forged.value.reason == "unknown"


def test_a_reset_revokes_every_session_audits_and_emails(session, make_person):
    person = make_person()
    for _ in range(3):
        services.start_session(session, person=person, second_factor=False)
    session.commit()
    token = _request(session)
    services.reset_password(session=session, token=token, password=NEW)
    session.commit()
    assert [s.revoked_at is not None for s in session.exec(select(AuthSession))] == [True] * 3
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "password.reset")).one().actor_id == person.id
    subjects = session.exec(select(MailMessage.subject).order_by(MailMessage.id)).all()
    assert subjects[-1] == "Your password was changed"


def test_an_unknown_email_gets_the_same_answer_and_the_same_hashing(session, make_person, monkeypatch):
    make_person()
    hashed = []
    real = services.token_hash
    monkeypatch.setattr(services, "token_hash", lambda t: hashed.append(t) or real(t))
    assert services.request_password_reset(session=session, email="nobody@example.org", link=str) is None
    assert len(hashed) == 1  # the token was made and hashed as for a real account
    assert _request(session, "nobody@example.org") is None
    assert _rows(session, PasswordReset) == 0 and _rows(session, MailMessage) == 0
    hashed.clear()
    assert services.request_password_reset(session=session, email="Rita@Example.org ", link=str) is None
    assert len(hashed) == 1


def test_a_disabled_account_gets_no_link(session, make_person):
    person = make_person()
    person.is_active = False
    session.add(person)
    session.commit()
    assert _request(session) is None and _rows(session, MailMessage) == 0


def test_at_most_three_links_per_person_in_30_minutes(session, make_person):
    make_person()
    tokens = [_request(session) for _ in range(4)]
    assert all(tokens[:3]) and tokens[3] is None
    assert _rows(session, PasswordReset) == 3 and _rows(session, MailMessage) == 3
    assert _request(session, now=utcnow() + dt.timedelta(minutes=31)) is not None  # the window moves on


def test_a_weak_password_is_refused_beside_the_field_and_the_link_still_works(session, make_person):
    make_person()
    token = _request(session)
    for weak in ("short", "password123"):
        with pytest.raises(DomainError) as refused:
            services.reset_password(session=session, token=token, password=weak)
        assert refused.value.field == "password"
        session.rollback()
    assert session.exec(select(PasswordReset)).one().used_at is None
    services.reset_password(session=session, token=token, password=NEW)


def test_using_one_link_ends_the_others(session, make_person):
    make_person()
    first, second = _request(session), _request(session)
    services.reset_password(session=session, token=second, password=NEW)
    session.commit()
    with pytest.raises(ResetLinkInvalid):
        services.reset_password(session=session, token=first, password="yet another long one")


def test_two_uses_that_both_passed_the_check_get_one_success(session, engine, make_person, monkeypatch):
    """The race: two requests read the link as unused before either writes. The conditional
    UPDATE (WHERE used_at IS NULL) lets only the first through."""
    make_person()
    token = _request(session)
    stale = services.check_password_reset(session=session, token=token)
    session.expunge(stale)
    session.commit()
    monkeypatch.setattr(services, "check_password_reset", lambda **_: stale)
    with open_session(engine, write=True) as first:
        services.reset_password(session=first, token=token, password=NEW)
        first.commit()
    with open_session(engine, write=True) as second, pytest.raises(ResetLinkInvalid) as late:
        services.reset_password(session=second, token=token, password="the attacker's password")
    assert late.value.reason == "used"
    assert services.authenticate(session, email="rita@example.org", password=NEW)


def test_a_reset_keeps_the_second_factor(session, make_person, place_and_team):
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    secret = person.totp_secret
    token = _request(session, "m@example.org")
    services.reset_password(session=session, token=token, password=NEW)
    session.commit()
    session.expire_all()
    assert session.get(Person, person.id).totp_secret == secret
    assert services.needs_second_factor(session, person=session.get(Person, person.id))


# ---- pages ---------------------------------------------------------------------------------


def _mails(app) -> list[tuple[str, str, str]]:
    """(to, subject, body) of each delivered email, oldest first."""
    found = []
    for path in sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append((message["To"], message["Subject"], message.get_content()))
    return found


def _link_for(app, address: str) -> str:
    bodies = [b for to, _, b in _mails(app) if to == address and LINK.search(b)]
    return LINK.search(bodies[-1]).group(0)


def _without_csrf(text: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", text)


def test_sign_in_links_to_forgot_your_password(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/forgot-password"' in page and "Forgot your password?" in page
    assert client.get("/forgot-password").status_code == 200


def test_forgot_password_answers_the_same_for_an_unknown_email(app, make_person):
    make_person()
    known, unknown = app.test_client(), app.test_client()
    answers = []
    for client, address in ((known, "rita@example.org"), (unknown, "nobody@example.org")):
        response = client.post("/forgot-password", data={"email": address})
        page = client.get(response.headers["Location"])
        answers.append((response.status_code, response.headers["Location"], page.status_code,
                        _without_csrf(page.get_data(as_text=True))))
    assert answers[0] == answers[1]
    assert answers[0][:3] == (302, "/forgot-password/done", 200) and "Check your email" in answers[0][3]
    assert [to for to, _, _ in _mails(app)] == ["rita@example.org"]


def test_forgot_password_bad_email_shows_a_message_and_writes_nothing(client, session, make_person):
    make_person()
    response = client.post("/forgot-password", data={"email": "not an email"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "govuk-error-message" in body and "Enter an email address like" in body
    assert _rows(session, PasswordReset) == 0


def test_reset_end_to_end_signs_everyone_out_and_the_new_password_works(app, client, session, make_person):
    person = make_person()
    elsewhere = app.test_client()
    elsewhere.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    assert elsewhere.get("/account").status_code == 200
    client.post("/forgot-password", data={"email": person.email})
    link = _link_for(app, person.email)
    assert "Choose a new password" in client.get(link).get_data(as_text=True)
    weak = client.post(link, data={"password": "short"})
    assert weak.status_code == 200 and "8 characters or more" in weak.get_data(as_text=True)
    with open_session(session.get_bind().engine, write=False) as reader:  # the test's session would lock SQLite
        assert reader.exec(select(PasswordReset)).one().used_at is None  # nothing written
    done = client.post(link, data={"password": NEW})
    assert done.status_code == 302 and done.headers["Location"] == "/sign-in"
    assert "Your password has been changed" in client.get("/sign-in").get_data(as_text=True)
    assert elsewhere.get("/account").status_code == 302  # that session was revoked
    assert _mails(app)[-1][:2] == (person.email, "Your password was changed")
    again = client.get(link)
    assert again.status_code == 410 and "This link has been used" in again.get_data(as_text=True)
    assert client.post(link, data={"password": "yet another long one"}).status_code == 410
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    assert client.get("/account").status_code == 302
    client.post("/sign-in", data={"email": person.email, "password": NEW})
    assert client.get("/account").status_code == 200


def test_expired_and_forged_links_each_get_a_clear_page(app, client, session, make_person):
    make_person()
    token = _request(session, now=utcnow() - dt.timedelta(minutes=45))
    expired = client.get(f"/reset-password/{token}")
    assert expired.status_code == 410 and "This link has expired" in expired.get_data(as_text=True)
    assert client.post(f"/reset-password/{token}", data={"password": NEW}).status_code == 410
    for forged in ("A" * 43, "nonsense", "%00", "x" * 300):
        page = client.get(f"/reset-password/{forged}")
        assert page.status_code == 404 and "This link is not valid" in page.get_data(as_text=True), forged
        assert 'href="/forgot-password"' in page.get_data(as_text=True)


def test_a_signed_in_person_who_resets_is_signed_out(app, client, session, make_person, sign_in):
    person = make_person()
    sign_in(person)
    client.post("/forgot-password", data={"email": person.email})
    client.post(_link_for(app, person.email), data={"password": NEW})
    assert client.get("/account").status_code == 302


def test_staff_still_need_their_second_factor_after_a_reset(app, client, session, make_person, place_and_team):
    member = make_person("m@example.org", role="member", team=place_and_team[1])
    client.post("/forgot-password", data={"email": member.email})
    client.post(_link_for(app, member.email), data={"password": NEW})
    response = client.post("/sign-in", data={"email": member.email, "password": NEW})
    assert response.headers["Location"].endswith("/sign-in/code")
    assert client.get("/staff").status_code == 302 and client.get("/account").status_code == 302
    client.post("/sign-in/code", data={"code": pyotp.TOTP(member.totp_secret).now()})
    assert client.get("/staff").status_code == 200


def test_a_reset_ends_a_half_finished_sign_in_made_with_the_old_password(app, client, make_person, place_and_team):
    member = make_person("m@example.org", role="member", team=place_and_team[1])
    attacker = app.test_client()
    assert attacker.post("/sign-in", data={"email": member.email, "password": PASSWORD}
                         ).headers["Location"].endswith("/sign-in/code")
    client.post("/forgot-password", data={"email": member.email})
    client.post(_link_for(app, member.email), data={"password": NEW})
    page = attacker.post("/sign-in/code", data={"code": pyotp.TOTP(member.totp_secret).now()})
    assert page.status_code == 302 and page.headers["Location"] == "/sign-in"
    assert attacker.get("/account").status_code == 302


@pytest.fixture
def limited(database_url, tmp_path):
    from community.limits import limiter
    from tests.conftest import TEST_SECRET
    from wsgi import create_app

    app = create_app({"ENV_NAME": "testing", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": database_url,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                      "OUTBOX_DIR": str(tmp_path / "outbox")})
    limiter.reset()
    yield app
    limiter.reset()


def test_forgot_password_is_rate_limited_per_email(limited):
    client = limited.test_client()
    statuses = [client.post("/forgot-password", data={"email": "Someone@example.org"}).status_code for _ in range(3)]
    statuses.append(client.post("/forgot-password", data={"email": " someone@example.org"}).status_code)
    assert statuses == [302, 302, 302, 429]
    assert client.post("/forgot-password", data={"email": "other@example.org"}).status_code == 302


def test_forgot_password_is_rate_limited_per_address(limited):
    client = limited.test_client()
    statuses = [client.post("/forgot-password", data={"email": f"p{i}@example.org"}).status_code for i in range(11)]
    assert statuses == [302] * 10 + [429]
