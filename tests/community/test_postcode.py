"""A resident who has moved changes their home postcode on their account page: it decides their
place (and so where they may propose, support and vote), at most once in 30 days."""

import datetime as dt

import time_machine
from sqlmodel import func, select

from community import services
from community.db import open_session, utcnow
from community.models import AuditEvent, Person, Place, PostcodeDistrict


def _gamesley(session):
    place = Place(name="Gamesley", slug="gamesley", district="High Peak")
    session.add(place)
    session.flush()
    session.add(PostcodeDistrict(outward_code="SK13", place_id=place.id))
    session.commit()
    return place


def _state(engine, person_id):
    with open_session(engine, write=False) as s:
        person = s.get(Person, person_id)
        changes = s.execute(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == services.POSTCODE_CHANGED)).scalar_one()
        return person.postcode, person.place_id, changes


def _post(client, postcode):
    return client.post("/account/postcode", data={"postcode": postcode}, follow_redirects=True)


def test_a_resident_who_moved_changes_their_postcode_and_their_place(
        client, engine, session, place_and_team, make_person, sign_in):  # noqa: F811 - fixtures
    gamesley = _gamesley(session)
    rita = make_person()
    assert sign_in(rita).status_code == 302
    assert "Change your home postcode" in client.get("/account").get_data(as_text=True)
    page = _post(client, "sk13 9ab").get_data(as_text=True)
    assert "Your home postcode is saved: your place is now Gamesley." in page
    assert "SK13 9AB" in page and "Gamesley (High Peak)" in page
    assert _state(engine, rita.id) == ("SK13 9AB", gamesley.id, 1)
    with open_session(engine, write=False) as s:
        subject = s.execute(select(AuditEvent.subject).where(AuditEvent.action == services.POSTCODE_CHANGED)).scalar_one()
    assert subject == f"person:{rita.id} place:{place_and_team[0].id} → place:{gamesley.id}"  # no postcode in the log


def test_bad_or_unchanged_postcodes_say_why_and_write_nothing(
        client, engine, place_and_team, make_person, sign_in):  # noqa: F811 - fixtures
    rita = make_person()
    assert sign_in(rita).status_code == 302
    before = _state(engine, rita.id)
    for postcode, message in [("not a postcode", "Enter a real postcode, like NG20 8AA"),
                              ("", "Enter your postcode"),
                              ("ng20 8aa", "NG20 8AA is already your home postcode."),
                              ("<script>x</script>", "Enter a real postcode")]:
        page = _post(client, postcode).get_data(as_text=True)
        assert message in page and 'class="govuk-error-message"' in page, postcode
        assert _state(engine, rita.id) == before


def test_a_postcode_changes_at_most_once_in_30_days(session, place_and_team, make_person):  # noqa: F811 - fixtures
    gamesley = _gamesley(session)
    rita = make_person()
    start = utcnow()
    assert services.change_postcode(session, person=rita, postcode="SK13 9AB", now=start).id == gamesley.id
    session.commit()
    try:
        services.change_postcode(session, person=rita, postcode="NG20 8AA", now=start + dt.timedelta(days=29))
    except services.DomainError as error:
        assert "less than 30 days ago" in error.message and error.field == "postcode"
    else:
        raise AssertionError("a second change within 30 days was accepted")
    session.rollback()
    with time_machine.travel(start + dt.timedelta(days=30, minutes=1), tick=False):
        assert services.change_postcode(session, person=rita, postcode="DE1 1AA") is None  # outside every place
    session.commit()
    assert (rita.postcode, rita.place_id) == ("DE1 1AA", None)
