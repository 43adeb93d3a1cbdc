"""Delivery residents can follow (issue 17), over HTTP: the team's step and "done" pages (sign-in,
second factor, membership), the idea page residents see (steps, progress, money), the step photo
route, and bad input shown beside its field with nothing written."""

import datetime as dt
import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from community import services as community
from community.db import london_today, open_session
from tests.spend.receipt_files import SCRIPT, phone_photo, png_html_polyglot
from tests.support.factories import SECRET, feasible_idea, open_round
from votes import delivery, services
from votes.models import Idea, Milestone


@pytest.fixture
def funded(session, world):
    """A funded Shirebrook idea (resident 0 voted for it, resident 1 supports it)."""
    idea = feasible_idea(session, world, "Benches by the pond", 40_000)
    services.support(session=session, idea_id=idea.id, person=world["residents"][1])
    rnd = open_round(session, world, [idea])
    services.cast_ballot(session=session, rnd_id=rnd.id, person=world["residents"][0], secret=SECRET,
                         idea_ids=[idea.id])
    services.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, force=True)
    session.commit()
    return session.get(Idea, idea.id)


def _url(world, idea, tail=""):
    return f"/teams/{world['team'].slug}/ideas/{idea.id}{tail}"


def _date(prefix: str, day: dt.date | None) -> dict:
    if day is None:
        return {f"{prefix}-day": "", f"{prefix}-month": "", f"{prefix}-year": ""}
    return {f"{prefix}-day": str(day.day), f"{prefix}-month": str(day.month), f"{prefix}-year": str(day.year)}


def _step_form(title="Order the benches", planned=None, done=None, note="", photo=None) -> dict:
    data = {"title": title, "note": note, **_date("planned_on", planned or london_today() + dt.timedelta(days=7)),
            **_date("done_on", done)}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo[1]), photo[0])
    return data


def _steps(engine, idea) -> list[Milestone]:
    with open_session(engine, write=False) as s:
        return list(s.execute(select(Milestone).where(Milestone.idea_id == idea.id).order_by(Milestone.id)).scalars())


def _photos(app) -> list:
    folder = app.config["INSTANCE_UPLOADS"] + "/photos"
    import os

    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _done_form(client, world, idea) -> dict:
    """The hidden fields of the "mark done" page as it was shown (its key, what goes back)."""
    page = client.get(_url(world, idea, "/done")).get_data(as_text=True)
    return {name: re.search(rf'name="{name}" type="hidden" value="([^"]*)"', page)[1]
            for name in ("idempotency_key", "release")}


# --------------------------------------------------------------------------- who may use the team's pages


def test_the_step_pages_need_sign_in_a_second_factor_and_the_team(client, session, world, funded, sign_in,
                                                                    make_person):
    pages = [("get", _url(world, funded, "/steps/new")), ("post", _url(world, funded, "/steps/new")),
             ("get", _url(world, funded, "/done")), ("post", _url(world, funded, "/done"))]
    for method, url in pages:
        answer = getattr(client, method)(url)
        assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"], url
    sign_in(world["residents"][0])
    assert client.get(pages[0][1]).status_code == 403  # a resident is not staff
    client.post("/sign-out")
    other_place = world["outsider"].place_id
    other = community.create_team(session, actor_id=None, name="Gamesley Connected Team", slug="gamesley",
                                  place_id=other_place, cost_centre="TC2002")
    session.commit()
    stranger = make_person("gail@example.org", role="member", team=other)
    sign_in(stranger)
    assert client.get(pages[0][1]).status_code == 404  # staff of another team
    assert client.post(pages[1][1], data=_step_form()).status_code == 404
    client.post("/sign-out")
    no_code = make_person("nocode@example.org", role="member", team=world["team"], totp=False)
    sign_in(no_code)
    answer = client.get(pages[0][1])  # signed in halfway: the second factor is still to set up
    assert answer.status_code == 302 and "/steps/new" not in answer.headers["Location"].split("?")[0]
    assert _steps(session.bind, funded) == []


def test_an_idea_that_is_not_funded_has_no_step_pages(client, session, world, sign_in):
    idea = feasible_idea(session, world, "Planters", 20_000)
    session.commit()
    sign_in(world["member"])
    assert client.get(_url(world, idea, "/steps/new")).status_code == 404
    assert client.get(_url(world, idea, "/done")).status_code == 404


# --------------------------------------------------------------------------- adding, changing, completing


def test_a_member_adds_a_step_with_a_photo_and_residents_see_it_on_the_idea_page(client, app, engine, world,
                                                                                  funded, sign_in):
    sign_in(world["member"])
    assert "Add a step" in client.get(_url(world, funded)).get_data(as_text=True)
    form = client.get(_url(world, funded, "/steps/new"))
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.get_data(as_text=True)
    answer = client.post(_url(world, funded, "/steps/new"), content_type="multipart/form-data",
                         data=_step_form(note="From the joiner", done=london_today(),
                                         photo=("IMG_0042.jpg", phone_photo())))
    assert answer.status_code == 302 and answer.headers["Location"] == _url(world, funded)
    [step] = _steps(engine, funded)
    assert (step.title, step.done_on, step.photo_type) == ("Order the benches", london_today(), "image/jpeg")
    client.post(_url(world, funded, "/steps/new"), data=_step_form(title="Install them"))
    client.post("/sign-out")
    page = client.get(_url(world, funded)).get_data(as_text=True)  # a visitor, no sign-in
    assert "Order the benches" in page and "From the joiner" in page and "Install them" in page
    assert "1 of 2 steps done" in page and '<progress class="app-progress__bar" max="100" value="50"' in page
    assert "Not done yet" in page and "Committed by the vote" in page and "£400.00" in page
    assert "Add a step" not in page and "Mark done" not in page
    photo = client.get(_url(world, funded, f"/steps/{step.id}/photo"))
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    stored = Image.open(io.BytesIO(photo.data))
    assert stored.format == "JPEG" and not stored.getexif()  # re-encoded: no GPS, no camera, no comment
    assert f'src="{_url(world, funded, f"/steps/{step.id}/photo")}"' in page


def test_a_file_that_is_not_a_photo_is_refused_beside_the_field_and_nothing_is_written(client, app, engine,
                                                                                        world, funded, sign_in):
    sign_in(world["member"])
    for name, data, words in (("bench.jpg", SCRIPT, "must be a JPEG or PNG image"), ("bench.png", b"", "is empty")):
        answer = client.post(_url(world, funded, "/steps/new"), content_type="multipart/form-data",
                             data=_step_form(photo=(name, data)))
        html = answer.get_data(as_text=True)
        assert answer.status_code == 400
        assert 'id="photo-error"' in html and words in html
        assert 'value="Order the benches"' in html  # what was typed is kept
    assert _steps(engine, funded) == [] and _photos(app) == []
    with open_session(engine, write=False) as s:
        assert s.get(Idea, funded.id).status == "funded"


def test_bad_step_input_is_shown_beside_each_field_and_nothing_is_written(client, engine, world, funded, sign_in):
    sign_in(world["member"])
    empty = client.post(_url(world, funded, "/steps/new"), data={**_step_form(title=""), **_date("planned_on", None)})
    html = empty.get_data(as_text=True)
    assert empty.status_code == 400 and "Enter what the step is" in html and "Enter the date it is planned for" in html
    future = client.post(_url(world, funded, "/steps/new"),
                         data=_step_form(done=london_today() + dt.timedelta(days=2)))
    html = future.get_data(as_text=True)
    assert future.status_code == 400 and 'id="done_on-error"' in html and "today or in the past" in html
    long = client.post(_url(world, funded, "/steps/new"), data=_step_form(title="x" * 121))
    assert long.status_code == 400 and "120 characters or fewer" in long.get_data(as_text=True)
    assert _steps(engine, funded) == []


def test_a_polyglot_photo_is_stored_without_what_follows_the_image(client, app, engine, world, funded, sign_in):
    sign_in(world["member"])
    client.post(_url(world, funded, "/steps/new"), content_type="multipart/form-data",
                data=_step_form(photo=("bench.png", png_html_polyglot())))
    [step] = _steps(engine, funded)
    photo = client.get(_url(world, funded, f"/steps/{step.id}/photo"))
    assert photo.mimetype == "image/png" and b"<script>" not in photo.data


def test_a_step_is_changed_marked_done_and_the_idea_marked_done_with_its_closing_note(client, session, engine,
                                                                                      world, funded, sign_in):
    sign_in(world["member"])
    client.post(_url(world, funded, "/steps/new"), data=_step_form())
    [step] = _steps(engine, funded)
    edit = client.get(_url(world, funded, f"/steps/{step.id}/edit")).get_data(as_text=True)
    assert 'value="Order the benches"' in edit
    changed = client.post(_url(world, funded, f"/steps/{step.id}/edit"), data=_step_form(title="Benches ordered"))
    assert changed.status_code == 302
    done = client.post(_url(world, funded, f"/steps/{step.id}/done"))
    assert done.status_code == 302 and done.headers["Location"] == _url(world, funded)
    [step] = _steps(engine, funded)
    assert (step.title, step.done_on) == ("Benches ordered", london_today())
    refused = client.post(_url(world, funded, "/done"), data={"closing_note": ""})
    assert refused.status_code == 400 and "Enter a closing note" in refused.get_data(as_text=True)
    with open_session(engine, write=False) as s:
        assert s.get(Idea, funded.id).status == "in_delivery"
    finished = client.post(_url(world, funded, "/done"), data={**_done_form(client, world, funded),
                                                               "closing_note": "Two oak benches, by the pond."})
    assert finished.status_code == 302 and finished.headers["Location"] == _url(world, funded)
    page = client.get(_url(world, funded)).get_data(as_text=True)
    assert "What was delivered" in page and "Two oak benches, by the pond." in page
    assert "Add a step" not in page and "Mark the idea done" not in page  # done: frozen
    again = client.post(_url(world, funded, "/steps/new"), data=_step_form(title="One more"))
    assert again.status_code == 400 and "This idea is done" in again.get_data(as_text=True)
    assert len(_steps(engine, funded)) == 1


def test_the_delivery_update_form_no_longer_offers_done(client, world, funded, sign_in, engine):
    sign_in(world["member"])
    page = client.get(_url(world, funded)).get_data(as_text=True)
    assert 'value="in_delivery"' in page and 'name="status" type="radio" value="done"' not in page
    answer = client.post(_url(world, funded, "/delivery"), data={"status": "done", "text": "All done"})
    assert answer.status_code == 302
    with open_session(engine, write=False) as s:
        assert s.get(Idea, funded.id).status == "funded" and s.get(Idea, funded.id).closing_note is None


# --------------------------------------------------------------------------- the photo route


def test_a_step_photo_of_another_team_or_of_no_photo_is_404(client, session, world, funded, sign_in, engine):
    sign_in(world["member"])
    client.post(_url(world, funded, "/steps/new"), content_type="multipart/form-data",
                data=_step_form(photo=("bench.jpg", phone_photo())))
    client.post(_url(world, funded, "/steps/new"), data=_step_form(title="No photo"))
    with_photo, without = _steps(engine, funded)
    client.post("/sign-out")
    other = community.create_team(session, actor_id=None, name="Gamesley Connected Team", slug="gamesley",
                                  place_id=world["outsider"].place_id, cost_centre="TC2002")
    session.commit()
    assert client.get(f"/teams/{other.slug}/ideas/{funded.id}/steps/{with_photo.id}/photo").status_code == 404
    assert client.get(_url(world, funded, f"/steps/{without.id}/photo")).status_code == 404
    assert client.get(_url(world, funded, f"/steps/{with_photo.id + 99}/photo")).status_code == 404
    assert client.get(_url(world, funded, f"/steps/{with_photo.id}/photo")).status_code == 200


# --------------------------------------------------------------------------- where each funded idea is


def test_the_team_page_and_the_results_show_where_each_funded_idea_is(client, session, world, funded):
    delivery.add_milestone(session=session, team=world["team"], idea_id=funded.id, actor_id=world["member"].id,
                           title="Order", planned_on=london_today(), done_on=london_today())
    delivery.add_milestone(session=session, team=world["team"], idea_id=funded.id, actor_id=world["member"].id,
                           title="Install", planned_on=london_today())
    session.commit()
    team_page = client.get(f"/teams/{world['team'].slug}").get_data(as_text=True)
    assert "What the votes funded" in team_page and "Benches by the pond" in team_page
    assert "1 of 2 steps done" in team_page
    round_id = session.execute(select(func.max(Idea.funded_round_id))).scalar()
    results = client.get(f"/teams/{world['team'].slug}/rounds/{round_id}/results").get_data(as_text=True)
    assert "1 of 2 steps done" in results and 'aria-labelledby="result-progress-' in results


def test_the_idea_page_is_in_polish_for_a_polish_reader(client, session, world, funded):
    delivery.add_milestone(session=session, team=world["team"], idea_id=funded.id, actor_id=world["member"].id,
                           title="Order", planned_on=london_today(), done_on=london_today())
    session.commit()
    page = client.get(_url(world, funded, "?lang=pl")).get_data(as_text=True)
    assert "Zaplanowano na" in page and "Wykonane kroki: 1 z 1" in page and "Co zostało zrealizowane" not in page


def test_the_demo_shows_delivery_steps_and_a_done_idea(runner, engine, client):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    with open_session(engine, write=False) as s:
        steps = list(s.execute(select(Milestone)).scalars())
        done = list(s.execute(select(Idea).where(Idea.status == "done")).scalars())
        in_delivery = list(s.execute(select(Idea).where(Idea.status == "in_delivery")).scalars())
    assert len(steps) >= 4 and any(st.done_on for st in steps) and any(st.done_on is None for st in steps)
    assert len(done) == 1 and done[0].closing_note and len(in_delivery) == 1
    page = client.get(f"/teams/shirebrook/ideas/{in_delivery[0].id}").get_data(as_text=True)
    assert "1 of 3 steps done" in page
    assert "What the votes funded" in client.get("/teams/shirebrook").get_data(as_text=True)
