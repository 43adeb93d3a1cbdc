"""Issue 14, email confirmation at sign-up: the gate (an unconfirmed resident looks around but
cannot vote, support, propose, pledge or sign), assisted sign-up at a Local Net (a resident
without email, a printed one-time voting code) and "Vote with a code" (single use by one
conditional UPDATE, the same ballot rules as online, the ballot unlinked to the person)."""

import datetime as dt
import re
import threading

import pytest
from sqlalchemy import func, select

from community import services as community
from community.db import LONDON, london_midnight, open_session, utcnow
from community.errors import DomainError as CommunityError
from community.errors import EmailNotConfirmed, Forbidden, VotingCodeInvalid
from community.models import AuditEvent, MailMessage, Person, VotingCode
from pledges import services as pledges
from pledges.models import Pledge, PledgeSignature
from tests.support.clock import today
from tests.support.factories import SECRET, feasible_idea, open_round
from votes import services
from votes.models import Ballot, Idea, IdeaSupport

KEY = "form-key-0123456789abcdef"
SLIP_CODE = re.compile(r'data-voting-code>([A-Z0-9]{5}-[A-Z0-9]{5})<')


def _unconfirmed(session, person) -> Person:
    person = session.get(Person, person.id)
    person.email_confirmed_at = None
    session.add(person)
    session.commit()
    return person


@pytest.fixture
def voting(session, world):
    ideas = [feasible_idea(session, world, "Bench", 60_000), feasible_idea(session, world, "Mural", 40_000),
             feasible_idea(session, world, "Planters", 30_000)]
    rnd = open_round(session, world, ideas, ballot_type="approval_k", k=2)
    session.commit()
    return rnd, ideas


def _ballots(engine) -> list[Ballot]:
    with open_session(engine, write=False) as s:
        return list(s.execute(select(Ballot)).scalars())


def _assisted(session, world, name="Ada Offline", postcode="NG20 8AB", key=KEY, **extra):
    printed = community.assisted_sign_up(session=session, actor=world["member"], team_id=world["team"].id, name=name,
                                         postcode=postcode, phone=extra.pop("phone", None), secret=SECRET,
                                         request_key=key, **extra)
    session.commit()
    return printed


# ---- the gate: services ----------------------------------------------------------------------


def test_an_unconfirmed_resident_cannot_vote_and_no_ballot_is_written(session, engine, world, voting):
    rnd, ideas = voting
    person = _unconfirmed(session, world["residents"][0])
    with pytest.raises(EmailNotConfirmed, match="Confirm your email address before you vote"):
        services.cast_ballot(session=session, rnd_id=rnd.id, person=person, secret=SECRET, idea_ids=[ideas[0].id])
    session.rollback()
    assert _ballots(engine) == []


def test_an_unconfirmed_resident_cannot_support_propose_pledge_or_sign(session, world, voting):
    _rnd, ideas = voting
    person = _unconfirmed(session, world["residents"][1])
    team = world["team"]
    with pytest.raises(EmailNotConfirmed):
        services.support(session=session, idea_id=ideas[0].id, person=person)
    with pytest.raises(EmailNotConfirmed):
        services.propose_idea(session=session, team=team, proposer=person, title="Skate park",
                              description="Ramps", estimated_cost_pence=10_000)
    for kind, extra in (("money", {"amount_pence": 5_000}), ("time", {"minutes": 60, "frequency": "once"})):
        with pytest.raises(EmailNotConfirmed):
            pledges.make_pledge(session=session, team=team, made_by=person, kind=kind, description="For the hall",
                                today=today(), **extra)
    cp = pledges.create_community_pledge(session=session, team=team, author=world["member"], title="Litter-free",
                                         promise="We pick up litter")
    with pytest.raises(EmailNotConfirmed):
        pledges.sign(session=session, community_pledge=cp, person=person, anonymous=False)
    session.rollback()
    assert session.execute(select(func.count()).select_from(IdeaSupport)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(Pledge)).scalar_one() == 0
    assert session.execute(select(func.count()).select_from(PledgeSignature)).scalar_one() == 0
    assert session.execute(select(func.count()).where(Idea.title == "Skate park")).scalar_one() == 0


# ---- the gate: pages ---------------------------------------------------------------------------


def test_an_unconfirmed_residents_vote_and_money_pledge_get_the_confirm_first_page(
        client, session, engine, world, voting, sign_in):
    rnd, ideas = voting
    person = _unconfirmed(session, world["residents"][2])
    session.close()
    sign_in(person)
    assert client.get(f"/teams/shirebrook/rounds/{rnd.id}").status_code == 200  # looking around is fine
    vote = client.post(f"/teams/shirebrook/rounds/{rnd.id}/ballot", data={"idea": [str(ideas[0].id)]})
    page = vote.get_data(as_text=True)
    assert vote.status_code == 403 and "Confirm your email address first" in page
    assert "Resend the confirmation email" in page and "before you vote" in page
    pledge = client.post("/teams/shirebrook/pledges/new/money",
                         data={"description": "Towards the bench", "amount": "10.00", "visibility": "public_named",
                               "frequency": "once"})
    assert pledge.status_code == 403 and "Resend the confirmation email" in pledge.get_data(as_text=True)
    assert _ballots(engine) == []
    with open_session(engine, write=False) as s:
        assert s.execute(select(func.count()).select_from(Pledge)).scalar_one() == 0


# ---- assisted sign-up: service ---------------------------------------------------------------


def test_assisted_sign_up_makes_a_resident_without_email_with_a_hashed_one_time_code(session, world):
    printed = _assisted(session, world, phone="01623 123456")
    person = session.get(Person, printed.person.id)
    assert person.password_hash is None and not community.has_email(person) and person.email_confirmed_at is None
    assert person.place_id == world["place"].id and person.phone == "01623 123456"
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", printed.code)
    row = session.execute(select(VotingCode).where(VotingCode.person_id == person.id)).scalar_one()
    assert row.code_hash == community.voting_code_hash(secret=SECRET, code=printed.code)
    assert printed.code.replace("-", "") not in repr(row.__dict__) and row.created_by_id == world["member"].id
    assert row.expires_at - row.created_at == dt.timedelta(days=90)
    event = session.execute(select(AuditEvent).where(AuditEvent.action == "account.assisted")).scalar_one()
    assert event.actor_id == world["member"].id and event.team_id == world["team"].id


def test_assisted_sign_up_refusals_write_nothing(session, world):
    team_id = world["team"].id
    cases = [
        (world["residents"][0], dict(name="Ada", postcode="NG20 8AB"), Forbidden, None),  # not in the team
        (world["member"], dict(name="  ", postcode="NG20 8AB"), CommunityError, "name"),
        (world["member"], dict(name="Ada \u202eevil", postcode="NG20 8AB"), CommunityError, "name"),
        (world["member"], dict(name="Ada\x00", postcode="NG20 8AB"), CommunityError, "name"),
        (world["member"], dict(name="Ada", postcode="SK13 0AA"), CommunityError, "postcode"),  # not this place
        (world["member"], dict(name="Ada", postcode="NG20 8AB", phone="call me"), CommunityError, "phone"),
    ]
    for actor, details, error, field in cases:
        with pytest.raises(error) as raised:
            community.assisted_sign_up(session=session, actor=actor, team_id=team_id, secret=SECRET,
                                       request_key=KEY, phone=details.pop("phone", None), **details)
        assert raised.value.field == field
        session.rollback()
    assert session.execute(select(func.count()).select_from(VotingCode)).scalar_one() == 0


def test_the_same_assisted_form_twice_makes_one_account(session, world):
    _assisted(session, world)
    with pytest.raises(CommunityError, match="already used"):
        _assisted(session, world)
    session.rollback()
    assert session.execute(select(func.count()).select_from(VotingCode)).scalar_one() == 1


# ---- voting with a code: service -------------------------------------------------------------


def test_a_code_votes_once_in_the_open_round_and_the_ballot_is_not_linked(session, engine, world, voting):
    rnd, ideas = voting
    printed = _assisted(session, world)
    offered = services.ballot_for_code(session=session, secret=SECRET, code=printed.code.lower())
    assert offered.rnd.id == rnd.id and offered.first_name == "Ada"
    cast = services.cast_ballot_with_code(session=session, rnd_id=rnd.id, code=printed.code, secret=SECRET,
                                          idea_ids=[ideas[0].id, ideas[1].id])
    session.commit()
    (ballot,) = _ballots(engine)
    assert ballot.id == cast.id and ballot.source == "online"
    assert ballot.voter_key == services.voter_key(SECRET, rnd.id, printed.person.id)  # as online ballots
    code = session.execute(select(VotingCode)).scalar_one()
    # Only the London day is kept: an exact time would equal the ballot's cast_at.
    assert code.used_at == london_midnight(cast.cast_at.astimezone(LONDON).date()) != ballot.cast_at
    with pytest.raises(VotingCodeInvalid) as used:
        services.cast_ballot_with_code(session=session, rnd_id=rnd.id, code=printed.code, secret=SECRET,
                                       idea_ids=[ideas[2].id])
    assert used.value.reason == "used"


def test_expired_and_forged_codes_are_refused_with_their_reason(session, world, voting):
    printed = _assisted(session, world)
    with pytest.raises(VotingCodeInvalid) as expired:
        services.ballot_for_code(session=session, secret=SECRET, code=printed.code,
                                 now=utcnow() + dt.timedelta(days=90, seconds=1))
    assert expired.value.reason == "expired"
    other = "AAAAA-AAAAA" if printed.code != "AAAAA-AAAAA" else "BBBBB-BBBBB"
    for forged in (other, "", "0OIL1-0OIL1", printed.code + "X", "x" * 400):
        with pytest.raises(VotingCodeInvalid) as bad:
            services.ballot_for_code(session=session, secret=SECRET, code=forged)
        assert bad.value.reason == "unknown" and bad.value.field == "code"
    with pytest.raises(VotingCodeInvalid):  # the app secret is part of the hash
        services.ballot_for_code(session=session, secret="another-secret-" + "y" * 40, code=printed.code)


def test_a_code_ballot_keeps_the_rounds_rules_and_a_refused_ballot_keeps_the_code(session, world, voting):
    rnd, ideas = voting
    printed = _assisted(session, world)
    with pytest.raises(services.VotesError, match="no more than 2"):
        services.cast_ballot_with_code(session=session, rnd_id=rnd.id, code=printed.code, secret=SECRET,
                                       idea_ids=[i.id for i in ideas])
    session.rollback()
    assert session.execute(select(VotingCode.used_at)).scalar_one() is None
    services.cast_ballot_with_code(session=session, rnd_id=rnd.id, code=printed.code, secret=SECRET,
                                   idea_ids=[ideas[2].id])


def test_two_uses_of_one_code_at_once_vote_once(session, engine, world, voting):
    """The conditional UPDATE (``WHERE used_at IS NULL``) decides: both requests have checked the
    code (a barrier holds them after their reads, in read sessions as the page does) before
    either spends it. Without the condition both would vote (seen: 2 successes)."""
    rnd, ideas = voting
    printed = _assisted(session, world)
    session.close()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def use(idea_id):
        try:
            with open_session(engine, write=False) as reader, open_session(engine, write=True) as writer:
                services.cast_ballot_with_code(session=reader, writer=writer, rnd_id=rnd.id, code=printed.code,
                                               secret=SECRET, idea_ids=[idea_id])
                writer.commit()
            outcomes.append("voted")
        except VotingCodeInvalid as error:
            outcomes.append(error.reason)

    services._BETWEEN_READ_AND_WRITE = lambda: barrier.wait(timeout=10)
    try:
        threads = [threading.Thread(target=use, args=(i.id,)) for i in ideas[:2]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        services._BETWEEN_READ_AND_WRITE = None
    assert sorted(outcomes) == ["used", "voted"]
    assert len(_ballots(engine)) == 1


# ---- pages -----------------------------------------------------------------------------------


def test_assisted_sign_up_page_shows_what_it_will_do_then_the_slip_once(client, session, engine, world, sign_in):
    member = world["member"]
    session.close()
    sign_in(member)
    form = client.get("/teams/shirebrook/assisted-sign-up")
    assert form.status_code == 200
    key = re.search(r'name="request_key"[^>]*value="([^"]+)"', form.get_data(as_text=True)).group(1)
    details = {"name": "Ada Offline", "postcode": "ng20 8ab", "phone": "", "request_key": key}
    check = client.post("/teams/shirebrook/assisted-sign-up", data=details)
    text = check.get_data(as_text=True)
    assert check.status_code == 200 and "Check before you sign them up" in text and "NG20 8AB" in text
    with open_session(engine, write=False) as s:
        assert s.execute(select(func.count()).select_from(VotingCode)).scalar_one() == 0
    slip = client.post("/teams/shirebrook/assisted-sign-up", data=details | {"action": "confirm"})
    assert slip.status_code == 200 and slip.headers["Cache-Control"] == "no-store"
    code = SLIP_CODE.search(slip.get_data(as_text=True)).group(1)
    with open_session(engine, write=False) as s:
        row = s.execute(select(VotingCode)).scalar_one()
        assert row.code_hash == community.voting_code_hash(secret=SECRET, code=code)
    again = client.post("/teams/shirebrook/assisted-sign-up", data=details | {"action": "confirm"})
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
    bad = client.post("/teams/shirebrook/assisted-sign-up", data=details | {"postcode": "SK13 0AA", "request_key": "k" * 20})
    assert bad.status_code == 400 and "is not in Shirebrook" in bad.get_data(as_text=True)
    with open_session(engine, write=False) as s:
        assert s.execute(select(func.count()).select_from(VotingCode)).scalar_one() == 1


def test_assisted_sign_up_is_for_this_teams_staff_only(client, session, world, sign_in):
    resident = world["residents"][0]
    session.close()
    assert client.get("/teams/shirebrook/assisted-sign-up").status_code == 302  # to sign in
    sign_in(resident)
    assert client.get("/teams/shirebrook/assisted-sign-up").status_code == 403


def test_vote_with_a_code_page_end_to_end(client, session, engine, world, voting):
    rnd, ideas = voting
    printed = _assisted(session, world)
    session.close()
    assert client.get("/vote-with-a-code").status_code == 200
    forged = client.post("/vote-with-a-code", data={"code": "AAAAA-BBBBB"})
    assert forged.status_code == 400 and "not a voting code of ours" in forged.get_data(as_text=True)
    ballot = client.post("/vote-with-a-code", data={"code": printed.code})
    assert ballot.status_code == 200 and "Hello Ada" in ballot.get_data(as_text=True)
    too_many = client.post("/vote-with-a-code", data={"code": printed.code, "round": str(rnd.id), "action": "cast",
                                                      "idea": [str(i.id) for i in ideas]})
    assert too_many.status_code == 400 and "no more than 2" in too_many.get_data(as_text=True)
    done = client.post("/vote-with-a-code", data={"code": printed.code, "round": str(rnd.id), "action": "cast",
                                                  "idea": [str(ideas[1].id)]})
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "Your vote is recorded" in text and done.headers["Cache-Control"] == "no-store"
    (row,) = _ballots(engine)
    assert row.reference in text and row.choices == str(ideas[1].id)
    used = client.post("/vote-with-a-code", data={"code": printed.code, "round": str(rnd.id), "action": "cast",
                                                  "idea": [str(ideas[0].id)]})
    assert used.status_code == 400 and "already been used" in used.get_data(as_text=True)
    assert len(_ballots(engine)) == 1
    with open_session(engine, write=False) as s:  # no receipt email: the resident has no address
        assert s.execute(select(func.count()).select_from(MailMessage)).scalar_one() == 0


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


def test_wrong_codes_are_rate_limited_per_address_good_ones_are_not(limited):
    client = limited.test_client()
    statuses = [client.post("/vote-with-a-code", data={"code": f"AAAAA-AAA{c}"}).status_code for c in "ABCDEFGHJK"]
    assert statuses == [400] * 10
    assert client.post("/vote-with-a-code", data={"code": "AAAAA-AAAMM"}).status_code == 429
    assert client.get("/vote-with-a-code").status_code == 200  # looking is never limited


def test_good_codes_do_not_use_up_the_limit(limited, world, session, voting):
    """A Local Net's one computer serves resident after resident: twelve good codes in a row."""
    codes = [_assisted(session, world, name=f"Resident {i}", key=f"{KEY}-{i}").code for i in range(12)]
    session.close()
    client = limited.test_client()
    assert [client.post("/vote-with-a-code", data={"code": c}).status_code for c in codes] == [200] * 12
