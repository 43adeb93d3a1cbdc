"""Delivery residents can follow (issue 17): the services of votes/delivery.py — steps of a funded
idea, "done" with a closing note, progress, money, and who is told (once per event)."""

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from community import services as community
from community.models import MailMessage
from ledger.models import Hold
from tests.support.factories import SECRET, feasible_idea, open_round
from tests.support.statements import statements_run
from votes import delivery, services
from votes.errors import VotesError
from votes.models import Idea, IdeaUpdate, Milestone

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def _funded(session, world, title="Benches", cost=40_000, *, voter=0, supporter=1):
    """An idea funded by a closed round: resident ``voter`` voted for it, ``supporter`` supports it."""
    idea = feasible_idea(session, world, title, cost)
    if supporter is not None:
        services.support(session=session, idea_id=idea.id, person=world["residents"][supporter])
    rnd = open_round(session, world, [idea])
    if voter is not None:
        services.cast_ballot(session=session, rnd_id=rnd.id, person=world["residents"][voter], secret=SECRET,
                             idea_ids=[idea.id])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, force=True)
    session.commit()
    assert session.get(Idea, idea.id).status == "funded"
    return idea


def _add(session, world, idea, **kw):
    args = dict(session=session, team=world["team"], idea_id=idea.id, actor_id=world["member"].id,
                title="Order the benches", planned_on=TODAY + dt.timedelta(days=7), today=TODAY)
    return delivery.add_milestone(**{**args, **kw})


def _steps(session, idea):
    return session.execute(select(func.count()).select_from(Milestone).where(Milestone.idea_id == idea.id)).scalar()


def _refused(session, call, field=None, words=""):
    with pytest.raises(VotesError) as caught:
        call()
    session.rollback()
    assert caught.value.field == field
    assert words in caught.value.message
    return caught.value


# --------------------------------------------------------------------------- adding and changing steps


def test_a_first_step_moves_a_funded_idea_into_delivery(session, world):
    idea = _funded(session, world)
    step = _add(session, world, idea, note="From the joiner on Market Street")
    session.commit()
    assert session.get(Idea, idea.id).status == "in_delivery"
    assert (step.title, step.planned_on, step.done_on, step.note) == (
        "Order the benches", TODAY + dt.timedelta(days=7), None, "From the joiner on Market Street")


def test_a_step_on_another_teams_idea_is_refused(session, world):
    idea = _funded(session, world)
    other = community.create_team(session, actor_id=None, name="Gamesley Connected Team", slug="gamesley",
                                  place_id=world["outsider"].place_id, cost_centre="TC2002")
    session.commit()
    _refused(session, lambda: _add(session, world, idea, team=other), words="does not exist")
    assert _steps(session, idea) == 0


def test_an_idea_that_was_not_funded_has_no_steps(session, world):
    idea = feasible_idea(session, world, "Planters", 20_000)
    session.commit()
    _refused(session, lambda: _add(session, world, idea), words="Only funded ideas")
    _refused(session, lambda: delivery.mark_done(session=session, team=world["team"], idea_id=idea.id,
                                                 actor_id=world["member"].id, closing_note="Done"),
             words="Only funded ideas")
    assert _steps(session, idea) == 0


def test_a_done_date_in_the_future_is_refused_and_nothing_is_written(session, world):
    idea = _funded(session, world)
    _refused(session, lambda: _add(session, world, idea, done_on=TODAY + dt.timedelta(days=1)), field="done_on")
    assert _steps(session, idea) == 0
    step = _add(session, world, idea)
    session.commit()
    _refused(session, lambda: delivery.edit_milestone(
        session=session, team=world["team"], idea_id=idea.id, milestone_id=step.id, title="Order the benches",
        planned_on=step.planned_on, note=None, done_on=TODAY + dt.timedelta(days=1), today=TODAY), field="done_on")
    _refused(session, lambda: delivery.complete_milestone(
        session=session, team=world["team"], idea_id=idea.id, milestone_id=step.id,
        done_on=TODAY + dt.timedelta(days=1), today=TODAY), field="done_on")
    assert session.get(Milestone, step.id).done_on is None


def test_a_step_may_be_done_before_its_planned_day(session, world):
    idea = _funded(session, world)
    step = _add(session, world, idea, planned_on=TODAY + dt.timedelta(days=30), done_on=TODAY)
    assert step.done_on == TODAY


def test_a_missing_title_or_planned_date_is_refused_beside_its_field(session, world):
    idea = _funded(session, world)
    _refused(session, lambda: _add(session, world, idea, title="   "), field="title", words="Enter what the step is")
    _refused(session, lambda: _add(session, world, idea, planned_on=None), field="planned_on")
    assert _steps(session, idea) == 0


def test_too_long_a_title_note_or_closing_note_is_refused(session, world):
    idea = _funded(session, world)
    _refused(session, lambda: _add(session, world, idea, title="x" * 121), field="title", words="120")
    _refused(session, lambda: _add(session, world, idea, note="x" * 1001), field="note", words="1000")
    _refused(session, lambda: delivery.mark_done(session=session, team=world["team"], idea_id=idea.id,
                                                 actor_id=world["member"].id, closing_note="x" * 2001),
             field="closing_note", words="2000")
    assert _steps(session, idea) == 0 and session.get(Idea, idea.id).status == "funded"
    assert len(_add(session, world, idea, title="x" * 120, note="y" * 1000).title) == 120


def test_a_step_is_changed_and_a_replaced_photo_is_handed_back_to_remove(session, world):
    idea = _funded(session, world)
    step = _add(session, world, idea, photo=("a" * 32, "image/jpeg"))
    row, replaced = delivery.edit_milestone(
        session=session, team=world["team"], idea_id=idea.id, milestone_id=step.id, title="Benches ordered",
        planned_on=TODAY, note="Two oak benches", done_on=TODAY, photo=("b" * 32, "image/png"), today=TODAY)
    session.commit()
    assert replaced == "a" * 32
    got = session.get(Milestone, step.id)
    assert (got.title, got.done_on, got.note, got.photo_ref, got.photo_type) == (
        "Benches ordered", TODAY, "Two oak benches", "b" * 32, "image/png")
    _, kept = delivery.edit_milestone(session=session, team=world["team"], idea_id=idea.id, milestone_id=step.id,
                                      title="Benches ordered", planned_on=TODAY, note=None, done_on=TODAY,
                                      today=TODAY)
    assert kept is None and session.get(Milestone, step.id).photo_ref == "b" * 32


def test_a_step_of_another_idea_is_refused(session, world):
    idea, other = _funded(session, world), _funded(session, world, "Bulbs", 10_000)
    step = _add(session, world, other)
    session.commit()
    _refused(session, lambda: delivery.complete_milestone(session=session, team=world["team"], idea_id=idea.id,
                                                          milestone_id=step.id, today=TODAY),
             words="That step does not exist")


# --------------------------------------------------------------------------- done


def test_done_needs_a_closing_note_and_then_the_idea_is_frozen(session, world):
    idea = _funded(session, world)
    step = _add(session, world, idea)
    session.commit()
    _refused(session, lambda: delivery.mark_done(session=session, team=world["team"], idea_id=idea.id,
                                                 actor_id=world["member"].id, closing_note="  "),
             field="closing_note", words="closing note")
    assert session.get(Idea, idea.id).status == "in_delivery"
    delivery.mark_done(session=session, team=world["team"], idea_id=idea.id, actor_id=world["member"].id,
                       closing_note="Two benches by the pond, installed by volunteers.")
    session.commit()
    done = session.get(Idea, idea.id)
    assert (done.status, done.closing_note) == ("done", "Two benches by the pond, installed by volunteers.")
    frozen = "This idea is done"
    _refused(session, lambda: _add(session, world, idea), words=frozen)
    _refused(session, lambda: delivery.complete_milestone(session=session, team=world["team"], idea_id=idea.id,
                                                          milestone_id=step.id, today=TODAY), words=frozen)
    _refused(session, lambda: delivery.edit_milestone(
        session=session, team=world["team"], idea_id=idea.id, milestone_id=step.id, title="x", planned_on=TODAY,
        note=None, done_on=None, today=TODAY), words=frozen)
    _refused(session, lambda: delivery.mark_done(session=session, team=world["team"], idea_id=idea.id,
                                                 actor_id=world["member"].id, closing_note="Again"), words=frozen)
    assert session.get(Milestone, step.id).done_on is None


def test_a_delivery_update_cannot_make_an_idea_done_without_the_closing_note(session, world):
    idea = _funded(session, world)
    kw = dict(session=session, team=world["team"], idea_id=idea.id, author_id=world["member"].id)
    services.add_delivery_update(**kw, status="in_delivery", text="Ordered")
    session.commit()
    _refused(session, lambda: services.add_delivery_update(**kw, status="done", text="Installed"), field="status",
             words="closing note")
    assert session.get(Idea, idea.id).status == "in_delivery"


# --------------------------------------------------------------------------- what residents see


def test_progress_counts_steps_done_and_planned_for_many_ideas_in_one_query(session, world, engine):
    first, second, third = (_funded(session, world, t, 10_000) for t in ("Benches", "Bulbs", "Bins"))
    for n in range(5):
        _add(session, world, first, title=f"Step {n}", done_on=TODAY if n < 2 else None)
    _add(session, world, second, done_on=TODAY)
    delivery.mark_done(session=session, team=world["team"], idea_id=second.id, actor_id=world["member"].id,
                       closing_note="Planted")
    session.commit()
    found, selects = _selects(engine, lambda: delivery.progress(session=session,
                                                                 idea_ids=[first.id, second.id, third.id]))
    assert len(selects) == 1
    assert (found[first.id].done, found[first.id].total, found[first.id].percent) == (2, 5, 40)
    assert found[first.id].label == "2 of 5 steps done"
    assert (found[second.id].label, found[second.id].percent) == ("Done", 100)
    assert (found[third.id].label, found[third.id].percent) == ("Funded: no steps planned yet", 0)
    assert delivery.progress(session=session, idea_ids=[]) == {}
    one = delivery.Progress(0, 1, "in_delivery")
    assert one.label == "0 of 1 step done"


def _selects(engine, call):
    """``call()``'s result and the SELECT statements it ran."""
    with statements_run(engine) as statements:
        result = call()
    return result, [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_the_teams_funded_ideas_come_newest_first_with_their_progress_in_one_query(session, world, engine):
    first, second = _funded(session, world, "Benches", 10_000), _funded(session, world, "Bulbs", 10_000)
    feasible_idea(session, world, "Not on a ballot", 10_000)
    _add(session, world, first, done_on=TODAY)
    _add(session, world, first, title="Install")
    session.commit()
    team_id = world["team"].id
    session.expire_all()
    rows, selects = _selects(engine, lambda: delivery.funded_of_team(session=session, team_id=team_id))
    assert len(selects) == 1
    assert [(i.title, p.done, p.total) for i, p in rows] == [("Benches", 1, 2), ("Bulbs", 0, 0)]
    assert {i.id for i, _ in rows} == {first.id, second.id}
    rows = delivery.funded_of_team(session=session, team_id=world["team"].id)
    assert rows[0][1].label == "1 of 2 steps done" and rows[1][1].label == "Funded: no steps planned yet"


def test_money_is_what_the_vote_committed_what_was_paid_and_what_is_still_held(session, world):
    idea = _funded(session, world, cost=40_000)
    idea = session.get(Idea, idea.id)
    assert session.get(Hold, idea.hold_id).amount_pence == 40_000
    paid = [SimpleNamespace(amount_pence=12_500), SimpleNamespace(amount_pence=2_050)]
    money = delivery.money(session=session, idea=idea, paid_lines=paid)
    assert (money.committed_pence, money.paid_pence, money.held_pence) == (40_000, 14_550, 40_000)
    assert money.other_pence == 0
    nothing = delivery.money(session=session, idea=feasible_idea(session, world, "Bulbs", 9_000), paid_lines=[])
    assert (nothing.committed_pence, nothing.paid_pence, nothing.held_pence) == (0, 0, 0)


def test_the_delivery_of_an_idea_is_only_for_funded_ideas(session, world):
    idea = _funded(session, world)
    _add(session, world, idea, title="Later", planned_on=TODAY + dt.timedelta(days=9))
    _add(session, world, idea, title="Sooner", planned_on=TODAY + dt.timedelta(days=2))
    page = delivery.delivery_of(session=session, idea=session.get(Idea, idea.id), paid_lines=[])
    assert [s.title for s in page.steps] == ["Sooner", "Later"]
    assert (page.progress.done, page.progress.total, page.money.committed_pence) == (0, 2, 40_000)
    assert delivery.delivery_of(session=session, idea=feasible_idea(session, world, "Bulbs", 9_000),
                                paid_lines=[]) is None


# --------------------------------------------------------------------------- who is told


def _news(session, person):
    rows = session.execute(select(MailMessage).where(MailMessage.to_address == person.email)).scalars()
    return [m for m in rows if m.subject.startswith("News of")]


def test_supporters_and_voters_are_told_each_step_once_even_when_done_twice(session, world, ctx):
    voter, supporter, bystander = world["residents"][0], world["residents"][1], world["residents"][2]
    idea = _funded(session, world)
    step = _add(session, world, idea)
    session.commit()
    assert [len(_news(session, p)) for p in (voter, supporter, bystander)] == [1, 1, 0]
    assert "New step planned: Order the benches" in _news(session, voter)[0].body
    for _ in range(2):
        delivery.complete_milestone(session=session, team=world["team"], idea_id=idea.id, milestone_id=step.id,
                                    today=TODAY)
        session.commit()
    # Undone and done again (a correction): the same event, nobody is told twice.
    for done_on in (None, TODAY):
        delivery.edit_milestone(session=session, team=world["team"], idea_id=idea.id, milestone_id=step.id,
                                title=step.title, planned_on=step.planned_on, note=None, done_on=done_on, today=TODAY)
        session.commit()
    assert [len(_news(session, p)) for p in (voter, supporter, bystander)] == [2, 2, 0]
    assert "Step done: Order the benches" in _news(session, supporter)[-1].body
    delivery.mark_done(session=session, team=world["team"], idea_id=idea.id, actor_id=world["member"].id,
                       closing_note="Two benches by the pond.")
    session.commit()
    _refused(session, lambda: delivery.mark_done(session=session, team=world["team"], idea_id=idea.id,
                                                 actor_id=world["member"].id, closing_note="Again"))
    assert [len(_news(session, p)) for p in (voter, supporter, bystander)] == [3, 3, 0]
    assert "is done. Two benches by the pond." in _news(session, voter)[-1].body
    assert session.execute(select(func.count()).select_from(IdeaUpdate).where(
        IdeaUpdate.idea_id == idea.id, IdeaUpdate.status == "done")).scalar() == 1


def test_a_supporter_who_also_voted_is_told_once(session, world, ctx):
    both = world["residents"][3]
    idea = _funded(session, world, voter=3, supporter=3)
    _add(session, world, idea, done_on=TODAY)
    session.commit()
    [message] = _news(session, both)
    assert "Step done" in message.body
