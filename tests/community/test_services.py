"""Behaviour of the community services, one behaviour per test."""

import datetime as dt

import pyotp
import pytest
import time_machine
from sqlmodel import select

from community import passwords, services
from community.errors import (
    DomainError,
    EmailTaken,
    Forbidden,
    InvalidCode,
    InvalidCredentials,
    InvalidPostcode,
    InvitationInvalid,
)
from community.models import AuthSession, Membership, Person
from tests.support.factories import PASSWORD


def test_postcode_decides_the_place(session, place_and_team):
    place, _ = place_and_team
    person = services.sign_up_resident(session, name="Rita", email="r@example.org", password=PASSWORD, postcode="ng208aa")
    assert person.place_id == place.id
    assert person.postcode == "NG20 8AA"


def test_postcode_outside_every_place_is_accepted_without_a_place(session, place_and_team):
    person = services.sign_up_resident(session, name="Rita", email="r@example.org", password=PASSWORD, postcode="SW1A 1AA")
    assert person.place_id is None


@pytest.mark.parametrize("bad", ["NG20", "12345", "NG20 8A", "<script>", "N G 2 0"])
def test_malformed_postcode_is_refused(session, place_and_team, bad):
    with pytest.raises(InvalidPostcode):
        services.sign_up_resident(session, name="R", email="r@example.org", password=PASSWORD, postcode=bad)


def test_duplicate_email_is_refused_case_insensitively(session, place_and_team):
    services.sign_up_resident(session, name="R", email="r@example.org", password=PASSWORD, postcode="NG20 8AA")
    session.commit()
    with pytest.raises(EmailTaken):
        services.sign_up_resident(session, name="R2", email="R@Example.org ", password=PASSWORD, postcode="NG20 8AA")


@pytest.mark.parametrize("weak", ["short", "password123"])
def test_weak_password_is_refused(session, place_and_team, weak):
    with pytest.raises(DomainError):
        services.sign_up_resident(session, name="R", email="r@example.org", password=weak, postcode="NG20 8AA")


def test_password_is_stored_as_argon2id_meeting_asvs(session, place_and_team, production_hasher):
    person = services.sign_up_resident(session, name="R", email="r@example.org", password=PASSWORD, postcode="NG20 8AA")
    assert person.password_hash.startswith("$argon2id$")
    params = dict(p.split("=") for p in person.password_hash.split("$")[3].split(","))
    assert int(params["m"]) >= 19456 and int(params["t"]) >= 2


def test_unicode_password_round_trips_byte_for_byte(session, place_and_team):
    pw = "  пароль 🔑 with spaces  "
    services.sign_up_resident(session, name="R", email="r@example.org", password=pw, postcode="NG20 8AA")
    assert services.authenticate(session, email="r@example.org", password=pw)
    with pytest.raises(InvalidCredentials):
        services.authenticate(session, email="r@example.org", password=pw.strip())


def test_wrong_password_and_unknown_email_give_the_same_error(session, make_person):
    make_person()
    with pytest.raises(InvalidCredentials) as a:
        services.authenticate(session, email="rita@example.org", password="wrong password")
    with pytest.raises(InvalidCredentials) as b:
        services.authenticate(session, email="nobody@example.org", password="wrong password")
    assert a.value.message == b.value.message


def test_legacy_hash_is_upgraded_on_sign_in(session, make_person, production_hasher):
    from argon2 import PasswordHasher

    person = make_person()
    person.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    session.commit()
    services.authenticate(session, email=person.email, password=PASSWORD)
    assert not passwords.needs_rehash(person.password_hash)


def test_totp_code_is_accepted_once_only(session, make_person, place_and_team):
    person = make_person(role="member", team=place_and_team[1])
    code = pyotp.TOTP(person.totp_secret).now()
    services.verify_totp(session, person=person, code=code)
    with pytest.raises(InvalidCode, match="used"):
        services.verify_totp(session, person=person, code=code)


def test_wrong_totp_code_is_refused(session, make_person, place_and_team):
    person = make_person(role="member", team=place_and_team[1])
    good = pyotp.TOTP(person.totp_secret).now()
    with pytest.raises(InvalidCode):
        services.verify_totp(session, person=person, code=f"{(int(good) + 1) % 1_000_000:06d}")


def test_enrolment_saves_the_secret_only_with_a_correct_code(session, make_person):
    person = make_person()
    secret = services.new_totp_secret()
    with pytest.raises(InvalidCode):
        services.confirm_totp_enrolment(session, person=person, secret=secret, code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert person.totp_secret is None
    services.confirm_totp_enrolment(session, person=person, secret=secret, code=pyotp.TOTP(secret).now())
    assert person.totp_secret == secret


def test_enrolment_never_replaces_an_existing_second_factor(session, make_person, place_and_team):
    person = make_person(role="member", team=place_and_team[1])
    original, other = person.totp_secret, services.new_totp_secret()
    with pytest.raises(Forbidden):
        services.confirm_totp_enrolment(session, person=person, secret=other, code=pyotp.TOTP(other).now())
    assert person.totp_secret == original


def test_staff_need_a_second_factor_and_residents_do_not(session, make_person, place_and_team):
    resident = make_person("res@example.org")
    member = make_person("mem@example.org", role="member", team=place_and_team[1], totp=False)
    assert not services.needs_second_factor(session, person=resident)
    assert services.needs_second_factor(session, person=member)


def test_ending_a_session_revokes_it(session, make_person):
    person = make_person()
    token = services.start_session(session, person=person, second_factor=False)
    services.end_session(session, token=token)
    session.commit()
    row = session.exec(select(AuthSession).where(AuthSession.person_id == person.id)).one()
    assert row.revoked_at is not None


def test_password_change_ends_other_sessions_but_not_this_one(session, make_person):
    person = make_person()
    mine = services.start_session(session, person=person, second_factor=False)
    other = services.start_session(session, person=person, second_factor=False)
    services.change_password(session, person=person, current=PASSWORD, new="a new long passphrase", token=mine)
    session.commit()
    rows = {r.token_hash: r for r in session.exec(select(AuthSession))}
    from community.auth import token_hash

    assert rows[token_hash(mine)].revoked_at is None
    assert rows[token_hash(other)].revoked_at is not None


def test_demo_code_is_refused_for_a_real_account(session, make_person, place_and_team):
    person = make_person(role="member", team=place_and_team[1])
    with pytest.raises(Forbidden):
        services.demo_code(session, email=person.email)
    person.is_demo = True
    session.commit()
    assert services.demo_code(session, email=person.email) == pyotp.TOTP(person.totp_secret).now()


def test_invitation_gives_the_role_and_is_single_use(session, make_person, place_and_team):
    admin = make_person("admin@example.org", role="admin")
    token = services.invite_staff(session, actor_id=admin.id, email="new@example.org", role="member",
                                  team_id=place_and_team[1].id)
    person = services.accept_invitation(session, token=token, name="New Member", password=PASSWORD)
    session.commit()
    assert session.exec(select(Membership).where(Membership.person_id == person.id)).one().role == "member"
    with pytest.raises(InvitationInvalid):
        services.accept_invitation(session, token=token, name="Again", password=PASSWORD)


def test_expired_invitation_is_refused(session, make_person):
    admin = make_person("admin@example.org", role="admin")
    token = services.invite_staff(session, actor_id=admin.id, email="f@example.org", role="finance", team_id=None)
    session.commit()
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=8)), pytest.raises(InvitationInvalid):
        services.get_invitation(session, token=token)


def test_grant_and_revoke_team_roles(session, make_person, place_and_team):
    admin = make_person("admin@example.org", role="admin")
    person = make_person("p@example.org")
    team = place_and_team[1]
    services.grant_role(session, actor_id=admin.id, person_id=person.id, role="enabler", team_id=team.id)
    assert services.is_staff(session, person=person)
    services.revoke_role(session, actor_id=admin.id, person_id=person.id, role="enabler", team_id=team.id)
    assert not services.is_staff(session, person=person)


def test_admin_cannot_remove_their_own_admin_role(session, make_person):
    admin = make_person("admin@example.org", role="admin")
    with pytest.raises(Forbidden):
        services.revoke_role(session, actor_id=admin.id, person_id=admin.id, role="admin", team_id=None)


def test_create_admin_makes_an_admin_and_fresh_db_has_no_users(session):
    assert services.count_people(session) == 0
    person = services.create_admin(session, email="Boss@Example.org", name="Boss", password=PASSWORD)
    assert person.is_admin and person.email == "boss@example.org"
    assert session.exec(select(Person)).one().totp_secret is None
