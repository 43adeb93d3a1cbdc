"""The operator commands: create-admin, demo load / demo-list / demo-code."""

import pyotp
from sqlmodel import select

from community.db import open_session
from community.models import Person

from .conftest import PASSWORD


def test_create_admin_prompts_for_name_and_password(runner, engine):
    result = runner.invoke(args=["users", "create-admin", "boss@example.org"],
                           input=f"Boss Person\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    with open_session(engine, write=False) as s:
        person = s.exec(select(Person)).one()
    assert person.is_admin and person.email == "boss@example.org" and person.totp_secret is None


def test_create_admin_refuses_a_weak_password_and_writes_nothing(runner, engine):
    result = runner.invoke(args=["users", "create-admin", "boss@example.org"], input="Boss\nshort\nshort\n")
    assert result.exit_code != 0 and "8 characters" in result.output
    with open_session(engine, write=False) as s:
        assert s.exec(select(Person)).first() is None


def test_demo_load_list_and_code(runner, engine):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    listing = runner.invoke(args=["users", "demo-list"]).output
    assert "thriving-demo-2026" in listing and "finance@" in listing and "TOTP secret" in listing
    email = "asha.shirebrook@demo.thriving.example.org"
    with open_session(engine, write=False) as s:
        secret = s.exec(select(Person).where(Person.email == email)).one().totp_secret
    code = runner.invoke(args=["users", "demo-code", email]).output.strip()
    assert code == pyotp.TOTP(secret).now()
    assert runner.invoke(args=["demo", "load"]).output.strip() == "Demo data already loaded."
    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0 and verify.output.startswith("ledger OK")


def test_demo_code_is_refused_for_real_accounts(runner, make_person, place_and_team):
    person = make_person("real@example.org", role="member", team=place_and_team[1])
    result = runner.invoke(args=["users", "demo-code", person.email])
    assert result.exit_code != 0 and "not one" in result.output
