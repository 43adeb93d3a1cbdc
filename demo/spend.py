"""Demo quick spend for every team: one request waiting, one approved and unpaid, one paid with
a receipt. Built through the real services, after the ledger's demo history."""

import datetime as dt
import struct
import zlib
from pathlib import Path

from sqlmodel import Session

from community.models import Person, Team
from spend import receipts
from spend import services as spend


def tiny_png() -> bytes:
    """A valid 1×1 white PNG: the demo's stand-in for a photo of a till receipt."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def load_spend_demo(session: Session, *, teams: list[Team], members: dict[int, list[Person]],
                    today: dt.date, receipts_dir: str | Path | None = None) -> None:
    """Three requests per team (needs the ledger demo history first, so the teams have money)."""
    if receipts_dir is None:
        from spend.views import receipts_dir as configured

        receipts_dir = configured()
    for team in teams:
        people = members.get(team.id) or []
        if len(people) < 3:
            continue
        _enabler, ben, carol = people[:3]
        spend.request_spend(
            session=session, team=team, requester=carol, amount_pence=4_500, payee="Stagecoach",
            payee_is_individual=False, purpose="Monthly bus pass so a young man can start his apprenticeship",
            category="travel")
        fridge = spend.request_spend(
            session=session, team=team, requester=ben, amount_pence=18_000, payee="Currys",
            payee_is_individual=False, purpose="Fridge for the community café", category="equipment")
        spend.approve(session=session, team=team, request_id=fridge.id, approver=carol, auth_session=None,
                      idempotency_key=f"demo-spend-approve-{team.id}-fridge")
        food = spend.request_spend(
            session=session, team=team, requester=carol, amount_pence=3_250, payee="Co-op",
            payee_is_individual=False, purpose="Food for the warm space lunch", category="food")
        spend.approve(session=session, team=team, request_id=food.id, approver=ben, auth_session=None,
                      idempotency_key=f"demo-spend-approve-{team.id}-food")
        ref, content_type = receipts.store_receipt(receipts_dir, tiny_png())
        spend.record_payment(
            session=session, team=team, request_id=food.id, actor=carol, actual_pence=2_980, paid_on=today,
            method="purchase card", receipt_ref=ref, receipt_content_type=content_type,
            idempotency_key=f"demo-spend-pay-{team.id}-food", today=today)
    session.flush()
