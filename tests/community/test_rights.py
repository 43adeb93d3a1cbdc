"""Residents' UK GDPR rights, the services (community/rights.py and each domain's rights.py):
the download covers every foreign key to person.id; deleting pseudonymises the person and
erases what it says, keeps the ledger chain and the ballots as they were, and refuses a wrong
password, staff and people named on financial records. Issue 14."""

import datetime as dt
import json

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table
from sqlmodel import SQLModel, func, select

from community import mail, rights, services
from community.db import london_today
from community.errors import Forbidden, InvalidCredentials, NotFound
from community.models import (
    AuditEvent,
    AuthSession,
    Invitation,
    MailMessage,
    PasswordReset,
    Person,
    RecoveryCode,
)
from ledger import services as ledger
from pledges import services as pledges
from pledges.models import Pledge, PledgeSignature
from tests.support.factories import PASSWORD, SECRET, feasible_idea, open_round
from votes import services as votes
from votes.models import Ballot, Idea, IdeaSupport


def _full_life(session, world):
    """A resident who proposed, supported, voted, pledged (money, partly received: a ledger
    entry), pledged time (open), signed a community pledge, was mailed and asked for a reset."""
    team, rita = world["team"], world["residents"][0]
    mine = feasible_idea(session, world, "Benches by the pond", 40_000, proposer=rita)
    theirs = feasible_idea(session, world, "Tom's planters", 20_000, proposer=world["residents"][1])
    votes.support(session=session, idea_id=theirs.id, person=rita)
    rnd = open_round(session, world, [mine, theirs])
    votes.cast_ballot(session=session, rnd_id=rnd.id, person=rita, secret=SECRET, idea_ids=[mine.id])
    votes.cast_ballot(session=session, rnd_id=rnd.id, person=world["residents"][1], secret=SECRET,
                      idea_ids=[theirs.id])
    money = pledges.make_pledge(session=session, team=team, made_by=rita, kind="money", description="Towards benches",
                                today=london_today(), amount_pence=5_000, contact_phone="07700 900123")
    pledges.record_money(session=session, team=team, pledge_id=money.id, amount_pence=2_000,
                         effective_date=london_today(), actor_id=world["member"].id, idempotency_key="rita-money",
                         today=london_today())
    time = pledges.make_pledge(session=session, team=team, made_by=rita, kind="time", description="Litter picking",
                               today=london_today(), minutes=120, frequency="once")
    cp = pledges.create_community_pledge(session=session, team=team, author=world["residents"][1],
                                         title="Being kind", promise="I will be kind.")
    pledges.sign(session=session, community_pledge=cp, person=rita, anonymous=False)
    mail.send(to=rita.email, subject="Your vote in Spring round", body="You chose: Benches", session=session)
    token = services.start_session(session, person=rita, second_factor=False)
    session.add(PasswordReset(person_id=rita.id, token_hash="r" * 64,
                              expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)))
    session.commit()
    return dict(rita=rita, mine=mine, theirs=theirs, round=rnd, money=money, time=time, cp=cp, token=token)


# ---- the download ----------------------------------------------------------------------------


def test_every_foreign_key_to_a_person_is_exported_or_excluded_with_a_reason(sources):
    assert rights.uncovered(SQLModel.metadata, sources) == set()
    covered = rights.covered_columns(sources)
    assert len(covered) == len(set(covered)), "a column is covered by two sources"
    assert set(covered) <= rights.person_foreign_keys(SQLModel.metadata), "a source names a column that is gone"
    assert not set(covered) & set(rights.EXCLUDED)
    assert all(reason.strip() for reason in rights.EXCLUDED.values())


def test_the_checker_fails_for_a_new_foreign_key_to_a_person(sources):
    metadata = MetaData()
    Table("person", metadata, Column("id", Integer, primary_key=True))
    Table("new_thing", metadata, Column("id", Integer, primary_key=True),
          Column("owner_id", Integer, ForeignKey("person.id")))
    assert rights.uncovered(metadata, sources) == {"new_thing.owner_id"}


def test_the_download_holds_everything_about_the_person_and_nothing_of_others(session, world, sources):
    life = _full_life(session, world)
    rita = life["rita"]
    document = rights.export_personal_data(session=session, person_id=rita.id, sources=sources)
    session.commit()
    text = json.dumps(document)
    assert (document["account"]["email"], document["account"]["home_postcode"], document["account"]["place"]) == (
        rita.email, "NG20 8AA", "Shirebrook")
    assert document["account"]["postcode_district"] == "NG20" and document["account"]["roles"] == []
    assert [i["title"] for i in document["ideas_proposed"]] == ["Benches by the pond"]
    assert [s["idea_title"] for s in document["idea_supports"]] == ["Tom's planters"]
    assert {p["kind"] for p in document["pledges"]} == {"money", "time"}
    money = next(p for p in document["pledges"] if p["kind"] == "money")
    assert money["contact_phone"] == "07700 900123" and money["fulfilments"][0]["amount_pence"] == 2_000
    assert [s["title"] for s in document["community_pledges_signed"]] == ["Being kind"]
    assert [m["subject"] for m in document["mail_sent_to_you"]] == ["Your vote in Spring round"]
    assert "session.start" in {e["action"] for e in document["audit_events"]}
    assert len(document["sign_in_sessions"]) == 1 and len(document["password_reset_links"]) == 1
    assert "not linked to people" in document["ballots"]
    # Nothing secret, no ballot, nobody else's doings.
    for absent in ("$argon2", "token_hash", "voter_key", "r" * 64, world["residents"][1].email):
        assert absent not in text
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "account.export",
                                                 AuditEvent.actor_id == rita.id)).one()


def test_staff_work_is_in_a_staff_members_download(session, world, sources):
    feasible_idea(session, world, "Benches", 40_000)
    session.commit()
    document = rights.export_personal_data(session=session, person_id=world["member"].id, sources=sources)
    assert [r["title"] for r in document["votes_team_work"]["ideas_reviewed"]] == ["Benches"]
    finance = rights.export_personal_data(session=session, person_id=world["finance"].id, sources=sources)
    assert finance["ledger_records"]["journal_entries"][0]["kind"] == "allocation"
    assert {r["role"] for r in document["account"]["roles"]} == {"member"}


# ---- deleting an account --------------------------------------------------------------------


def _counts(session, round_id):
    return (session.exec(select(func.count()).select_from(Ballot)).one(),
            votes.turnout(session=session, round_id=round_id))


def test_deleting_pseudonymises_and_keeps_ledger_ballots_and_ideas(session, world, sources):
    life = _full_life(session, world)
    rita = life["rita"]
    old_email = rita.email
    before_ledger = ledger.verify(session=session)
    before_ballots = _counts(session, life["round"].id)
    assert before_ledger.ok and before_ledger.entries >= 2

    rights.delete_account(session=session, person_id=rita.id, password=PASSWORD, sources=sources)
    session.commit()

    gone = session.get(Person, rita.id)
    assert gone.name == rights.DELETED_NAME and gone.email.endswith("@deleted.invalid")
    assert (gone.password_hash, gone.postcode, gone.place_id, gone.totp_secret, gone.is_active) == (
        None, None, None, None, False)
    with pytest.raises(InvalidCredentials):
        services.authenticate(session, email=old_email, password=PASSWORD)
    assert session.exec(select(AuthSession).where(AuthSession.person_id == rita.id,
                                                  AuthSession.revoked_at.is_(None))).all() == []
    assert session.exec(select(PasswordReset).where(PasswordReset.person_id == rita.id)).all() == []
    assert session.exec(select(MailMessage).where(MailMessage.to_address == old_email)).all() == []
    # The ledger is untouched and still verifies; the ballots are all there, still counted.
    after_ledger = ledger.verify(session=session)
    assert after_ledger.ok and (after_ledger.entries, after_ledger.head_hash) == (
        before_ledger.entries, before_ledger.head_hash)
    assert _counts(session, life["round"].id) == before_ballots
    # Ideas and supports stay, pointing at the pseudonymised row.
    assert session.get(Idea, life["mine"].id).proposer_id == rita.id
    assert session.exec(select(IdeaSupport).where(IdeaSupport.person_id == rita.id)).one()
    # Open pledges withdrawn, the name and contact details gone from them; signature withdrawn.
    money, time = session.get(Pledge, life["money"].id), session.get(Pledge, life["time"].id)
    assert (money.status, time.status) == ("withdrawn", "withdrawn")
    assert {money.pledger_name, time.pledger_name} == {rights.DELETED_NAME}
    assert (money.contact_email, money.contact_phone) == (None, None)
    assert pledges.received_pence(session, money.id) == 2_000
    assert session.exec(select(PledgeSignature).where(PledgeSignature.person_id == rita.id)).one().withdrawn_at
    assert pledges.signature_count(session, life["cp"].id) == 0
    # Audited without the personal data; no audit subject keeps the email.
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "account.delete")).one()
    assert (event.actor_id, event.subject) == (rita.id, f"person:{rita.id}")
    assert session.exec(select(AuditEvent).where(AuditEvent.subject.contains(old_email))).all() == []


def test_a_deleted_email_can_sign_up_again_and_placeholders_are_unique(session, world, sources):
    first, second = world["residents"][:2]
    for person in (first, second):
        rights.delete_account(session=session, person_id=person.id, password=PASSWORD, sources=sources)
    session.commit()
    assert session.get(Person, first.id).email != session.get(Person, second.id).email
    again = services.sign_up_resident(session, name="Rita Again", email="res0@example.org", password=PASSWORD,
                                      postcode="NG20 8AA")
    assert again.id != first.id


def test_recovery_codes_and_pending_invitations_are_removed(session, world, sources):
    rita = world["residents"][0]
    services.new_recovery_codes(session=session, person=rita)
    services.invite_staff(session, actor_id=world["member"].id, email=rita.email, role="finance", team_id=None)
    session.commit()
    rights.delete_account(session=session, person_id=rita.id, password=PASSWORD, sources=sources)
    session.commit()
    assert session.exec(select(RecoveryCode).where(RecoveryCode.person_id == rita.id)).all() == []
    assert session.exec(select(Invitation).where(Invitation.email == "res0@example.org")).all() == []


def test_a_wrong_password_refuses_and_changes_nothing(session, world, sources):
    rita = world["residents"][0]
    with pytest.raises(InvalidCredentials) as refused:
        rights.delete_account(session=session, person_id=rita.id, password="not my password", sources=sources)
    assert refused.value.field == "password"
    session.rollback()
    assert session.get(Person, rita.id).email == "res0@example.org"
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "account.delete")).all() == []


@pytest.mark.parametrize("who", ["member", "enabler", "finance"])
def test_staff_are_refused(session, world, sources, who):
    person = world[who]
    plan = rights.deletion_plan(session=session, person_id=person.id, sources=sources)
    assert not plan.allowed and "staff roles" in plan.refusals[0]
    with pytest.raises(Forbidden, match="remove your roles"):
        rights.delete_account(session=session, person_id=person.id, password=PASSWORD, sources=sources)
    session.rollback()
    assert session.get(Person, person.id).name == "Rita Morgan"


def test_former_staff_named_on_financial_records_are_refused(session, world, sources):
    finance = world["finance"]  # made the allocation in the ledger
    services.revoke_role(session, actor_id=world["member"].id, person_id=finance.id, role="finance", team_id=None)
    session.commit()
    plan = rights.deletion_plan(session=session, person_id=finance.id, sources=sources)
    assert plan.refusals and "financial records" in plan.refusals[0]
    with pytest.raises(Forbidden, match="financial records"):
        rights.delete_account(session=session, person_id=finance.id, password=PASSWORD, sources=sources)


def test_the_plan_says_what_is_erased_withdrawn_and_kept(session, world, sources):
    life = _full_life(session, world)
    plan = rights.deletion_plan(session=session, person_id=life["rita"].id, sources=sources)
    assert plan.allowed
    withdrawn = {e.what: e.count for e in plan.withdrawn}
    assert withdrawn["Pledges you have not yet fulfilled"] == 2
    assert withdrawn["Your signatures on community pledges"] == 1
    assert {e.what for e in plan.kept} >= {"Ideas you proposed", "Your ballots"}
    assert session.get(Person, life["rita"].id).name == "Rita Morgan"  # the plan changes nothing


def test_a_deleted_account_has_nothing_to_export_or_delete(session, world, sources):
    rita = world["residents"][0]
    rights.delete_account(session=session, person_id=rita.id, password=PASSWORD, sources=sources)
    session.commit()
    with pytest.raises(NotFound):
        rights.export_personal_data(session=session, person_id=rita.id, sources=sources)
    with pytest.raises(NotFound):
        rights.delete_account(session=session, person_id=rita.id, password=PASSWORD, sources=sources)



def test_the_database_lets_only_an_account_pledgers_name_become_deleted_resident(session, world):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    own = pledges.make_pledge(session=session, team=world["team"], made_by=world["residents"][0], kind="time",
                              description="Litter picking", today=london_today(), minutes=60, frequency="once")
    typed = pledges.make_pledge(session=session, team=world["team"], made_by=world["member"], kind="time",
                                description="Hall", today=london_today(), minutes=60, frequency="once",
                                on_behalf_name="Shirebrook Co-op", on_behalf_is_organisation=True)
    session.commit()
    for pledge_id, name in ((own.id, "Someone Else"), (typed.id, rights.DELETED_NAME)):
        with pytest.raises(DBAPIError, match="pledges:"):
            session.execute(text("UPDATE pledge SET pledger_name = :n WHERE id = :i"), {"n": name, "i": pledge_id})
        session.rollback()
    session.execute(text("UPDATE pledge SET pledger_name = :n WHERE id = :i"), {"n": rights.DELETED_NAME, "i": own.id})
    session.commit()


def test_confirmation_links_voting_codes_and_limit_changes_are_exported_never_a_hash(session, world, sources):
    from community.models import EmailConfirmation, VotingCode
    from spend import services as spend

    rita, member, enabler = world["residents"][0], world["member"], world["enabler"]
    rita = session.get(Person, rita.id)
    rita.email_confirmed_at = None
    session.add(rita)
    services.request_email_confirmation(session=session, person=rita, link=lambda t: t)
    printed = services.assisted_sign_up(session=session, actor=member, team_id=world["team"].id, name="Ada Offline",
                                        postcode="NG20 8AB", phone="01623 123456", secret=SECRET,
                                        request_key="rights-key-0123456789")
    spend.set_limits(session=session, team=world["team"], actor=enabler, member_limit_pence=30_000,
                         enabler_limit_pence=150_000)
    session.commit()
    mine = json.dumps(rights.export_personal_data(session=session, person_id=rita.id, sources=sources))
    ada = rights.export_personal_data(session=session, person_id=printed.person.id, sources=sources)
    staff = rights.export_personal_data(session=session, person_id=member.id, sources=sources)
    limits = rights.export_personal_data(session=session, person_id=enabler.id, sources=sources)
    link = session.exec(select(EmailConfirmation)).one()
    code = session.exec(select(VotingCode)).one()
    assert json.loads(mine)["email_confirmation_links"][0]["expires_at"] and link.token_hash not in mine
    assert len(ada["voting_codes"]) == 1 and ada["account"]["phone"] == "01623 123456"
    assert ada["account"]["signed_up_without_email"] is True
    assert len(staff["voting_codes_you_printed"]) == 1
    assert limits["approval_limit_changes"][0]["asked_by_you"] is True
    everything = json.dumps([ada, staff])
    assert code.code_hash not in everything and printed.code not in everything
    assert printed.code.replace("-", "") not in everything and "request_key" not in everything
    assert rights.EXCLUDED == {}


def test_deleting_an_account_erases_its_confirmation_links_and_codes(session, world, sources):
    from community.models import EmailConfirmation, VotingCode

    rita = session.get(Person, world["residents"][0].id)
    rita.email_confirmed_at = None
    session.add(rita)
    services.request_email_confirmation(session=session, person=rita, link=lambda t: t)
    session.add(VotingCode(person_id=rita.id, code_hash="f" * 64, created_by_id=world["member"].id,
                           expires_at=services.utcnow() + dt.timedelta(days=1)))
    session.commit()
    rights.delete_account(session=session, person_id=rita.id, password=PASSWORD, sources=sources)
    session.commit()
    assert session.exec(select(func.count()).select_from(EmailConfirmation)).one() == 0
    assert session.exec(select(func.count()).select_from(VotingCode)).one() == 0
