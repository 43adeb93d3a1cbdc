"""What quick spend holds about a person, for the download and for deleting an account
(community/rights.py, registered in ``create_app``). Quick-spend requests are financial records:
an account named on one is refused deletion by self-service, as for the ledger (ledger/rights.py).
"""

from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, func, select

from community.i18n import lazy_gettext, ngettext
from community.models import Person
from community.rights import PersonalData, record
from spend.models import SpendLimitChange, SpendRequest

_COLUMNS = (SpendRequest.requester_id, SpendRequest.decided_by_id, SpendRequest.closed_by_id)
_KEEP = ("id", "team_id", "requester_id", "amount_pence", "payee", "purpose", "category", "status", "created_at",
         "decided_by_id", "decided_at", "rejection_reason", "closed_by_id", "closed_at", "paid_pence", "paid_on")


def _where(person: Person):
    return or_(*(c == person.id for c in _COLUMNS))


def _limit_changes(person: Person):
    return or_(SpendLimitChange.requested_by_id == person.id, SpendLimitChange.decided_by_id == person.id)


def _export(session: Session, person: Person) -> dict[str, Any]:
    rows = session.exec(select(SpendRequest).where(_where(person)).order_by(SpendRequest.id)).all()
    changes = session.exec(select(SpendLimitChange).where(_limit_changes(person)).order_by(SpendLimitChange.id)).all()
    found: dict[str, Any] = {}
    if rows:
        found["spend_requests"] = [{k: v for k, v in record(r).items() if k in _KEEP} for r in rows]
    if changes:
        found["approval_limit_changes"] = [record(c) | {"asked_by_you": c.requested_by_id == person.id}
                                           for c in changes]
    return found


def _refusal(session: Session, person: Person) -> str | None:
    n = session.exec(select(func.count()).select_from(SpendRequest).where(_where(person))).one()
    n += session.exec(select(func.count()).select_from(SpendLimitChange).where(_limit_changes(person))).one()
    if not n:
        return None
    return ngettext("Your name is on %(num)s quick-spend record (requests and approval-limit changes), which are "
                    "financial records the council must keep for six years after the end of the financial year, "
                    "so this account cannot be deleted here. Contact the data protection officer (see the privacy "
                    "notice).",
                    "Your name is on %(num)s quick-spend records (requests and approval-limit changes), which are "
                    "financial records the council must keep for six years after the end of the financial year, "
                    "so this account cannot be deleted here. Contact the data protection officer (see the privacy "
                    "notice).", n)


SPEND = PersonalData(
    name="spend",
    columns=("spend_request.requester_id", "spend_request.decided_by_id", "spend_request.closed_by_id",
             "spend_limit_change.requested_by_id", "spend_limit_change.decided_by_id"),
    export=_export,
    refusal=_refusal,
    headings={"spend_requests": lazy_gettext("Quick-spend requests"),
              "approval_limit_changes": lazy_gettext("Approval-limit changes")},
)
