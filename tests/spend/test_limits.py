"""Approval limits (issue 14 finding 9): the enabler changes them, but a raise above the council's
defaults waits for finance (or an admin) who did not ask; every change is a row and an audit event."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from community.models import AuditEvent, Person, Team
from spend import services as spend
from spend.models import SpendLimitChange

from . import test_services as test_spend_services

world = test_spend_services.world  # the fixture: Erin (enabler), Asha, Ben, Fran, Finn (finance)

DEFAULTS = spend.LimitDefaults(member_pence=25_000, enabler_pence=100_000)


@pytest.fixture
def admin(session):
    person = Person(email="ada@example.org", name="Ada Admin", is_admin=True)
    session.add(person)
    session.commit()
    return person


def limits_of(team: Team) -> tuple[int, int]:
    return team.member_limit_pence, team.enabler_limit_pence


def audit(session, prefix="spend.limits"):
    return [e.action for e in session.execute(select(AuditEvent).where(AuditEvent.action.startswith(prefix))
                                              .order_by(AuditEvent.id)).scalars()]


def set_limits(session, world, member, enabler, who="erin"):
    return spend.set_limits(session=session, team=world["team"], actor=world[who], member_limit_pence=member,
                            enabler_limit_pence=enabler, defaults=DEFAULTS)


def test_a_change_at_or_below_the_defaults_applies_at_once(session, world):
    change = set_limits(session, world, 10_000, 100_000)
    session.commit()
    assert limits_of(world["team"]) == (10_000, 100_000)
    assert (change.status, change.previous_member_limit_pence, change.previous_enabler_limit_pence) == (
        "applied", 25_000, 100_000)
    assert audit(session) == ["spend.limits"]


def test_an_enabler_cannot_raise_the_limits_above_the_defaults_alone(session, world):
    change = set_limits(session, world, 25_000, 500_000)
    session.commit()
    assert limits_of(world["team"]) == (25_000, 100_000)  # nothing changed yet
    assert change.status == "pending" and change.enabler_limit_pence == 500_000
    assert spend.pending_limit_change(session=session, team=world["team"]).id == change.id
    assert audit(session) == ["spend.limits_requested"]


def test_finance_approves_a_raise_and_it_applies(session, world):
    change = set_limits(session, world, 30_000, 500_000)
    session.commit()
    spend.approve_limit_change(session=session, change_id=change.id, actor=world["finance"])
    session.commit()
    assert limits_of(world["team"]) == (30_000, 500_000)
    assert (change.status, change.decided_by_id) == ("approved", world["finance"].id)
    assert audit(session) == ["spend.limits_requested", "spend.limits_approved"]


def test_an_admin_may_approve_and_finance_may_refuse(session, world, admin):
    first = set_limits(session, world, 25_000, 200_000)
    session.commit()
    spend.approve_limit_change(session=session, change_id=first.id, actor=admin)
    session.commit()
    assert limits_of(world["team"]) == (25_000, 200_000)
    second = set_limits(session, world, 25_000, 900_000)
    session.commit()
    spend.refuse_limit_change(session=session, change_id=second.id, actor=world["finance"], reason="Too much")
    session.commit()
    assert limits_of(world["team"]) == (25_000, 200_000)
    assert (second.status, second.reason) == ("refused", "Too much")


def test_nobody_confirms_their_own_raise(session, world):
    """Fran is finance and also an enabler of the team here: she may ask, but not confirm it."""
    session.execute(text("UPDATE membership SET role = 'enabler' WHERE person_id = :p"), {"p": world["fran"].id})
    session.commit()
    change = set_limits(session, world, 25_000, 500_000, who="fran")
    session.commit()
    with pytest.raises(spend.NotAllowed, match="someone else"):
        spend.approve_limit_change(session=session, change_id=change.id, actor=world["fran"])
    with pytest.raises(spend.NotAllowed, match="someone else"):
        spend.refuse_limit_change(session=session, change_id=change.id, actor=world["fran"], reason="no")
    session.rollback()
    assert limits_of(world["team"]) == (25_000, 100_000) and change.status == "pending"


def test_the_database_refuses_a_decision_by_the_person_who_asked(session, world):
    change = set_limits(session, world, 25_000, 500_000)
    session.commit()
    with pytest.raises((IntegrityError, DBAPIError)):
        session.execute(text("UPDATE spend_limit_change SET status = 'approved', decided_by_id = requested_by_id "
                             "WHERE id = :id"), {"id": change.id})
        session.flush()
    session.rollback()


def test_one_pending_change_at_a_time_and_the_asker_may_withdraw_it(session, world):
    change = set_limits(session, world, 25_000, 500_000)
    session.commit()
    with pytest.raises(spend.SpendError, match="already waiting"):
        set_limits(session, world, 10_000, 50_000)
    session.rollback()
    with pytest.raises((IntegrityError, DBAPIError)):
        session.add(SpendLimitChange(team_id=world["team"].id, member_limit_pence=1, enabler_limit_pence=2,
                                     previous_member_limit_pence=1, previous_enabler_limit_pence=2,
                                     status="pending", requested_by_id=world["erin"].id))
        session.flush()
    session.rollback()
    spend.withdraw_limit_change(session=session, team=world["team"], change_id=change.id, actor=world["erin"])
    session.commit()
    assert change.status == "withdrawn" and spend.pending_limit_change(session=session, team=world["team"]) is None
    set_limits(session, world, 10_000, 50_000)  # now it can change again
    session.commit()
    assert limits_of(world["team"]) == (10_000, 50_000)


def test_a_decided_change_cannot_be_decided_again(session, world):
    change = set_limits(session, world, 25_000, 500_000)
    session.commit()
    spend.refuse_limit_change(session=session, change_id=change.id, actor=world["finance"], reason="No")
    session.commit()
    with pytest.raises(spend.WrongState):
        spend.approve_limit_change(session=session, change_id=change.id, actor=world["finance"])
    session.rollback()
    assert limits_of(world["team"]) == (25_000, 100_000)


def test_lowering_a_confirmed_raise_applies_at_once(session, world):
    change = set_limits(session, world, 25_000, 500_000)
    session.commit()
    spend.approve_limit_change(session=session, change_id=change.id, actor=world["finance"])
    session.commit()
    lower = set_limits(session, world, 25_000, 300_000)  # still above the default, but lower
    session.commit()
    assert lower.status == "applied" and limits_of(world["team"]) == (25_000, 300_000)


def test_the_preview_says_what_would_happen(session, world):
    plan = spend.plan_limits(session=session, team=world["team"], actor=world["erin"], member_limit_pence=30_000,
                             enabler_limit_pence=100_000, defaults=DEFAULTS)
    assert plan.needs_confirmation and plan.above_default == ("member",)
    assert (plan.member_from_pence, plan.member_to_pence) == (25_000, 30_000)
    session.rollback()
    assert limits_of(world["team"]) == (25_000, 100_000)
    assert session.execute(select(SpendLimitChange)).first() is None


@pytest.mark.parametrize(("member", "enabler", "field", "message"), [
    (50_000, 40_000, "enabler_limit", "at least the members"),
    (0, 40_000, "member_limit", "more than £0"),
    (25_000, 100_000, None, "already"),  # no change at all
])
def test_bad_limits_are_refused_and_nothing_is_written(session, world, member, enabler, field, message):
    with pytest.raises(spend.SpendError, match=message) as raised:
        set_limits(session, world, member, enabler)
    assert raised.value.field == field
    session.rollback()
    assert session.execute(select(SpendLimitChange)).first() is None and audit(session) == []


# --------------------------------------------------------------------------- who may do what

# (who, action) → allowed?  member / enabler of the team, finance, admin (neither in the team).
WHO_MAY = [
    ("asha", "lower", False), ("asha", "raise", False), ("asha", "approve", False), ("asha", "refuse", False),
    ("erin", "lower", True), ("erin", "raise", True), ("erin", "approve", False), ("erin", "refuse", False),
    ("finance", "lower", False), ("finance", "raise", False), ("finance", "approve", True), ("finance", "refuse", True),
    ("admin", "lower", False), ("admin", "raise", False), ("admin", "approve", True), ("admin", "refuse", True),
]


@pytest.mark.parametrize(("who", "action", "allowed"), WHO_MAY)
def test_who_may_do_what(session, world, admin, who, action, allowed):
    actor = admin if who == "admin" else world[who]
    before = limits_of(world["team"])
    try:
        if action == "lower":
            spend.set_limits(session=session, team=world["team"], actor=actor, member_limit_pence=10_000,
                             enabler_limit_pence=50_000, defaults=DEFAULTS)
            expected = (10_000, 50_000)
        elif action == "raise":
            spend.set_limits(session=session, team=world["team"], actor=actor, member_limit_pence=25_000,
                             enabler_limit_pence=500_000, defaults=DEFAULTS)
            expected = before  # waits for finance even when allowed
        else:
            change = set_limits(session, world, 25_000, 500_000)
            session.commit()
            if action == "approve":
                spend.approve_limit_change(session=session, change_id=change.id, actor=actor)
                expected = (25_000, 500_000)
            else:
                spend.refuse_limit_change(session=session, change_id=change.id, actor=actor, reason="No")
                expected = before
        session.commit()
    except spend.NotAllowed:
        session.rollback()
        assert not allowed, f"{who} was refused {action}"
        assert limits_of(world["team"]) == before
        return
    assert allowed, f"{who} was allowed to {action}"
    assert limits_of(world["team"]) == expected
