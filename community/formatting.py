"""Jinja filters: money as ``£1,234.50`` and times in Europe/London."""

import datetime as dt

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from flask import Flask

LONDON = "Europe/London"
EN_GB = Locale.parse("en_GB")  # parsed once: babel re-parses a locale name on every call (~0.7 ms)


def gbp(pence: int | None) -> str:
    """Integer pence as pounds: 123450 → '£1,234.50'."""
    if pence is None:
        return ""
    return format_currency(_pounds(pence), "GBP", locale=EN_GB)


def _pounds(pence: int):
    from decimal import Decimal

    return Decimal(int(pence)).scaleb(-2)


def london_datetime(value: dt.datetime | None) -> str:
    """A UTC time shown in Europe/London: '23 Nov 2026, 14:05'."""
    if value is None:
        return ""
    return format_datetime(value, "d MMM y, HH:mm", tzinfo=LONDON, locale=EN_GB)


def long_date(value: dt.date | None) -> str:
    """A date as '23 November 2026'."""
    if value is None:
        return ""
    return format_date(value, "d MMMM y", locale=EN_GB)


def init_app(app: Flask) -> None:
    app.add_template_filter(gbp, "gbp")
    app.add_template_filter(london_datetime, "london")
    app.add_template_filter(long_date, "long_date")
