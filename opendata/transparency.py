"""The Local Government Transparency Code 2015 files: per closed month, the county's spend over
£500 and every purchase-card transaction, as CSV.

**Built from the frozen statements.** Each file is a pure function of the month's frozen county
pack CSV (``statement_frozen``, scope ``county``: append-only, stored with its SHA-256), never
of the live ledger, so a published file is byte-identical on every download and after any later
activity (a reversal dated next month is next month's row). A month is published once its
county pack is frozen; a closed month still freezing is "being prepared".

**Columns.** The Code (paragraphs 23–24 and 30–31 of the 2015 Code) makes these fields
mandatory for expenditure over £500: the date the expenditure was incurred, the department,
the beneficiary, a summary of the purpose, the amount, the VAT that cannot be recovered, and the
merchant category; for purchase cards: the date of the transaction, the department, the
beneficiary, the amount, the irrecoverable VAT, a summary of the purpose and the merchant
category. The column *names* follow the Local Government Association's practitioner guidance
for spend files, which most councils publish with (Body name, Body, Date, Transaction number,
Supplier name, Expense area, Expense type, Expense code …) so that aggregators read ours like
theirs:

================== ===================================== =====================================
Column             Code field                            From the frozen pack CSV
================== ===================================== =====================================
Body name          (recommended: who publishes)          "Derbyshire County Council"
Body               (recommended: a code for the body)    the council's ONS/GSS code E10000007
Date               date incurred / of the transaction    Date, as dd/mm/yyyy (UK date format)
Transaction number (recommended: a unique reference)     Transaction number (the ledger entry)
Amount             amount                                Amount, as expenditure (a refund < 0)
Irrecoverable VAT  VAT that cannot be recovered          empty: see below
Supplier name /    beneficiary                           Supplier; "Redacted – personal data"
Merchant name                                            for a payee that is a person
Expense area       department                            Service area (programme: team)
Cost centre        (recommended: responsible unit)       Cost centre
Expense type /     merchant category                     Category
Merchant category
Expense code       (recommended: CIPFA SeRCOP code)      GL code
Purpose            summary of the purpose                Description
Card transaction   (spend file only: a card flag)        Card transaction (Y/N)
================== ===================================== =====================================

"Amount" and not "Net amount": the programme's ledger records what was paid and no VAT split,
so the amount is the amount paid and the Irrecoverable VAT column is left empty rather than
claiming 0.00 (the page says so).

**Which rows.** Spend entries (and reversals of spend, as negative amounts: credit notes) of
every team's budget and restricted funds; allocations, virements between teams (internal
transfers) and pledge receipts are income or internal and are not expenditure. Spend over £500:
rows the statement flags "Over 500" (more than £500 either way). Purchase cards: every row paid
by card, whatever its value.

**Redaction.** A payee recorded as a person (``payee_is_individual``, ticked on the spend form:
"The money goes to an individual person") is already withheld in the statement; here it reads
"Redacted – personal data", the wording councils use under the Code's exemption for personal
data. The person's name is also taken out of the purpose text wherever it appears there ("Mileage
for Rita Morgan"): the statement does not carry the name, so it is read from the ledger entry,
which is append-only, so the file stays the same. The proposer and approver columns of the
statement (names of staff) are not published.

**Licence.** Open Government Licence v3.0. The Code's format is a plain CSV with one header
row, which a comment row would break, so the licence is stated on the Transparency page and in
each download's ``Link: <…>; rel="license"`` header, not inside the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from community.formatting import month_year
from community.i18n import _
from ledger.journal import reference
from ledger.models import JournalEntry
from ledger.queries import WITHHELD
from statements import freeze
from statements.figures import COUNCIL, parse_month
from statements.models import COUNTY_SCOPE, FrozenStatement

BODY_CODE = "E10000007"  # Derbyshire County Council's ONS (GSS) code
REDACTED = "Redacted – personal data"
OGL_URL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
OGL_NAME = "Open Government Licence v3.0"

SPEND_COLUMNS = (
    "Body name", "Body", "Date", "Transaction number", "Amount", "Irrecoverable VAT", "Supplier name",
    "Expense area", "Cost centre", "Expense type", "Expense code", "Purpose", "Card transaction",
)
CARD_COLUMNS = (
    "Body name", "Body", "Date", "Transaction number", "Amount", "Irrecoverable VAT", "Merchant name",
    "Expense area", "Cost centre", "Merchant category", "Expense code", "Purpose",
)
# The Code's mandatory fields → the column that carries each, per file (the tests check both).
CODE_FIELDS = {
    "spend": {"date incurred": "Date", "department": "Expense area", "beneficiary": "Supplier name",
              "summary of purpose": "Purpose", "amount": "Amount", "irrecoverable VAT": "Irrecoverable VAT",
              "merchant category": "Expense type"},
    "card": {"date of transaction": "Date", "department": "Expense area", "beneficiary": "Merchant name",
             "amount": "Amount", "irrecoverable VAT": "Irrecoverable VAT", "summary of purpose": "Purpose",
             "merchant category": "Merchant category"},
}
KINDS = {"spend-over-500": "spend", "purchase-card": "card"}
SPEND_KINDS = ("spend", "reversal")


class NotPublished(LookupError):
    """No file for this month: ``preparing`` when the month is closed and still freezing."""

    def __init__(self, message: str, *, preparing: bool = False):
        super().__init__(message)
        self.message = message
        self.preparing = preparing


@dataclass(frozen=True)
class File:
    kind: str  # "spend-over-500" | "purchase-card"
    month: dt.date
    body: bytes
    rows: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def filename(self) -> str:
        return f"derbyshire-thriving-communities-{self.kind}-{self.month:%Y-%m}.csv"


def _expenditure(row: dict) -> Decimal:
    """The row's amount as expenditure: money out of a team account is positive, a refund negative."""
    return -Decimal(row["Amount"])


def is_expenditure(row: dict) -> bool:
    """A spend, or a reversal of one (a reversal of spend keeps its category; of an allocation or
    a virement it has none)."""
    return row["Entry kind"] == "spend" or (row["Entry kind"] == "reversal" and bool(row["Category"]))


def payee(row: dict) -> str:
    return REDACTED if row["Supplier"] == WITHHELD else row["Supplier"]


def _uk_date(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y")


def scrub(text: str, name: str | None) -> str:
    """``text`` with a person's ``name`` (and each part of it of 3 letters or more) redacted."""
    parts = [p for p in re.split(r"\s+", (name or "").strip()) if len(p) >= 3]
    if not parts or (name or "").strip().lower() == "individual":
        return text
    whole = re.escape(name.strip())
    text = re.sub(whole, REDACTED, text, flags=re.IGNORECASE)
    for part in parts:
        text = re.sub(rf"\b{re.escape(part)}\b", REDACTED, text, flags=re.IGNORECASE)
    return text


def _out(row: dict, card: bool, individuals: dict[str, str]) -> list[str]:
    purpose = scrub(row["Description"], individuals.get(row["Transaction number"])) if row["Supplier"] == WITHHELD \
        else row["Description"]
    out = [COUNCIL, BODY_CODE, _uk_date(row["Date"]), row["Transaction number"], str(_expenditure(row)), "",
           payee(row), row["Service area"], row["Cost centre"], row["Category"], row["GL code"], purpose]
    return out if card else [*out, row["Card transaction"]]


def pack_rows(pack_csv: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(pack_csv.decode("utf-8"), newline="")))


def selected(rows: list[dict], kind: str) -> list[dict]:
    """The pack's rows that go into the file of ``kind``."""
    spend = [r for r in rows if is_expenditure(r)]
    if kind == "spend-over-500":
        return [r for r in spend if r["Over 500"] == "Y"]
    return [r for r in spend if r["Card transaction"] == "Y"]


def build(pack_csv: bytes, kind: str, month: dt.date, individuals: dict[str, str] | None = None) -> File:
    """The file of ``kind`` from the frozen pack CSV bytes (deterministic: same bytes in, same
    out); ``individuals``: transaction number → the name of a payee who is a person (to redact)."""
    card = KINDS[kind] == "card"
    rows = selected(pack_rows(pack_csv), kind)
    individuals = individuals or {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CARD_COLUMNS if card else SPEND_COLUMNS)
    writer.writerows(_out(r, card, individuals) for r in rows)
    return File(kind=kind, month=month, body=out.getvalue().encode("utf-8"), rows=len(rows))


def _pack(session: Session, month: dt.date) -> FrozenStatement | None:
    return session.execute(
        select(FrozenStatement).where(FrozenStatement.month_start == month, FrozenStatement.scope == COUNTY_SCOPE)
    ).scalar_one_or_none()


def month_files(*, session: Session, month_text: str) -> list[File]:
    """Both files of a published month; NotPublished for a month that is not (with why)."""
    try:
        month = parse_month(month_text)
    except ValueError:
        raise NotPublished(_("There is no month with that address: months look like 2026-10.")) from None
    row = _pack(session, month)
    if row is None:
        status = freeze.month_status(session, month)
        if status is not None:
            raise NotPublished(_("The files for %(month)s are being prepared: try again in a few minutes.",
                                 month=month_year(month)), preparing=True)
        raise NotPublished(_("No files are published for %(month)s: only closed months are published.",
                             month=month_year(month)))
    body = bytes(row.csv)
    if hashlib.sha256(body).hexdigest() != row.csv_sha256:
        raise RuntimeError(f"the frozen county pack for {month:%Y-%m} does not match its SHA-256")
    individuals = individual_payees(session, pack_rows(body))
    return [build(body, kind, month, individuals) for kind in KINDS]


def individual_payees(session: Session, rows: list[dict]) -> dict[str, str]:
    """Transaction number → payee name, for the rows whose payee is a person."""
    ids = {int(r["Transaction number"].lstrip("L")) for r in rows
           if r["Supplier"] == WITHHELD and r["Transaction number"].lstrip("L").isdigit()}
    if not ids:
        return {}
    found = session.execute(select(JournalEntry.id, JournalEntry.payee).where(
        JournalEntry.id.in_(ids), JournalEntry.payee_is_individual.is_(True))).all()
    return {reference(entry_id): name for entry_id, name in found if name}


def month_file(*, session: Session, month_text: str, kind: str) -> File:
    return next(f for f in month_files(session=session, month_text=month_text) if f.kind == kind)


@dataclass(frozen=True)
class Listing:
    published: list[tuple[dt.date, list[File]]]  # newest first
    preparing: list[dt.date]


def listing(*, session: Session) -> Listing:
    """Every published month with its two files (newest first), and the closed months still freezing."""
    packs = session.execute(
        select(FrozenStatement.month_start).where(FrozenStatement.scope == COUNTY_SCOPE)
        .order_by(FrozenStatement.month_start.desc())
    ).scalars().all()
    published = [(m, month_files(session=session, month_text=f"{m:%Y-%m}")) for m in packs]
    preparing = sorted((s.month for s in freeze.pending_months(session) if not s.pack_ready), reverse=True)
    return Listing(published=published, preparing=preparing)
