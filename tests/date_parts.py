"""What a browser posts for a GOV.UK date input (community/dates.py): three boxes per date."""

import datetime as dt


def date_parts(name: str, day: dt.date | str | None) -> dict[str, str]:
    """``date_parts("effective_date", date(2026, 4, 1))`` → ``{"effective_date-day": "1", …}``;
    a ``"YYYY-MM-DD"`` string is split the same way, None posts three empty boxes."""
    if day is None:
        return {f"{name}-day": "", f"{name}-month": "", f"{name}-year": ""}
    if isinstance(day, str):
        year, month, dd = day.split("-")
        return {f"{name}-day": dd, f"{name}-month": month, f"{name}-year": year}
    return {f"{name}-day": str(day.day), f"{name}-month": str(day.month), f"{name}-year": str(day.year)}


def moment_parts(which: str, moment: dt.datetime | str) -> dict[str, str]:
    """A round's ``opens``/``closes`` moment (UK time) as posted: the date's three boxes and the
    time, ``moment_parts("opens", "2026-01-01 09:00")``."""
    text = moment if isinstance(moment, str) else moment.strftime("%Y-%m-%d %H:%M")
    day, time = text.split(" ")
    return {**date_parts(f"{which}_at", day), f"{which}_time": time}
