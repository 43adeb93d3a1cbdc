"""Demo pledges for Shirebrook: the Co-op's £200 towards the youth space (£50 received so far),
2 hours a week at the café, a fridge, the church hall on Fridays, and the community pledge
"Being Kind in Shirebrook" with two signatures. Built through the real services."""

import datetime as dt

from sqlmodel import Session, select

from community.db import london_today
from community.models import Person, Team
from pledges import services


def load_demo_pledges(session: Session, *, teams: list[Team], members: dict[int, list[Person]],
                      today: dt.date | None = None) -> None:
    today = today or london_today()
    team = next((t for t in teams if t.slug == "shirebrook"), None)
    if team is None or not members.get(team.id):
        return
    staff = members[team.id][1]  # a team member
    residents = {p.name: p for p in session.exec(select(Person).where(Person.is_demo, Person.place_id.is_not(None)))}
    rita, tom = residents.get("Rita Morgan"), residents.get("Tom Burton")
    co_op = services.make_pledge(
        session=session, team=team, made_by=staff, kind="money", today=today,
        description="£200 towards the youth space", on_behalf_name="Shirebrook Co-op",
        on_behalf_is_organisation=True, contact_email="community@shirebrook-coop.example.org",
        amount_pence=20_000, due_on=today + dt.timedelta(days=5))
    services.record_money(session=session, team=team, pledge_id=co_op.id, amount_pence=5_000,
                          effective_date=today, actor_id=staff.id, idempotency_key="demo-pledge-co-op-1",
                          today=today, method="bank transfer", receipt_ref="BACS CO-OP 0001")
    if rita is not None:
        cafe = services.make_pledge(
            session=session, team=team, made_by=rita, kind="time", today=today,
            description="2 hours a week at the community café", minutes=120, frequency="week",
            due_on=today + dt.timedelta(days=84))
        services.record_hours(session=session, team=team, pledge_id=cafe.id, minutes=120, effective_date=today,
                              given_by="Rita Morgan", actor_id=staff.id, idempotency_key="demo-pledge-cafe-1",
                              today=today)
    services.make_pledge(
        session=session, team=team, made_by=staff, kind="goods", today=today,
        description="A fridge for the community café", on_behalf_name="A local family",
        visibility="public_anonymous", contact_email="fridge.family@example.org", quantity=1,
        estimated_value_pence=25_000, due_on=today + dt.timedelta(days=6))
    services.make_pledge(
        session=session, team=team, made_by=staff, kind="space", today=today,
        description="The church hall on Fridays for the youth club", on_behalf_name="St Mary’s Church",
        on_behalf_is_organisation=True, contact_email="hall@stmarys.example.org", room="Church hall",
        when_text="Fridays 6pm to 9pm", estimated_value_pence=3_000, due_on=today + dt.timedelta(days=182))
    kind = services.create_community_pledge(
        session=session, team=team, author=staff, title="Being Kind in Shirebrook",
        promise="We will check on a neighbour every week, and ask for help when we need it.")
    for person, anonymous in ((rita, False), (tom, True)):
        if person is not None:
            services.sign(session=session, community_pledge=kind, person=person, anonymous=anonymous)
    session.flush()
