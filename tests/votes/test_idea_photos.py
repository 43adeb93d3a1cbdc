"""Ideas with a photo (issue 17, "Ideas residents can find"): the services keep, replace and drop
an idea's photo; over HTTP the propose and change forms take one (re-encoded, no metadata,
shrunk for the page), a file that is not a photo is refused beside the field with nothing
written, the idea's page shows it with its alt text and the photo route serves it sandboxed;
an upload over the request limit on every photo form comes back to the form with the message
beside the photo field (with CSRF on too)."""

import io
import os

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from community.db import london_today, open_session
from tests.spend.receipt_files import SCRIPT, phone_photo
from tests.votes.test_delivery_views import _step_form
from votes import photos, services
from votes.models import Idea, Milestone

FORM = {
    "title": "Benches by the pond",
    "description": "Somewhere to sit on the walk",
    "estimated_cost": "400",
}


@pytest.fixture
def funded_idea(funded):
    """A funded idea (tests/votes/conftest.py), so the team has its step forms."""
    return funded


def _photos(app) -> list[str]:
    folder = os.path.join(app.config["INSTANCE_UPLOADS"], "photos")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def _ideas(engine) -> list[Idea]:
    with open_session(engine, write=False) as s:
        return list(s.execute(select(Idea).order_by(Idea.id)).scalars())


def _beside_photo(html: str, words: str) -> bool:
    """The message is in the photo field's own error (between its error id and the input)."""
    start = html.index('id="photo-error"')
    return words in html[start : html.index('name="photo"', start)]


def _big_jpeg(width=3000, height=2000) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 70)).save(out, format="JPEG", quality=70)
    return out.getvalue()


def _propose(client, world, photo=None, **fields):
    data = {**FORM, **fields}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo[1]), photo[0])
    return client.post(
        f"/teams/{world['team'].slug}/ideas/new", data=data, content_type="multipart/form-data"
    )


def _edit(client, world, idea_id, photo=None, **fields):
    data = {**FORM, **fields}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo[1]), photo[0])
    return client.post(
        f"/teams/{world['team'].slug}/ideas/{idea_id}/edit", data=data, content_type="multipart/form-data"
    )


# --------------------------------------------------------------------------- services


def test_an_idea_proposed_with_a_photo_keeps_its_reference_and_type(session, world):
    idea = services.propose_idea(
        session=session,
        team=world["team"],
        proposer=world["residents"][0],
        title="Planters",
        description="On Main Street",
        estimated_cost_pence=30_000,
        photo=("a" * 32, "image/jpeg"),
    )
    session.commit()
    assert (session.get(Idea, idea.id).photo_ref, session.get(Idea, idea.id).photo_type) == (
        "a" * 32,
        "image/jpeg",
    )


def test_changing_an_idea_keeps_replaces_or_drops_its_photo(session, world):
    resident = world["residents"][0]
    idea = services.propose_idea(
        session=session,
        team=world["team"],
        proposer=resident,
        title="Planters",
        description="On Main Street",
        estimated_cost_pence=30_000,
        photo=("a" * 32, "image/jpeg"),
    )
    change = dict(
        session=session,
        idea_id=idea.id,
        person=resident,
        title="Planters",
        description="Main Street",
        estimated_cost_pence=30_000,
    )
    services.edit_idea(**change)
    assert (idea.photo_ref, idea.photo_type) == ("a" * 32, "image/jpeg")  # no new photo: kept
    services.edit_idea(**change, photo=("b" * 32, "image/png"))
    assert (idea.photo_ref, idea.photo_type) == ("b" * 32, "image/png")
    services.edit_idea(**change, remove_photo=True)
    session.commit()
    assert (session.get(Idea, idea.id).photo_ref, session.get(Idea, idea.id).photo_type) == (None, None)


def test_a_new_photo_wins_over_remove_and_another_person_cannot_change_the_photo(session, world):
    resident = world["residents"][0]
    idea = services.propose_idea(
        session=session,
        team=world["team"],
        proposer=resident,
        title="Planters",
        description="On Main Street",
        estimated_cost_pence=30_000,
    )
    change = dict(
        session=session, idea_id=idea.id, title="Planters", description="x", estimated_cost_pence=30_000
    )
    services.edit_idea(**change, person=resident, photo=("c" * 32, "image/jpeg"), remove_photo=True)
    assert idea.photo_ref == "c" * 32
    with pytest.raises(services.VotesError, match="Only the person who proposed"):
        services.edit_idea(**change, person=world["residents"][1], remove_photo=True)


def test_the_database_refuses_a_photo_without_its_type_or_of_another_type(session, world):
    idea = services.propose_idea(
        session=session,
        team=world["team"],
        proposer=world["residents"][0],
        title="Planters",
        description="On Main Street",
        estimated_cost_pence=30_000,
    )
    session.commit()
    for ref, kind in (("a" * 32, None), ("a" * 32, "image/svg+xml")):
        row = session.get(Idea, idea.id)
        row.photo_ref, row.photo_type = ref, kind
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


# --------------------------------------------------------------------------- proposing with a photo


def test_a_resident_proposes_with_a_photo_and_everyone_sees_it_on_the_idea_page(
    client, app, engine, world, sign_in
):
    sign_in(world["residents"][0])
    form = client.get(f"/teams/{world['team'].slug}/ideas/new").get_data(as_text=True)
    assert (
        'enctype="multipart/form-data"' in form
        and 'name="photo"' in form
        and 'accept="image/jpeg,image/png"' in form
    )
    answer = _propose(client, world, photo=("IMG_0042.jpg", phone_photo()))
    [idea] = _ideas(engine)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/ideas/{idea.id}")
    assert idea.photo_type == "image/jpeg" and _photos(app) == [idea.photo_ref]
    client.post("/sign-out")
    page = client.get(f"/teams/{world['team'].slug}/ideas/{idea.id}").get_data(as_text=True)
    src = f"/teams/{world['team'].slug}/ideas/{idea.id}/photo?v={idea.photo_ref[:8]}"
    assert f'src="{src}"' in page and 'alt="Photo of the idea: Benches by the pond"' in page
    served = client.get(src)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    stored = Image.open(io.BytesIO(served.data))
    assert stored.format == "JPEG" and not stored.getexif() and b"<script>" not in served.data
    assert stored.size == (40, 60)  # turned upright by its EXIF orientation
    listing = client.get(f"/teams/{world['team'].slug}/ideas").get_data(as_text=True)
    assert "Benches by the pond" in listing and "/photo" not in listing  # the list stays light: no photos


def test_an_idea_photo_is_shrunk_for_the_page(client, app, engine, world, sign_in):
    sign_in(world["residents"][0])
    assert _propose(client, world, photo=("big.jpg", _big_jpeg())).status_code == 302
    [idea] = _ideas(engine)
    served = client.get(f"/teams/{world['team'].slug}/ideas/{idea.id}/photo")
    assert Image.open(io.BytesIO(served.data)).size == (photos.IDEA_PHOTO_MAX_SIDE, 853)


@pytest.mark.parametrize(
    "name, data, words",
    [
        ("bench.jpg", SCRIPT, "The photo must be a JPEG or PNG image."),
        ("bench.png", b"", "The photo file is empty."),
        ("bench.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "The photo could not be opened"),
    ],
)
def test_a_file_that_is_not_a_photo_is_refused_beside_the_field_and_nothing_is_written(
    client, app, engine, world, sign_in, name, data, words
):
    sign_in(world["residents"][0])
    answer = _propose(client, world, photo=(name, data))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and 'id="photo-error"' in html and words in html
    assert _beside_photo(html, words)
    assert 'value="Benches by the pond"' in html  # what was typed is kept
    assert _ideas(engine) == [] and _photos(app) == []


def test_a_refused_idea_leaves_no_photo_behind(client, app, engine, world, sign_in):
    sign_in(world["residents"][0])
    answer = _propose(client, world, photo=("bench.jpg", phone_photo()), estimated_cost="0")
    assert answer.status_code == 400 and _ideas(engine) == [] and _photos(app) == []


# --------------------------------------------------------------------------- changing the photo


@pytest.fixture
def with_photo(client, app, engine, world, sign_in):
    """Resident 0 signed in, with an idea proposed with a photo."""
    sign_in(world["residents"][0])
    assert _propose(client, world, photo=("bench.jpg", phone_photo())).status_code == 302
    return _ideas(engine)[0]


def test_the_proposer_replaces_the_photo_and_the_old_file_goes(client, app, engine, world, with_photo):
    form = client.get(f"/teams/{world['team'].slug}/ideas/{with_photo.id}/edit").get_data(as_text=True)
    assert 'name="remove_photo"' in form and "Choose a photo to replace it" in form
    assert 'alt="Photo of the idea: Benches by the pond"' in form
    png = io.BytesIO()
    Image.new("RGB", (30, 20), (250, 200, 40)).save(png, format="PNG")
    answer = _edit(client, world, with_photo.id, photo=("new.png", png.getvalue()))
    [idea] = _ideas(engine)
    assert (
        answer.status_code == 302
        and idea.photo_type == "image/png"
        and idea.photo_ref != with_photo.photo_ref
    )
    assert _photos(app) == [idea.photo_ref]
    served = client.get(f"/teams/{world['team'].slug}/ideas/{idea.id}/photo")
    assert served.mimetype == "image/png" and Image.open(io.BytesIO(served.data)).size == (30, 20)


def test_changing_only_the_words_keeps_the_photo(client, app, engine, world, with_photo):
    assert _edit(client, world, with_photo.id, title="Two benches by the pond").status_code == 302
    [idea] = _ideas(engine)
    assert idea.title == "Two benches by the pond" and idea.photo_ref == with_photo.photo_ref
    assert _photos(app) == [with_photo.photo_ref]


def test_the_proposer_removes_the_photo(client, app, engine, world, with_photo):
    assert _edit(client, world, with_photo.id, remove_photo="y").status_code == 302
    [idea] = _ideas(engine)
    assert (idea.photo_ref, idea.photo_type) == (None, None) and _photos(app) == []
    page = client.get(f"/teams/{world['team'].slug}/ideas/{idea.id}").get_data(as_text=True)
    assert "Photo of the idea" not in page
    assert client.get(f"/teams/{world['team'].slug}/ideas/{idea.id}/photo").status_code == 404
    form = client.get(f"/teams/{world['team'].slug}/ideas/{idea.id}/edit").get_data(as_text=True)
    assert 'name="remove_photo"' not in form and "Photo (optional)" in form


def test_a_bad_file_on_the_change_form_changes_nothing(client, app, engine, world, with_photo):
    answer = _edit(
        client, world, with_photo.id, photo=("bench.jpg", SCRIPT), title="Changed", remove_photo="y"
    )
    assert answer.status_code == 400 and "must be a JPEG or PNG image" in answer.get_data(as_text=True)
    [idea] = _ideas(engine)
    assert (idea.title, idea.photo_ref) == ("Benches by the pond", with_photo.photo_ref)
    assert _photos(app) == [with_photo.photo_ref]


# --------------------------------------------------------------------------- the photo route


def test_the_photo_of_a_hidden_idea_another_team_or_no_photo_is_404(
    client, session, engine, world, with_photo
):
    from community import services as community

    slug = world["team"].slug
    other = community.create_team(
        session,
        actor_id=None,
        name="Gamesley Connected Team",
        slug="gamesley",
        place_id=world["outsider"].place_id,
        cost_centre="TC2002",
    )
    plain = services.propose_idea(
        session=session,
        team=world["team"],
        proposer=world["residents"][1],
        title="No photo",
        description="Words only",
        estimated_cost_pence=1_000,
    )
    session.commit()
    assert client.get(f"/teams/{other.slug}/ideas/{with_photo.id}/photo").status_code == 404
    assert client.get(f"/teams/{slug}/ideas/{plain.id}/photo").status_code == 404
    assert client.get(f"/teams/{slug}/ideas/{with_photo.id + 99}/photo").status_code == 404
    services.review_idea(
        session=session,
        team=world["team"],
        idea_id=with_photo.id,
        reviewer_id=world["member"].id,
        decision="hidden",
        note="Abusive",
    )
    session.commit()
    assert client.get(f"/teams/{slug}/ideas/{with_photo.id}/photo").status_code == 200  # its proposer
    client.post("/sign-out")
    assert client.get(f"/teams/{slug}/ideas/{with_photo.id}/photo").status_code == 404  # anyone else


# --------------------------------------------------------------------------- over the request limit

# Every form that takes a photo, by endpoint: who posts to it.
OVER_LIMIT = {
    "votes.propose": "resident",
    "votes.edit_idea": "resident",
    "votes.new_step": "member",
    "votes.edit_step": "member",
}


def test_the_table_covers_every_photo_form():
    """A new form with a file field must be added here (and to photos.PHOTO_FORMS), or this fails;
    spend's receipt form has its own tests (tests/spend/test_views.py)."""
    from flask_wtf.file import FileField

    import pledges.forms  # noqa: F401 - every form module, so every form class is known
    import spend.forms
    from community.forms import AppForm
    from votes.forms import IdeaForm, MilestoneForm

    def every(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every(sub)

    with_files = {
        c
        for c in every(AppForm)
        if any(getattr(v, "field_class", None) is FileField for v in vars(c).values())
    }
    assert with_files == {IdeaForm, MilestoneForm, spend.forms.PayForm}
    assert set(photos.PHOTO_FORMS) == set(OVER_LIMIT)


def _state(engine, app) -> tuple:
    with open_session(engine, write=False) as s:
        ideas = [
            (i.title, i.photo_ref, i.status) for i in s.execute(select(Idea).order_by(Idea.id)).scalars()
        ]
        steps = [
            (m.title, m.photo_ref) for m in s.execute(select(Milestone).order_by(Milestone.id)).scalars()
        ]
        return ideas, steps, s.execute(select(func.count()).select_from(Milestone)).scalar_one(), _photos(app)


@pytest.mark.parametrize("csrf", [False, True], ids=["csrf-off", "csrf-on"])
@pytest.mark.parametrize("endpoint", list(OVER_LIMIT))
def test_an_upload_over_the_limit_comes_back_to_the_form_with_the_message_beside_the_photo(
    client, app, session, engine, world, funded_idea, sign_in, endpoint, csrf
):
    from votes import delivery

    slug = world["team"].slug
    mine = services.propose_idea(
        session=session,
        team=world["team"],
        proposer=world["residents"][0],
        title="Bulbs",
        description="Along the path",
        estimated_cost_pence=2_000,
    )
    step = delivery.add_milestone(
        session=session,
        team=world["team"],
        idea_id=funded_idea.id,
        actor_id=world["member"].id,
        title="Order the benches",
        planned_on=london_today(),
    )
    session.commit()
    url = {
        "votes.propose": f"/teams/{slug}/ideas/new",
        "votes.edit_idea": f"/teams/{slug}/ideas/{mine.id}/edit",
        "votes.new_step": f"/teams/{slug}/ideas/{funded_idea.id}/steps/new",
        "votes.edit_step": f"/teams/{slug}/ideas/{funded_idea.id}/steps/{step.id}/edit",
    }[endpoint]
    sign_in(world["residents"][0] if OVER_LIMIT[endpoint] == "resident" else world["member"])
    before = _state(engine, app)
    huge = b"\xff\xd8\xff" + b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024)
    app.config["WTF_CSRF_ENABLED"] = csrf
    try:
        answer = client.post(
            url,
            content_type="multipart/form-data",
            data={**FORM, **_step_form(), "photo": (io.BytesIO(huge), "huge.jpg")},
        )
        assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
        assert answer.headers["Location"] == f"{url}?too_large=1"
        page = client.get(answer.headers["Location"])
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'id="photo-error"' in html and 'name="photo"' in html
    assert _beside_photo(html, "The photo must be 10 MB or smaller.")
    assert "govuk-error-summary" in html and 'href="#photo"' in html
    assert _state(engine, app) == before  # nothing written


def test_elsewhere_an_upload_over_the_limit_still_gets_the_clear_413_page(
    client, app, world, funded_idea, sign_in
):
    sign_in(world["member"])
    huge = io.BytesIO(b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024))
    answer = client.post(
        f"/teams/{world['team'].slug}/ideas/{funded_idea.id}/done",
        content_type="multipart/form-data",
        data={"closing_note": "x", "photo": (huge, "huge.jpg")},
    )
    assert answer.status_code == 413 and "The photo must be 10 MB or smaller." in answer.get_data(
        as_text=True
    )


# --------------------------------------------------------------------------- the demo


def test_demo_load_gives_a_few_ideas_and_steps_a_generated_photo(runner, app, engine, client):
    from demo import votes as demo_votes

    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    with open_session(engine, write=False) as s:
        ideas = {i.title: i for i in s.execute(select(Idea)).scalars() if i.photo_ref}
        steps = {m.title: m for m in s.execute(select(Milestone)).scalars() if m.photo_ref}
    assert set(ideas) == set(demo_votes.IDEA_PHOTOS) and set(steps) == set(demo_votes.STEP_PHOTOS)
    assert sorted(_photos(app)) == sorted(
        [i.photo_ref for i in ideas.values()] + [m.photo_ref for m in steps.values()]
    )
    planters = ideas["Planters on Main Street"]
    served = client.get(f"/teams/shirebrook/ideas/{planters.id}/photo")
    image = Image.open(io.BytesIO(served.data))
    assert served.mimetype == "image/jpeg" and image.size == (960, 640) and not image.getexif()
    step = steps["Order the planters from the garden centre"]
    assert client.get(f"/teams/shirebrook/ideas/{step.idea_id}/steps/{step.id}/photo").status_code == 200
    page = client.get(f"/teams/shirebrook/ideas/{planters.id}").get_data(as_text=True)
    assert 'alt="Photo of the idea: Planters on Main Street"' in page
    assert 'alt="Photo of the step: Order the planters from the garden centre"' in page
    assert "/photo" not in client.get("/").get_data(as_text=True)  # the home page stays as light as it was


def test_a_visitor_who_may_not_propose_is_told_why_not_sent_to_a_field_that_is_not_there(client, app, world, sign_in):
    """The over-limit redirect lands on the propose page; for someone outside the team's place it
    shows no photo field, so it says only that they cannot propose here: no error that links to
    nothing."""
    sign_in(world["outsider"])
    url = f"/teams/{world['team'].slug}/ideas/new"
    huge = b"\xff\xd8\xff" + b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024)
    answer = client.post(url, content_type="multipart/form-data", data={**FORM, "photo": (io.BytesIO(huge), "huge.jpg")})
    assert answer.status_code == 302 and answer.headers["Location"] == f"{url}?too_large=1"
    page = client.get(answer.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Only residents of" in html
    assert "govuk-error-summary" not in html and 'name="photo"' not in html
