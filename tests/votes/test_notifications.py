"""Residents are told what happened (issue 16): each notification is queued once through the
outbox, with its one-click unsubscribe, and not at all when the person turned its kind off."""

import datetime as dt

import pytest
from sqlalchemy import select

from community import notify
from community.db import utcnow
from community.models import MailMessage
from tests.support.factories import SECRET, feasible_idea, open_round
from votes import notifications, services


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _mail(session, person, word=""):
    rows = session.execute(select(MailMessage).where(MailMessage.to_address == person.email)).scalars()
    return [m for m in rows if word in m.subject]


def _off(session, person, kind):
    notify.set_preferences(session=session, person=person, choices={kind: "none"})
    session.commit()


def test_the_proposer_is_told_the_review_with_the_reason(session, world, ctx):
    proposer = world["residents"][0]
    idea = services.propose_idea(session=session, team=world["team"], proposer=proposer, title="Benches",
                                 description="Two benches", estimated_cost_pence=40_000)
    services.review_idea(session=session, team=world["team"], idea_id=idea.id, reviewer_id=world["member"].id,
                         decision="not_feasible", note="The park is not ours to change")
    session.commit()
    [message] = _mail(session, proposer, "Benches")
    assert "not feasible" in message.subject
    assert "The park is not ours to change" in message.body
    assert message.list_unsubscribe.startswith("<http://127.0.0.1:5000/unsubscribe/")


def test_no_review_email_when_the_proposer_turned_it_off(session, world, ctx):
    proposer = world["residents"][0]
    _off(session, proposer, "idea_reviewed")
    feasible_idea(session, world, "Benches", 40_000, proposer=proposer)
    session.commit()
    assert _mail(session, proposer, "Benches") == []


def test_supporters_and_residents_are_told_once_when_a_round_opens(session, world, ctx):
    idea = feasible_idea(session, world, "Benches", 40_000)
    supporter, other = world["residents"][1], world["residents"][2]
    services.support(session=session, idea_id=idea.id, person=supporter)
    open_round(session, world, [idea])
    session.commit()
    assert len(_mail(session, supporter, "An idea you support")) == 1
    assert len(_mail(session, other, "A vote is open")) == 1
    assert _mail(session, world["outsider"], "A vote is open") == []
    assert _mail(session, other, "An idea you support") == []


def test_no_round_opened_email_when_turned_off(session, world, ctx):
    resident = world["residents"][2]
    _off(session, resident, "round_opened")
    open_round(session, world, [feasible_idea(session, world, "Benches", 40_000)])
    session.commit()
    assert _mail(session, resident, "A vote is open") == []
    assert len(_mail(session, world["residents"][3], "A vote is open")) == 1


def test_remind_closing_twice_reminds_each_non_voter_once(session, world, ctx, runner):
    idea = feasible_idea(session, world, "Benches", 40_000)
    rnd = open_round(session, world, [idea], closes_in=dt.timedelta(hours=30))
    voter, late, off = world["residents"][0], world["residents"][1], world["residents"][2]
    services.cast_ballot(session=session, rnd_id=rnd.id, person=voter, secret=SECRET, idea_ids=[idea.id])
    _off(session, off, "round_closing")
    session.commit()
    first = runner.invoke(args=["votes", "remind-closing"])
    second = runner.invoke(args=["votes", "remind-closing"])
    eligible = len(services.eligible_residents(session=session, team=world["team"]))
    assert first.exit_code == 0 and f"{eligible - 2} reminders queued" in first.output  # not the voter, not "off"
    assert "0 reminders queued" in second.output
    session.expire_all()
    assert len(_mail(session, late, "Last chance")) == 1
    assert _mail(session, voter, "Last chance") == []
    assert _mail(session, off, "Last chance") == []


def test_no_reminder_for_a_round_closing_later_than_48_hours(session, world, ctx):
    open_round(session, world, [feasible_idea(session, world, "Benches", 40_000)], closes_in=dt.timedelta(days=5))
    session.commit()
    assert notifications.remind_closing(session=session) == 0


def test_voters_and_supporters_get_the_results_once(session, world, ctx):
    idea = feasible_idea(session, world, "Benches", 40_000)
    rnd = open_round(session, world, [idea])
    voter, supporter, bystander = world["residents"][0], world["residents"][1], world["residents"][2]
    services.support(session=session, idea_id=idea.id, person=supporter)
    services.cast_ballot(session=session, rnd_id=rnd.id, person=voter, secret=SECRET, idea_ids=[idea.id])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, force=True)
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, force=True)
    session.commit()
    [message] = _mail(session, voter, "The results")
    assert "Benches" in message.body and "/results" in message.body
    assert len(_mail(session, supporter, "The results")) == 1
    assert _mail(session, bystander, "The results") == []


def test_no_results_email_when_turned_off(session, world, ctx):
    idea = feasible_idea(session, world, "Benches", 40_000)
    rnd = open_round(session, world, [idea])
    voter = world["residents"][0]
    _off(session, voter, "round_results")
    services.cast_ballot(session=session, rnd_id=rnd.id, person=voter, secret=SECRET, idea_ids=[idea.id])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=utcnow(), force=True)
    session.commit()
    assert _mail(session, voter, "The results") == []


def test_supporters_get_delivery_updates(session, world, ctx):
    idea = feasible_idea(session, world, "Benches", 40_000)
    supporter = world["residents"][1]
    services.support(session=session, idea_id=idea.id, person=supporter)
    rnd = open_round(session, world, [idea])
    services.cast_ballot(session=session, rnd_id=rnd.id, person=supporter, secret=SECRET, idea_ids=[idea.id])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, force=True)
    services.add_delivery_update(session=session, team=world["team"], idea_id=idea.id, author_id=world["member"].id,
                                 status="in_delivery", text="Benches ordered")
    session.commit()
    [message] = _mail(session, supporter, "News of")
    assert "Benches ordered" in message.body


def test_without_a_public_url_cron_still_closes_rounds_and_remind_closing_says_what_is_missing(
        app, session, world, ctx, runner):
    app.config["PUBLIC_URL"] = None  # production before it is set
    idea = feasible_idea(session, world, "Benches", 40_000)
    rnd = open_round(session, world, [idea], closes_in=dt.timedelta(hours=30))
    session.commit()
    result = runner.invoke(args=["votes", "remind-closing"])
    assert result.exit_code != 0 and "THRIVING_PUBLIC_URL" in result.output
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, force=True)
    session.commit()
    assert _mail(session, world["residents"][0], "The results") == []
