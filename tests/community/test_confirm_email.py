"""Email confirmation at sign-up (issue 14): a single-use, 7-day, hashed link in the sign-up
email; until it is used the resident can look around but not vote, support, pledge or sign. A
password reset confirms too (the reset proves the mailbox). Then the sign-up rate limit."""

import datetime as dt
import hashlib
import re
from pathlib import Path

import pytest
from sqlmodel import select

from community import services
from community.db import open_session, utcnow
from community.errors import ConfirmLinkInvalid, InvalidCredentials
from community.models import EmailConfirmation, Person
from tests.support.factories import PASSWORD

CONFIRM = re.compile(r"/confirm-email/([A-Za-z0-9_-]{43})")


def _sign_up(session, email="new@example.org", password=PASSWORD) -> tuple[Person | None, str | None]:
    made = []
    person = services.request_sign_up(
        session=session, name="Nia Newcomer", email=email, password=password, postcode="NG20 8AA",
        sign_in_link="http://x/sign-in", reset_link="http://x/forgot-password",
        confirm_link=lambda t: made.append(t) or f"http://x/confirm-email/{t}")
    session.commit()
    return person, (made[0] if made else None)


# ---- services ------------------------------------------------------------------------------


def test_a_new_sign_up_is_unconfirmed_and_its_email_carries_a_hashed_7_day_link(session, place_and_team):
    person, token = _sign_up(session)
    assert person.email_confirmed_at is None and token
    row = session.exec(select(EmailConfirmation)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in repr(row)
    assert row.expires_at - row.created_at == dt.timedelta(days=7)


def test_confirming_needs_the_accounts_password_and_works_once(session, place_and_team):
    person, token = _sign_up(session)
    with pytest.raises(InvalidCredentials):
        services.confirm_email(session=session, token=token, password="not the password at all")
    session.rollback()
    assert session.get(Person, person.id).email_confirmed_at is None
    services.confirm_email(session=session, token=token, password=PASSWORD)
    session.commit()
    assert session.get(Person, person.id).email_confirmed_at is not None
    with pytest.raises(ConfirmLinkInvalid) as used:
        services.confirm_email(session=session, token=token, password=PASSWORD)
    assert used.value.reason == "used"


def test_expired_and_forged_confirmation_links_are_refused(session, place_and_team):
    _person, token = _sign_up(session)
    with pytest.raises(ConfirmLinkInvalid) as expired:
        services.check_email_confirmation(session=session, token=token, now=utcnow() + dt.timedelta(days=7, seconds=1))
    assert expired.value.reason == "expired"
    for forged in ("x" * 43, "", "../../etc", token[:-1] + ("A" if token[-1] != "A" else "B")):
        with pytest.raises(ConfirmLinkInvalid) as bad:
            services.check_email_confirmation(session=session, token=forged)
        assert bad.value.reason == "unknown"


def test_an_existing_address_gets_no_confirmation_link(session, place_and_team, make_person):
    make_person("taken@example.org")
    person, token = _sign_up(session, email="taken@example.org")
    assert person is None and token is None


def test_a_password_reset_confirms_the_address(session, place_and_team):
    """Finding 8's leftover: someone else made an unconfirmed account with your address; you
    reset its password (you get the email), which takes it over and confirms it."""
    person, _token = _sign_up(session)
    made = []
    services.request_password_reset(session=session, email=person.email, link=lambda t: made.append(t) or t)
    session.commit()
    services.reset_password(session=session, token=made[0], password="the real owners password")
    session.commit()
    assert session.get(Person, person.id).email_confirmed_at is not None


def test_resending_makes_a_new_link_and_is_throttled(session, place_and_team):
    person, first = _sign_up(session)
    links = []
    for _ in range(3):
        services.request_email_confirmation(session=session, person=person, link=lambda t: links.append(t) or t)
        session.commit()
    assert len(links) == 2  # the sign-up link counts: three in 30 minutes
    services.confirm_email(session=session, token=links[-1], password=PASSWORD)
    session.commit()
    with pytest.raises(ConfirmLinkInvalid):  # confirming retires the older links
        services.check_email_confirmation(session=session, token=first)


def test_existing_and_demo_people_count_as_confirmed(session, make_person):
    assert make_person().email_confirmed_at is not None


# ---- pages -----------------------------------------------------------------------------------


def _outbox_link(app) -> str:
    for path in sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml")):
        found = CONFIRM.search(path.read_text())
        if found:
            return found.group(0)
    raise AssertionError("no confirmation link in the outbox")


def test_sign_up_confirm_page_asks_for_the_password_then_confirms(client, app, engine, place_and_team):
    data = {"name": "Nia", "email": "nia@example.org", "password": PASSWORD, "postcode": "NG20 8AA"}
    assert client.post("/sign-up", data=data).status_code == 302
    link = _outbox_link(app)
    page = client.get(link)
    assert page.status_code == 200 and "Confirm your email address" in page.get_data(as_text=True)
    wrong = client.post(link, data={"password": "not the right password"})
    assert wrong.status_code == 200 and "not correct" in wrong.get_data(as_text=True)
    done = client.post(link, data={"password": PASSWORD})
    assert done.status_code == 302
    with open_session(engine, write=False) as s:
        assert s.exec(select(Person).where(Person.email == "nia@example.org")).one().email_confirmed_at
    used = client.get(link)
    assert used.status_code == 410 and "already been used" in used.get_data(as_text=True)
    forged = client.get("/confirm-email/" + "A" * 43)
    assert forged.status_code == 404 and "not a confirmation link" in forged.get_data(as_text=True)


def test_an_unconfirmed_resident_sees_the_resend_link_and_can_resend(client, app, engine, place_and_team):
    data = {"name": "Nia", "email": "nia@example.org", "password": PASSWORD, "postcode": "NG20 8AA"}
    client.post("/sign-up", data=data)
    client.post("/sign-in", data={"email": "nia@example.org", "password": PASSWORD})
    account = client.get("/account").get_data(as_text=True)
    assert "Resend the confirmation email" in account
    before = len(list(Path(app.config["OUTBOX_DIR"]).glob("*.eml")))
    assert client.post("/account/confirm-email/resend").status_code == 302
    assert len(list(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))) == before + 1


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


def test_sign_up_is_rate_limited_per_address(limited):
    client = limited.test_client()
    statuses = [client.post("/sign-up", data={"name": "N", "email": f"n{i}@example.org", "password": "short",
                                               "postcode": "NG20 8AA"}).status_code for i in range(11)]
    assert statuses == [200] * 10 + [429]
    assert client.get("/sign-up").status_code == 200  # looking is never limited
