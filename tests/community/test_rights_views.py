"""Residents' UK GDPR rights, the pages (community/rights_views.py): the privacy notice, the
download and deleting an account — permissions, the confirmation before anything changes,
bad input answered beside the field with nothing written, never a 500. Issue 14."""

import json

import pytest
from sqlmodel import select

from community.db import open_session
from community.models import AuditEvent, Person
from tests.support.factories import PASSWORD


@pytest.fixture
def rita(place_and_team, make_person):
    return make_person()


def _read(engine, model, ident):
    with open_session(engine, write=False) as reader:
        return reader.get(model, ident)


def _audit(engine, action):
    with open_session(engine, write=False) as reader:
        return reader.exec(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_the_privacy_notice_is_public_and_linked_from_the_footer_and_sign_up(client):
    page = client.get("/privacy")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for words in ("public task", "Download my data", "Delete my account", "Data Protection Officer",
                  "placeholder", "How long we keep it"):
        assert words in text
    assert 'href="/privacy"' in client.get("/").get_data(as_text=True)
    assert 'href="/privacy"' in client.get("/sign-up").get_data(as_text=True)


def test_signed_out_people_are_sent_to_sign_in(client):
    for response in (client.get("/account/delete"), client.post("/account/delete", data={"password": "x"}),
                     client.post("/account/data")):
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_the_account_page_offers_both_rights(client, rita, sign_in):
    sign_in(rita)
    text = client.get("/account").get_data(as_text=True)
    assert 'action="/account/data"' in text and 'href="/account/delete"' in text


def test_the_download_is_an_uncached_json_attachment_and_audited(client, rita, sign_in, engine):
    sign_in(rita)
    response = client.post("/account/data")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="thriving-communities-my-data-')
    assert response.headers["Cache-Control"] == "no-store"
    document = json.loads(response.get_data(as_text=True))
    assert document["account"]["email"] == rita.email and "not linked to people" in document["ballots"]
    assert document["about"]["privacy_notice"].endswith("/privacy")
    assert [e.actor_id for e in _audit(engine, "account.export")] == [rita.id]


def test_the_confirmation_shows_what_happens_and_changes_nothing(client, rita, sign_in, engine, session,
                                                                 place_and_team):
    from community.db import london_today
    from pledges import services as pledges

    pledges.make_pledge(session=session, team=place_and_team[1], made_by=session.get(Person, rita.id), kind="time",
                        description="Litter picking", today=london_today(), minutes=60, frequency="once")
    session.commit()
    sign_in(rita)
    page = client.get("/account/delete")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for words in ("Nothing has changed yet", "Erased", "Withdrawn", "Pledges you have not yet fulfilled</strong> (1)",
                  "Kept, and why", "Ballots are not linked", "append-only", 'name="password"'):
        assert words in text
    assert _read(engine, Person, rita.id).name == "Rita Morgan"
    assert _audit(engine, "account.delete") == []


@pytest.mark.parametrize("password, message", [
    ("wrong password", "Your password is not correct."),
    ("", "Enter your password"),
    ("x" * 5000, "Your password is not correct."),
])
def test_a_bad_password_is_answered_beside_the_field_and_nothing_changes(client, rita, sign_in, engine,
                                                                         password, message):
    sign_in(rita)
    response = client.post("/account/delete", data={"password": password})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert message in text and "govuk-error-message" in text
    assert _read(engine, Person, rita.id).email == rita.email
    assert client.get("/account").status_code == 200  # still signed in


def test_deleting_signs_out_and_pseudonymises(client, rita, sign_in, engine):
    sign_in(rita)
    response = client.post("/account/delete", data={"password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Your account has been deleted" in client.get("/").get_data(as_text=True)
    assert client.get("/account").status_code == 302  # signed out
    gone = _read(engine, Person, rita.id)
    assert (gone.name, gone.is_active) == ("Deleted resident", False)
    assert [e.subject for e in _audit(engine, "account.delete")] == [f"person:{rita.id}"]
    again = client.post("/sign-in", data={"email": "rita@example.org", "password": PASSWORD})
    assert again.status_code == 200 and "Enter a correct email address and password" in again.get_data(as_text=True)


def test_staff_see_why_they_cannot_and_a_post_changes_nothing(client, place_and_team, make_person, sign_in, engine):
    _place, team = place_and_team
    member = make_person("mo@example.org", role="member", team=team)
    sign_in(member)
    page = client.get("/account/delete").get_data(as_text=True)
    assert "cannot be deleted here" in page and "remove your roles" in page and 'name="password"' not in page
    response = client.post("/account/delete", data={"password": PASSWORD})
    assert response.status_code == 200 and "cannot be deleted here" in response.get_data(as_text=True)
    assert _read(engine, Person, member.id).name == "Rita Morgan"
    assert _audit(engine, "account.delete") == []


def test_the_accessibility_statement_is_public_and_in_the_gov_uk_model(client):
    page = client.get("/accessibility")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for words in ("Accessibility statement", "Compliance status", "WCAG 2.2", "Non-accessible content",
                  "Reporting accessibility problems", "Enforcement procedure",
                  "Equality and Human Rights Commission", "Equality Advisory and Support Service",
                  "Equality Commission for Northern Ireland", "Public Sector Bodies"):
        assert words in text, words


def test_the_cookies_page_names_every_cookie_the_app_sets(app, client):
    page = client.get("/cookies")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for words in (app.config["SESSION_COOKIE_NAME"], "__Host-session", "essential", "no analytics"):
        assert words in text, words


def test_the_footer_links_the_accessibility_statement_and_cookies_on_every_page(client):
    for url in ("/", "/sign-in", "/privacy", "/accessibility", "/cookies", "/no-such-page"):
        text = client.get(url).get_data(as_text=True)
        assert 'href="/accessibility"' in text and 'href="/cookies"' in text, url
