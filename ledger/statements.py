"""Monthly team statements: the figures (computed here from ledger queries, never in the
template), the PDF (WeasyPrint with a deny-by-default URL fetcher) and the CSV (Local
Government Transparency Code columns plus our references).

Amounts are int pence as seen by the team's budget account: money in is positive, money out
negative. Reading only: nothing here writes, and a GET never creates a budget account.
"""

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

import weasyprint
from flask import current_app, render_template
from sqlalchemy import func, or_, select
from sqlmodel import Session

from community.db import utcnow
from community.models import Person, Team
from ledger import services
from ledger.models import (
    ChainHead,
    EntryKind,
    Hold,
    HoldStatus,
    JournalEntry,
    LedgerAccount,
    LedgerPeriod,
    Posting,
)

COUNCIL = "Derbyshire County Council"
PROGRAMME = "Thriving Communities"
FLAG_OVER_PENCE = 50_000  # the transparency threshold: £500
MISSING = "missing"
CSV_COLUMNS = (
    "Body",
    "Service area",
    "Date",
    "Transaction number",
    "Amount",
    "Supplier",
    "Category",
    "GL code",
    "Cost centre",
    "Entry kind",
    "Description",
    "Receipt reference",
    "Reverses entry",
    "Running balance",
    "Statement id",
)
CHART_WIDTH = 300  # px of the longest bar in the spend-by-category chart


class StatementFetchRefused(ValueError):
    """The statement fetcher refused a URL (anything but our own static CSS)."""


class SafeURLFetcher(weasyprint.URLFetcher):
    """Deny by default: serve only ``*.css`` files under the app's ``static/`` folder.

    No network, no ``file://`` outside ``static/``, no data: URLs. Every URL asked for is
    recorded in ``requested`` (the tests read it); refusals in ``refused``.
    """

    def __init__(self, static_root: Path | str, **kwargs):
        super().__init__(allowed_protocols=("file",), allow_redirects=False, **kwargs)
        self.static_root = Path(static_root).resolve()
        self.requested: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        self.requested.append(url)
        parts = urlsplit(url)
        if parts.scheme == "file" and not parts.netloc and not parts.query:
            path = Path(unquote(parts.path)).resolve()
            if path.suffix == ".css" and path.is_relative_to(self.static_root) and path.is_file():
                return weasyprint.urls.URLFetcherResponse(
                    url, path.read_bytes(), {"Content-Type": "text/css; charset=utf-8"}
                )
        self.refused.append(url)
        raise StatementFetchRefused(f"refused to fetch {url}")


@dataclass(frozen=True)
class Line:
    """One posting against the team's budget account in the month."""

    date: dt.date
    entry_id: int
    reference: str
    kind: str
    description: str
    payee: str
    category: str
    gl_code: str
    cost_centre: str
    proposer: str
    approver: str
    receipt: str
    reverses_entry_id: int | None
    amount_pence: int
    over_500: bool
    balance_after_pence: int


@dataclass(frozen=True)
class Commitment:
    hold_id: int
    description: str
    payee: str
    category: str
    amount_pence: int
    created: dt.date
    age_days: int
    expires: dt.date | None


@dataclass(frozen=True)
class Bar:
    category: str
    amount_pence: int
    width: int
    y: int


@dataclass
class Statement:
    """Everything a team's monthly statement shows; all totals computed here."""

    statement_id: str
    council: str
    programme: str
    team_name: str
    team_slug: str
    cost_centre: str
    month_start: dt.date
    month_end: dt.date  # last day of the month
    financial_year: str
    period_number: int
    closed: bool
    generated_at: dt.datetime
    opening_pence: int = 0
    allocations_pence: int = 0
    virements_in_pence: int = 0
    virements_out_pence: int = 0
    payments_out_pence: int = 0  # negative: spend posted in the month
    payments_by_method: dict[str, int] = field(default_factory=dict)
    reversals_count: int = 0
    reversals_pence: int = 0
    other_pence: int = 0
    closing_pence: int = 0
    commitments_count: int = 0
    commitments_pence: int = 0
    available_pence: int = 0
    ytd_in_pence: int = 0
    ytd_out_pence: int = 0
    ytd_net_pence: int = 0
    lines: list[Line] = field(default_factory=list)
    commitments: list[Commitment] = field(default_factory=list)
    no_receipt: list[Line] = field(default_factory=list)
    reversals: list[Line] = field(default_factory=list)
    over_500_one_approval: list[Line] = field(default_factory=list)
    by_category: list[Bar] = field(default_factory=list)
    chart_height: int = 0
    chain_head_entry_id: int = 0
    chain_head_hash: str = ""
    verify_ok: bool = False
    verify_summary: str = ""

    @property
    def status(self) -> str:
        return "CLOSED" if self.closed else "OPEN"

    @property
    def period_label(self) -> str:
        return f"{self.month_start:%B %Y} (P{self.period_number} of {self.financial_year})"

    @property
    def filename(self) -> str:
        return f"statement-{self.team_slug}-{self.month_start:%Y-%m}"


def parse_month(text: str) -> dt.date:
    """``"2026-11"`` → 1 Nov 2026; ValueError for anything else."""
    day = dt.datetime.strptime(text or "", "%Y-%m").date()
    if len(text) != 7:
        raise ValueError(text)
    return day


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def financial_period(month_start: dt.date) -> tuple[str, int, dt.date]:
    """(``"2026/27"``, period number with April = P1, first day of the financial year)."""
    year = month_start.year if month_start.month >= 4 else month_start.year - 1
    return f"{year}/{(year + 1) % 100:02d}", (month_start.month - 4) % 12 + 1, dt.date(year, 4, 1)


def _budget_id(session: Session, team: Team) -> int | None:
    code = f"team:{team.id}:budget"
    return session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).scalar_one_or_none()


def _sum_before(session: Session, account_id: int, day: dt.date) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(Posting.amount_pence), 0)).where(
            Posting.account_id == account_id, Posting.effective_date < day
        )
    ).scalar_one()
    return int(total)


def is_closed(session: Session, month_start: dt.date) -> bool:
    """Closing a month closes every month before it."""
    boundary = session.execute(select(func.max(LedgerPeriod.next_month_start))).scalar_one()
    return boundary is not None and month_start < boundary


def build_statement(
    *, session: Session, team: Team, month: dt.date, now: dt.datetime | None = None
) -> Statement:
    """The team's statement for the month containing ``month``, computed from the ledger."""
    start = month.replace(day=1)
    end = _next_month(start)
    fy_label, period_number, fy_start = financial_period(start)
    now = now or utcnow()
    st = Statement(
        statement_id=f"TCS-{team.id:04d}-{start:%Y%m}-{now:%Y%m%d%H%M%S}",
        council=COUNCIL,
        programme=PROGRAMME,
        team_name=team.name,
        team_slug=team.slug,
        cost_centre=team.cost_centre,
        month_start=start,
        month_end=end - dt.timedelta(days=1),
        financial_year=fy_label,
        period_number=period_number,
        closed=is_closed(session, start),
        generated_at=now,
    )
    budget = _budget_id(session, team)
    if budget is not None:
        _fill_money(session, st, budget, start, end, fy_start)
    _fill_commitments(session, st, team, end)
    st.available_pence = st.closing_pence - st.commitments_pence
    head = session.execute(select(ChainHead.entry_id, ChainHead.hash)).first()
    if head is not None:
        st.chain_head_entry_id, st.chain_head_hash = head.entry_id, head.hash
    report = services.verify(session=session)
    st.verify_ok, st.verify_summary = report.ok, report.summary()
    return st


def _fill_money(session, st: Statement, budget: int, start, end, fy_start) -> None:
    st.opening_pence = _sum_before(session, budget, start)
    rows = session.execute(
        select(Posting.amount_pence, JournalEntry)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.account_id == budget, Posting.effective_date >= start, Posting.effective_date < end)
        .order_by(Posting.effective_date, Posting.entry_id, Posting.id)
    ).all()
    people_ids = {e.proposer_id for _, e in rows} | {e.approver_id for _, e in rows}
    people_ids.discard(None)
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(people_ids))).all())
    running = st.opening_pence
    by_category: dict[str, int] = defaultdict(int)
    by_method: dict[str, int] = defaultdict(int)
    for amount, entry in rows:
        amount = int(amount)
        running += amount
        line = Line(
            date=entry.effective_date,
            entry_id=entry.id,
            reference=f"L{entry.id:06d}",
            kind=entry.kind,
            description=entry.description,
            payee=services.WITHHELD if entry.payee_is_individual else (entry.payee or ""),
            category=entry.category or "",
            gl_code=entry.gl_code or "",
            cost_centre=entry.cost_centre or st.cost_centre,
            proposer=names.get(entry.proposer_id, ""),
            approver=names.get(entry.approver_id, ""),
            receipt=entry.receipt_ref or MISSING,
            reverses_entry_id=entry.reverses_entry_id,
            amount_pence=amount,
            over_500=abs(amount) > FLAG_OVER_PENCE,
            balance_after_pence=running,
        )
        st.lines.append(line)
        if entry.kind == EntryKind.ALLOCATION.value:
            st.allocations_pence += amount
        elif entry.kind == EntryKind.VIREMENT.value:
            if amount > 0:
                st.virements_in_pence += amount
            else:
                st.virements_out_pence += amount
        elif entry.kind == EntryKind.SPEND.value:
            st.payments_out_pence += amount
            by_method[entry.method or "unspecified"] += amount
            by_category[line.category or "uncategorised"] -= amount
            if line.receipt == MISSING:
                st.no_receipt.append(line)
            if line.over_500 and not entry.approver_id:
                st.over_500_one_approval.append(line)
        elif entry.kind == EntryKind.REVERSAL.value:
            st.reversals_count += 1
            st.reversals_pence += amount
            st.reversals.append(line)
            if entry.category:
                by_category[entry.category] -= amount
        else:
            st.other_pence += amount
    st.closing_pence = running
    st.payments_by_method = dict(sorted(by_method.items()))
    _fill_chart(st, by_category)
    ytd = session.execute(
        select(
            func.coalesce(func.sum(Posting.amount_pence).filter(Posting.amount_pence > 0), 0),
            func.coalesce(func.sum(Posting.amount_pence).filter(Posting.amount_pence < 0), 0),
        ).where(Posting.account_id == budget, Posting.effective_date >= fy_start, Posting.effective_date < end)
    ).one()
    st.ytd_in_pence, st.ytd_out_pence = int(ytd[0]), int(ytd[1])
    st.ytd_net_pence = st.ytd_in_pence + st.ytd_out_pence


def _fill_chart(st: Statement, by_category: dict[str, int]) -> None:
    items = sorted(((c, p) for c, p in by_category.items() if p > 0), key=lambda cp: (-cp[1], cp[0]))
    top = max((p for _, p in items), default=0)
    st.by_category = [
        Bar(category=c, amount_pence=p, width=max(1, round(CHART_WIDTH * p / top)), y=i * 22)
        for i, (c, p) in enumerate(items)
    ]
    st.chart_height = len(items) * 22


def _fill_commitments(session, st: Statement, team: Team, end: dt.date) -> None:
    """Holds open at the end of the month: made before it, not resolved before it."""
    end_at = dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC)
    holds = session.execute(
        select(Hold)
        .where(
            Hold.team_id == team.id,
            Hold.created_at < end_at,
            or_(Hold.status == HoldStatus.OPEN.value, Hold.resolved_at >= end_at),
        )
        .order_by(Hold.created_at, Hold.id)
    ).scalars()
    month_end = end - dt.timedelta(days=1)
    for h in holds:
        created = h.created_at.date()
        st.commitments.append(
            Commitment(
                hold_id=h.id,
                description=h.description,
                payee=services.WITHHELD if h.payee_is_individual else (h.payee or ""),
                category=h.category,
                amount_pence=int(h.amount_pence),
                created=created,
                age_days=max((month_end - created).days, 0),
                expires=h.expires_at.date() if h.expires_at else None,
            )
        )
    st.commitments_count = len(st.commitments)
    st.commitments_pence = sum(c.amount_pence for c in st.commitments)


# --------------------------------------------------------------------------- output


def render_html(statement: Statement) -> str:
    return render_template("statements/statement.html", st=statement)


def render_pdf(statement: Statement, fetcher: SafeURLFetcher | None = None) -> bytes:
    """The statement as PDF bytes; only our static CSS may be fetched."""
    static_root = Path(current_app.static_folder)
    fetcher = fetcher or SafeURLFetcher(static_root)
    document = weasyprint.HTML(
        string=render_html(statement), base_url=static_root.as_uri() + "/", url_fetcher=fetcher
    )
    return document.write_pdf()


def pounds(pence: int) -> str:
    """Pence as a plain decimal string for the CSV: -1234 → ``"-12.34"``."""
    return str(Decimal(int(pence)).scaleb(-2).quantize(Decimal("0.01")))


def render_csv(statement: Statement) -> str:
    """One row per transaction line, UTF-8 with a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in statement.lines:
        writer.writerow(
            (
                statement.council,
                f"{statement.programme}: {statement.team_name}",
                line.date.isoformat(),
                line.reference,
                pounds(line.amount_pence),
                _csv_safe(line.payee),
                _csv_safe(line.category),
                line.gl_code,
                line.cost_centre,
                line.kind,
                _csv_safe(line.description),
                _csv_safe(line.receipt),
                f"L{line.reverses_entry_id:06d}" if line.reverses_entry_id else "",
                pounds(line.balance_after_pence),
                statement.statement_id,
            )
        )
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text
