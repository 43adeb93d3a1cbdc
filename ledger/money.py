"""Money at the edges: parse user input to integer pence and format pence as pounds."""

import re
from decimal import Decimal, InvalidOperation

from community.formatting import gbp
from community.i18n import _
from community.numbers import has_other_digits
from ledger.errors import InvalidAmount

MAX_PENCE = 100_000_000  # £1,000,000
# re.ASCII: without it \d matches "５" and "٥", and Decimal() reads them as 5 (issue 14, finding 6).
_SHAPE = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$|^\d+(\.\d+)?$|^\.\d+$", re.ASCII)


def parse_pence(text: str | None) -> int:
    """Parse ``"12.50"`` or ``"£1,234.50"`` into pence; raise InvalidAmount otherwise.

    Refused: empty, ``£`` alone, digits of other scripts (``５``, ``٥``, ``²``), negatives, zero,
    exponents (``1e3``), more than two decimal places (never silently rounded) and anything
    over £1,000,000.
    """
    raw = (text or "").strip()
    if raw.startswith("£"):
        raw = raw[1:].strip()
    if not raw:
        raise InvalidAmount(_("Enter an amount, like 12.50."))
    if has_other_digits(raw):
        raise InvalidAmount(_("Use the digits 0 to 9, like 12.50."))
    if raw.startswith("-"):
        raise InvalidAmount(_("The amount must be more than £0."))
    if not _SHAPE.match(raw):
        raise InvalidAmount(_("Enter the amount in pounds and pence, like 12.50 or £1,234.50."))
    try:
        value = Decimal(raw.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        raise InvalidAmount(_("Enter the amount in pounds and pence, like 12.50.")) from None
    if -value.as_tuple().exponent > 2:
        raise InvalidAmount(_("The amount can have at most two decimal places (pence)."))
    pence = int(value * 100)
    if pence <= 0:
        raise InvalidAmount(_("The amount must be more than £0."))
    if pence > MAX_PENCE:
        raise InvalidAmount(_("The amount must be £1,000,000 or less."))
    return pence


def format_gbp(pence: int) -> str:
    """Format pence as pounds: 123450 → ``"£1,234.50"`` (the templates' ``gbp`` filter)."""
    return gbp(pence)
