"""Every GET route × every sign-in state, over gunicorn (issue 14, finding 1; community/signin.py).

The states: anonymous; password ok, pending the code (staff with TOTP); enrolling (password ok,
staff with no second factor yet); a signed-in resident; a signed-in staff member; and a staff
member who has just confirmed password + current code again (replacing their second factor).

What it proves: from a half-finished sign-in no page other than the sign-in step pages behaves
as signed in — everywhere else a pending browser gets exactly the answer an anonymous one gets
(status, where it is sent, no signed-in page); the step pages answer only in their own states
(enrolment only while enrolling, signed in without a second factor, or replacing); and the
signed-in states get what the access matrix (test_access.py, whose URL building and policy
table this reuses) says. Routes come from ``app.url_map``: a route added later is covered.
"""

import time

import pyotp

from tests.prove.harness import PASSWORD, Browser
from tests.prove.test_access import ALLOWED, FORBIDDEN, build, expected_for, outcome, rules

STATES = ("anonymous", "pending_code", "enrolling", "resident", "staff", "replacing")
PENDING = ("pending_code", "enrolling")
# The role of test_access's policy table each signed-in state plays.
AS_ROLE = {"anonymous": "anonymous", "resident": "resident", "staff": "member", "replacing": "member"}

# The sign-in step pages: state → where the page sends you ("" = it answers, 200).
STEP_PAGES = {
    "community.sign_in": {state: "" for state in STATES},
    "community.sign_in_code": {"anonymous": "/sign-in", "pending_code": "", "enrolling": "/sign-in",
                               "resident": "/sign-in", "staff": "/sign-in", "replacing": "/sign-in"},
    "community.two_factor_setup": {"anonymous": "/sign-in", "pending_code": "/sign-in/code", "enrolling": "",
                                   "resident": "", "staff": "/account", "replacing": ""},
}


def _enrolling_person(served) -> str:
    """A member of staff invited with no second factor yet (finance: no team rows to disturb)."""
    from community import services
    from community.db import make_engine, open_session

    engine = make_engine(served.database_url)
    try:
        with open_session(engine, write=True) as s:
            person = services.sign_up_resident(s, name="New Finance", email="new-finance@example.org",
                                               password=PASSWORD, postcode="NG20 8AA")
            person.is_finance = True
            s.add(person)
            s.commit()
    finally:
        engine.dispose()
    return "new-finance@example.org"


def _browsers(served) -> dict[str, Browser]:
    member = served.world.actors["member"]
    pending = Browser(served.url)
    assert pending.post("/sign-in", {"email": member.email, "password": PASSWORD}
                        ).headers["Location"].endswith("/sign-in/code")
    enrolling = Browser(served.url)
    assert enrolling.post("/sign-in", {"email": _enrolling_person(served), "password": PASSWORD}
                          ).headers["Location"].endswith("/two-factor/setup")
    replacing = served.browser("member")
    for when in (time.time(), time.time() + 30, time.time() + 60):
        answer = replacing.post("/account/two-factor/replace",
                                {"password": PASSWORD, "code": pyotp.TOTP(member.totp_secret).at(when)},
                                csrf=replacing.csrf("/account/two-factor/replace"))
        if answer.status_code == 302:
            break
    assert answer.headers["Location"].endswith("/two-factor/setup"), answer.status_code
    return {"anonymous": served.browser(None), "pending_code": pending, "enrolling": enrolling,
            "resident": served.browser("resident"), "staff": served.browser("member"), "replacing": replacing}


def _path(location: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(location).path


def _signed_in_look(response) -> bool:
    """A page shown as to a signed-in person: the sign-out button, or the no-store header."""
    return "app-signout__button" in response.text or response.headers.get("Cache-Control") == "no-store"


def test_every_route_in_every_sign_in_state(served):
    all_rules, app = rules(served)
    browsers = _browsers(served)
    problems, checked = [], 0
    for rule in all_rules:
        if "GET" not in rule.methods:
            continue
        permission = getattr(app.view_functions[rule.endpoint], "permission", None)
        url, known = build(served, rule)
        answers = {state: browsers[state].get(url) for state in STATES}
        anonymous = answers["anonymous"]
        for state, response in answers.items():
            checked += 1
            where = f"GET {url} [{permission}] in state {state}: {response.status_code}"
            if response.status_code >= 500:
                problems.append(where)
            elif rule.endpoint in STEP_PAGES:
                want = STEP_PAGES[rule.endpoint][state]
                got = _path(response.headers.get("Location", "")) if response.status_code in (302, 303) else (
                    "" if response.status_code == 200 else str(response.status_code))
                if got != want:
                    problems.append(f"{where} → {got!r}, want {want!r}")
            elif state in PENDING:  # a half-finished sign-in is anonymous everywhere else
                same = (response.status_code == anonymous.status_code
                        and _path(response.headers.get("Location", "")) == _path(anonymous.headers.get("Location", "")))
                # (an API error is no-store for everyone: only a difference from anonymous counts)
                if not same or _signed_in_look(response) != _signed_in_look(anonymous):
                    problems.append(f"{where} → {response.headers.get('Location', '')}, but anonymous got "
                                    f"{anonymous.status_code} {anonymous.headers.get('Location', '')}")
            else:
                got, want = outcome(response), expected_for(rule.endpoint, permission, AS_ROLE[state])
                if permission == "public" and got != FORBIDDEN:
                    continue  # a public page may still send you on
                if got != want and not (want == ALLOWED and got == "404" and not known):
                    problems.append(f"{where}: got {got}, want {want}")
    assert checked >= len(STATES) * 20
    # The pending states held for the whole walk: the pages were not simply seeing an expired one.
    assert browsers["pending_code"].get("/sign-in/code").status_code == 200
    assert browsers["enrolling"].get("/two-factor/setup").status_code == 200
    assert problems == [], "\n".join(problems)


def test_the_checker_sees_a_pending_sign_in_that_counts_as_signed_in(served):
    """The table can fail: a pending browser that had a signed-in session cookie would be caught
    (its answers differ from an anonymous browser's on signed-in pages)."""
    pending, anonymous = served.browser("member"), served.browser(None)
    account, anon_account = pending.get("/account"), anonymous.get("/account")
    assert (account.status_code, _signed_in_look(account)) != (anon_account.status_code, _signed_in_look(anon_account))

