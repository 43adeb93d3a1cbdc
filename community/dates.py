"""Dates typed by people: the GOV.UK date input (day, month and year in three boxes).

One field, ``DateInputField``, for every form where a person types a date (issue 20, item 12):
its ``data`` is a ``datetime.date`` or None, it renders three inputs named ``<field>-day``,
``<field>-month`` and ``<field>-year`` through one template (``community/date_input.html``), and
its messages follow the GOV.UK "dates" pattern (https://design-system.service.gov.uk/patterns/dates/):
"Enter …", "… must include a month", "… must be a real date", with the wrong parts highlighted.
Digits are ASCII only (community/numbers.py): ``int("２")`` is 2, so a full-width day was a day.
Ranges that need no database (today or in the past) are the caller's, with the caller's message;
ranges that do (an open month) stay in the services, shown beside the same field.
"""

import datetime as dt
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from babel.dates import get_month_names
from flask import render_template
from markupsafe import Markup
from wtforms import Field
from wtforms.utils import unset_value
from wtforms.validators import ValidationError

from community.i18n import _, language, lazy_gettext
from community.numbers import DIGITS_MESSAGE, has_other_digits, is_ascii_digits

PARTS = ("day", "month", "year")
_WIDTHS = {"day": "govuk-input--width-2", "month": "govuk-input--width-2", "year": "govuk-input--width-4"}
_MONTHS = {name: number for number, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
     ("november", "nov"), ("december", "dec")], start=1) for name in names}


def _month_key(text: str) -> str:
    """A typed month name as looked up: lower case, without a full stop ("nov."), accents or the
    Polish ł ("paź" and "paz", "września" and "wrzesnia" are one key: a phone without a Polish or
    Romanian keyboard types them plain)."""
    plain = unicodedata.normalize("NFKD", text.strip().rstrip(".").casefold().replace("ł", "l"))
    return "".join(c for c in plain if not unicodedata.combining(c))


@lru_cache(maxsize=8)
def month_numbers(lang: str) -> dict[str, int]:
    """Month names a person may type in ``lang`` → the month's number: English always (as before),
    and the language's own from the CLDR (Babel): wide and abbreviated, in both the "format" form
    ("listopada", the genitive of a date) and the "stand-alone" one ("listopad"). English wins a
    clash (none today: a test checks every shared spelling names the same month)."""
    numbers = dict(_MONTHS)
    if lang != "en":
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in get_month_names(width, context, lang).items():
                    numbers.setdefault(_month_key(name), number)
    return numbers


EXAMPLE_HINT = lazy_gettext("For example, 27 3 2026")
# The boxes' labels and the messages are looked up when a form is shown or checked (lazy): in the
# language of that request, not of the import.
_LABELS = {"day": lazy_gettext("Day"), "month": lazy_gettext("Month"), "year": lazy_gettext("Year")}
THE_DATE = lazy_gettext("The date")
# What is missing, as whole sentences (GOV.UK: "… must include a month", "… must include a day and
# year"), so that each language words them its own way.
_MISSING = {
    ("day",): lazy_gettext("%(called)s must include a day"),
    ("month",): lazy_gettext("%(called)s must include a month"),
    ("year",): lazy_gettext("%(called)s must include a year"),
    ("day", "month"): lazy_gettext("%(called)s must include a day and month"),
    ("day", "year"): lazy_gettext("%(called)s must include a day and year"),
    ("month", "year"): lazy_gettext("%(called)s must include a month and year"),
    ("day", "month", "year"): lazy_gettext("%(called)s must include a day, month and year"),
}
_NOT_REAL = lazy_gettext("%(called)s must be a real date")


class DateError(ValueError):
    """A date that cannot be read; ``parts`` names the boxes to highlight."""

    def __init__(self, message: str, parts) -> None:
        super().__init__(message)
        self.parts = frozenset(parts)


def parse_date_parts(day: str | None, month: str | None, year: str | None, *, called: str = THE_DATE) -> dt.date | None:
    """Three typed parts → a date; None when all three are empty; DateError (a ValueError) with a
    GOV.UK message and the parts to highlight otherwise. A month may be a number, its English name
    ("Feb", "february") or its name in the page's language (:func:`month_numbers`: "listopada",
    "lis", "noiembrie", "nov."); the year has four digits."""
    typed = {"day": (day or "").strip(), "month": (month or "").strip(), "year": (year or "").strip()}
    if not any(typed.values()):
        return None
    other = [part for part in PARTS if has_other_digits(typed[part])]
    if other:
        raise DateError(str(DIGITS_MESSAGE), other)
    missing = [part for part in PARTS if not typed[part]]
    if missing:
        raise DateError(_MISSING[tuple(missing)] % {"called": called}, missing)
    month_number = month_numbers(language()).get(_month_key(typed["month"])) or (
        int(typed["month"]) if is_ascii_digits(typed["month"]) and len(typed["month"]) <= 2 else None)
    wrong = [part for part, ok in (
        ("day", is_ascii_digits(typed["day"]) and len(typed["day"]) <= 2 and 1 <= int(typed["day"]) <= 31),
        ("month", month_number is not None and 1 <= month_number <= 12),
        ("year", is_ascii_digits(typed["year"]))) if not ok]
    if wrong:
        raise DateError(_NOT_REAL % {"called": called}, wrong)
    if len(typed["year"]) != 4:
        raise DateError(_("Year must include 4 numbers"), ["year"])
    try:
        return dt.date(int(typed["year"]), month_number, int(typed["day"]))
    except ValueError:  # 31 February, 29 February in a common year
        raise DateError(_NOT_REAL % {"called": called}, ["day"]) from None


class DateInputWidget:
    """Renders a ``DateInputField`` as a GOV.UK date input (one template for every form).

    Accepts the ``params`` the app's templates pass every field (``{'label': {'text': …}}``): the
    label becomes the fieldset's legend."""

    template = "community/date_input.html"

    def __call__(self, field: "DateInputField", **kwargs) -> Markup:
        given = kwargs.get("params") or {}
        legend = (given.get("label") or {}).get("text") or field.label.text
        values = field.part_values()
        wrong = field.wrong_parts or (frozenset(PARTS) if field.errors else frozenset())
        params = {
            "id": field.id,
            "namePrefix": field.name,
            "fieldset": {"legend": {"text": legend, "classes": "govuk-fieldset__legend--s"}},
            "hint": {"text": f"{field.description} {EXAMPLE_HINT}" if field.description else str(EXAMPLE_HINT)},
            "items": [{"name": part, "label": str(_LABELS[part]), "value": values[part], "inputmode": "numeric",
                       "autocomplete": "off",
                       "classes": _WIDTHS[part] + (" govuk-input--error" if part in wrong else "")}
                      for part in PARTS],
        }
        if field.errors:
            params["errorMessage"] = {"text": field.errors[0]}
        # render_template autoescapes every value typed (the parts, the messages): its output is HTML.
        return Markup(render_template(self.template, params=params))  # noqa: S704 - autoescaped template output


class DateInputField(Field):
    """A date typed as day, month and year; ``data`` is a ``datetime.date`` or None.

    ``required``: the message when all three boxes are empty ("Enter the date paid"); without it
    the field is optional and empty is None. ``called``: how messages name the date (defaults to
    the label). ``earliest``/``latest``: a date or a callable giving one (``london_today``), with
    ``too_early``/``too_late`` the messages shown beside the field."""

    widget = DateInputWidget()

    def __init__(self, label=None, validators=None, *, required: str | None = None, called: str | None = None,
                 earliest: dt.date | Callable[[], dt.date] | None = None, too_early: str | None = None,
                 latest: dt.date | Callable[[], dt.date] | None = None, too_late: str | None = None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.required, self.called = required, called
        self.earliest, self.too_early, self.latest, self.too_late = earliest, too_early, latest, too_late
        self.wrong_parts: frozenset[str] = frozenset()

    def process(self, formdata, data=unset_value, extra_filters=None) -> None:
        self.process_errors, self.wrong_parts, self.raw_data = [], frozenset(), None
        if data is unset_value:
            data = self.default() if callable(self.default) else self.default
        self.object_data = self.data = data
        if formdata is None:
            return
        self.raw_data = [formdata.get(f"{self.name}-{part}", "") or "" for part in PARTS]
        try:
            self.data = parse_date_parts(*self.raw_data, called=self.called or self.label.text)
        except DateError as error:
            self.data, self.wrong_parts = None, error.parts
            self.process_errors.append(str(error))

    def pre_validate(self, form) -> None:
        if self.data is None and not self.process_errors and self.required:
            self.wrong_parts = frozenset(PARTS)
            raise ValidationError(self.required)
        if self.data is not None:
            earliest = self.earliest() if callable(self.earliest) else self.earliest
            latest = self.latest() if callable(self.latest) else self.latest
            if earliest is not None and self.data < earliest:
                raise ValidationError(self.too_early or _("%(called)s is too early", called=self.called or self.label.text))
            if latest is not None and self.data > latest:
                raise ValidationError(self.too_late or _("%(called)s is too late", called=self.called or self.label.text))

    def part_values(self) -> dict[str, str]:
        """What the three boxes show: what was typed, else the date (``27``, ``3``, ``2026``)."""
        if self.raw_data is not None:
            return dict(zip(PARTS, self.raw_data, strict=True))
        if isinstance(self.data, dt.date):
            return {"day": str(self.data.day), "month": str(self.data.month), "year": str(self.data.year)}
        return dict.fromkeys(PARTS, "")

    @property
    def error_href(self) -> str:
        """Where the error summary links: the first box that is wrong."""
        first = next((part for part in PARTS if part in self.wrong_parts), "day")
        return f"#{self.id}-{first}"

    def _value(self) -> str:
        return self.data.isoformat() if isinstance(self.data, dt.date) else ""
