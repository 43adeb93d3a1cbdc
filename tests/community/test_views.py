"""Views: status codes, redirects, permissions, and nothing written on a rejected request."""

import re

import pyotp
import pytest
from sqlmodel import func, select

from community.db import open_session
from community.models import AuthSession, Person
from tests.support.factories import PASSWORD
from tests.support.statements import statements_run


def count(session, model):
    """Rows in a table, read in a separate session (the test's own may hold stale objects)."""
    with open_session(session.get_bind().engine, write=False) as reader:
        return reader.exec(select(func.count()).select_from(model)).one()


def test_home_lists_teams_with_place_and_districts(client, place_and_team):
    body = client.get("/").get_data(as_text=True)
    assert "Shirebrook Connected Team" in body and "Bolsover" in body and "NG20" in body


def test_team_page_shows_members_by_first_name_and_role(client, make_person, place_and_team):
    make_person("m@example.org", role="enabler", team=place_and_team[1])
    body = client.get("/teams/shirebrook").get_data(as_text=True)
    assert "Rita" in body and "Enabler" in body and "Morgan" not in body
    assert client.get("/teams/nowhere").status_code == 404


def test_healthz_says_the_database_is_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "reachable"}


def _outbox(app) -> list[str]:
    """Each delivered email as "To: …" and its decoded body."""
    import email
    import email.policy
    from pathlib import Path

    mails = []
    for path in sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        mails.append(f"To: {message['To']}\nSubject: {message['Subject']}\n\n{message.get_content()}")
    return mails


def _sign_up(client, email: str, postcode: str = "NG20 8AA", password: str = PASSWORD):
    return client.post("/sign-up", data={"name": "Rita Morgan", "email": email, "password": password,
                                          "postcode": postcode})


def test_sign_up_creates_the_account_and_says_check_your_email(app, client, session, place_and_team):
    response = _sign_up(client, "rita@example.org")
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-up/done")
    assert "Check your email" in client.get("/sign-up/done").get_data(as_text=True)
    assert count(session, Person) == 1
    assert any("To: rita@example.org" in m and "Your account is ready" in m for m in _outbox(app))
    assert client.get("/account").status_code == 302  # not signed in: that would say the email was new
    client.post("/sign-in", data={"email": "rita@example.org", "password": PASSWORD})
    assert "Shirebrook" in client.get("/account").get_data(as_text=True)


def test_sign_up_outside_every_place_explains_it(app, client, place_and_team):
    _sign_up(client, "r@example.org", postcode="SW1A 1AA")
    assert any("outside the places" in m for m in _outbox(app))
    client.post("/sign-in", data={"email": "r@example.org", "password": PASSWORD})
    assert "outside the places" in client.get("/account").get_data(as_text=True)


def _answer(client, response) -> tuple:
    """What a sign-up answer shows: status, where it sends you, and that page (CSRF token aside)."""
    page = client.get(response.headers["Location"]) if response.status_code == 302 else response
    body = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", page.get_data(as_text=True))
    return response.status_code, response.headers.get("Location"), page.status_code, body


def test_sign_up_answers_the_same_whether_or_not_the_email_has_an_account(app, session, make_person, place_and_team):
    make_person("rita@example.org")
    taken = _sign_up(app.test_client(), "Rita@Example.org", password="another long password")
    fresh_client = app.test_client()
    fresh = _sign_up(fresh_client, "new@example.org", password="another long password")
    taken_client = app.test_client()
    taken = _sign_up(taken_client, "rita@example.org", password="another long password")
    assert _answer(taken_client, taken) == _answer(fresh_client, fresh)
    assert "already" not in _answer(taken_client, taken)[3]
    assert count(session, Person) == 2
    # The existing account is told instead, and its password is unchanged.
    mails = [m for m in _outbox(app) if "To: rita@example.org" in m]
    assert len(mails) == 2 and all("tried to create an account with your email address" in m for m in mails)
    assert "/forgot-password" in mails[0] and "/sign-in" in mails[0]
    assert client_signs_in(app, "rita@example.org", PASSWORD)
    assert not client_signs_in(app, "rita@example.org", "another long password")


def client_signs_in(app, email: str, password: str) -> bool:
    client = app.test_client()
    client.post("/sign-in", data={"email": email, "password": password})
    return client.get("/account").status_code == 200


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"postcode": "NOT A CODE"}, "Enter a real postcode"),
        ({"email": "not-an-email"}, "Enter an email address like"),
        ({"name": "x" * 101}, "100 characters or fewer"),
        ({"password": "short"}, "8 characters or more"),
        ({"name": ""}, "Enter your name"),
    ],
)
def test_bad_sign_up_shows_message_beside_field_and_writes_nothing(client, session, place_and_team, data, message):
    form = {"name": "Rita", "email": "r@example.org", "password": PASSWORD, "postcode": "NG20 8AA", **data}
    response = client.post("/sign-up", data=form)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert message in body and "govuk-error-summary" in body and "govuk-error-message" in body
    assert count(session, Person) == 0


def test_bad_sign_up_with_a_taken_email_shows_the_same_field_messages(client, session, make_person, place_and_team):
    """Field messages (postcode, password) come first and do not depend on the email."""
    make_person("rita@example.org")
    taken = _sign_up(client, "rita@example.org", postcode="NOT A CODE")
    fresh = _sign_up(client, "new@example.org", postcode="NOT A CODE")
    assert taken.status_code == fresh.status_code == 200
    assert "Enter a real postcode" in taken.get_data(as_text=True)
    assert "already" not in taken.get_data(as_text=True)
    assert count(session, Person) == 1


def test_resident_signs_in_and_out_and_the_old_cookie_stops_working(app, client, make_person):
    person = make_person()
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    assert client.get("/account").status_code == 200
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    client.post("/sign-out")
    replay = app.test_client()
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    assert replay.get("/account").status_code == 302


def test_sign_in_gives_a_fresh_session_cookie(app, client, make_person):
    person = make_person()
    client.get("/sign-in")
    client.post("/sign-in", data={"email": "x@example.org", "password": "nope nope nope"})
    before = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    after = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert after is not None and (before is None or before.value != after.value)


def test_wrong_password_shows_an_error(client, make_person):
    person = make_person()
    response = client.post("/sign-in", data={"email": person.email, "password": "wrong wrong"})
    assert "Enter a correct email address and password" in response.get_data(as_text=True)


def test_staff_sign_in_needs_the_totp_code(client, session, make_person, place_and_team):
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    response = client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/sign-in/code")
    assert client.get("/staff").status_code == 302  # not signed in yet
    bad = client.post("/sign-in/code", data={"code": "12345"})
    assert "6-digit" in bad.get_data(as_text=True)
    ok = client.post("/sign-in/code", data={"code": pyotp.TOTP(person.totp_secret).now()})
    assert ok.status_code == 302
    assert client.get("/staff").status_code == 200


def test_reused_totp_code_is_refused(client, session, make_person, place_and_team):
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    code = pyotp.TOTP(person.totp_secret).now()
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    client.post("/sign-in/code", data={"code": code})
    client.post("/sign-out")
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    response = client.post("/sign-in/code", data={"code": code})
    assert "has been used" in response.get_data(as_text=True)


def test_staff_without_second_factor_is_walked_through_enrolment(client, session, make_person, place_and_team):
    person = make_person("m@example.org", role="member", team=place_and_team[1], totp=False)
    response = client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/two-factor/setup")
    page = client.get("/two-factor/setup").get_data(as_text=True)
    assert "data:image/svg+xml;base64," in page
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]{32})<', page).group(1)
    done = client.post("/two-factor/setup", data={"code": pyotp.TOTP(secret).now()})
    # The recovery codes are shown once, in the answer itself (only their digests are stored).
    assert done.status_code == 200 and len(re.findall(r"<li><code>[a-z0-9-]{19}</code>", done.get_data(as_text=True))) == 10
    assert client.get("/staff").status_code == 200
    with open_session(session.get_bind().engine, write=False) as reader:
        assert reader.get(Person, person.id).totp_secret == secret


def test_a_password_alone_never_reaches_enrolment_for_staff_with_a_second_factor(client, session, make_person,
                                                                                 place_and_team):
    """Issue 14, finding 1: after the password step the enrolment page must not answer, and a
    code from a secret of the attacker's choosing must neither sign in nor replace the secret."""
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    original = person.totp_secret
    client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    page = client.get("/two-factor/setup")
    assert page.status_code == 302 and page.headers["Location"].endswith("/sign-in/code")
    attacker = pyotp.random_base32()
    with client.session_transaction() as cookie:
        cookie["enrol_secret"] = attacker  # as if the page had shown it
    response = client.post("/two-factor/setup", data={"code": pyotp.TOTP(attacker).now()})
    assert response.status_code == 302 and response.headers["Location"].endswith("/sign-in/code")
    assert client.get("/staff").status_code == 302  # still not signed in
    with open_session(session.get_bind().engine, write=False) as reader:
        assert reader.get(Person, person.id).totp_secret == original
        assert reader.exec(select(func.count()).select_from(AuthSession)).one() == 0


def test_a_signed_in_person_cannot_replace_their_second_factor_by_enrolling_again(client, session, make_person,
                                                                                  sign_in, place_and_team):
    person = make_person("m@example.org", role="member", team=place_and_team[1])
    original = person.totp_secret
    sign_in(person)
    assert client.get("/two-factor/setup").headers["Location"].endswith("/account")
    attacker = pyotp.random_base32()
    with client.session_transaction() as cookie:
        cookie["enrol_secret"] = attacker
    client.post("/two-factor/setup", data={"code": pyotp.TOTP(attacker).now()})
    with open_session(session.get_bind().engine, write=False) as reader:
        assert reader.get(Person, person.id).totp_secret == original


def test_resident_gets_403_on_staff_and_admin_pages(client, make_person, sign_in):
    sign_in(make_person())
    assert client.get("/staff").status_code == 403
    assert client.get("/admin").status_code == 403


def test_anonymous_is_sent_to_sign_in_from_admin(client):
    response = client.get("/admin")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def test_admin_creates_team_invites_and_grants_roles(client, session, make_person, sign_in, place_and_team, app):
    admin = make_person("admin@example.org", role="admin")
    other = make_person("p@example.org")
    sign_in(admin)
    place, _ = place_and_team
    response = client.post("/admin/teams/new", data={"name": "Second Team", "slug": "second", "place_id": place.id,
                                                      "cost_centre": "TC9"})
    assert response.status_code == 302
    assert client.get("/teams/second").status_code == 200
    response = client.post("/admin/invite", data={"email": "new@example.org", "role": "finance", "team_id": 0})
    assert response.status_code == 302
    from pathlib import Path

    assert any(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    response = client.post(f"/admin/people/{other.id}/roles", data={"role": "member", "team_id": place_and_team[1].id})
    assert response.status_code == 302
    assert "member, Shirebrook Connected Team" in client.get("/admin").get_data(as_text=True)


def test_bad_team_slug_is_refused_and_nothing_written(client, session, make_person, sign_in, place_and_team):
    from community.models import Team

    sign_in(make_person("admin@example.org", role="admin"))
    response = client.post("/admin/teams/new", data={"name": "X", "slug": "Bad Slug!", "place_id": place_and_team[0].id,
                                                      "cost_centre": "TC9"})
    assert "lower-case letters" in response.get_data(as_text=True)
    assert count(session, Team) == 1


@pytest.mark.parametrize("typed", ["TC1001", " tc1001 "])
def test_a_cost_centre_another_team_has_is_refused_beside_the_field(client, session, make_person, sign_in,
                                                                    place_and_team, typed):
    """Issue 20 item 7: each team books to its own cost centre (Shirebrook has TC1001)."""
    from community.models import Team

    sign_in(make_person("admin@example.org", role="admin"))
    response = client.post("/admin/teams/new", data={"name": "Second Team", "slug": "second",
                                                      "place_id": place_and_team[0].id, "cost_centre": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="cost_centre-error"' in page and "Shirebrook Connected Team already has cost centre TC1001" in page
    assert count(session, Team) == 1


def test_the_database_refuses_two_teams_one_cost_centre(session, place_and_team):
    from sqlalchemy.exc import IntegrityError

    from community.models import Team

    session.add(Team(slug="second", name="Second", place_id=place_and_team[0].id, cost_centre="TC1001"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_invitation_link_creates_staff_account_then_enrolment(client, session, make_person, app):
    from community import services

    admin = make_person("admin@example.org", role="admin")
    token = services.invite_staff(session, actor_id=admin.id, email="fin@example.org", role="finance", team_id=None)
    session.commit()
    response = client.post(f"/invitations/{token}", data={"name": "Fiona", "password": PASSWORD})
    assert response.headers["Location"].endswith("/two-factor/setup")
    assert client.get(f"/invitations/{token}").status_code == 404


def test_dev_outbox_is_for_admins_only(app, client, session, make_person, sign_in, place_and_team):
    """Finding 7: the mail queue holds residents' ballot receipts and reset links."""
    assert client.get("/dev/outbox").status_code == 302  # anonymous: sign in first
    sign_in(make_person("r@example.org"))
    assert client.get("/dev/outbox").status_code == 403
    staff = app.test_client()
    member = make_person("m@example.org", role="member", team=place_and_team[1])
    staff.post("/sign-in", data={"email": member.email, "password": PASSWORD})
    staff.post("/sign-in/code", data={"code": pyotp.TOTP(member.totp_secret).now()})
    assert staff.get("/staff").status_code == 200 and staff.get("/dev/outbox").status_code == 403
    admin = app.test_client()
    person = make_person("admin@example.org", role="admin")
    admin.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    admin.post("/sign-in/code", data={"code": pyotp.TOTP(person.totp_secret).now()})
    assert admin.get("/dev/outbox").status_code == 200


def test_dev_outbox_is_hidden_in_production_even_from_admins(app, client, make_person, sign_in):
    sign_in(make_person("admin@example.org", role="admin"))
    assert client.get("/dev/outbox").status_code == 200
    app.config["ENV_NAME"] = "production"
    assert client.get("/dev/outbox").status_code == 404
    app.config["ENV_NAME"] = "testing"
    client.post("/sign-out")
    app.config["ENV_NAME"] = "production"
    assert client.get("/dev/outbox").status_code == 404  # anonymous in production: no such page


def test_sign_out_by_get_is_not_allowed(client, make_person, sign_in, session):
    sign_in(make_person())
    assert client.get("/sign-out").status_code == 405
    with open_session(session.get_bind().engine, write=False) as reader:
        assert reader.exec(select(AuthSession)).one().revoked_at is None


def test_the_staff_home_lists_my_teams_and_reads_them_once(client, session, engine, make_person, place_and_team,
                                                           sign_in):
    from community import services as community_services
    from community.models import Membership

    place, first = place_and_team
    second = community_services.create_team(session, actor_id=None, name="Bolsover Connected Team", slug="bolsover",
                                            place_id=place.id, cost_centre="TC1002")
    other = community_services.create_team(session, actor_id=None, name="Not mine", slug="not-mine",
                                           place_id=place.id, cost_centre="TC1003")
    person = make_person("m@example.org", role="member", team=first)
    session.add(Membership(team_id=second.id, person_id=person.id, role="enabler"))
    session.commit()
    assert sign_in(person).status_code == 302
    with statements_run(engine) as seen:
        page = client.get("/staff").get_data(as_text=True)
    team_selects = [s for s in seen if re.search(r"\bFROM team\b", s)]
    assert len(team_selects) == 1  # the view and the three to-do providers share one read
    assert f'href="/teams/{first.slug}"' in page and f'href="/teams/{second.slug}"' in page
    assert "Bolsover Connected Team</a> – enabler" in page and "Shirebrook Connected Team</a> – member" in page
    assert other.name not in page


def test_the_staff_home_reads_as_much_for_two_teams_as_for_one(client, session, engine, make_person, place_and_team,
                                                               sign_in):
    """The to-do providers read every team of the person at once, not a query or two a team."""
    from community import services as community_services
    from community.models import Membership

    place, first = place_and_team
    second = community_services.create_team(session, actor_id=None, name="Bolsover Connected Team", slug="bolsover",
                                            place_id=place.id, cost_centre="TC1002")
    person = make_person("m@example.org", role="member", team=first)
    session.commit()
    assert sign_in(person).status_code == 302

    def statements() -> int:
        with statements_run(engine) as seen:
            assert client.get("/staff").status_code == 200
        return len(seen)

    one = statements()
    session.add(Membership(team_id=second.id, person_id=person.id, role="enabler"))
    session.commit()
    assert statements() == one
