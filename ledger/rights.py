"""What the ledger core holds about a person, for the download and for deleting an account
(community/rights.py, registered in ``create_app``).

Ledger rows are append-only and hash-chained: deleting an account never changes one. The
person's name on financial records is needed for audit (the council keeps its accounting
records for six years after the financial year), so an account named on any ledger record is
refused deletion by self-service; the data protection officer can consider a request.
"""

from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, func, select

from community.i18n import lazy_gettext, ngettext
from community.models import Person
from community.rights import PersonalData, record
from ledger.models import Hold, JournalEntry, LedgerPeriod, ReversalRequest
from ledger.services import reference

# (section, model, person columns, columns exported)
_RECORDS = (
    ("journal_entries", JournalEntry, (JournalEntry.actor_id, JournalEntry.proposer_id, JournalEntry.approver_id),
     ("id", "effective_date", "kind", "description", "team_id", "actor_id", "proposer_id", "approver_id",
      "created_at")),
    ("holds", Hold, (Hold.actor_id,), ("id", "team_id", "amount_pence", "description", "status", "created_at")),
    ("months_closed", LedgerPeriod, (LedgerPeriod.closed_by_id,), ("month_start", "closed_at")),
    ("reversal_requests", ReversalRequest, (ReversalRequest.requested_by_id, ReversalRequest.decided_by_id),
     ("id", "entry_id", "amount_pence", "reason", "status", "requested_by_id", "requested_at", "decided_by_id",
      "decided_at")),
)


def _rows(session: Session, model, columns, person: Person):
    return session.exec(select(model).where(or_(*(c == person.id for c in columns)))).all()


def _export(session: Session, person: Person) -> dict[str, Any]:
    out = {}
    for name, model, columns, keep in _RECORDS:
        rows = _rows(session, model, columns, person)
        if rows:
            out[name] = [{k: v for k, v in record(r).items() if k in keep} for r in rows]
    for entry in out.get("journal_entries", []):
        entry["reference"] = reference(entry["id"])
    return {"ledger_records": out} if out else {}


def count_records(session: Session, person: Person, records=_RECORDS) -> int:
    """How many ledger records name the person."""
    return sum(session.exec(select(func.count()).select_from(model).where(or_(*(c == person.id for c in columns))))
               .one() for _name, model, columns, _keep in records)


def _refusal(session: Session, person: Person) -> str | None:
    n = count_records(session, person)
    if not n:
        return None
    return ngettext("Your name is on %(num)s of the council's financial records (ledger entries, commitments, "
                    "month closes or reversals). The council must keep these, with who did what, for six years "
                    "after the end of the financial year, so this account cannot be deleted here. Contact the "
                    "data protection officer (see the privacy notice) if you want your request considered.",
                    "Your name is on %(num)s of the council's financial records (ledger entries, commitments, "
                    "month closes or reversals). The council must keep these, with who did what, for six years "
                    "after the end of the financial year, so this account cannot be deleted here. Contact the "
                    "data protection officer (see the privacy notice) if you want your request considered.", n)


LEDGER = PersonalData(
    name="ledger",
    columns=("journal_entry.actor_id", "journal_entry.proposer_id", "journal_entry.approver_id",
             "ledger_hold.actor_id", "ledger_period.closed_by_id", "reversal_request.requested_by_id",
             "reversal_request.decided_by_id"),
    export=_export,
    refusal=_refusal,
    headings={"ledger_records": lazy_gettext("The council's financial records that name you")},
)
