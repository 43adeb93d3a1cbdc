"""The operator commands: create-admin, demo load / demo-list / demo-code."""

import pyotp
from sqlmodel import select

from community.db import open_session
from community.models import Person
from tests.support.factories import PASSWORD


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


def test_demo_load_opens_a_round_residents_voted_in_and_closes_one_with_results(runner, engine, app):
    import datetime as dt

    from community.db import utcnow
    from demo.votes import load_rounds
    from ledger.models import Hold
    from votes import services as votes
    from votes.models import Ballot, Round

    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    secret = app.config["SECRET_KEY"]
    with open_session(engine, write=True) as s:
        load_rounds(s, secret=secret, now=utcnow())  # again: nothing new
        s.commit()
    assert runner.invoke(args=["demo", "load"]).output.strip() == "Demo data already loaded."
    with open_session(engine, write=False) as s:
        last, current = s.exec(select(Round).order_by(Round.id)).all()
        people = {p.email.split("@")[0]: p for p in s.exec(select(Person).where(Person.is_demo))}
        assert last.status == "closed" and last.online_ballots == 5
        funded = [(idea.title, ri.votes) for ri, idea in votes.results(session=s, rnd=last) if ri.funded]
        assert funded == [("Grit bins for the hill streets", 4), ("Planters on Main Street", 2)]
        assert last.spent_pence == 57_000 and s.get(Hold, last.hold_id).status == "voided"
        assert votes.is_open_for_voting(current) and current.closes_at - utcnow() > dt.timedelta(days=13)
        assert s.get(Hold, current.hold_id).amount_pence == current.budget_pence == 80_000
        on_ballot = {idea.title for _, idea in votes.round_ideas(session=s, round_id=current.id)}
        assert on_ballot == {"Youth club kit", "Christmas lights on Market Square", "Dog waste bins on the rec"}
        assert votes.turnout(session=s, round_id=current.id)["total"] == 3
        assert len(s.exec(select(Ballot)).all()) == 8
        voted = {name for name in ("rita", "tom", "dawn", "kevin", "sue")
                 if votes.my_ballot(session=s, rnd=current, person=people[name], secret=secret)}
        assert voted == {"tom", "dawn", "kevin"}
    listing = runner.invoke(args=["users", "demo-list"]).output
    assert f"resident, Shirebrook: can vote now in {current.title}" in next(
        line for line in listing.splitlines() if "rita@" in line)
    assert f"has voted in {current.title}" in next(line for line in listing.splitlines() if "tom@" in line)
    assert "resident, Gamesley: no round open" in listing
    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0 and verify.output.startswith("ledger OK")
