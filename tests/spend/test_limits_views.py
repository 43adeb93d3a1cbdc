"""Approval limits over HTTP (issue 14 finding 9): the form shows what it will do before it does
it, a raise above the defaults waits for finance or an admin (never the person who asked), and
the team's spend page shows the limits, what is waiting and the history."""

import re

import pytest
from sqlalchemy import func, select

from community.db import open_session
from community.models import AuditEvent, Team
from tests.support.statements import statements_run

from . import test_views as test_spend_views
from .test_views import login, outbox

w = test_spend_views.w  # the fixture: asha, ben (members), erin (enabler), fran (finance), …

LIMITS = "/teams/shirebrook/spend/limits"


def team_limits(engine) -> tuple[int, int]:
    with open_session(engine, write=False) as reader:
        team = reader.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        return team.member_limit_pence, team.enabler_limit_pence


def audits(engine) -> list[str]:
    with open_session(engine, write=False) as reader:
        return list(reader.execute(select(AuditEvent.action).where(AuditEvent.action.startswith("spend.limits"))
                                   .order_by(AuditEvent.id)).scalars())


def change_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r"/spend-limits/(\d+)/approve", page)]


@pytest.fixture
def adam(w, make_person):  # noqa: F811
    person = make_person("adam@example.org", role="admin")
    return login(w["app"], w["engine"], person)


def ask_raise(w, member="250.00", enabler="5000.00"):
    """The enabler asks for a raise: first the check page, then the confirmation."""
    erin = w["as"]("erin")
    check = erin.post(LIMITS, data={"member_limit": member, "enabler_limit": enabler})
    return check, erin.post(LIMITS, data={"member_limit": member, "enabler_limit": enabler, "confirmed": "yes"})


def test_the_form_shows_what_it_will_do_before_it_changes_anything(w):
    erin = w["as"]("erin")
    page = erin.post(LIMITS, data={"member_limit": "300.00", "enabler_limit": "1000.00"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "£250.00 to £300.00" in text and "above the council’s default of £250.00" in text
    assert "finance" in text and 'name="confirmed"' in text
    assert team_limits(w["engine"]) == (25_000, 100_000) and audits(w["engine"]) == []


def test_a_change_within_the_defaults_applies_at_once_after_the_check(w):
    erin = w["as"]("erin")
    page = erin.post(LIMITS, data={"member_limit": "100.00", "enabler_limit": "600.00"}).get_data(as_text=True)
    assert "This applies at once" in page
    done = erin.post(LIMITS, data={"member_limit": "100.00", "enabler_limit": "600.00", "confirmed": "yes"})
    assert done.status_code == 302
    assert team_limits(w["engine"]) == (10_000, 60_000) and audits(w["engine"]) == ["spend.limits"]


def test_an_enabler_alone_cannot_raise_the_limits_above_the_defaults(w):
    check, done = ask_raise(w)
    assert check.status_code == 200 and done.status_code == 302
    assert team_limits(w["engine"]) == (25_000, 100_000)
    assert audits(w["engine"]) == ["spend.limits_requested"]
    board = w["as"]("ben").get("/teams/shirebrook/spend").get_data(as_text=True)
    assert "Waiting for finance" in board and "£5,000.00" in board
    assert any("Approval limits for Shirebrook" in m for m in outbox(w["app"]))  # finance is told


def test_finance_confirms_and_the_spend_page_shows_the_history(w):
    ask_raise(w)
    fran = w["as"]("fran")
    waiting = fran.get("/spend-limits").get_data(as_text=True)
    [change_id] = change_ids(waiting)
    assert fran.post(f"/spend-limits/{change_id}/approve").status_code == 302
    assert team_limits(w["engine"]) == (25_000, 500_000)
    assert audits(w["engine"]) == ["spend.limits_requested", "spend.limits_approved"]
    board = w["as"]("asha").get("/teams/shirebrook/spend").get_data(as_text=True)
    assert "the enabler up to £5,000.00" in board
    history = board[board.index('id="limit-history"'):]
    assert "Approved" in history and "£1,000.00 to £5,000.00" in history
    assert any("approved" in m.lower() and "erin@example.org" in m for m in outbox(w["app"]))


def test_an_admin_refuses_with_a_reason_and_nothing_changes(w, adam):
    ask_raise(w)
    [change_id] = change_ids(adam.get("/spend-limits").get_data(as_text=True))
    empty = adam.post(f"/spend-limits/{change_id}/refuse", data={"reason": " "})
    assert empty.status_code == 200 and "Give a reason" in empty.get_data(as_text=True)
    assert adam.post(f"/spend-limits/{change_id}/refuse", data={"reason": "Not this year"}).status_code == 302
    assert team_limits(w["engine"]) == (25_000, 100_000)
    assert audits(w["engine"]) == ["spend.limits_requested", "spend.limits_refused"]
    assert "Not this year" in w["as"]("erin").get("/teams/shirebrook/spend").get_data(as_text=True)


def test_the_enabler_withdraws_a_waiting_change(w):
    ask_raise(w)
    erin = w["as"]("erin")
    page = erin.get(LIMITS).get_data(as_text=True)
    found = re.search(r'action="(/teams/shirebrook/spend/limits/\d+/withdraw)"', page)
    assert found, page
    assert erin.post(found.group(1)).status_code == 302
    assert audits(w["engine"]) == ["spend.limits_requested", "spend.limits_withdrawn"]
    assert "Waiting for finance" not in erin.get("/teams/shirebrook/spend").get_data(as_text=True)


@pytest.mark.parametrize("amount", ["-1", "abc", "12.345", "", "2000000"])
def test_bad_amounts_are_shown_beside_the_field_and_nothing_is_written(w, amount):
    page = w["as"]("erin").post(LIMITS, data={"member_limit": "250.00", "enabler_limit": amount, "confirmed": "yes"})
    assert page.status_code == 200
    assert "govuk-error-message" in page.get_data(as_text=True)
    assert team_limits(w["engine"]) == (25_000, 100_000) and audits(w["engine"]) == []


# (who, what) → expected status. Members/enablers reach the team's pages; finance and admins are
# not in the team. "raise" is the confirmed post of a raise above the defaults.
WHO_MAY = [
    ("asha", "limits page", 403), ("asha", "raise", 403), ("asha", "waiting list", 403), ("asha", "approve", 403),
    ("erin", "limits page", 200), ("erin", "raise", 302), ("erin", "waiting list", 403), ("erin", "approve", 403),
    ("fran", "limits page", 404), ("fran", "raise", 404), ("fran", "waiting list", 200), ("fran", "approve", 302),
    ("adam", "limits page", 404), ("adam", "raise", 404), ("adam", "waiting list", 200), ("adam", "approve", 302),
]


@pytest.mark.parametrize(("who", "what", "status"), WHO_MAY)
def test_who_may_do_what(w, adam, who, what, status):
    client = adam if who == "adam" else w["as"](who)
    if what == "limits page":
        response = client.get(LIMITS)
    elif what == "raise":
        response = client.post(LIMITS, data={"member_limit": "250.00", "enabler_limit": "5000.00",
                                             "confirmed": "yes"})
    elif what == "waiting list":
        response = client.get("/spend-limits")
    else:
        ask_raise(w)
        [change_id] = change_ids(w["as"]("fran").get("/spend-limits").get_data(as_text=True))
        response = client.post(f"/spend-limits/{change_id}/approve")
    assert response.status_code == status, (who, what, response.get_data(as_text=True)[:300])
    # whoever it is, an enabler's raise alone never changes the limits; only a decision does
    applied = what == "approve" and status == 302
    assert team_limits(w["engine"]) == ((25_000, 500_000) if applied else (25_000, 100_000))
    with open_session(w["engine"], write=False) as reader:
        assert reader.execute(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "spend.limits")).scalar_one() == 0


def test_finance_sees_every_team_waiting_with_its_asker_read_in_one_query(w, make_person, session):
    ask_raise(w)
    gail = make_person("gail@example.org", role="enabler", team=w["other"])
    gail.name = "Gail Enabler"
    session.commit()
    gamesley = login(w["app"], w["engine"], gail)
    data = {"member_limit": "250.00", "enabler_limit": "5000.00"}
    assert gamesley.post("/teams/gamesley/spend/limits", data={**data, "confirmed": "yes"}).status_code == 302
    fran = w["as"]("fran")
    with statements_run(w["engine"]) as seen:
        page = fran.get("/spend-limits").get_data(as_text=True)
    assert len(change_ids(page)) == 2
    assert w["erin"].name in page and "Gail Enabler" in page
    person_selects = [s for s in seen if re.search(r"\bFROM person\b", s)]  # not the sign-in's join
    assert len(person_selects) == 1, person_selects
