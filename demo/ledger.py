"""Demo history for the ledger: thirteen months of realistic money per team, built through
the real services (allocations each April, a virement, spends via hold + settle, a voided
commitment, a reversal), with every month before the current one closed."""

import calendar
import datetime as dt

from sqlmodel import Session

from community.models import Person, Team
from ledger import codes, services

# (category, description, payee, payee is a person, pence)
SPENDS = [
    ("equipment", "Litter pickers and hoops", "Wickes", False, 8_640),
    ("venue", "Community centre hall hire", "Shirebrook Community Centre", False, 4_500),
    ("food", "Refreshments for the coffee morning", "Co-op", False, 2_375),
    ("grants", "Micro-grant: allotment seeds", "Allotment Society", False, 25_000),
    ("volunteer expenses", "Mileage for volunteer driver", "A volunteer", True, 1_820),
    ("printing", "Leaflets for the summer fair", "Bolsover Print", False, 6_400),
    ("activity materials", "Craft materials for the youth club", "Hobbycraft", False, 3_999),
    ("equipment", "Gazebo for outdoor events", "Argos", False, 14_999),
]
ALLOCATION_PENCE = 1_200_000  # £12,000 a financial year


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def load_demo_history(
    session: Session,
    *,
    teams: list[Team],
    finance: Person,
    members: dict[int, list[Person]],
    today: dt.date,
) -> None:
    """Create 13 months of history for every team and close every month before ``today``'s."""
    first = _add_months(today.replace(day=1), -12)
    months = [_add_months(first, n) for n in range(13)]
    key = f"demo-{today.isoformat()}"
    for index, team in enumerate(teams):
        people = members.get(team.id) or [finance]
        proposer, approver = people[0], people[1] if len(people) > 1 else finance
        services.allocate(
            session=session,
            team=team,
            amount_pence=ALLOCATION_PENCE,
            actor_id=finance.id,
            effective_date=first,
            idempotency_key=f"{key}-alloc-{team.id}-{first}",
            description=f"Allocation {first.year if first.month >= 4 else first.year - 1} (remaining year)",
            gl_code="R1000",
        )
        spend_entries = []
        for month_no, month in enumerate(months):
            if month.month == 4 and month != first:
                services.allocate(
                    session=session,
                    team=team,
                    amount_pence=ALLOCATION_PENCE,
                    actor_id=finance.id,
                    effective_date=month,
                    idempotency_key=f"{key}-alloc-{team.id}-{month}",
                    description=f"Allocation {month.year}/{str(month.year + 1)[2:]}",
                    gl_code="R1000",
                )
            current = month == months[-1]
            for n in range(3):
                category, description, payee, individual, pence = SPENDS[
                    (index * 3 + month_no * 2 + n) % len(SPENDS)
                ]
                day = month.replace(day=min(5 + 8 * n, today.day if current else 28))
                commitment = services.hold(
                    session=session,
                    team=team,
                    amount_pence=pence + 100 * index,
                    category=category,
                    description=description,
                    actor_id=proposer.id,
                    payee=payee,
                    payee_is_individual=individual,
                    idempotency_key=f"{key}-hold-{team.id}-{month}-{n}",
                )
                if current and n == 2:
                    continue  # left open: a commitment not yet paid
                if month_no == 4 and n == 1:
                    services.void_hold(
                        session=session,
                        hold_id=commitment.id,
                        actor_id=approver.id,
                        idempotency_key=f"{key}-void-{team.id}-{month}-{n}",
                    )
                    continue
                entry = services.settle_hold(
                    session=session,
                    hold_id=commitment.id,
                    actual_pence=commitment.amount_pence - (n * 37 % 200),
                    actor_id=finance.id,
                    effective_date=day,
                    method=codes.PURCHASE_CARD if n else codes.INVOICE,
                    receipt_ref=f"RCPT-{team.id}-{month:%Y%m}-{n}",
                    proposer_id=proposer.id,
                    approver_id=approver.id,
                    idempotency_key=f"{key}-settle-{team.id}-{month}-{n}",
                )
                spend_entries.append(entry)
            if month_no == 5 and len(teams) > 1:
                other = teams[(index + 1) % len(teams)]
                services.transfer(
                    session=session,
                    from_team=team,
                    to_team=other,
                    amount_pence=50_000,
                    reason=f"Shared summer event run with {other.name}",
                    actor_id=finance.id,
                    effective_date=month.replace(day=20),
                    idempotency_key=f"{key}-vire-{team.id}-{month}",
                )
            if month_no == 3:
                mistaken = spend_entries[-1]
                services.reverse(
                    session=session,
                    entry_id=mistaken.id,
                    team=team,
                    reason="Duplicate payment; refunded by supplier",
                    actor_id=finance.id,
                    effective_date=month.replace(day=27),
                    idempotency_key=f"{key}-rev-{team.id}-{month}",
                )
    for month in months[:-1]:
        services.close_month(session=session, month=month, actor_id=finance.id, today=today)
    session.flush()
