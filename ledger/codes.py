"""The finance codes the ledger writes and the statements print, each defined once here.

* **Payment methods.** One code per method, as stored in ``spend_request.method`` (its CHECK
  constraint is built from :data:`METHODS`) and in ``journal_entry.method``, with the label the
  quick-spend form shows and the label a statement shows. Ledger entries written before these
  codes were settled (``"p-card"``, ``"petty-cash"``, ``"imprest"`` …) cannot be rewritten: the
  journal is append-only and ``method`` is inside each entry's SHA-256 (ledger/journal.py
  ``HASHED_FIELDS``), so :func:`method_code` maps those spellings when read.
* **GL (subjective) codes** for spend, by category (ledger.md §3.2 C; CIPFA SeRCOP subjective
  headings). Settling a hold writes the code into the spend entry (hashed with it); a reversal
  copies the original's. Allocations carry the income code finance gives them ("R1000").
  The numbers follow the usual SeRCOP grouping (2xxx premises, 3xxx transport, 4xxx supplies
  and services, 5xxx third-party and transfer payments) and must be confirmed against the
  council's chart of accounts: changing one here changes only entries settled afterwards.
"""

from dataclasses import dataclass

from community.i18n import lazy_gettext

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


# --------------------------------------------------------------------------- spend categories

@dataclass(frozen=True)
class Category:
    """One spend category: the code stored (``spend_request.category``, ``ledger_hold.category``,
    ``journal_entry.category``), the label people read, and its GL subjective code and heading."""

    code: str
    label: str
    gl_code: str
    heading: str
    requestable: bool = True  # offered on the quick-spend form (False: written by the app only)


# The one list (issue 20 item 9): the quick-spend form, the ledger's holds, the statements and
# the GL mapping all read it. GL codes: CIPFA SeRCOP subjective headings (see the docstring).
SPEND_CATEGORIES = (
    Category("food", "Food", "4410", "Supplies: catering and provisions"),
    Category("travel", "Travel", "3110", "Transport: travel and mileage"),
    Category("volunteer expenses", "Volunteer expenses", "3110", "Transport: travel and mileage"),
    Category("equipment", "Equipment", "4010", "Supplies: equipment, furniture and materials"),
    Category("venue", "Venue", "2410", "Premises: hire of rooms and halls"),
    Category("activity materials", "Activity materials", "4020", "Supplies: materials for activities"),
    Category("printing", "Printing and publicity", "4210", "Supplies: printing, stationery and publicity"),
    Category("grants", "Grants to groups", "5210", "Third party: grants to voluntary organisations"),
    Category("crisis support", "Crisis support", "5610", "Transfer payments: support to individuals"),
    Category("other", "Other", "4990", "Supplies: miscellaneous"),
    # The hold of a voting round's budget and the spend of the ideas it funds (votes/services.py).
    Category("participatory budget", "Participatory budget (residents' vote)", "4990",
             "Supplies: miscellaneous", requestable=False),
)
_BY_CODE = {c.code: c for c in SPEND_CATEGORIES}

# Spellings written before the one list (demo data and bench scripts of earlier versions); the
# journal is append-only and hashed, so old entries keep them and are read through this map.
_CATEGORY_ALIASES = {
    "volunteer_expenses": "volunteer expenses",
    "activities": "activity materials",
}

# (code, label) of the categories a person may choose on the quick-spend form.
REQUESTABLE_CATEGORIES = tuple((c.code, c.label) for c in SPEND_CATEGORIES if c.requestable)
DEFAULT_SPEND_GL_CODE = _BY_CODE["other"].gl_code  # any category written before the list
# The income code finance gives budget allocations (the allocation form's default).
ALLOCATION_GL_CODE = "R1000"


def category_code(stored: str | None) -> str:
    """The one code for a stored category ("Volunteer_Expenses" → "volunteer expenses"); a code
    not in the list is returned trimmed and lower-cased, never guessed."""
    text = (stored or "").strip().lower()
    return _CATEGORY_ALIASES.get(text, text)


def is_category(code: str | None) -> bool:
    """Whether ``code`` (after :func:`category_code`) is one of :data:`SPEND_CATEGORIES`."""
    return category_code(code) in _BY_CODE


def category_label(code: str | None) -> str:
    """The label of a spend category ("volunteer expenses" → "Volunteer expenses"); an unknown
    code is shown as written with its first letter capitalised, never hidden."""
    found = _BY_CODE.get(category_code(code))
    if found:
        return found.label
    text = (code or "").strip()
    return text[:1].upper() + text[1:]


# The labels as a page shows them, in the reader's language. ``category_label`` stays English: the
# statements, their CSVs and the open data files are the council's record (community/i18n.py).
_SHOWN = {
    "food": lazy_gettext("Food"), "travel": lazy_gettext("Travel"),
    "volunteer expenses": lazy_gettext("Volunteer expenses"), "equipment": lazy_gettext("Equipment"),
    "venue": lazy_gettext("Venue"), "activity materials": lazy_gettext("Activity materials"),
    "printing": lazy_gettext("Printing and publicity"), "grants": lazy_gettext("Grants to groups"),
    "crisis support": lazy_gettext("Crisis support"), "other": lazy_gettext("Other"),
    "participatory budget": lazy_gettext("Participatory budget (residents' vote)"),
}
_CODE_OF_LABEL = {c.label: c.code for c in SPEND_CATEGORIES}


def shown_category(code_or_label: str | None) -> str:
    """A spend category (its code, or its English label) in the reader's language, for a page
    (the ``category`` filter); one not in the list is shown as :func:`category_label` writes it."""
    code = _CODE_OF_LABEL.get(code_or_label or "", category_code(code_or_label))
    return str(_SHOWN[code]) if code in _SHOWN else category_label(code_or_label)


def spend_gl_code(category: str | None) -> str:
    """The GL subjective code for spend in ``category`` (miscellaneous when unmapped)."""
    found = _BY_CODE.get(category_code(category))
    return found.gl_code if found else DEFAULT_SPEND_GL_CODE
