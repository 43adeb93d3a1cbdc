"""The personal-data download (community/rights.py) in the person's language, with the photos they
uploaded (issue 16, issue 17): its notes and each section's heading are in Person.language, its
section and field names stay the same English identifiers in every language; the photo of an idea
(or of a delivery step) the person uploaded is listed with a link that downloads it."""

import io
import json
import re
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from community import rights
from community.db import london_today, open_session
from community.models import Person
from tests.community.test_rights import _full_life
from tests.spend.receipt_files import phone_photo
from tests.support.factories import SECRET, feasible_idea, open_round
from tests.votes.test_idea_photos import FORM
from votes import services as votes
from votes.models import Idea, Milestone

POLISH_BALLOTS = "Karty do głosowania nie są powiązane z osobami."
ROMANIAN_BALLOTS = "Buletinele de vot nu sunt legate de persoane."


def _set_language(session, person, lang):
    person.language = lang
    session.add(person)
    session.commit()


def _export(session, person, sources):
    document = rights.export_personal_data(session=session, person_id=person.id, sources=sources)
    session.commit()
    return document


def _keys(document) -> dict:
    """Every section's and field's name, nested (the identifiers, not the values)."""
    def walk(value):
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items() if k != "contents"}
        if isinstance(value, list):
            return [walk(v) for v in value[:1]]
        return None
    return walk(document)


@pytest.mark.parametrize(("lang", "ballots", "heading", "recovery"), [
    ("pl", POLISH_BALLOTS, "Pomysły, które zgłosiłeś(-aś)", "Przechowujemy tylko jednokierunkowy skrót każdego kodu"),
    ("ro", ROMANIAN_BALLOTS, "Ideile pe care le-ați propus", "Păstrăm doar un rezumat unidirecțional"),
])
def test_the_download_is_in_the_persons_language_with_the_same_names(app, session, world, sources, lang,
                                                                     ballots, heading, recovery):
    life = _full_life(session, world)
    rita = life["rita"]
    english = _export(session, rita, sources)
    _set_language(session, rita, lang)
    with app.test_request_context("/?lang=en"):  # the person's language, whatever the request's
        document = _export(session, rita, sources)
    assert document["about"]["language"] == lang and english["about"]["language"] == "en"
    assert document["ballots"].startswith(ballots) and english["ballots"].startswith("Ballots are not linked")
    assert document["recovery_codes"]["note"].startswith(recovery)
    assert english["recovery_codes"]["note"].startswith("Only a one-way digest of each code")
    assert document["about"]["contents"]["ideas_proposed"] == heading
    assert english["about"]["contents"]["ideas_proposed"] == "Ideas you proposed"
    assert document["about"]["times"] != english["about"]["times"]
    # The same identifiers in every language: a program reads either file the same way.
    assert _keys(document) == _keys(english)
    assert document["ideas_proposed"][0]["title"] == "Benches by the pond"  # what the person typed, as typed


def test_every_section_of_a_download_has_a_heading_in_each_language(app, session, world, sources):
    """A resident's and a staff member's downloads between them have every section: each is in
    ``about.contents`` with a heading, never its bare identifier, translated in pl and ro."""
    _full_life(session, world)  # the member reviewed ideas and recorded money: team work, ledger records
    member = world["member"]
    for lang in ("en", "pl", "ro"):
        for person in (world["residents"][0], member, world["enabler"]):
            _set_language(session, person, lang)
            with app.app_context():  # as a job outside a request would
                document = _export(session, person, sources)
            contents = document["about"]["contents"]
            assert list(contents) == list(document)
            untitled = [key for key, heading in contents.items() if heading == key or not heading.strip()]
            assert not untitled, (lang, untitled)
            if lang != "en":
                assert contents["account"] != "Your account" and contents["ballots"] != "Your ballots"


def test_a_staff_members_delivery_step_photo_is_listed_with_its_address(app, session, world, sources):
    idea = feasible_idea(session, world, "Benches by the pond", 40_000)
    rnd = open_round(session, world, [idea])
    votes.cast_ballot(session=session, rnd_id=rnd.id, person=world["residents"][0], secret=SECRET, idea_ids=[idea.id])
    votes.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, force=True)
    session.commit()
    step = Milestone(idea_id=idea.id, title="Order the benches", planned_on=london_today(), photo_ref="b" * 32,
                     photo_type="image/png", created_by_id=world["member"].id)
    bare = Milestone(idea_id=idea.id, title="Install them", planned_on=london_today(), created_by_id=world["member"].id)
    session.add_all([step, bare])
    session.commit()
    work = _export(session, world["member"], sources)["votes_team_work"]["delivery_steps_added"]
    assert [s["title"] for s in work] == ["Order the benches", "Install them"]
    assert work[0]["photo"] == {"content_type": "image/png",
                                "download": f"/teams/{world['team'].slug}/ideas/{idea.id}/steps/{step.id}/photo"}
    assert "photo" not in work[1] and "b" * 32 not in json.dumps(work)


# ---- over HTTP ------------------------------------------------------------------------------


def _download(client) -> dict:
    response = client.post("/account/data")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def test_a_residents_idea_photo_is_in_their_polish_download_and_its_link_gives_the_photo(
        client, app, engine, session, world, sign_in):
    rita = world["residents"][0]
    _set_language(session, rita, "pl")
    sign_in(rita)
    answer = client.post(f"/teams/{world['team'].slug}/ideas/new", content_type="multipart/form-data",
                         data={**FORM, "photo": (io.BytesIO(phone_photo()), "IMG_0042.jpg")})
    assert answer.status_code == 302
    client.post(f"/teams/{world['team'].slug}/ideas/new", data={**FORM, "title": "Planters"})  # no photo
    with open_session(engine, write=False) as s:
        with_photo, without = s.execute(select(Idea).order_by(Idea.id)).scalars().all()
    document = _download(client)
    assert document["about"]["language"] == "pl" and document["ballots"].startswith(POLISH_BALLOTS)
    assert document["about"]["contents"]["ideas_proposed"] == "Pomysły, które zgłosiłeś(-aś)"
    first, second = document["ideas_proposed"]
    assert (first["id"], second["id"]) == (with_photo.id, without.id)
    assert "photo" not in second and "photo_ref" not in first and with_photo.photo_ref not in json.dumps(document)
    link = first["photo"]["download"]
    assert first["photo"]["content_type"] == "image/jpeg"
    assert link.startswith("http") and re.search(rf"/teams/{world['team'].slug}/ideas/{with_photo.id}/photo", link)
    parts = urlsplit(link)
    photo = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    shown = client.get(f"/teams/{world['team'].slug}/ideas/{with_photo.id}/photo")
    assert photo.data == shown.data and len(photo.data) > 100


def test_a_residents_download_follows_their_saved_language(client, session, world, sign_in):
    rita = world["residents"][0]
    sign_in(rita)
    assert _download(client)["ballots"].startswith("Ballots are not linked")
    with open_session(session.get_bind(), write=True) as s:
        s.get(Person, rita.id).language = "ro"
        s.commit()
    document = _download(client)
    assert document["about"]["language"] == "ro" and document["ballots"].startswith(ROMANIAN_BALLOTS)
    assert document["about"]["contents"]["account"] != "Your account"
