"""Jinja filters: money as ``£1,234.50`` and times in Europe/London.

Dates use the active language's month names (community/i18n.py: "23 listopada 2026" in Polish,
"23 noiembrie 2026" in Romanian); money is pounds written the British way in every language."""

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from flask import Flask
from jinja2 import pass_context
from jinja2.runtime import Context

from community import i18n

LONDON = "Europe/London"
LONDON_ZONE = ZoneInfo(LONDON)
EN_GB = Locale.parse("en_GB")  # parsed once: babel re-parses a locale name on every call (~0.7 ms)
LOCALES = {"en": EN_GB, "pl": Locale.parse("pl_PL"), "ro": Locale.parse("ro_RO")}


# Babel builds a date's text from its pattern on every call (~40 µs); a ledger page shows 50
# dates, most of them the same few days. A date's text depends only on the date and language.
@lru_cache(maxsize=8192)
def _format_date(value: dt.date, pattern: str, language: str) -> str:
    return format_date(value, pattern, locale=LOCALES.get(language, EN_GB))


def gbp(pence: int | None) -> str:
    """Integer pence as pounds: 123450 → '£1,234.50', -5 → '-£0.05'.

    Written out rather than through ``babel.numbers.format_currency``, which costs ~0.1 ms a
    call (a page of 50 ideas spent a quarter of its time there); a test checks it gives
    babel's en_GB answer for every amount it tries."""
    if pence is None:
        return ""
    pence = int(pence)
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}.{rest:02d}"


def london_datetime(value: dt.datetime | None, language: str | None = None) -> str:
    """A UTC time shown in Europe/London: '23 Nov 2026, 14:05'."""
    if value is None:
        return ""
    if value.tzinfo is None:  # stored UTC (SQLite hands back naive times)
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(LONDON_ZONE)
    locale = LOCALES.get(language or i18n.language(), EN_GB)
    month = locale.months["format"]["abbreviated"][local.month]  # babel's "MMM"; a test compares
    return f"{local.day} {month} {local.year}, {local:%H:%M}"


def long_date(value: dt.date | None, language: str | None = None) -> str:
    """A date as '23 November 2026'."""
    if value is None:
        return ""
    return _format_date(value, "d MMMM y", language or i18n.language())


def month_year(value: dt.date | None, language: str | None = None) -> str:
    """A month as 'November 2026' ("listopad 2026", "noiembrie 2026": the month's standalone name)."""
    if value is None:
        return ""
    return _format_date(value, "LLLL y", language or i18n.language())


def in_render_language(format_value):
    """``format_value`` as a filter, in the language the render was bound to: a ledger page's 50
    dates ask Flask-Babel for the locale once, not 50 times."""
    @pass_context
    def template_filter(context: Context, value):
        return format_value(value, i18n.bound_language(context))

    return template_filter


def init_app(app: Flask) -> None:
    app.add_template_filter(gbp, "gbp")
    app.add_template_filter(in_render_language(london_datetime), "london")
    app.add_template_filter(in_render_language(long_date), "long_date")
    app.add_template_filter(in_render_language(month_year), "month_year")
