"""Dates worked out when a test runs, never when its module is imported.

CI may start the suite at 23:50 and finish it after midnight: a module constant such as
``TODAY = dt.date.today()`` is then yesterday by the time its tests run, and "tomorrow" is
today. They are London dates, as the app's are (``community.db.london_today``): the UTC date
is a day behind London from 23:00 to midnight all summer.
"""

import datetime as dt

from community.db import london_today


def today() -> dt.date:
    return london_today()


def tomorrow() -> dt.date:
    return today() + dt.timedelta(days=1)


def this_month() -> dt.date:
    """The first day of the current month."""
    return today().replace(day=1)


def month_before(month: dt.date) -> dt.date:
    """The first day of the month before ``month``'s."""
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def last_month() -> dt.date:
    """The first day of the month before this one."""
    return month_before(this_month())


def end_of_last_month() -> dt.date:
    return this_month() - dt.timedelta(days=1)


def two_months_ago() -> dt.date:
    """The first day of the month before last."""
    return month_before(last_month())
