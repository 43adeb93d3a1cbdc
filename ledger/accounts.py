"""Accounts and what is in them: the council fund, each team's budget, spend accounts by
category, restricted funds (one per pledge received) and outside contributions; balances
(sealed closing balance of the last closed month + later postings) and what is still
available (balance − open holds, TigerBeetle's pending transfers)."""

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Date, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from community.db import read_columns, utcnow
from community.i18n import _
from community.models import Team
from ledger.errors import InsufficientFunds, InvalidRequest, NotFound
from ledger.journal import lock_accounts, pause
from ledger.models import AccountKind, Hold, HoldStatus, LedgerAccount, LedgerPeriod, PeriodBalance, Posting
from ledger.money import format_gbp

COUNCIL_FUND_CODE = "county:council_fund"


def _account_id(session: Session, code: str, kind: AccountKind, team_id, label: str) -> int:
    found = session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).scalar_one_or_none()
    if found is not None:
        return found
    # Created on first use by whichever request gets there first. Concurrent first uses (two
    # virements into a team with no budget account yet) must not fail on the unique code, so
    # insert-or-ignore, then read back the row (PostgreSQL waits for the other writer's commit).
    dialect = session.get_bind().dialect.name
    insert_row = sqlite_insert if dialect == "sqlite" else postgresql_insert
    session.execute(
        insert_row(LedgerAccount)
        .values(code=code, kind=kind.value, team_id=team_id, label=label, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["code"])
    )
    return session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).scalar_one()


def council_fund_id(*, session: Session) -> int:
    """The id of the county's council fund account (created on first use)."""
    return _account_id(session, COUNCIL_FUND_CODE, AccountKind.COUNCIL_FUND, None, "Council fund")


def budget_account_id(*, session: Session, team: Team) -> int:
    """The id of the team's budget account (created on first use)."""
    return _account_id(session, f"team:{team.id}:budget", AccountKind.BUDGET, team.id, f"{team.name} budget")


_ACCOUNT_BY_CODE = select(LedgerAccount.id).where(LedgerAccount.code == bindparam("code"))


def existing_budget_account_id(*, session: Session, team: Team) -> int | None:
    """The id of the team's budget account, or None before its first allocation (a page that
    only reads must not create it)."""
    return read_columns(session, _ACCOUNT_BY_CODE, {"code": f"team:{team.id}:budget"}).scalar_one_or_none()


def spend_account_id(*, session: Session, team_id: int, category: str) -> int:
    slug = category.strip().lower()
    return _account_id(session, f"team:{team_id}:spend:{slug}", AccountKind.SPEND, team_id, f"Spend: {slug}")


def open_restricted_fund(*, session: Session, team: Team, label: str) -> LedgerAccount:
    """Open a restricted fund for money received against one pledge; returns the account."""
    label = (label or "").strip()
    if not label:
        raise InvalidRequest(_("Give the restricted fund a name."))
    account = LedgerAccount(
        code=f"team:{team.id}:restricted:{uuid.uuid4().hex[:16]}",
        kind=AccountKind.RESTRICTED.value,
        team_id=team.id,
        label=label[:120],
    )
    session.add(account)
    session.flush()
    return account


def contributions_account_id(*, session: Session, team: Team) -> int:
    """The id of the team's outside-contributions account: where received pledge money comes
    from in the double entry (it goes negative by what outsiders have given)."""
    return _account_id(
        session, f"team:{team.id}:contributions", AccountKind.CONTRIBUTIONS, team.id,
        f"{team.name} contributions received",
    )


def balance_columns(account_id) -> tuple:
    """SQL for an account's balance and its open holds, for ``account_id`` (a bound parameter, or
    a column to correlate with): the sealed closing balance of the last closed month plus the
    postings dated after it (before any close, every posting), and the sum of its open holds."""
    newest = select(LedgerPeriod).order_by(LedgerPeriod.month_start.desc()).limit(1).subquery()
    opening = (
        select(PeriodBalance.balance_pence)
        .where(PeriodBalance.account_id == account_id,
               PeriodBalance.month_start == select(newest.c.month_start).scalar_subquery())
        .scalar_subquery()
    )
    since = select(func.coalesce(select(newest.c.next_month_start).scalar_subquery(),
                                 literal(dt.date.min, Date))).scalar_subquery()
    posted = (
        select(func.coalesce(func.sum(Posting.amount_pence), 0))
        .where(Posting.account_id == account_id, Posting.effective_date >= since)
        .scalar_subquery()
    )
    committed = (
        select(func.coalesce(func.sum(Hold.amount_pence), 0))
        .where(Hold.account_id == account_id, Hold.status == HoldStatus.OPEN.value)
        .scalar_subquery()
    )
    return func.coalesce(opening, 0) + posted, committed


# Built once (every ledger page and every spend asks; SQLAlchemy reuses the compiled SQL).
_BALANCE_SQL, _COMMITTED_SQL = balance_columns(bindparam("account_id"))
_BALANCE = select(_BALANCE_SQL)
_COMMITTED = select(_COMMITTED_SQL)
_BALANCE_AND_COMMITTED = select(_BALANCE_SQL, _COMMITTED_SQL)


def balance_in(*, session: Session, account_id: int) -> int:
    """Sealed closing balance of the last closed month + postings dated after it."""
    return int(session.execute(_BALANCE, {"account_id": account_id}).scalar_one())


def balance_and_committed(*, session: Session, account_id: int) -> tuple[int, int]:
    """The account's balance (as ``balance_in``) and its open holds (as ``committed_in``), in
    one round trip: what a ledger page shows as balance and available."""
    balance, committed = read_columns(session, _BALANCE_AND_COMMITTED, {"account_id": account_id}).one()
    return int(balance), int(committed)


def balance_of(*, session: Session, team: Team | None = None, account_id: int | None = None) -> int:
    """Posted balance in pence of the team's budget account, or of the account given."""
    if account_id is None:
        if team is None:
            raise InvalidRequest(_("Say which team or account."))
        account_id = budget_account_id(session=session, team=team)
    return balance_in(session=session, account_id=account_id)


def committed_in(*, session: Session, account_id: int) -> int:
    """Money committed (open holds) against one budget or restricted account."""
    return int(session.execute(_COMMITTED, {"account_id": account_id}).scalar_one())


def available_of(*, session: Session, team: Team) -> int:
    """What the team can still commit from its budget: balance minus open holds, in pence."""
    return available_in(session=session, account_id=budget_account_id(session=session, team=team))


def available_in(*, session: Session, account_id: int) -> int:
    """What can still be committed from one budget or restricted account, in pence."""
    balance, committed = balance_and_committed(session=session, account_id=account_id)
    return balance - committed


_RESTRICTED_FUNDS = (
    select(LedgerAccount)
    .where(LedgerAccount.team_id == bindparam("team_id"), LedgerAccount.kind == AccountKind.RESTRICTED.value)
    .order_by(LedgerAccount.id)
)


def restricted_funds(*, session: Session, team: Team) -> list[LedgerAccount]:
    """The team's restricted funds (one per pledge received), oldest first."""
    return list(session.execute(_RESTRICTED_FUNDS, {"team_id": team.id}).scalars())


_TEAM_ACCOUNTS = (
    select(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.label, *balance_columns(LedgerAccount.id))
    .where(LedgerAccount.team_id == bindparam("team_id"),
           LedgerAccount.kind.in_((AccountKind.BUDGET.value, AccountKind.RESTRICTED.value)))
    .order_by(LedgerAccount.id)
)


@dataclass(frozen=True)
class AccountBalance:
    account_id: int
    kind: str  # AccountKind.BUDGET or .RESTRICTED
    label: str
    balance_pence: int
    committed_pence: int

    @property
    def available_pence(self) -> int:
        return self.balance_pence - self.committed_pence


def team_accounts(*, session: Session, team: Team) -> list[AccountBalance]:
    """The team's budget account (when it has one) and restricted funds, oldest first, each with
    its balance and open holds: one round trip for the spend dashboard's "money available"."""
    return [AccountBalance(int(i), kind, label, int(balance), int(committed))
            for i, kind, label, balance, committed in read_columns(session, _TEAM_ACCOUNTS, {"team_id": team.id})]


@dataclass(frozen=True)
class FundSummary:
    account_id: int
    label: str
    balance_pence: int
    available_pence: int


def fund_summaries(*, session: Session, team: Team) -> list[FundSummary]:
    """Each restricted fund of the team with what is in it and what is still uncommitted."""
    return [
        FundSummary(
            account_id=fund.id,
            label=fund.label,
            balance_pence=balance_in(session=session, account_id=fund.id),
            available_pence=available_in(session=session, account_id=fund.id),
        )
        for fund in restricted_funds(session=session, team=team)
    ]


def funding_account(*, session: Session, team: Team, account_id: int | None) -> int:
    """The team's budget, or one of its own restricted funds (NotFound for anything else)."""
    if account_id is None:
        return budget_account_id(session=session, team=team)
    account = session.get(LedgerAccount, account_id)
    if (
        account is None
        or account.team_id != team.id
        or account.kind not in (AccountKind.BUDGET.value, AccountKind.RESTRICTED.value)
    ):
        raise NotFound(_("That fund does not belong to this team."))
    return account.id


def guard_outflows(*, session: Session, postings: list[tuple[int, int]]) -> None:
    """Lock every budget / restricted account that loses money and refuse an overdraft.

    Assumes the caller's transaction is a write transaction (see the module docstring).
    """
    outflows = defaultdict(int)
    for account_id, amount in postings:
        outflows[account_id] += amount
    losing = sorted(a for a, amount in outflows.items() if amount < 0)
    if not losing:
        return
    accounts = session.execute(select(LedgerAccount).where(LedgerAccount.id.in_(losing))).scalars()
    guarded = [a for a in accounts if a.kind in (AccountKind.BUDGET, AccountKind.RESTRICTED)]
    lock_accounts(session=session, account_ids=[a.id for a in guarded])
    for account in guarded:
        spendable = balance_in(session=session, account_id=account.id) - committed_in(session=session, account_id=account.id)
        pause()
        if spendable + outflows[account.id] < 0:
            raise InsufficientFunds(_("%(account)s has %(available)s available, not enough for %(amount)s.",
                                      account=account.label, available=format_gbp(max(spendable, 0)),
                                      amount=format_gbp(-outflows[account.id])))

