"""Sign-in you can defend (issue 14): the state machine's steps, safe_next against known bypasses
through the real sign-in, recovery codes, and replacing a second factor only after password and
current code again (audited, emailed)."""

import datetime as dt
import re
import time
from urllib.parse import urljoin, urlsplit

import pyotp
import pytest
from sqlmodel import func, select

from community import services, signin
from community.db import open_session, utcnow
from community.models import AuditEvent, AuthSession, MailMessage, Person, RecoveryCode
from tests.support.factories import PASSWORD

# Known open-redirect bypasses: each must leave the person on this site.
BYPASSES = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\x01/evil.example",
    "https:evil.example",
    "http://evil.example",
    "https://evil.example/teams",
    " //evil.example",
    "\x00//evil.example",
    "\x1f//evil.example",
    "//evil.example\x00",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "///evil.example",
    "////evil.example",
    "/\\/evil.example",
    "evil.example",
    "//user@evil.example",
    "http:/\\/evil.example",
    "ftp://evil.example",
]
# Paths on this site, kept as given (percent-encoding is part of a path: /%2F%2Fevil is a path here).
GOOD = ["/teams/shirebrook/spend?x=1", "/account", "/teams/shirebrook#ideas", "/%2F%2Fevil.example",
        "/.//evil.example"]


def lands_on_site(location: str) -> bool:
    """Where a browser goes for this Location: normalised the WHATWG way, resolved against the page."""
    normal = re.sub(r"[\t\r\n]", "", location.strip("".join(chr(c) for c in range(0x21)))).replace("\\", "/")
    target = urlsplit(urljoin("http://localhost/sign-in", normal))
    return target.scheme == "http" and target.netloc == "localhost"


def count(engine, model, *where) -> int:
    with open_session(engine, write=False) as reader:
        return reader.exec(select(func.count()).select_from(model).where(*where)).one()


@pytest.mark.parametrize("value", BYPASSES)
def test_safe_next_refuses_every_known_bypass(value):
    assert signin.safe_next(value, "/account") == "/account"


@pytest.mark.parametrize("value", GOOD)
def test_safe_next_keeps_a_path_on_this_site(value):
    assert signin.safe_next(value, "/account") == value


def test_lands_on_site_itself_can_tell_an_offsite_redirect():
    """The checker used below is not blind: every bypass, used as a Location, would leave the site
    (all but the ones a browser reads as a path here)."""
    offsite = [v for v in BYPASSES if not lands_on_site(v)]
    assert len(offsite) >= 15 and "//evil.example" in offsite and "/\\evil.example" in offsite


@pytest.mark.parametrize("value", BYPASSES)
def test_an_offsite_next_on_sign_in_stays_on_the_site(client, make_person, value):
    person = make_person()
    response = client.post("/sign-in", query_string={"next": value},
                           data={"email": person.email, "password": PASSWORD})
    assert response.status_code == 302
    assert lands_on_site(response.headers["Location"]), response.headers["Location"]
    assert response.headers["Location"].endswith("/account")


@pytest.mark.parametrize("value", ["//evil.example", "/\\evil.example", "/\t/evil.example", "https:evil.example"])
def test_an_offsite_next_survives_neither_the_code_step_nor_a_forged_pending_next(client, make_person,
                                                                                  place_and_team, value):
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    client.post("/sign-in", query_string={"next": value}, data={"email": person.email, "password": PASSWORD})
    with client.session_transaction() as cookie:
        assert cookie.get("pending_next") in (None, "")
        cookie["pending_next"] = value  # as if it had been stored: it is checked again when used
    response = client.post("/sign-in/code", data={"code": pyotp.TOTP(person.totp_secret).now()})
    # Not the forged next: the member's own landing page, their to-do list (issue 20 item 10).
    assert response.status_code == 302 and response.headers["Location"].endswith("/staff")


def test_a_good_next_is_kept_through_sign_in_and_the_code_step(client, make_person, place_and_team):
    resident = make_person()
    response = client.post("/sign-in", query_string={"next": "/teams/shirebrook/spend?x=1"},
                           data={"email": resident.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/teams/shirebrook/spend?x=1")
    client.post("/sign-out")
    staff = make_person("m@example.org", role="member", team=place_and_team[1])
    client.post("/sign-in", query_string={"next": "/teams/shirebrook/spend?x=1"},
                data={"email": staff.email, "password": PASSWORD})
    response = client.post("/sign-in/code", data={"code": pyotp.TOTP(staff.totp_secret).now()})
    assert response.headers["Location"].endswith("/teams/shirebrook/spend?x=1")


# ---- the states ---------------------------------------------------------------------------


def test_a_staff_member_with_a_wrong_password_gets_the_error_and_no_second_factor_step(client, engine, make_person,
                                                                                        place_and_team):
    """Issue 21, item 5: staff with TOTP and staff still to enrol alike."""
    for person in (make_person("m@example.org", role="member", team=place_and_team[1]),
                   make_person("new@example.org", role="enabler", team=place_and_team[1], totp=False)):
        response = client.post("/sign-in", data={"email": person.email, "password": "not the password"})
        assert response.status_code == 200
        assert "Enter a correct email address and password" in response.get_data(as_text=True)
        with client.session_transaction() as cookie:
            assert "pending_person_id" not in cookie
        for step in ("/sign-in/code", "/two-factor/setup"):
            answer = client.get(step)
            assert answer.status_code == 302 and answer.headers["Location"].endswith("/sign-in"), step
    assert count(engine, AuthSession) == 0


def test_a_new_sign_in_attempt_forgets_the_half_finished_one(client, make_person, place_and_team):
    staff = make_person("m@example.org", role="member", team=place_and_team[1])
    client.post("/sign-in", data={"email": staff.email, "password": PASSWORD})
    assert client.get("/sign-in/code").status_code == 200
    client.post("/sign-in", data={"email": staff.email, "password": "wrong again"})
    assert client.get("/sign-in/code").headers["Location"].endswith("/sign-in")


def test_a_pending_sign_in_expires_after_ten_minutes(client, make_person, place_and_team):
    staff = make_person("m@example.org", role="member", team=place_and_team[1])
    client.post("/sign-in", data={"email": staff.email, "password": PASSWORD})
    with client.session_transaction() as cookie:
        cookie["pending_at"] = int(time.time()) - signin.PENDING_SECONDS - 1
    response = client.post("/sign-in/code", data={"code": pyotp.TOTP(staff.totp_secret).now()})
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-in")
    assert client.get("/staff").status_code == 302


def test_enrolling_is_not_the_code_step_and_the_code_step_is_not_enrolling(client, make_person, place_and_team):
    """The pending states do not stand in for each other: a person's step is fixed when the
    password is accepted."""
    new = make_person("new@example.org", role="member", team=place_and_team[1], totp=False)
    client.post("/sign-in", data={"email": new.email, "password": PASSWORD})
    assert client.get("/sign-in/code").headers["Location"].endswith("/sign-in")
    assert client.get("/two-factor/setup").status_code == 200


# ---- recovery codes -----------------------------------------------------------------------


def enrol(client, person) -> list[str]:
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    page = client.get("/two-factor/setup").get_data(as_text=True)
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]{32})<', page).group(1)
    done = client.post("/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    return re.findall(r"<li><code>([a-z0-9-]{19})</code>", done.get_data(as_text=True))


def test_enrolment_shows_ten_recovery_codes_once_and_stores_only_digests(client, engine, make_person,
                                                                          place_and_team):
    person = make_person("new@example.org", role="member", team=place_and_team[1], totp=False)
    codes = enrol(client, person)
    assert len(codes) == 10 and len(set(codes)) == 10
    with open_session(engine, write=False) as reader:
        stored = reader.exec(select(RecoveryCode.code_hash).where(RecoveryCode.person_id == person.id)).all()
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored) and not set(codes) & set(stored)
    assert "recovery-codes" not in client.get("/account").get_data(as_text=True)


def test_a_recovery_code_signs_in_once_instead_of_the_totp_code(client, engine, make_person, place_and_team):
    person = make_person("new@example.org", role="member", team=place_and_team[1], totp=False)
    codes = enrol(client, person)
    client.post("/sign-out")
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    response = client.post("/sign-in/code", data={"code": codes[3].upper()}, follow_redirects=True)
    assert "You signed in with a recovery code. You have 9 left." in response.get_data(as_text=True)
    assert client.get("/staff").status_code == 200
    client.post("/sign-out")
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    again = client.post("/sign-in/code", data={"code": codes[3]})
    assert again.status_code == 200 and "has been used" in again.get_data(as_text=True)
    assert client.get("/staff").status_code == 302
    assert count(engine, AuditEvent, AuditEvent.action == "recovery_code.use") == 1


def test_using_most_recovery_codes_tells_the_person_to_make_new_ones(client, make_person, place_and_team):
    person = make_person("new@example.org", role="member", team=place_and_team[1], totp=False)
    codes = enrol(client, person)
    for i, code in enumerate(codes[:7]):
        client.post("/sign-out")
        client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
        page = client.post("/sign-in/code", data={"code": code}, follow_redirects=True).get_data(as_text=True)
        left = 9 - i
        assert f"You have {left} left" in page
        assert ("make new ones now" in page) == (left <= services.RECOVERY_FEW)


def test_one_recovery_code_used_twice_at_once_works_once(session, make_person, place_and_team):
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    codes = services.new_recovery_codes(session=session, person=person)
    session.commit()
    assert services.use_recovery_code(session=session, person=person, code=codes[0]) == 9
    from community.errors import InvalidCode

    with pytest.raises(InvalidCode):
        services.use_recovery_code(session=session, person=person, code=codes[0])
    other = make_person("o@example.org", role="member", team=place_and_team[1])
    with pytest.raises(InvalidCode):  # another person's code is not yours
        services.use_recovery_code(session=session, person=other, code=codes[1])


# ---- replacing a second factor ------------------------------------------------------------


def test_replacing_the_second_factor_needs_password_and_current_code_and_is_audited_and_emailed(
        client, engine, make_person, place_and_team, sign_in):
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    old = person.totp_secret
    old_codes = services.new_recovery_codes(session=(services_session := open_session(engine, write=True)), person=person)
    services_session.commit()
    services_session.close()
    sign_in(person)
    assert "Replace your authenticator app" in client.get("/account").get_data(as_text=True)
    assert client.get("/two-factor/setup").headers["Location"].endswith("/account")  # not yet
    bad = client.post("/account/two-factor/replace", data={"password": "wrong", "code": "123456"})
    assert bad.status_code == 200 and "Your password is not correct" in bad.get_data(as_text=True)
    assert client.get("/two-factor/setup").headers["Location"].endswith("/account")
    confirmed = client.post("/account/two-factor/replace",
                            data={"password": PASSWORD, "code": pyotp.TOTP(old).at(time.time() + 30)})
    assert confirmed.headers["Location"].endswith("/two-factor/setup")
    page = client.get("/two-factor/setup").get_data(as_text=True)
    new = re.search(r'data-testid="totp-secret">([A-Z2-7]{32})<', page).group(1)
    assert new != old
    done = client.post("/two-factor/setup", data={"code": pyotp.TOTP(new).now()})
    new_codes = re.findall(r"<li><code>([a-z0-9-]{19})</code>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(new_codes) == 10
    with open_session(engine, write=False) as reader:
        assert reader.get(Person, person.id).totp_secret == new
        mails = reader.exec(select(MailMessage).where(MailMessage.to_address == person.email)).all()
    assert [m.subject for m in mails] == ["Your authenticator app was changed"]
    assert count(engine, AuditEvent, AuditEvent.action == "totp.replace") == 1
    assert count(engine, AuditEvent, AuditEvent.action == "session.reauthenticate") == 1
    # One replacement per re-confirmation; and the old recovery codes no longer work.
    assert client.get("/two-factor/setup").headers["Location"].endswith("/account")
    with open_session(engine, write=True) as s, pytest.raises(Exception, match="not correct or has been used"):
        services.use_recovery_code(session=s, person=s.get(Person, person.id), code=old_codes[0])


def test_the_replacement_window_closes_after_a_few_minutes(client, engine, make_person, place_and_team, sign_in):
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    sign_in(person)
    client.post("/account/two-factor/replace",
                data={"password": PASSWORD, "code": pyotp.TOTP(person.totp_secret).at(time.time() + 30)})
    page = client.get("/two-factor/setup").get_data(as_text=True)
    new = re.search(r'data-testid="totp-secret">([A-Z2-7]{32})<', page).group(1)
    with open_session(engine, write=True) as s:
        for row in s.exec(select(AuthSession).where(AuthSession.person_id == person.id)):
            row.reauthenticated_at = utcnow() - dt.timedelta(minutes=signin.REPLACE_MINUTES, seconds=1)
            s.add(row)
        s.commit()
    late = client.post("/two-factor/setup", data={"code": pyotp.TOTP(new).now()})
    assert late.status_code == 302 and late.headers["Location"].endswith("/account")
    with open_session(engine, write=False) as reader:
        assert reader.get(Person, person.id).totp_secret == person.totp_secret


def test_the_replacement_service_refuses_without_a_recent_reconfirmation(session, make_person, place_and_team):
    """The rule is in the service too, not only in the view's state check."""
    from community.errors import Forbidden

    person = make_person("m@example.org", role="member", team=place_and_team[1])
    token = services.start_session(session, person=person, second_factor=True)
    session.commit()
    from community.auth import token_hash

    auth = session.exec(select(AuthSession).where(AuthSession.token_hash == token_hash(token))).one()
    secret = pyotp.random_base32()
    with pytest.raises(Forbidden):
        services.replace_second_factor(session=session, person=person, auth_session=auth, secret=secret,
                                       code=pyotp.TOTP(secret).now(), replace_minutes=5)
    session.rollback()
    services.reconfirm_identity(session=session, person=person, auth_session=auth, password=PASSWORD,
                                code=pyotp.TOTP(person.totp_secret).now())
    codes = services.replace_second_factor(session=session, person=person, auth_session=auth, secret=secret,
                                           code=pyotp.TOTP(secret).now(), replace_minutes=5)
    assert len(codes) == 10 and person.totp_secret == secret


def test_a_resident_without_a_second_factor_is_not_offered_a_replacement(client, make_person, sign_in):
    sign_in(make_person())
    assert "Replace your authenticator app" not in client.get("/account").get_data(as_text=True)
    assert client.get("/account/two-factor/replace").headers["Location"].endswith("/account")


def test_an_admin_resets_someone_elses_second_factor_after_seeing_what_goes(client, engine, make_person,
                                                                             place_and_team, sign_in):
    """Lost phone and codes: the admin sees whose factor goes first; the reset removes the secret
    and codes, ends every session, audits and emails; the next sign-in enrols a new app."""
    member = make_person("m@example.org", role="member", team=place_and_team[1])
    admin = make_person("admin@example.org", role="admin")
    with open_session(engine, write=True) as s:
        services.new_recovery_codes(session=s, person=s.get(Person, member.id))
        s.commit()
    other = client.application.test_client()
    sign_in_as_member = other.post("/sign-in", data={"email": member.email, "password": PASSWORD})
    assert sign_in_as_member.headers["Location"].endswith("/sign-in/code")
    other.post("/sign-in/code", data={"code": pyotp.TOTP(member.totp_secret).now()})
    assert other.get("/account").status_code == 200
    sign_in(admin)
    url = f"/admin/people/{member.id}/two-factor/reset"
    assert url in client.get("/admin").get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert "Reset Rita Morgan's second factor?" in page and "10 unused recovery codes" in page
    assert count(engine, AuditEvent, AuditEvent.action == "totp.admin_reset") == 0  # looking changes nothing
    done = client.post(url)
    assert done.headers["Location"].endswith("/admin")
    with open_session(engine, write=False) as reader:
        assert reader.get(Person, member.id).totp_secret is None
        mails = reader.exec(select(MailMessage).where(MailMessage.to_address == member.email)).all()
    assert count(engine, RecoveryCode, RecoveryCode.person_id == member.id) == 0
    assert count(engine, AuditEvent, AuditEvent.action == "totp.admin_reset") == 1
    assert "Your second factor was reset" in [m.subject for m in mails]
    assert other.get("/account").status_code in (302, 401)  # signed out everywhere
    again = other.post("/sign-in", data={"email": member.email, "password": PASSWORD})
    assert again.headers["Location"].endswith("/two-factor/setup")


@pytest.mark.parametrize("who", ["self", "no_factor", "not_admin"])
def test_the_second_factor_reset_refuses_what_it_must(session, make_person, place_and_team, who):
    admin = make_person("admin@example.org", role="admin")
    member = make_person("m@example.org", role="member", team=place_and_team[1], totp=who != "no_factor")
    actor, target = {"self": (admin, admin), "no_factor": (admin, member),
                     "not_admin": (make_person("x@example.org", role="finance"), member)}[who]
    with pytest.raises(services.DomainError):
        services.reset_second_factor(session=session, actor_id=actor.id, person_id=target.id)
    session.rollback()
    assert session.get(Person, target.id).totp_secret == target.totp_secret


def test_only_an_admin_reaches_the_second_factor_reset(client, make_person, place_and_team, sign_in):
    member = make_person("m@example.org", role="member", team=place_and_team[1])
    finance = make_person("f@example.org", role="finance")
    sign_in(finance)
    assert client.get(f"/admin/people/{member.id}/two-factor/reset").status_code == 403
    assert client.post(f"/admin/people/{member.id}/two-factor/reset").status_code == 403
