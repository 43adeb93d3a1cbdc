"""Pledge services: promise → fulfilment, money only when received, bad input refused with
nothing written, lapse / withdraw with reasons, community pledges, totals and the memorandum."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger import services as ledger
from ledger.errors import NotFound
from ledger.models import JournalEntry
from pledges import services
from pledges.models import Pledge, PledgeEvent, PledgeFulfilment, PledgeSignature
from tests.pledges.conftest import TODAY, money_pledge, receive


def _count(session, model) -> int:
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def _time_pledge(session, world, **extra):
    values = dict(session=session, team=world["team"], made_by=world["resident"], kind="time", today=TODAY,
                  description="2 hours a week at the café", minutes=120, frequency="week",
                  due_on=TODAY + dt.timedelta(days=27))
    values.update(extra)
    pledge = services.make_pledge(**values)
    session.commit()
    return pledge


def _hours(session, world, pledge, minutes, key, day=TODAY, given_by="Rita", team=None, **extra):
    row = services.record_hours(session=session, team=team or world["team"], pledge_id=pledge.id, minutes=minutes,
                                effective_date=day, given_by=given_by, actor_id=world["staff"].id,
                                idempotency_key=key, today=TODAY, **extra)
    session.commit()
    return row


# --------------------------------------------------------------------------- money


def test_a_promise_never_reaches_the_ledger(session, world):
    pledge = money_pledge(session, world)
    assert pledge.status == "promised" and pledge.restricted_account_id is None
    assert _count(session, JournalEntry) == 0
    assert pledge.pledger_name == "Shirebrook Co-op" and pledge.pledger_person_id is None


def test_money_received_goes_into_the_pledges_restricted_fund(session, world):
    pledge = money_pledge(session, world)
    receive(session, world, pledge, 5_000, "r1")
    session.refresh(pledge)
    assert pledge.status == "partly_fulfilled"
    fund = pledge.restricted_account_id
    assert ledger.balance_of(session=session, account_id=fund) == 5_000
    assert ledger.available_of(session=session, team=world["team"]) == 0  # the budget is untouched
    receive(session, world, pledge, 15_000, "r2")
    session.refresh(pledge)
    assert pledge.status == "fulfilled"
    assert ledger.available_in(session=session, account_id=fund) == 20_000
    entry = session.get(JournalEntry, services.fulfilments(session, pledge.id)[0].journal_entry_id)
    assert entry.kind == "restricted_receipt" and entry.payee == "Shirebrook Co-op" and entry.receipt_ref == "BACS-1"
    assert [e.action for e in services.events(session, pledge.id)] == ["made", "partly_fulfilled", "fulfilled"]
    assert ledger.verify(session=session).ok


def test_replaying_a_receipt_records_it_once(session, world):
    pledge = money_pledge(session, world)
    first = receive(session, world, pledge, 5_000, "same")
    again = receive(session, world, pledge, 5_000, "same")
    assert [r.id for r in first] == [r.id for r in again]
    assert _count(session, JournalEntry) == 1 and _count(session, PledgeFulfilment) == 1


def test_receiving_more_than_promised_is_refused_unless_recorded_as_a_gift(session, world):
    pledge = money_pledge(session, world)
    receive(session, world, pledge, 15_000, "r1")
    with pytest.raises(services.OverFulfilment, match="more than the £50.00 still promised"):
        receive(session, world, pledge, 8_000, "r2")
    session.rollback()
    assert _count(session, JournalEntry) == 1 and _count(session, PledgeFulfilment) == 1
    rows = receive(session, world, pledge, 8_000, "r3", extra_as_gift=True)
    assert [r.amount_pence for r in rows] == [5_000, 3_000]
    gift = session.get(Pledge, rows[1].pledge_id)
    assert gift.gift_of_pledge_id == pledge.id and gift.status == "fulfilled" and gift.amount_pence == 3_000
    session.refresh(pledge)
    assert pledge.status == "fulfilled"
    assert ledger.balance_of(session=session, account_id=pledge.restricted_account_id) == 23_000
    totals = services.wall(session=session, team=world["team"], include_private=True).totals
    assert (totals.money_promised_pence, totals.money_received_pence, totals.gifts_pence) == (20_000, 23_000, 3_000)


def test_withdrawing_after_money_was_received_leaves_the_money(session, world):
    pledge = money_pledge(session, world)
    receive(session, world, pledge, 5_000, "r1")
    services.withdraw(session=session, team=world["team"], pledge_id=pledge.id, actor=world["staff"],
                      reason="The Co-op's budget was cut", is_team_staff=True)
    session.commit()
    session.refresh(pledge)
    assert pledge.status == "withdrawn" and pledge.status_reason == "The Co-op's budget was cut"
    assert ledger.balance_of(session=session, account_id=pledge.restricted_account_id) == 5_000
    with pytest.raises(services.PledgeError, match="withdrawn"):
        receive(session, world, pledge, 1_000, "r2")
    session.rollback()
    assert _count(session, JournalEntry) == 1


def test_withdrawing_needs_a_reason_and_the_pledger_or_the_team(session, world):
    pledge = _time_pledge(session, world)
    with pytest.raises(services.PledgeError, match="Say why"):
        services.withdraw(session=session, team=world["team"], pledge_id=pledge.id, actor=world["resident"],
                          reason="  ", is_team_staff=False)
    with pytest.raises(NotFound):
        services.withdraw(session=session, team=world["team"], pledge_id=pledge.id, actor=world["neighbour"],
                          reason="Not mine", is_team_staff=False)
    services.withdraw(session=session, team=world["team"], pledge_id=pledge.id, actor=world["resident"],
                      reason="Moving away", is_team_staff=False)
    session.commit()
    assert session.get(Pledge, pledge.id).status == "withdrawn"


# --------------------------------------------------------------------------- time, goods, space


def test_hours_given_fulfil_a_time_pledge(session, world):
    pledge = _time_pledge(session, world)
    assert services.promised_minutes(pledge) == 4 * 120  # weekly for four weeks
    _hours(session, world, pledge, 120, "h1")
    assert session.get(Pledge, pledge.id).status == "partly_fulfilled"
    for i, day in enumerate((7, 14, 21)):
        _hours(session, world, pledge, 120, f"h{i + 2}", day=TODAY - dt.timedelta(days=day))
    assert session.get(Pledge, pledge.id).status == "fulfilled"
    assert services.given_minutes(session, pledge.id) == 480


def test_more_than_24_hours_in_a_day_is_refused(session, world):
    pledge = _time_pledge(session, world, minutes=600)  # 10 hours a week for four weeks
    with pytest.raises(services.PledgeError, match="24"):
        _hours(session, world, pledge, 24 * 60 + 1, "h1")
    session.rollback()
    _hours(session, world, pledge, 20 * 60, "h2")
    with pytest.raises(services.PledgeError, match="already has 20 hours"):
        _hours(session, world, pledge, 5 * 60, "h3")
    session.rollback()
    assert _count(session, PledgeFulfilment) == 1


def test_a_future_date_for_hours_is_refused(session, world):
    pledge = _time_pledge(session, world)
    with pytest.raises(services.PledgeError, match="future"):
        _hours(session, world, pledge, 60, "h1", day=TODAY + dt.timedelta(days=1))
    session.rollback()
    assert _count(session, PledgeFulfilment) == 0


def test_goods_and_space_deliveries(session, world):
    fridge = services.make_pledge(session=session, team=world["team"], made_by=world["resident"], kind="goods",
                                  today=TODAY, description="A fridge", quantity=1, estimated_value_pence=25_000)
    hall = services.make_pledge(session=session, team=world["team"], made_by=world["staff"], kind="space",
                                today=TODAY, description="The church hall on Fridays", on_behalf_name="St Mary's",
                                room="Church hall", when_text="Fridays", estimated_value_pence=3_000,
                                due_on=TODAY + dt.timedelta(days=60))
    session.commit()
    with pytest.raises(services.PledgeError, match="Only 1 still promised"):
        services.record_delivery(session=session, team=world["team"], pledge_id=fridge.id, effective_date=TODAY,
                                 actor_id=world["staff"].id, idempotency_key="d0", today=TODAY, quantity=2)
    session.rollback()
    services.record_delivery(session=session, team=world["team"], pledge_id=fridge.id, effective_date=TODAY,
                             actor_id=world["staff"].id, idempotency_key="d1", today=TODAY, quantity=1)
    for key in ("d2", "d3"):
        services.record_delivery(session=session, team=world["team"], pledge_id=hall.id, effective_date=TODAY,
                                 actor_id=world["staff"].id, idempotency_key=key, today=TODAY)
    session.commit()
    assert session.get(Pledge, fridge.id).status == "fulfilled"
    assert session.get(Pledge, hall.id).status == "partly_fulfilled"
    totals = services.wall(session=session, team=world["team"], include_private=True).totals
    assert (totals.goods_delivered, totals.goods_value_pence, totals.space_uses, totals.space_value_pence) == (
        1, 25_000, 2, 6_000)


def test_fulfilment_against_another_teams_pledge_is_not_found(session, world):
    pledge = _time_pledge(session, world)
    with pytest.raises(NotFound):
        _hours(session, world, pledge, 60, "h1", team=world["other"])
    with pytest.raises(NotFound):
        services.record_money(session=session, team=world["other"], pledge_id=pledge.id, amount_pence=100,
                              effective_date=TODAY, actor_id=world["other_staff"].id, idempotency_key="m",
                              today=TODAY)
    session.rollback()
    assert _count(session, PledgeFulfilment) == 0


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (dict(kind="money", amount_pence=0), "amount"),
        (dict(kind="money", amount_pence=-500), "amount"),
        (dict(kind="time", minutes=0, frequency="once"), "hours"),
        (dict(kind="time", minutes=-60, frequency="once"), "hours"),
        (dict(kind="time", minutes=25 * 60, frequency="once"), "hours"),
        (dict(kind="time", minutes=60, frequency="week"), "due_on"),
        (dict(kind="goods", quantity=0), "quantity"),
        (dict(kind="space", room=" "), "room"),
        (dict(kind="money", amount_pence=100, due_on=TODAY - dt.timedelta(days=1)), "due_on"),
        (dict(kind="money", amount_pence=100, idea_id=-3), "idea_id"),
        (dict(kind="money", amount_pence=100, idea_id=999), "idea_id"),
        (dict(kind="rubbish"), "kind"),
    ],
)
def test_bad_pledges_are_refused_and_nothing_is_written(session, world, extra, field):
    with pytest.raises(services.PledgeError) as refused:
        services.make_pledge(session=session, team=world["team"], made_by=world["resident"], today=TODAY,
                             description="Something", **extra)
    assert refused.value.field == field
    session.rollback()
    assert _count(session, Pledge) == 0 and _count(session, PledgeEvent) == 0


@pytest.mark.parametrize(("text", "minutes"), [("2", 120), ("1.5", 90), ("0.25", 15), (" 24 ", 1440)])
def test_parse_hours(text, minutes):
    assert services.parse_hours(text) == minutes


@pytest.mark.parametrize("text", ["", "0", "-1", "abc", "1.234", "nan", "inf"])
def test_parse_hours_refuses(text):
    with pytest.raises(services.PledgeError):
        services.parse_hours(text)


# --------------------------------------------------------------------------- lapse


def test_pledges_past_their_date_lapse_with_a_reason(session, world):
    early = TODAY - dt.timedelta(days=30)
    due = services.make_pledge(session=session, team=world["team"], made_by=world["resident"], kind="money",
                               today=early, description="£20", amount_pence=2_000, due_on=TODAY - dt.timedelta(days=1))
    kept = services.make_pledge(session=session, team=world["team"], made_by=world["resident"], kind="money",
                                today=early, description="£30", amount_pence=3_000, due_on=TODAY)
    session.commit()
    lapsed = services.lapse_due(session=session, today=TODAY)
    session.commit()
    assert [p.id for p in lapsed] == [due.id]
    assert session.get(Pledge, due.id).status == "lapsed"
    assert "22 November 2026" in session.get(Pledge, due.id).status_reason
    assert session.get(Pledge, kept.id).status == "promised"
    assert services.lapse_due(session=session, today=TODAY) == []
    due_now = services.reminders(session=session, team=world["team"], today=TODAY)
    assert [p.id for p in due_now.overdue] == [kept.id] and due_now.due_this_week == []
    team_id = world["team"].id  # the staff to-do list counts what reminders lists
    assert services.due_soon_counts(session=session, team_ids=[team_id], today=TODAY) \
        == {team_id: len(due_now.overdue) + len(due_now.due_this_week)} == {team_id: 1}


# --------------------------------------------------------------------------- community pledges


def test_signing_once_withdrawing_and_signing_again(session, world):
    kind = services.create_community_pledge(session=session, team=world["team"], author=world["resident"],
                                            title="Being Kind in Shirebrook",
                                            promise="We will check on a neighbour every week")
    session.commit()
    services.sign(session=session, community_pledge=kind, person=world["resident"], anonymous=False)
    services.sign(session=session, community_pledge=kind, person=world["neighbour"], anonymous=True)
    session.commit()
    with pytest.raises(services.AlreadySigned):
        services.sign(session=session, community_pledge=kind, person=world["resident"], anonymous=True)
    session.rollback()
    assert services.signature_count(session, kind.id) == 2
    assert services.named_signers(session, kind.id) == ["Rita Morgan"]
    services.withdraw_signature(session=session, community_pledge=kind, person=world["resident"])
    session.commit()
    assert services.signature_count(session, kind.id) == 1
    services.sign(session=session, community_pledge=kind, person=world["resident"], anonymous=False)
    session.commit()
    assert services.signature_count(session, kind.id) == 2
    assert _count(session, PledgeSignature) == 3  # the withdrawn one stays


def test_the_database_refuses_a_second_standing_signature(session, world):
    kind = services.create_community_pledge(session=session, team=world["team"], author=world["resident"],
                                            title="Kind", promise="Be kind")
    session.commit()
    session.add(PledgeSignature(community_pledge_id=kind.id, person_id=world["resident"].id))
    session.commit()
    session.add(PledgeSignature(community_pledge_id=kind.id, person_id=world["resident"].id))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


# --------------------------------------------------------------------------- nothing deleted


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM pledge",
        "DELETE FROM pledge_fulfilment",
        "DELETE FROM pledge_event",
        "DELETE FROM pledge_signature",
        "UPDATE pledge_fulfilment SET minutes = 1",
        "UPDATE pledge SET amount_pence = 1",
        "UPDATE pledge SET status = 'promised'",
        "UPDATE pledge_signature SET withdrawn_at = NULL",
    ],
)
def test_the_database_keeps_history(session, world, statement):
    pledge = _time_pledge(session, world)
    _hours(session, world, pledge, 60, "h1")
    services.withdraw(session=session, team=world["team"], pledge_id=pledge.id, actor=world["resident"],
                      reason="Moving away", is_team_staff=False)
    kind = services.create_community_pledge(session=session, team=world["team"], author=world["resident"],
                                            title="Kind", promise="Be kind")
    services.sign(session=session, community_pledge=kind, person=world["resident"], anonymous=False)
    session.commit()
    services.withdraw_signature(session=session, community_pledge=kind, person=world["resident"])
    session.commit()
    with pytest.raises(DBAPIError, match="pledges:"):
        session.execute(text(statement))
    session.rollback()


def test_a_lapsed_status_reason_is_required_by_the_database(session, world):
    pledge = _time_pledge(session, world)
    with pytest.raises(IntegrityError):
        session.execute(text("UPDATE pledge SET status = 'lapsed' WHERE id = :id"), {"id": pledge.id})
    session.rollback()


# --------------------------------------------------------------------------- value, reminders, memorandum


def test_social_value_uses_the_finance_rate_and_stays_apart_from_cash(session, world):
    pledge = _time_pledge(session, world)
    _hours(session, world, pledge, 90, "h1")
    totals = services.wall(session=session, team=world["team"], include_private=True).totals
    assert totals.hourly_pence == 1271 and totals.time_value_pence == 1907  # 1.5 × £12.71, rounded
    with pytest.raises(services.PledgeError):
        services.set_hourly_rate(session=session, hourly_pence=1500, actor=world["staff"])
    with pytest.raises(services.PledgeError):
        services.set_hourly_rate(session=session, hourly_pence=0, actor=world["finance"])
    services.set_hourly_rate(session=session, hourly_pence=1500, actor=world["finance"])
    session.commit()
    totals = services.wall(session=session, team=world["team"], include_private=True).totals
    assert totals.social_value_pence == 2250
    assert ledger.available_of(session=session, team=world["team"]) == 0  # never cash
    assert _count(session, JournalEntry) == 0


def test_the_public_wall_leaves_out_private_pledges(session, world):
    _time_pledge(session, world, visibility="private")
    money_pledge(session, world, visibility="public_anonymous")
    public = services.wall(session=session, team=world["team"], include_private=False)
    assert [services.public_name(line.pledge) for line in public.current] == ["Anonymous"]
    assert public.totals.hours_promised_minutes == 0
    assert len(services.wall(session=session, team=world["team"], include_private=True).current) == 2


def test_a_reminder_is_emailed_politely_and_noted(session, world):
    pledge = money_pledge(session, world)
    sent = []
    services.send_reminder(session=session, team=world["team"], pledge_id=pledge.id, actor_id=world["staff"].id,
                           send=lambda **message: sent.append(message))
    session.commit()
    assert sent[0]["to"] == "coop@example.org" and "gentle reminder" in sent[0]["body"]
    assert services.events(session, pledge.id)[-1].action == "reminded"
    no_email = services.make_pledge(session=session, team=world["team"], made_by=world["staff"], kind="goods",
                                    today=TODAY, description="Paint", on_behalf_name="Someone", quantity=3)
    session.commit()
    with pytest.raises(services.PledgeError, match="no email"):
        services.send_reminder(session=session, team=world["team"], pledge_id=no_email.id,
                               actor_id=world["staff"].id, send=lambda **m: sent.append(m))
    assert len(sent) == 1


def test_memorandum_for_a_month(session, world):
    pledge = money_pledge(session, world)
    receive(session, world, pledge, 5_000, "r1")
    time = _time_pledge(session, world)
    _hours(session, world, time, 150, "h1")
    _hours(session, world, time, 60, "h0", day=dt.date(2026, 10, 31))  # the month before
    month = services.memorandum(session, world["team"].id, dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert month.money_received_pence == 5_000
    assert month.hours_given == Decimal("2.5") and month.social_value_pence == 3178  # 2.5 × £12.71
    assert month.goods_count == 0 and month.space_count == 0
    created = pledge.created_at.date()
    start = created.replace(day=1)
    nxt = (start + dt.timedelta(days=32)).replace(day=1)
    made = services.memorandum(session, world["team"].id, start, nxt)
    assert made.money_promised_pence == 20_000 and made.hours_promised == Decimal(8)
    other = services.memorandum(session, world["other"].id, dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    assert other.money_received_pence == 0 and other.social_value_pence == 0


def test_a_pledge_made_after_london_midnight_counts_in_the_next_month(session, world):
    with time_machine.travel(dt.datetime(2026, 9, 30, 23, 30, tzinfo=dt.UTC), tick=False):  # 00:30 BST, 1 Oct
        money_pledge(session, world)
    september = services.memorandum(session, world["team"].id, dt.date(2026, 9, 1), dt.date(2026, 10, 1))
    october = services.memorandum(session, world["team"].id, dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    assert (september.money_promised_pence, october.money_promised_pence) == (0, 20_000)
