"""``ledger verify``: recompute the hash chain, every entry's balance, the sealed months and
the holds, and name the first entry that does not match."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from ledger.journal import HASHED_FIELDS, entry_hash
from ledger.models import (
    GENESIS_HASH,
    AccountKind,
    ChainHead,
    Hold,
    HoldStatus,
    JournalEntry,
    LedgerAccount,
    LedgerPeriod,
    PeriodBalance,
    Posting,
)


@dataclass
class VerifyReport:
    """The outcome of :func:`verify`."""

    ok: bool
    entries: int = 0
    postings: int = 0
    head_hash: str = GENESIS_HASH
    bad_entry_id: int | None = None
    problem: str | None = None
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return (
                f"ledger OK: {self.entries} entries, {self.postings} postings, "
                f"chain head {self.head_hash[:16]}"
            )
        return f"ledger FAILED: {self.problem}"


def verify(*, session: Session) -> VerifyReport:
    """Recompute the hash chain, every entry's balance, sealed month balances and holds.

    Returns a report naming the first entry that does not match; it never raises for a bad
    ledger (that is what it is for).
    """
    report = VerifyReport(ok=True)

    def fail(message: str, entry_id: int | None = None) -> VerifyReport:
        report.ok, report.problem, report.bad_entry_id = False, message, entry_id
        return report

    by_entry: dict[int, list[tuple[int, int, dt.date]]] = defaultdict(list)
    for entry_id, account_id, amount, day in session.execute(
        select(Posting.entry_id, Posting.account_id, Posting.amount_pence, Posting.effective_date)
    ):
        by_entry[entry_id].append((account_id, int(amount), day))
        report.postings += 1
    columns = [getattr(JournalEntry, name) for name in (*HASHED_FIELDS, "prev_hash", "hash")]
    previous_hash, previous_id = GENESIS_HASH, 0
    seen: set[int] = set()
    hashes: dict[int, str] = {0: GENESIS_HASH}
    for row in session.execute(select(*columns).order_by(JournalEntry.id)):
        header = row._asdict()
        entry_id = header["id"]
        if entry_id != previous_id + 1:
            return fail(f"entry {previous_id + 1} is missing (next found is {entry_id})", previous_id + 1)
        if header["prev_hash"] != previous_hash:
            return fail(
                f"entry {entry_id}: link to entry {previous_id} is broken "
                "(an entry was changed, removed or reordered)",
                entry_id,
            )
        legs = by_entry.get(entry_id, [])
        if len(legs) < 2 or sum(a for _, a, _ in legs) != 0 or any(a == 0 for _, a, _ in legs):
            return fail(f"entry {entry_id}: postings do not balance", entry_id)
        if any(day != header["effective_date"] for _, _, day in legs):
            return fail(f"entry {entry_id}: a posting's date differs from the entry", entry_id)
        if entry_hash(header["prev_hash"], header, [(a, p) for a, p, _ in legs]) != header["hash"]:
            return fail(f"entry {entry_id}: contents do not match its hash", entry_id)
        previous_hash, previous_id = header["hash"], entry_id
        hashes[entry_id] = header["hash"]
        seen.add(entry_id)
        report.entries += 1
    orphans = sorted(set(by_entry) - seen)
    if orphans:
        return fail(f"entry {orphans[0]}: postings exist without their entry", orphans[0])
    head = session.execute(select(ChainHead.entry_id, ChainHead.hash)).one()
    if head.entry_id != previous_id or head.hash != previous_hash:
        return fail(
            f"the chain head names entry {head.entry_id} but the last entry is "
            f"{previous_id} (entries removed from the end?)",
            head.entry_id,
        )
    report.head_hash = previous_hash

    # Sealed months: each stored closing balance must equal the postings dated before it.
    periods = session.execute(select(LedgerPeriod).order_by(LedgerPeriod.month_start)).scalars().all()
    if periods:
        dated = sorted(
            (day, account_id, amount) for legs in by_entry.values() for account_id, amount, day in legs
        )
        totals: dict[int, int] = defaultdict(int)
        index = 0
        for period in periods:
            if hashes.get(period.chain_head_entry_id) != period.chain_head_hash:
                return fail(
                    f"closed month {period.month_start:%Y-%m}: sealed chain head "
                    f"(entry {period.chain_head_entry_id}) does not match",
                    period.chain_head_entry_id,
                )
            while index < len(dated) and dated[index][0] < period.next_month_start:
                totals[dated[index][1]] += dated[index][2]
                index += 1
            for account_id, sealed in session.execute(
                select(PeriodBalance.account_id, PeriodBalance.balance_pence).where(
                    PeriodBalance.month_start == period.month_start
                )
            ):
                if int(sealed) != totals.get(account_id, 0):
                    return fail(
                        f"closed month {period.month_start:%Y-%m}: sealed balance of "
                        f"account {account_id} does not match its postings"
                    )

    # Commitments: open holds never exceed the balance of the account they are held on (a
    # team's budget or one of its restricted funds); settled holds are paid.
    balances: dict[int, int] = defaultdict(int)
    for legs in by_entry.values():
        for account_id, amount, _ in legs:
            balances[account_id] += amount
    held_accounts = dict(
        session.execute(
            select(LedgerAccount.id, LedgerAccount.team_id).where(
                LedgerAccount.kind.in_((AccountKind.BUDGET.value, AccountKind.RESTRICTED.value))
            )
        ).all()
    )
    holds = session.execute(
        select(Hold.account_id, Hold.status, Hold.amount_pence, Hold.settled_entry_id, Hold.id)
    ).all()
    open_by_account: dict[int, int] = defaultdict(int)
    for account_id, status, amount, settled_entry_id, hold_id in holds:
        if status == HoldStatus.OPEN.value:
            open_by_account[account_id] += int(amount)
        elif status == HoldStatus.SETTLED.value and settled_entry_id not in seen:
            return fail(f"hold {hold_id} is settled but its entry is missing", settled_entry_id)
    for account_id, team_id in held_accounts.items():
        if balances.get(account_id, 0) - open_by_account.get(account_id, 0) < 0:
            return fail(f"team {team_id}: open commitments exceed its balance")
    return report

