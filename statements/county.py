"""The county pack: one row per team from the same figures as the team statements."""

import datetime as dt
from dataclasses import dataclass, field

from statements.figures import (
    COUNCIL,
    PROGRAMME,
    SYSTEM_VERSION,
    Statement,
    financial_period,
    next_month,
    pack_id_for,
)


@dataclass(frozen=True)
class CountyRow:
    team_name: str
    team_slug: str
    cost_centre: str
    statement_id: str
    opening_pence: int
    money_in_pence: int
    money_out_pence: int
    closing_pence: int
    commitments_pence: int
    available_pence: int
    restricted_closing_pence: int
    csv_sha256: str


@dataclass
class CountyPack:
    """The county's month: a summary row per team, then each team's statement."""

    statement_id: str
    council: str
    programme: str
    month_start: dt.date
    month_end: dt.date
    financial_year: str
    period_number: int
    closed: bool
    generated_at: dt.datetime
    statements: list[Statement]
    rows: list[CountyRow] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    csv_sha256: str = ""
    system_version: str = SYSTEM_VERSION

    @property
    def status(self) -> str:
        return "CLOSED" if self.closed else "OPEN"

    @property
    def period_label(self) -> str:
        return f"{self.month_start:%B %Y} (P{self.period_number} of {self.financial_year})"

    @property
    def filename(self) -> str:
        return f"county-pack-{self.month_start:%Y-%m}"


def build_county_pack(statements: list[Statement], *, month: dt.date, closed: bool, now: dt.datetime) -> CountyPack:
    """The pack over already-built team statements (each with its ``csv_sha256``)."""
    start = month.replace(day=1)
    fy_label, period_number, _ = financial_period(start)
    pack = CountyPack(
        statement_id=pack_id_for(start, closed, now),
        council=COUNCIL,
        programme=PROGRAMME,
        month_start=start,
        month_end=next_month(start) - dt.timedelta(days=1),
        financial_year=fy_label,
        period_number=period_number,
        closed=closed,
        generated_at=now,
        statements=sorted(statements, key=lambda s: (s.team_name, s.team_slug)),
    )
    for st in pack.statements:
        pack.rows.append(
            CountyRow(
                team_name=st.team_name,
                team_slug=st.team_slug,
                cost_centre=st.cost_centre,
                statement_id=st.statement_id,
                opening_pence=st.opening_pence,
                money_in_pence=st.money_in_pence,
                money_out_pence=st.money_out_pence,
                closing_pence=st.closing_pence,
                commitments_pence=st.commitments_pence,
                available_pence=st.available_pence,
                restricted_closing_pence=st.restricted_closing_pence,
                csv_sha256=st.csv_sha256,
            )
        )
    for name in (
        "opening_pence",
        "money_in_pence",
        "money_out_pence",
        "closing_pence",
        "commitments_pence",
        "available_pence",
        "restricted_closing_pence",
    ):
        pack.totals[name] = sum(getattr(r, name) for r in pack.rows)
    return pack


