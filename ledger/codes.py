"""The finance codes the ledger writes and the statements print, each defined once here.

* **Payment methods.** One code per method, as stored in ``spend_request.method`` (its CHECK
  constraint is built from :data:`METHODS`) and in ``journal_entry.method``, with the label the
  quick-spend form shows and the label a statement shows. Ledger entries written before these
  codes were settled (``"p-card"``, ``"petty-cash"``, ``"imprest"`` …) cannot be rewritten: the
  journal is append-only and ``method`` is inside each entry's SHA-256 (ledger/services.py
  ``HASHED_FIELDS``), so :func:`method_code` maps those spellings when read.
* **GL (subjective) codes** for spend, by category (ledger.md §3.2 C; CIPFA SeRCOP subjective
  headings). Settling a hold writes the code into the spend entry (hashed with it); a reversal
  copies the original's. Allocations carry the income code finance gives them ("R1000").
  The numbers follow the usual SeRCOP grouping (2xxx premises, 3xxx transport, 4xxx supplies
  and services, 5xxx third-party and transfer payments) and must be confirmed against the
  council's chart of accounts: changing one here changes only entries settled afterwards.
"""

# The audit action of an approval refused for lack of money (spend/services.py writes it, with
# the team in ``audit_event.team_id``; statements list it under exceptions).
OVERSPEND_REFUSED = "ledger.overspend_refused"

# --------------------------------------------------------------------------- payment methods

PURCHASE_CARD = "purchase card"
INVOICE = "invoice"
PETTY_CASH = "petty cash"
GRANT = "grant"
UNSPECIFIED = "unspecified"

# (code, label on the quick-spend form). The form offers these three.
METHODS = (
    (PURCHASE_CARD, "Purchase card"),
    (INVOICE, "Invoice"),
    (PETTY_CASH, "Petty cash"),
)

# What a statement prints for each code (ledger.md §3.2 B: payments out by method).
STATEMENT_LABELS = {
    INVOICE: "supplier invoice (AP)",
    PURCHASE_CARD: "purchase card (P-card)",
    PETTY_CASH: "imprest / petty cash",
    GRANT: "grant to VCSE",
    UNSPECIFIED: "method not recorded",
}

# Other spellings found in entries written earlier (demo data, finance's own entries).
_METHOD_ALIASES = {
    "p-card": PURCHASE_CARD,
    "pcard": PURCHASE_CARD,
    "p card": PURCHASE_CARD,
    "procurement card": PURCHASE_CARD,
    "purchase-card": PURCHASE_CARD,
    "petty-cash": PETTY_CASH,
    "pettycash": PETTY_CASH,
    "imprest": PETTY_CASH,
    "supplier invoice": INVOICE,
    "ap": INVOICE,
}


def method_code(stored: str | None) -> str:
    """The one code for a stored payment method ("p-card" → "purchase card"); "" for none.
    A spelling we do not know is kept as stored (trimmed), never guessed."""
    text = (stored or "").strip()
    lowered = text.lower()
    if lowered in STATEMENT_LABELS:
        return lowered
    return _METHOD_ALIASES.get(lowered, text)


# --------------------------------------------------------------------------- GL codes

# spend category → (GL subjective code, heading). Quick spend's categories
# (spend/models.py CATEGORIES) and the others the ledger meets (demo data, votes).
SPEND_GL_CODES = {
    "venue": ("2410", "Premises: hire of rooms and halls"),
    "travel": ("3110", "Transport: travel and mileage"),
    "volunteer_expenses": ("3110", "Transport: travel and mileage"),
    "equipment": ("4010", "Supplies: equipment, furniture and materials"),
    "activity materials": ("4020", "Supplies: materials for activities"),
    "activities": ("4020", "Supplies: materials for activities"),
    "printing": ("4210", "Supplies: printing, stationery and publicity"),
    "food": ("4410", "Supplies: catering and provisions"),
    "grants": ("5210", "Third party: grants to voluntary organisations"),
    "crisis support": ("5610", "Transfer payments: support to individuals"),
    "other": ("4990", "Supplies: miscellaneous"),
}
DEFAULT_SPEND_GL_CODE = "4990"  # miscellaneous supplies and services: any other category

# spend category code → the label people read (statements print labels, never codes).
CATEGORY_LABELS = {
    "food": "Food",
    "travel": "Travel",
    "volunteer_expenses": "Volunteer expenses",
    "equipment": "Equipment",
    "venue": "Venue",
    "activity materials": "Activity materials",
    "activities": "Activities",
    "printing": "Printing",
    "grants": "Grants",
    "crisis support": "Crisis support",
    "other": "Other",
}


def category_label(code: str | None) -> str:
    """The label of a spend category ("volunteer_expenses" → "Volunteer expenses"); an unknown
    code is shown as written with its first letter capitalised, never hidden."""
    text = (code or "").strip()
    return CATEGORY_LABELS.get(text.lower(), text[:1].upper() + text[1:])


def spend_gl_code(category: str | None) -> str:
    """The GL subjective code for spend in ``category`` (miscellaneous when unmapped)."""
    found = SPEND_GL_CODES.get((category or "").strip().lower())
    return found[0] if found else DEFAULT_SPEND_GL_CODE
