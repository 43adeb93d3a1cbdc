"""The session cookie is the idle timeout: re-signed at most once a minute (community/sessions.py),
it expires an hour after it was last signed, and a cookie signed longer ago is refused."""

import datetime as dt

import time_machine

from community import sessions
from tests.support.factories import PASSWORD

START = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


def _signed_in(app, client, person):
    assert client.post("/sign-in", data={"email": person.email, "password": PASSWORD}).status_code == 302
    return client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value


def _sets_the_cookie(app, response) -> bool:
    return any(value.startswith(app.config["SESSION_COOKIE_NAME"] + "=")
               for value in response.headers.getlist("Set-Cookie"))


def test_an_unchanged_session_is_signed_again_once_a_minute(app, client, make_person):
    person = make_person()
    with time_machine.travel(START, tick=False) as clock:
        _signed_in(app, client, person)
        assert client.get("/account").status_code == 200  # its forms' CSRF token joins the session
        first = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
        clock.shift(sessions.REFRESH_AFTER - dt.timedelta(seconds=1))
        page = client.get("/account")
        assert page.status_code == 200 and not _sets_the_cookie(app, page)
        clock.shift(dt.timedelta(seconds=1))
        page = client.get("/account")
        assert page.status_code == 200 and _sets_the_cookie(app, page)
        assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value != first


def test_a_changed_session_is_always_saved(app, client, make_person):
    person = make_person()
    with time_machine.travel(START, tick=False):
        _signed_in(app, client, person)
        signed_out = client.post("/sign-out")  # within the minute: the change is saved at once
        assert _sets_the_cookie(app, signed_out)
        assert client.get("/account").status_code == 302


def test_the_session_slides_while_used_and_ends_after_an_idle_hour(app, client, make_person):
    person = make_person()
    with time_machine.travel(START, tick=False) as clock:
        _signed_in(app, client, person)
        for _ in range(3):  # three hours in all, never an hour without a request
            clock.shift(dt.timedelta(minutes=59))
            assert client.get("/account").status_code == 200
        stale = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
        clock.shift(dt.timedelta(minutes=61))
        replay = app.test_client()  # a browser that keeps sending the expired cookie
        replay.set_cookie(app.config["SESSION_COOKIE_NAME"], stale)
        assert replay.get("/account").status_code == 302
