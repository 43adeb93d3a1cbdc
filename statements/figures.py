"""A team's monthly statement as figures: every block computed here from ledger queries (never
in a template), amounts in int pence as seen by the team's accounts (money in positive, money
out negative). Reads only. Rendering is statements/render.py; storing statements/store.py."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from community.db import LONDON, london_midnight, london_today, utcnow
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

COUNCIL = "Derbyshire County Council"
PROGRAMME = "Thriving Communities"
SYSTEM_VERSION = "Thriving Communities ledger statements 1.2"
FLAG_OVER_PENCE = 50_000  # the transparency threshold: £500
MISSING = "missing"
NOT_NEEDED = "n/a"
OVERSPEND_REFUSED = codes.OVERSPEND_REFUSED
METHOD_LABELS = codes.STATEMENT_LABELS
CHART_WIDTH = 300  # px of the longest bar in the spend-by-category chart




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
    recommitted_pence: int  # committed again, to new holds made with it (a move, not a release)
    released_pence: int  # available to spend again
    reason: str
    resolved: dt.date


@dataclass
class CommitmentMoves:
    """The budget's commitments from the month's start to its end: open at the start, plus the
    holds made in the month, less what the holds that ended in it became (paid, committed again
    to new holds, or released), is what is open at its end (the commitments register)."""

    opening_pence: int = 0
    made_pence: int = 0
    paid_pence: int = 0
    recommitted_pence: int = 0
    released_pence: int = 0
    closing_pence: int = 0

    @property
    def adds_up(self) -> bool:
        return (self.opening_pence + self.made_pence - self.paid_pence - self.recommitted_pence
                - self.released_pence == self.closing_pence)


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
    commitment_moves: CommitmentMoves = field(default_factory=CommitmentMoves)
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


def next_month(day: dt.date) -> dt.date:
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
    end = next_month(start)
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


# How an ended hold is described in "Holds released or moved this month", by the operation that
# ended it (ledger.end_reasons); a hold paid for less than it held says so.
END_REASONS = {
    "void": "voided (cancelled)",
    services.RELEASE: "left over when its idea was done",
    "move:drawn": "spend drew on it: re-committed",
    "move:round": "round closed: re-committed to its funded ideas",
    "move:returned": "spend cancelled: re-committed to its idea",
}
PAID_LESS = "paid for less than held"


def _fill_commitments(session, st: Statement, team: Team, budget: int | None, start, end, names) -> None:
    """The budget's commitments: the holds open at the end of the month, those that ended in it
    without becoming spend in full (released, or moved into new holds), and the movement from the
    month's start to its end. A hold is open from when it was made until it was voided, or until
    the date its payment is dated (a payment is spend of that day, so its commitment ends then:
    not counting it twice when the payment was recorded after the month's end)."""
    if budget is None:
        return
    end_at, start_at = london_midnight(end), london_midnight(start)  # the council's month, in UTC
    paid_entry = aliased(JournalEntry)
    rows = session.execute(
        select(Hold, paid_entry.effective_date, Posting.amount_pence)
        .outerjoin(paid_entry, paid_entry.id == Hold.settled_entry_id)
        .outerjoin(Posting, (Posting.entry_id == paid_entry.id) & (Posting.account_id == budget))
        .where(
            Hold.account_id == budget,
            Hold.created_at < end_at,
            or_(Hold.status == HoldStatus.OPEN.value, Hold.resolved_at >= start_at),
        )
        .order_by(Hold.created_at, Hold.id)
    ).all()
    ended_at: dict[int, dt.datetime | None] = {}
    paid: dict[int, int] = {}
    for h, paid_on, posted in rows:
        if h.status == HoldStatus.OPEN.value:
            ended_at[h.id] = None
        elif h.status == HoldStatus.SETTLED.value:
            ended_at[h.id] = max(london_midnight(paid_on), h.created_at)
            paid[h.id] = -int(posted or 0)
        else:
            ended_at[h.id] = h.resolved_at
    holds = [h for h, _, _ in rows]

    def open_at(h: Hold, moment: dt.datetime) -> bool:
        return h.created_at < moment and (ended_at[h.id] is None or ended_at[h.id] >= moment)

    still_open = [h for h in holds if open_at(h, end_at)]
    names.load(h.actor_id for h in still_open)
    as_of = min(end - dt.timedelta(days=1), london_today())  # an open month's holds age until today
    for h in still_open:
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
    ended = [h for h in holds if ended_at[h.id] is not None and start_at <= ended_at[h.id] < end_at]
    reasons = services.end_reasons(session=session, hold_ids=[h.id for h in ended if h.status == HoldStatus.VOIDED.value])
    moves = CommitmentMoves(
        opening_pence=sum(int(h.amount_pence) for h in holds if open_at(h, start_at)),
        made_pence=sum(int(h.amount_pence) for h in holds if start_at <= h.created_at < end_at),
    )
    for h in sorted(ended, key=lambda h: (ended_at[h.id], h.id)):
        held = int(h.amount_pence)
        amount_paid = paid.get(h.id, 0)
        recommitted = int(h.recommitted_pence or 0)
        moves.paid_pence += amount_paid
        moves.recommitted_pence += recommitted
        moves.released_pence += held - amount_paid - recommitted
        if amount_paid < held:
            settled = h.status == HoldStatus.SETTLED.value
            st.released.append(
                Released(
                    hold_id=h.id,
                    description=h.description,
                    held_pence=held,
                    paid_pence=amount_paid,
                    recommitted_pence=recommitted,
                    released_pence=held - amount_paid - recommitted,
                    reason=PAID_LESS if settled else END_REASONS.get(reasons.get(h.id, "void"), END_REASONS["void"]),
                    resolved=ended_at[h.id].astimezone(LONDON).date(),
                )
            )
    moves.closing_pence = st.commitments_pence
    st.commitment_moves = moves


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


