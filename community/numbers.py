"""Numbers typed by people: ASCII digits only, in every form, query parameter and URL.

Python's ``int()``, ``Decimal()``, ``str.isdigit()`` and the regular expression ``\\d`` all take
the digits of every script: ``int("٥")`` is 5, ``Decimal("５")`` is 5, ``"²".isdigit()`` is true
(and ``int("²")`` then raises). So a full-width or Arabic-Indic amount was read as pounds and a
superscript page number gave a 500 (issue 14, finding 6). Everything that turns user text into
a number goes through this module (money through ``ledger.money.parse_pence``, which uses it).
"""

from collections.abc import Mapping

from werkzeug.routing import IntegerConverter

from community.i18n import _, lazy_gettext

DIGITS_MESSAGE = lazy_gettext("Use the digits 0 to 9")  # in the language of the request refused
ASCII_DIGITS = frozenset("0123456789")


class OtherDigits(ValueError):
    """The text holds a digit of another script (``５``, ``٥``, ``²``, ``½``, ``五``)."""

    def __init__(self, message: str = DIGITS_MESSAGE) -> None:
        super().__init__(str(message))


def has_other_digits(text: str | None) -> bool:
    """True when ``text`` holds a numeric character that is not one of ASCII ``0``–``9``.

    ``str.isnumeric`` covers decimal digits of every script, superscripts, fractions, Roman
    numerals and CJK numerals, so each of those is named to the person as a digit problem."""
    return any(ch.isnumeric() and ch not in ASCII_DIGITS for ch in text or "")


def refuse_other_digits(text: str | None, message: str = DIGITS_MESSAGE) -> None:
    """Raise OtherDigits (a ValueError) when ``text`` holds a digit of another script."""
    if has_other_digits(text):
        raise OtherDigits(message)


def is_ascii_digits(text: str | None) -> bool:
    """True for a non-empty string of ASCII ``0``–``9`` only (what ``str.isdigit`` should mean)."""
    return bool(text) and all(ch in ASCII_DIGITS for ch in text)


def ascii_int(value) -> int:
    """``"12"`` → 12; ValueError for anything but ASCII digits. The ``coerce`` of every select.

    Ints pass through (WTForms coerces a field's default and its choices as well as the posted
    value)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip() if value is not None else ""
    if not is_ascii_digits(text):
        raise OtherDigits() if has_other_digits(text) else ValueError(_("Enter a whole number, like 1."))
    return int(text)


def whole_number(text: str | None, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number typed in a form (``"1,200"`` allowed); ValueError with a message to show."""
    raw = (text or "").strip().replace(",", "")
    if not raw:
        raise ValueError(_("Enter a number, like 1."))
    refuse_other_digits(raw)
    if raw.startswith("-"):
        raise ValueError(_("The number must be %(minimum)s or more.", minimum=minimum))
    if not is_ascii_digits(raw):
        raise ValueError(_("Enter a whole number, like 1."))
    value = int(raw)
    if value < minimum:
        raise ValueError(_("The number must be %(minimum)s or more.", minimum=minimum))
    if maximum is not None and value > maximum:
        raise ValueError(_("The number must be %(maximum)s or fewer.", maximum=maximum))
    return value


def query_int(
    args: Mapping[str, str], name: str, default: int, *, minimum: int = 1, maximum: int = 999_999
) -> int:
    """An integer query parameter (``?page=2``): ``default`` unless it is ASCII digits in range.

    ``?page=²`` or ``?page=٢`` is not page 2 and not a 500: it is the default page."""
    text = args.get(name, "")
    if not is_ascii_digits(text) or len(text) > len(str(maximum)):
        return default
    value = int(text)
    return value if minimum <= value <= maximum else default


class AsciiIntegerConverter(IntegerConverter):
    """The ``<int:…>`` URL converter, ASCII digits only: Werkzeug's ``\\d+`` matched ``/rounds/５``
    as round 5. Installed as ``int`` in ``create_app`` before any route is added."""

    regex = r"[0-9]+"
