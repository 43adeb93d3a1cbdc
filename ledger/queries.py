"""Reading the ledger: a team's ledger page with running balances, each restricted fund's
movements, and every team's balance (public pages withhold individuals as WITHHELD)."""

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from community.db import read_columns
from community.i18n import _
from community.models import Team
from ledger import codes
from ledger.accounts import (
    FundSummary,
    balance_and_committed,
    balance_columns,
    budget_account_id,
    existing_budget_account_id,
    restricted_funds,
)
from ledger.journal import reference
from ledger.models import AccountKind, JournalEntry, LedgerAccount, Posting

# The marker of a payee who is a person, in the council's records (statements, their CSVs, the open
# data files): English always, as those files are. A page shows it through ``shown_payee``.
WITHHELD = "individual (withheld)"


def shown_payee(payee: str | None) -> str:
    """A payee as a page shows it: the withheld marker in the reader's language (the ``payee`` filter)."""
    return _("individual (withheld)") if payee == WITHHELD else payee or ""


def team_balances(*, session: Session) -> list[dict]:
    """Every team with its balance and available pence, by name (0 for a team with no budget
    account yet: reading must not create one). One query, however many teams."""
    return [{"team": team, "balance": int(balance), "available": int(balance) - int(committed)}
            for team, balance, committed in session.execute(_TEAM_BALANCES)]


_BUDGET = aliased(LedgerAccount)
_TEAM_BALANCES = (
    select(Team, *(func.coalesce(column, 0) for column in balance_columns(_BUDGET.id)))
    .outerjoin(_BUDGET, (_BUDGET.team_id == Team.id) & (_BUDGET.kind == AccountKind.BUDGET.value))
    .order_by(Team.name, Team.id)
)


class LedgerRow(NamedTuple):
    """One line of a team's ledger page (amounts in pence, as seen by the budget account); a
    named tuple, not a frozen dataclass: a page builds up to 200 of them per request."""

    entry_id: int
    reference: str
    effective_date: dt.date
    kind: str
    description: str
    payee: str | None
    public_payee: str | None  # "individual (withheld)" when the payee is a person
    reason: str | None
    category: str | None
    reverses_entry_id: int | None
    amount_pence: int
    balance_after_pence: int
    proposer_id: int | None = None  # who asked for the spend (full detail only)
    approver_id: int | None = None  # the second person who approved it
    method: str | None = None  # how it was paid
    receipt_ref: str | None = None


@dataclass(frozen=True)
class LedgerPage:
    rows: list[LedgerRow]
    page: int
    per_page: int
    has_next: bool
    balance_pence: int
    available_pence: int


def list_entries(*, session: Session, team: Team, page: int = 1, per_page: int = 50) -> LedgerPage:
    """A page of the team's budget-account entries, newest first, with running balances.

    Cost does not grow with history for page 1: the balance comes from the last sealed month
    plus later postings, and rows come from the (account, date, entry) index.
    """
    return _account_page(session, budget_account_id(session=session, team=team), page, per_page)


def budget_page(*, session: Session, team: Team, page: int = 1, per_page: int = 50) -> LedgerPage | None:
    """As ``list_entries``, or None before the team's first allocation (nothing is created)."""
    account_id = existing_budget_account_id(session=session, team=team)
    return None if account_id is None else _account_page(session, account_id, page, per_page)


_NEWEST_FIRST = (Posting.effective_date.desc(), Posting.entry_id.desc(), Posting.id.desc())
# Built once (SQLAlchemy then reuses the compiled SQL): the page's postings with their entries'
# columns, not entities (50 rows build no objects for the identity map).
_PAGE_ROWS = (
    select(Posting.amount_pence, JournalEntry.id, JournalEntry.effective_date, JournalEntry.kind,
           JournalEntry.description, JournalEntry.payee, JournalEntry.payee_is_individual, JournalEntry.reason,
           JournalEntry.category, JournalEntry.reverses_entry_id, JournalEntry.proposer_id, JournalEntry.approver_id,
           JournalEntry.method, JournalEntry.receipt_ref)
    .join(JournalEntry, JournalEntry.id == Posting.entry_id)
    .where(Posting.account_id == bindparam("account_id"))
    .order_by(*_NEWEST_FIRST)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)


def _account_page(session: Session, account_id: int, page: int, per_page: int) -> LedgerPage:
    """A page of one account's entries, newest first, with running balances."""
    page = max(int(page), 1)
    per_page = min(max(int(per_page), 1), 200)
    balance, committed = balance_and_committed(session=session, account_id=account_id)
    offset = (page - 1) * per_page
    running = balance
    if offset:
        newer = (
            select(Posting.amount_pence)
            .where(Posting.account_id == account_id)
            .order_by(*_NEWEST_FIRST)
            .limit(offset)
            .subquery()
        )
        running -= int(session.execute(select(func.coalesce(func.sum(newer.c.amount_pence), 0))).scalar_one())
    result = read_columns(session, _PAGE_ROWS, {"account_id": account_id, "limit": per_page + 1, "offset": offset}).all()
    rows = []
    # Unpacked in _PAGE_ROWS's column order, and built positionally: a page's 50–200 rows are
    # half of what building it costs in Python otherwise (attribute look-ups on each Row).
    for (amount, entry_id, effective_date, kind, description, payee, payee_is_individual, reason, category,
         reverses_entry_id, proposer_id, approver_id, method, receipt_ref) in result[:per_page]:
        amount = int(amount)
        rows.append(LedgerRow(entry_id, reference(entry_id), effective_date, kind, description, payee,
                              WITHHELD if payee_is_individual else payee, reason, category, reverses_entry_id,
                              amount, running, proposer_id, approver_id,
                              (codes.method_code(method) or None) if method else None, receipt_ref))
        running -= amount
    return LedgerPage(
        rows=rows,
        page=page,
        per_page=per_page,
        has_next=len(result) > per_page,
        balance_pence=balance,
        available_pence=balance - committed,
    )


@dataclass(frozen=True)
class FundMovements:
    """A restricted fund with its movements, newest first (public: individuals withheld)."""

    summary: FundSummary
    public_label: str  # "Pledge P-0003": the pledge, never the pledger
    page: LedgerPage


FUND_MOVEMENTS_SHOWN = 100


def list_fund_movements(*, session: Session, team: Team) -> list[FundMovements]:
    """Every restricted fund of the team, even at £0, each with its latest movements (money
    pledged and received, spend charged to it, reversals), for the public ledger."""
    found = []
    for fund in restricted_funds(session=session, team=team):
        page = _account_page(session, fund.id, 1, FUND_MOVEMENTS_SHOWN)
        summary = FundSummary(account_id=fund.id, label=fund.label, balance_pence=page.balance_pence,
                              available_pence=page.available_pence)
        found.append(FundMovements(summary=summary, public_label=fund.label.split(":", 1)[0], page=page))
    return found

