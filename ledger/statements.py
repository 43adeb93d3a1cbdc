"""Monthly team statements and the county pack: the figures (computed here from ledger
queries, never in the template), the PDF (WeasyPrint with a deny-by-default URL fetcher), the
CSV (Local Government Transparency Code columns plus our references), and freezing.

Amounts are int pence as seen by the team's accounts: money in is positive, money out
negative. Building reads only; the one write is :func:`store_frozen`, which keeps a closed
month's bytes (PDF and CSV with their SHA-256) for ever in ``statement_frozen``.

Open month: built on request, DRAFT watermark. Closed month: built once (soon after closing,
outside the request: ledger/statement_freeze.py; or on the first request, whichever comes
first), stored, and every later download serves the stored bytes, byte-identical.
"""

import csv
import datetime as dt
import hashlib
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit

import weasyprint
from flask import current_app, render_template
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from community.db import LONDON, london_midnight, london_today, open_session, utcnow
from community.models import AuditEvent, Membership, Person, Team
from ledger import codes, services
from ledger.models import (
    AccountKind,
    ChainHead,
    EntryKind,
    Hold,
    HoldStatus,
    JournalEntry,
    LedgerAccount,
    LedgerPeriod,
    Posting,
)
from ledger.statement_models import COUNTY_SCOPE, FrozenStatement, team_scope

COUNCIL = "Derbyshire County Council"
PROGRAMME = "Thriving Communities"
SYSTEM_VERSION = "Thriving Communities ledger statements 1.2"
FLAG_OVER_PENCE = 50_000  # the transparency threshold: £500
MISSING = "missing"
NOT_NEEDED = "n/a"
OVERSPEND_REFUSED = codes.OVERSPEND_REFUSED
METHOD_LABELS = codes.STATEMENT_LABELS
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
    "Counterparty",
    "Fund",
    "Entry kind",
    "Payment method",
    "Card transaction",
    "Over 500",
    "Description",
    "Proposer",
    "Approver",
    "Receipt reference",
    "Reverses entry",
    "Running balance",
    "Statement id",
)
CHART_WIDTH = 300  # px of the longest bar in the spend-by-category chart

# Test seam: called after a statement is built and before it is stored, so a race test can
# make two first requests both build before either stores.
_BEFORE_STORE: Callable[[], None] | None = None


class StatementFetchRefused(ValueError):
    """The statement fetcher refused a URL (anything but our own static CSS)."""


class FrozenStatementCorrupt(RuntimeError):
    """Stored bytes no longer match their stored SHA-256."""


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


# --------------------------------------------------------------------------- the figures


@dataclass(frozen=True)
class Line:
    """One posting against one of the team's accounts (budget or a restricted fund)."""

    date: dt.date
    entry_id: int
    reference: str
    kind: str
    fund: str
    description: str
    payee: str
    category: str
    gl_code: str
    cost_centre: str
    method: str
    proposer: str
    approver: str
    receipt: str
    reverses_entry_id: int | None
    amount_pence: int
    over_500: bool
    p_card: bool
    balance_after_pence: int
    prior_period: bool = False  # a reversal of an entry dated in an earlier month
    counterparty: str = ""  # a virement's other team ("Gamesley Connected Team (TC1002)")
    category_label: str = ""

    @property
    def flags(self) -> str:
        return " ".join(f for f, on in ((">£500", self.over_500), ("P-card", self.p_card)) if on)


@dataclass(frozen=True)
class Commitment:
    hold_id: int
    description: str
    payee: str
    category: str
    amount_pence: int
    approved_by: str
    created: dt.date
    age_days: int
    expires: dt.date | None


@dataclass(frozen=True)
class Released:
    """A hold resolved in the month that released money: voided, or paid for less."""

    hold_id: int
    description: str
    held_pence: int
    paid_pence: int
    released_pence: int
    reason: str
    resolved: dt.date


@dataclass(frozen=True)
class RestrictedFund:
    """One restricted fund (money received for a pledge) over the month."""

    label: str
    opening_pence: int
    received_pence: int
    spent_pence: int  # negative
    other_pence: int
    closing_pence: int
    commitments_pence: int
    available_pence: int


@dataclass(frozen=True)
class RefusedAttempt:
    """A spend refused because it would have overspent (an audit event)."""

    when: dt.datetime
    actor: str
    subject: str


@dataclass(frozen=True)
class PledgeMemorandum:
    """Pledges over the month, in memorandum only: never added into any cash total."""

    money_promised_pence: int = 0
    money_received_pence: int = 0
    hours_promised: Decimal = Decimal(0)
    hours_given: Decimal = Decimal(0)
    goods_count: int = 0
    goods_value_pence: int = 0
    space_count: int = 0
    space_value_pence: int = 0
    social_value_pence: int = 0


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
    team_id: int
    team_name: str
    team_slug: str
    cost_centre: str
    month_start: dt.date
    month_end: dt.date  # last day of the month
    financial_year: str
    period_number: int
    closed: bool
    generated_at: dt.datetime
    system_version: str = SYSTEM_VERSION
    budget_holders: list[str] = field(default_factory=list)
    default_gl_codes: list[str] = field(default_factory=list)  # the GL codes of the lines printed
    closed_at: dt.datetime | None = None
    closed_by: str = ""
    seal_chain_head_entry_id: int | None = None
    seal_chain_head_hash: str = ""
    # Budget account
    opening_pence: int = 0
    allocations_pence: int = 0
    virements_in_pence: int = 0
    virements_out_pence: int = 0
    payments_out_pence: int = 0  # negative: spend posted in the month
    payments_by_method: dict[str, int] = field(default_factory=dict)
    reversals_count: int = 0
    reversals_pence: int = 0
    other_pence: int = 0
    money_in_pence: int = 0
    money_out_pence: int = 0  # negative
    closing_pence: int = 0
    commitments_count: int = 0
    commitments_pence: int = 0
    available_pence: int = 0
    # Restricted funds (money pledges actually received)
    pledges_received_pence: int = 0
    restricted: list[RestrictedFund] = field(default_factory=list)
    restricted_closing_pence: int = 0
    restricted_available_pence: int = 0
    # Year to date (financial year start to the end of this month), budget account. Each
    # reversal counts with the kind of entry it reverses (an allocation reversal adjusts the
    # allocations, a spend reversal the spend), so brought forward + allocations + virements
    # + spend + other = the closing balance.
    ytd_brought_forward_pence: int = 0  # balance at 1 April
    ytd_allocations_pence: int = 0
    ytd_virements_pence: int = 0
    ytd_spend_pence: int = 0  # negative, net of its reversals
    ytd_other_pence: int = 0
    ytd_in_pence: int = 0
    ytd_out_pence: int = 0
    ytd_net_pence: int = 0
    lines: list[Line] = field(default_factory=list)
    restricted_lines: list[Line] = field(default_factory=list)
    commitments: list[Commitment] = field(default_factory=list)
    released: list[Released] = field(default_factory=list)
    no_receipt: list[Line] = field(default_factory=list)
    reversals: list[Line] = field(default_factory=list)
    over_500_one_approval: list[Line] = field(default_factory=list)
    overspend_refused: list[RefusedAttempt] = field(default_factory=list)
    pledges: PledgeMemorandum | None = None
    by_category: list[Bar] = field(default_factory=list)
    chart_height: int = 0
    # Control totals over the rows printed (budget and restricted-fund lines): the entries they
    # come from, and the debits and credits of every posting of those entries.
    lines_count: int = 0
    entries_count: int = 0
    debits_pence: int = 0
    credits_pence: int = 0
    chain_head_entry_id: int = 0
    chain_head_hash: str = ""
    verify_ok: bool = False
    verify_summary: str = ""
    csv_sha256: str = ""  # of the CSV companion; printed on the PDF (a file can't hold its own hash)

    @property
    def status(self) -> str:
        return "CLOSED" if self.closed else "OPEN"

    @property
    def period_label(self) -> str:
        return f"{self.month_start:%B %Y} (P{self.period_number} of {self.financial_year})"

    @property
    def filename(self) -> str:
        return f"statement-{self.team_slug}-{self.month_start:%Y-%m}"

    @property
    def has_exceptions(self) -> bool:
        return bool(self.no_receipt or self.over_500_one_approval or self.reversals or self.overspend_refused)


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


def statement_id_for(team_id: int, start: dt.date, closed: bool, now: dt.datetime) -> str:
    """Stable for a closed month (``TCS-0003-202610``); a draft also carries its build time."""
    base = f"TCS-{team_id:04d}-{start:%Y%m}"
    return base if closed else f"{base}-DRAFT-{now:%Y%m%d%H%M%S}"


def pack_id_for(start: dt.date, closed: bool, now: dt.datetime) -> str:
    base = f"TCP-{start:%Y%m}"
    return base if closed else f"{base}-DRAFT-{now:%Y%m%d%H%M%S}"


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


def _pledge_memorandum(session: Session, team: Team, start: dt.date, end: dt.date) -> PledgeMemorandum | None:
    """The pledges domain's memorandum for the team and month (``end`` exclusive); None when
    nothing was pledged or fulfilled, so the statement says "No pledges recorded"."""
    from pledges.services import memorandum  # pledges imports the ledger

    found = memorandum(session, team.id, start, end)
    figures = PledgeMemorandum(**{f.name: getattr(found, f.name) for f in fields(PledgeMemorandum)})
    return None if figures == PledgeMemorandum() else figures


def build_statement(
    *,
    session: Session,
    team: Team,
    month: dt.date,
    now: dt.datetime | None = None,
    verify_report: services.VerifyReport | None = None,
) -> Statement:
    """The team's statement for the month containing ``month``, computed from the ledger.

    ``verify_report`` lets a caller building many statements run ``ledger verify`` once.
    """
    start = month.replace(day=1)
    end = _next_month(start)
    fy_label, period_number, fy_start = financial_period(start)
    now = now or utcnow()
    closed = is_closed(session, start)
    st = Statement(
        statement_id=statement_id_for(team.id, start, closed, now),
        council=COUNCIL,
        programme=PROGRAMME,
        team_id=team.id,
        team_name=team.name,
        team_slug=team.slug,
        cost_centre=team.cost_centre,
        month_start=start,
        month_end=end - dt.timedelta(days=1),
        financial_year=fy_label,
        period_number=period_number,
        closed=closed,
        generated_at=now,
    )
    _fill_control(session, st, team, start, end)
    names = _NameCache(session)
    budget = _budget_id(session, team)
    if budget is not None:
        _fill_money(session, st, budget, start, end, fy_start, names)
    _fill_restricted(session, st, team, start, end, names)
    _fill_commitments(session, st, team, budget, start, end, names)
    st.available_pence = st.closing_pence - st.commitments_pence
    _fill_refused(session, st, team, start, end, names)
    st.pledges = _pledge_memorandum(session, team, start, end)
    _fill_totals(session, st)
    head = session.execute(select(ChainHead.entry_id, ChainHead.hash)).first()
    if head is not None:
        st.chain_head_entry_id, st.chain_head_hash = head.entry_id, head.hash
    report = verify_report or services.verify(session=session)
    st.verify_ok, st.verify_summary = report.ok, report.summary()
    return st


class _NameCache:
    """Person id → name, loaded on demand."""

    def __init__(self, session: Session):
        self.session = session
        self.names: dict[int, str] = {}

    def load(self, ids) -> None:
        wanted = {i for i in ids if i is not None and i not in self.names}
        if wanted:
            self.names.update(
                self.session.execute(select(Person.id, Person.name).where(Person.id.in_(wanted))).all()
            )

    def __call__(self, person_id: int | None) -> str:
        if person_id is None:
            return ""
        self.load([person_id])
        return self.names.get(person_id, "")


def _fill_control(session: Session, st: Statement, team: Team, start: dt.date, end: dt.date) -> None:
    """Header and control: budget holders, GL codes, the period's seal, control totals."""
    st.budget_holders = list(
        session.execute(
            select(Person.name)
            .join(Membership, Membership.person_id == Person.id)
            .where(Membership.team_id == team.id, Membership.role == "enabler")
            .order_by(Person.name)
        ).scalars()
    )
    seal = session.execute(
        select(LedgerPeriod).where(LedgerPeriod.month_start >= start).order_by(LedgerPeriod.month_start).limit(1)
    ).scalar_one_or_none()
    if st.closed and seal is not None:
        st.closed_at = seal.closed_at
        st.closed_by = session.get(Person, seal.closed_by_id).name if seal.closed_by_id else ""
        st.seal_chain_head_entry_id, st.seal_chain_head_hash = seal.chain_head_entry_id, seal.chain_head_hash


def _fill_totals(session: Session, st: Statement) -> None:
    """Control totals and GL codes computed from the rows the statement prints, so they agree
    with them whatever team an entry was made by (a virement in is the other team's entry)."""
    printed = [*st.lines, *st.restricted_lines]
    entry_ids = sorted({line.entry_id for line in printed})
    st.lines_count, st.entries_count = len(printed), len(entry_ids)
    st.default_gl_codes = sorted({line.gl_code for line in printed if line.gl_code})
    if not entry_ids:
        return
    debits, credits = session.execute(
        select(
            func.coalesce(func.sum(Posting.amount_pence).filter(Posting.amount_pence > 0), 0),
            func.coalesce(func.sum(Posting.amount_pence).filter(Posting.amount_pence < 0), 0),
        ).where(Posting.entry_id.in_(entry_ids))
    ).one()
    st.debits_pence, st.credits_pence = int(debits), -int(credits)


def _counterparties(session: Session, team_id: int, rows) -> dict[int, str]:
    """Entry id → the other team of a virement (or of its reversal): "Name (cost centre)"."""
    ids = {e.id for _, e in rows if e.kind in (EntryKind.VIREMENT.value, EntryKind.REVERSAL.value)}
    if not ids:
        return {}
    found = session.execute(
        select(Posting.entry_id, Team.name, Team.cost_centre)
        .join(LedgerAccount, LedgerAccount.id == Posting.account_id)
        .join(Team, Team.id == LedgerAccount.team_id)
        .where(Posting.entry_id.in_(ids), LedgerAccount.team_id != team_id)
    ).all()
    return {entry_id: f"{name} ({cost_centre})" for entry_id, name, cost_centre in found}


def _line(entry: JournalEntry, amount: int, running: int, fund: str, st: Statement, names,
          counterparty: str = "") -> Line:
    spend = entry.kind == EntryKind.SPEND.value
    # One code per method whatever spelling the (append-only) entry was written with.
    method = codes.method_code(entry.method) or (codes.UNSPECIFIED if spend else "")
    return Line(
        date=entry.effective_date,
        entry_id=entry.id,
        reference=services.reference(entry.id),
        kind=entry.kind,
        fund=fund,
        description=entry.description,
        payee=services.WITHHELD if entry.payee_is_individual else (entry.payee or ""),
        category=entry.category or "",
        category_label=codes.category_label(entry.category),
        gl_code=entry.gl_code or "",
        # The statement team's own cost centre on every row; a virement's other team is the
        # counterparty (the entry itself carries the paying team's cost centre).
        cost_centre=st.cost_centre,
        counterparty=counterparty,
        method=method,
        proposer=names(entry.proposer_id),
        approver=names(entry.approver_id),
        receipt=entry.receipt_ref or (MISSING if spend else NOT_NEEDED),
        reverses_entry_id=entry.reverses_entry_id,
        amount_pence=amount,
        over_500=abs(amount) > FLAG_OVER_PENCE,
        p_card=method == codes.PURCHASE_CARD,
        balance_after_pence=running,
    )


def _rows(session: Session, account_id: int, start: dt.date, end: dt.date):
    return session.execute(
        select(Posting.amount_pence, JournalEntry)
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .where(Posting.account_id == account_id, Posting.effective_date >= start, Posting.effective_date < end)
        .order_by(Posting.effective_date, Posting.entry_id, Posting.id)
    ).all()


def _reversal_originals(session: Session, rows) -> dict[int, dt.date]:
    ids = {e.reverses_entry_id for _, e in rows if e.reverses_entry_id}
    if not ids:
        return {}
    return dict(session.execute(select(JournalEntry.id, JournalEntry.effective_date).where(JournalEntry.id.in_(ids))).all())


def _fill_money(session, st: Statement, budget: int, start, end, fy_start, names: _NameCache) -> None:
    st.opening_pence = _sum_before(session, budget, start)
    rows = _rows(session, budget, start, end)
    names.load({e.proposer_id for _, e in rows} | {e.approver_id for _, e in rows})
    originals = _reversal_originals(session, rows)
    others = _counterparties(session, st.team_id, rows)
    running = st.opening_pence
    by_category: dict[str, int] = defaultdict(int)
    by_method: dict[str, int] = defaultdict(int)
    for amount, entry in rows:
        amount = int(amount)
        running += amount
        line = _line(entry, amount, running, "budget", st, names, others.get(entry.id, ""))
        if entry.kind == EntryKind.REVERSAL.value:
            original_date = originals.get(entry.reverses_entry_id)
            line = replace(line, prior_period=original_date is not None and original_date < start)
        st.lines.append(line)
        if amount > 0:
            st.money_in_pence += amount
        else:
            st.money_out_pence += amount
        if entry.kind == EntryKind.ALLOCATION.value:
            st.allocations_pence += amount
        elif entry.kind == EntryKind.VIREMENT.value:
            if amount > 0:
                st.virements_in_pence += amount
            else:
                st.virements_out_pence += amount
        elif entry.kind == EntryKind.SPEND.value:
            st.payments_out_pence += amount
            by_method[line.method] += amount
            by_category[line.category_label or "Uncategorised"] -= amount
            if line.receipt == MISSING:
                st.no_receipt.append(line)
            if line.over_500 and (entry.approver_id is None or entry.approver_id == entry.proposer_id):
                st.over_500_one_approval.append(line)
        elif entry.kind == EntryKind.REVERSAL.value:
            st.reversals_count += 1
            st.reversals_pence += amount
            st.reversals.append(line)
            if entry.category:
                by_category[line.category_label] -= amount
        else:
            st.other_pence += amount
    st.closing_pence = running
    st.payments_by_method = dict(sorted(by_method.items()))
    _fill_chart(st, by_category)
    st.ytd_brought_forward_pence = _sum_before(session, budget, fy_start)
    reversed_entry = aliased(JournalEntry)
    kind = func.coalesce(reversed_entry.kind, JournalEntry.kind)  # a reversal counts as what it reverses
    ytd = defaultdict(int)
    for k, v in session.execute(
        select(kind, func.sum(Posting.amount_pence))
        .join(JournalEntry, JournalEntry.id == Posting.entry_id)
        .outerjoin(reversed_entry, reversed_entry.id == JournalEntry.reverses_entry_id)
        .where(Posting.account_id == budget, Posting.effective_date >= fy_start, Posting.effective_date < end)
        .group_by(kind)
    ).all():
        ytd[k] += int(v)
    st.ytd_allocations_pence = ytd.pop(EntryKind.ALLOCATION.value, 0)
    st.ytd_virements_pence = ytd.pop(EntryKind.VIREMENT.value, 0)
    st.ytd_spend_pence = ytd.pop(EntryKind.SPEND.value, 0)
    st.ytd_other_pence = sum(ytd.values())
    inout = session.execute(
        select(
            func.coalesce(func.sum(Posting.amount_pence).filter(Posting.amount_pence > 0), 0),
            func.coalesce(func.sum(Posting.amount_pence).filter(Posting.amount_pence < 0), 0),
        ).where(Posting.account_id == budget, Posting.effective_date >= fy_start, Posting.effective_date < end)
    ).one()
    st.ytd_in_pence, st.ytd_out_pence = int(inout[0]), int(inout[1])
    st.ytd_net_pence = st.ytd_in_pence + st.ytd_out_pence


def _fill_restricted(session, st: Statement, team: Team, start, end, names: _NameCache) -> None:
    """The team's restricted funds: money pledges actually received, and what was spent from them."""
    funds = session.execute(
        select(LedgerAccount)
        .where(LedgerAccount.team_id == team.id, LedgerAccount.kind == AccountKind.RESTRICTED.value)
        .order_by(LedgerAccount.id)
    ).scalars().all()
    end_at = london_midnight(end)
    for fund in funds:
        opening = _sum_before(session, fund.id, start)
        rows = _rows(session, fund.id, start, end)
        if not rows and not opening:
            continue
        names.load({e.proposer_id for _, e in rows} | {e.approver_id for _, e in rows})
        others = _counterparties(session, st.team_id, rows)
        running, received, spent, other = opening, 0, 0, 0
        for amount, entry in rows:
            amount = int(amount)
            running += amount
            line = _line(entry, amount, running, f"restricted: {fund.label}", st, names, others.get(entry.id, ""))
            st.restricted_lines.append(line)
            if entry.kind == EntryKind.RESTRICTED_RECEIPT.value:
                received += amount
            elif entry.kind == EntryKind.SPEND.value:
                spent += amount
                if line.receipt == MISSING:
                    st.no_receipt.append(line)
            else:
                other += amount
                if entry.kind == EntryKind.REVERSAL.value:
                    st.reversals.append(line)
        committed = int(
            session.execute(
                select(func.coalesce(func.sum(Hold.amount_pence), 0)).where(
                    Hold.account_id == fund.id,
                    Hold.created_at < end_at,
                    or_(Hold.status == HoldStatus.OPEN.value, Hold.resolved_at >= end_at),
                )
            ).scalar_one()
        )
        st.restricted.append(
            RestrictedFund(
                label=fund.label,
                opening_pence=opening,
                received_pence=received,
                spent_pence=spent,
                other_pence=other,
                closing_pence=running,
                commitments_pence=committed,
                available_pence=running - committed,
            )
        )
    st.pledges_received_pence = sum(f.received_pence for f in st.restricted)
    st.restricted_closing_pence = sum(f.closing_pence for f in st.restricted)
    st.restricted_available_pence = sum(f.available_pence for f in st.restricted)


def _fill_chart(st: Statement, by_category: dict[str, int]) -> None:
    items = sorted(((c, p) for c, p in by_category.items() if p > 0), key=lambda cp: (-cp[1], cp[0]))
    top = max((p for _, p in items), default=0)
    st.by_category = [
        Bar(category=c, amount_pence=p, width=max(1, round(CHART_WIDTH * p / top)), y=i * 22)
        for i, (c, p) in enumerate(items)
    ]
    st.chart_height = len(items) * 22


def _fill_commitments(session, st: Statement, team: Team, budget: int | None, start, end, names) -> None:
    """Budget holds open at the end of the month (made before it, not resolved before it),
    and holds resolved in the month that released money."""
    if budget is None:
        return
    end_at, start_at = london_midnight(end), london_midnight(start)  # the council's month, in UTC
    holds = session.execute(
        select(Hold)
        .where(
            Hold.account_id == budget,
            Hold.created_at < end_at,
            or_(Hold.status == HoldStatus.OPEN.value, Hold.resolved_at >= end_at),
        )
        .order_by(Hold.created_at, Hold.id)
    ).scalars().all()
    names.load(h.actor_id for h in holds)
    as_of = min(end - dt.timedelta(days=1), london_today())  # an open month's holds age until today
    for h in holds:
        created = h.created_at.astimezone(LONDON).date()
        st.commitments.append(
            Commitment(
                hold_id=h.id,
                description=h.description,
                payee=services.WITHHELD if h.payee_is_individual else (h.payee or ""),
                category=codes.category_label(h.category),
                amount_pence=int(h.amount_pence),
                approved_by=names(h.actor_id),
                created=created,
                age_days=max((as_of - created).days, 0),
                expires=h.expires_at.astimezone(LONDON).date() if h.expires_at else None,
            )
        )
    st.commitments_count = len(st.commitments)
    st.commitments_pence = sum(c.amount_pence for c in st.commitments)
    # Released in the month: voided in it, or paid (settlement dated in it) for less than held.
    voided = session.execute(
        select(Hold).where(
            Hold.account_id == budget,
            Hold.status == HoldStatus.VOIDED.value,
            Hold.resolved_at >= start_at,
            Hold.resolved_at < end_at,
        )
    ).scalars().all()
    settled = session.execute(
        select(Hold, Posting.amount_pence, JournalEntry.effective_date)
        .join(JournalEntry, JournalEntry.id == Hold.settled_entry_id)
        .join(Posting, (Posting.entry_id == JournalEntry.id) & (Posting.account_id == budget))
        .where(Hold.account_id == budget, JournalEntry.effective_date >= start, JournalEntry.effective_date < end)
    ).all()
    released = [(h, 0, "voided (cancelled)", h.resolved_at.date()) for h in voided]
    released += [(h, -int(amount), "paid for less than held", day) for h, amount, day in settled]
    for h, amount_paid, reason, day in sorted(released, key=lambda r: (r[3], r[0].id)):
        held = int(h.amount_pence)
        if amount_paid < held:
            st.released.append(
                Released(
                    hold_id=h.id,
                    description=h.description,
                    held_pence=held,
                    paid_pence=amount_paid,
                    released_pence=held - amount_paid,
                    reason=reason,
                    resolved=day,
                )
            )


def _fill_refused(session, st: Statement, team: Team, start, end, names: _NameCache) -> None:
    """Refused overspend attempts (ledger.md §3.2 G): the team's audit events (by ``team_id``)
    made in the statement month as the team lives it, midnight to midnight in Europe/London."""
    start_at, end_at = london_midnight(start), london_midnight(end)  # the council's month, in UTC
    events = session.execute(
        select(AuditEvent)
        .where(AuditEvent.team_id == team.id, AuditEvent.action == OVERSPEND_REFUSED,
               AuditEvent.created_at >= start_at, AuditEvent.created_at < end_at)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).scalars().all()
    for event in events:
        st.overspend_refused.append(
            RefusedAttempt(when=event.created_at, actor=names(event.actor_id), subject=event.subject)
        )


# --------------------------------------------------------------------------- county pack


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
        month_end=_next_month(start) - dt.timedelta(days=1),
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


# --------------------------------------------------------------------------- output


def render_html(statement: Statement) -> str:
    return render_template("statements/statement.html", st=statement, method_labels=METHOD_LABELS)


def render_pack_html(pack: CountyPack) -> str:
    return render_template("statements/county_pack.html", pack=pack, method_labels=METHOD_LABELS)


def _pdf(html: str, fetcher: SafeURLFetcher | None) -> bytes:
    static_root = Path(current_app.static_folder)
    fetcher = fetcher or SafeURLFetcher(static_root)
    document = weasyprint.HTML(string=html, base_url=static_root.as_uri() + "/", url_fetcher=fetcher)
    return document.write_pdf()


def render_pdf(statement: Statement, fetcher: SafeURLFetcher | None = None) -> bytes:
    """The statement as PDF bytes; only our static CSS may be fetched."""
    return _pdf(render_html(statement), fetcher)


def render_pack_pdf(pack: CountyPack, fetcher: SafeURLFetcher | None = None) -> bytes:
    return _pdf(render_pack_html(pack), fetcher)


def pounds(pence: int) -> str:
    """Pence as a plain decimal string for the CSV: -1234 → ``"-12.34"``."""
    return str(Decimal(int(pence)).scaleb(-2).quantize(Decimal("0.01")))


def _csv_rows(statement: Statement):
    for line in (*statement.lines, *statement.restricted_lines):
        yield (
            statement.council,
            f"{statement.programme}: {statement.team_name}",
            line.date.isoformat(),
            line.reference,
            pounds(line.amount_pence),
            _csv_safe(line.payee),
            _csv_safe(line.category_label),
            _csv_safe(line.gl_code),
            _csv_safe(line.cost_centre),
            _csv_safe(line.counterparty),
            _csv_safe(line.fund),
            line.kind,
            _csv_safe(line.method),
            "Y" if line.p_card else "N",
            "Y" if line.over_500 else "N",
            _csv_safe(line.description),
            _csv_safe(line.proposer),
            _csv_safe(line.approver),
            _csv_safe(line.receipt),
            services.reference(line.reverses_entry_id) if line.reverses_entry_id else "",
            pounds(line.balance_after_pence),
            statement.statement_id,
        )


def _write_csv(statements: list[Statement]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for statement in statements:
        writer.writerows(_csv_rows(statement))
    return out.getvalue()


def render_csv(statement: Statement) -> str:
    """One row per posting against the team's budget, then its restricted funds; UTF-8, header row."""
    return _write_csv([statement])


def render_pack_csv(pack: CountyPack) -> str:
    """Every team's rows in one CSV (same columns as a team's)."""
    return _write_csv(pack.statements)


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- files and freezing


@dataclass(frozen=True)
class Files:
    """A statement's two files as served: PDF and CSV bytes with their SHA-256."""

    statement_id: str
    filename: str
    pdf: bytes
    csv: bytes
    pdf_sha256: str
    csv_sha256: str
    generated_at: dt.datetime
    frozen: bool = False  # served from the frozen store
    frozen_at_close: bool = False


def _files(document, csv_text: str, render) -> Files:
    """CSV first, so the PDF (``render(document)``) can print the CSV's SHA-256."""
    csv_bytes = csv_text.encode("utf-8")
    document.csv_sha256 = sha256(csv_bytes)
    pdf = render(document)
    return Files(
        statement_id=document.statement_id,
        filename=document.filename,
        pdf=pdf,
        csv=csv_bytes,
        pdf_sha256=sha256(pdf),
        csv_sha256=document.csv_sha256,
        generated_at=document.generated_at,
    )


def team_files(statement: Statement) -> Files:
    """Render a built team statement (PDF and CSV)."""
    return _files(statement, render_csv(statement), render_pdf)


def pack_files(pack: CountyPack) -> Files:
    """Render a built county pack (PDF and CSV)."""
    return _files(pack, render_pack_csv(pack), render_pack_pdf)


def files_of(row: FrozenStatement, filename: str) -> Files:
    pdf, csv_bytes = bytes(row.pdf), bytes(row.csv)
    if sha256(pdf) != row.pdf_sha256 or sha256(csv_bytes) != row.csv_sha256:
        raise FrozenStatementCorrupt(f"frozen statement {row.statement_id} does not match its SHA-256")
    return Files(
        statement_id=row.statement_id,
        filename=filename,
        pdf=pdf,
        csv=csv_bytes,
        pdf_sha256=row.pdf_sha256,
        csv_sha256=row.csv_sha256,
        generated_at=row.generated_at,
        frozen=True,
        frozen_at_close=row.frozen_at_close,
    )


def frozen_row(session: Session, month: dt.date, scope: str) -> FrozenStatement | None:
    return session.execute(
        select(FrozenStatement).where(FrozenStatement.month_start == month.replace(day=1), FrozenStatement.scope == scope)
    ).scalar_one_or_none()


def frozen_hashes(session: Session, month: dt.date) -> dict[str, tuple[str, str, str]]:
    """scope → (statement id, PDF SHA-256, CSV SHA-256) of the month's frozen statements."""
    return {
        scope: (sid, pdf_hash, csv_hash)
        for scope, sid, pdf_hash, csv_hash in session.execute(
            select(
                FrozenStatement.scope,
                FrozenStatement.statement_id,
                FrozenStatement.pdf_sha256,
                FrozenStatement.csv_sha256,
            ).where(FrozenStatement.month_start == month.replace(day=1))
        ).all()
    }


def store_frozen(
    engine: Engine, *, month: dt.date, scope: str, team_id: int | None, files: Files, at_close: bool
) -> Files:
    """Store a closed month's files once; returns what is stored (the first writer's bytes).

    Race-safe: the UNIQUE(month, scope) constraint lets one writer win; a loser rolls back and
    serves the winner's row.
    """
    if _BEFORE_STORE is not None:
        _BEFORE_STORE()
    start = month.replace(day=1)
    with open_session(engine, write=True) as s:
        existing = frozen_row(s, start, scope)
        if existing is None:
            s.add(
                FrozenStatement(
                    month_start=start,
                    scope=scope,
                    team_id=team_id,
                    statement_id=files.statement_id,
                    pdf=files.pdf,
                    pdf_sha256=files.pdf_sha256,
                    pdf_size=len(files.pdf),
                    csv=files.csv,
                    csv_sha256=files.csv_sha256,
                    csv_size=len(files.csv),
                    frozen_at_close=at_close,
                    generated_at=files.generated_at,
                )
            )
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
            else:
                return files_of(frozen_row(s, start, scope), files.filename)
            existing = frozen_row(s, start, scope)
        return files_of(existing, files.filename)


def get_team_files(engine: Engine, session: Session, team: Team, month: dt.date) -> Files:
    """What a download serves: an open month built now (DRAFT); a closed month's stored bytes,
    frozen now if the month was closed before freezing existed."""
    start = month.replace(day=1)
    if not is_closed(session, start):
        return team_files(build_statement(session=session, team=team, month=start))
    row = frozen_row(session, start, team_scope(team.id))
    filename = f"statement-{team.slug}-{start:%Y-%m}"
    if row is not None:
        return files_of(row, filename)
    files = team_files(build_statement(session=session, team=team, month=start))
    return store_frozen(engine, month=start, scope=team_scope(team.id), team_id=team.id, files=files, at_close=False)


def _all_teams(session: Session) -> list[Team]:
    return list(session.execute(select(Team).order_by(Team.name, Team.slug)).scalars())


def get_pack_files(engine: Engine, session: Session, month: dt.date) -> Files:
    """The county pack: built now for an open month; stored bytes for a closed one (frozen now,
    with every team's statement, if not yet frozen)."""
    start = month.replace(day=1)
    if not is_closed(session, start):
        now = utcnow()
        report = services.verify(session=session)
        statements = [
            build_statement(session=session, team=t, month=start, now=now, verify_report=report)
            for t in _all_teams(session)
        ]
        for st in statements:
            st.csv_sha256 = sha256(render_csv(st).encode("utf-8"))
        return pack_files(build_county_pack(statements, month=start, closed=False, now=now))
    row = frozen_row(session, start, COUNTY_SCOPE)
    if row is not None:
        return files_of(row, f"county-pack-{start:%Y-%m}")
    return freeze_month(engine, month=start, at_close=False, session=session)


def freeze_month(
    engine: Engine,
    *,
    month: dt.date,
    at_close: bool,
    session: Session | None = None,
    progress: Callable[[str], None] | None = None,
) -> Files:
    """Build and store every team's statement and the county pack for a closed month (those
    not yet stored); returns the stored county pack. Team statements are stored first and the
    pack is built from the same figures, so the pack's rows match the team files."""
    start = month.replace(day=1)
    own = session is None
    session = session or open_session(engine, write=False)
    try:
        if not is_closed(session, start):
            raise ValueError(f"{start:%B %Y} is not closed")
        now = utcnow()
        report = services.verify(session=session)
        statements = []
        for team in _all_teams(session):
            st = build_statement(session=session, team=team, month=start, now=now, verify_report=report)
            scope = team_scope(team.id)
            row = frozen_row(session, start, scope)
            if row is None:
                row = store_frozen(
                    engine, month=start, scope=scope, team_id=team.id, files=team_files(st), at_close=at_close
                )
            # The pack names the hash of the team's stored CSV, the one its statement prints.
            st.csv_sha256 = row.csv_sha256
            statements.append(st)
            if progress:
                progress(team.slug)
        existing = frozen_row(session, start, COUNTY_SCOPE)
        if existing is not None:
            return files_of(existing, f"county-pack-{start:%Y-%m}")
        files = pack_files(build_county_pack(statements, month=start, closed=True, now=now))
        return store_frozen(engine, month=start, scope=COUNTY_SCOPE, team_id=None, files=files, at_close=at_close)
    finally:
        if own:
            session.close()


