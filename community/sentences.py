"""Sentences the app writes into records that never change, stored in English and shown in the
reader's language (issue 16).

A pledge's history (``pledge_event``, append-only) and the ledger (``journal_entry``, append-only
and hash-chained: its description is part of each row's hash) keep the English words the app
wrote, "Pledge PLG-0007 received", "A reminder was emailed": the council's record, the same in
the statements and the CSV files. Such rows can be given no kind afterwards (an UPDATE is refused,
and would break the chain), so the page recognises them instead: each domain declares its
sentences once (:class:`Sentences`), writes them with :meth:`Sentences.english`, and a page shows
a stored text with :meth:`Sentences.in_language`, which finds the sentence it is (the English
template, its ``%(name)s`` parts matched back) and writes it again in the active language.
Anything else (what a person typed: a reason, a spend's purpose) is shown as written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from functools import cached_property

from community.formatting import long_date
from community.i18n import DEFAULT, force_locale, language

_PART = re.compile(r"%\((\w+)\)s")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_DATE = re.compile(r"(\d{1,2}) (" + "|".join(_MONTHS) + r") (\d{4})")


def english_date(day: dt.date) -> str:
    """A date as the English records write it ("4 November 2026"), whatever the locale."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _read_date(text: str) -> dt.date | None:
    found = _DATE.fullmatch(text)
    if found is None:
        return None
    try:
        return dt.date(int(found[3]), _MONTHS.index(found[2]) + 1, int(found[1]))
    except ValueError:
        return None


def _pattern(template: str) -> re.Pattern:
    """The English template as a regular expression: each ``%(name)s`` a named group."""
    pieces, last = [], 0
    for match in _PART.finditer(template):
        pieces += [re.escape(template[last:match.start()]), f"(?P<{match[1]}>.+?)"]
        last = match.end()
    pieces.append(re.escape(template[last:]))
    return re.compile("".join(pieces), re.S)


class Sentences:
    """One domain's app-written sentences. ``templates`` returns kind → template in the active
    language, each written ``_("Pledge %(reference)s received")`` (so pybabel extracts it and the
    catalogue test checks it is translated); ``dates`` names the parts that are dates (written
    "4 November 2026" in English, shown as the locale writes a date); ``nested`` the parts that
    are themselves stored sentences (a reversal quotes the entry it reverses)."""

    def __init__(self, templates: Callable[[], dict[str, str]], *, dates: Iterable[str] = (),
                 nested: Iterable[str] = ()) -> None:
        self._templates = templates
        self._dates = frozenset(dates)
        self._nested = frozenset(nested)
        self._shown: dict[tuple[str, str], str] = {}  # (language, stored text) → shown text

    @cached_property
    def _english(self) -> dict[str, tuple[str, re.Pattern]]:
        with force_locale(DEFAULT):
            found = self._templates()
        return {kind: (template, _pattern(template)) for kind, template in found.items()}

    def english(self, kind: str, **params) -> str:
        """The sentence as the record stores it (English); a date part may be given as a date."""
        values = {k: english_date(v) if isinstance(v, dt.date) else v for k, v in params.items()}
        return self._english[kind][0] % values

    def match(self, text: str | None) -> tuple[str, dict[str, str]] | None:
        """(kind, parts) of a stored English sentence, or None for anything else."""
        for kind, (_template, pattern) in self._english.items():
            found = pattern.fullmatch(text or "")
            if found:
                return kind, found.groupdict()
        return None

    def in_language(self, text: str | None, lang: str | None = None) -> str:
        """A stored text in the active language (or ``lang``): one of the sentences written
        again, else as stored. English is the stored text itself; other languages' answers are
        kept (a ledger page shows the same few sentences on many rows, and the catalogues do not
        change while the app runs)."""
        if not text:
            return text or ""
        lang = lang or language()
        if lang == DEFAULT:
            return text  # stored as the English template writes it
        key = (lang, text)
        shown = self._shown.get(key)
        if shown is None:
            if len(self._shown) > 4096:
                self._shown.clear()
            with force_locale(lang):
                shown = self._shown[key] = self._written_again(text)
        return shown

    def _written_again(self, text: str) -> str:
        found = self.match(text)
        if found is None:
            return text
        kind, parts = found
        for name in self._dates & parts.keys():
            day = _read_date(parts[name])
            if day is None:
                return text  # not a date as the app writes one: not the app's sentence
            parts[name] = long_date(day)
        for name in self._nested & parts.keys():
            parts[name] = self.in_language(parts[name])
        return self._templates()[kind] % parts
