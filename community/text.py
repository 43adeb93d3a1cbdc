"""Text typed by people: invisible control characters removed, bidirectional overrides refused.

Issue 14, finding 10: a NUL or a right-to-left override typed into a name or title was stored
as typed. A NUL breaks PostgreSQL text columns, CSV exports and e-mail headers; an override
(U+202A–202E) or isolate (U+2066–2069) makes a published title or a name in the ledger
*display* as something else than what it says ("Trojan Source" spoofing), and the effect leaks
into the text that follows it in CSV files, e-mails and PDF statements.

- Control characters (C0, DEL and C1) are **removed**: nobody means to type them, they come
  from pasting, and removing them changes nothing a person can see. Multi-line fields keep
  tab, line feed and carriage return (browsers send a textarea's new lines as CR LF); in a
  single-line field those three become a space, so ``"Rita<TAB>Morgan"`` stays two words.
- Bidirectional embedding, override and isolate characters are **refused**, with a message
  beside the field, in single-line *and* multi-line fields. Refusing rather than neutralising:
  right-to-left writing (Arabic, Hebrew, Urdu) needs none of them (the browser's bidi algorithm
  lays such text out by itself), so the only people who type them are pasting text from
  somewhere that hid them, or spoofing; silently changing what was typed would leave the
  writer not knowing that what we store and publish differs from what they see.
  The implicit marks U+200E, U+200F and U+061C are left alone: they are used in ordinary
  right-to-left writing and cannot reorder text beyond themselves.
"""

import re

from community.i18n import lazy_gettext

BIDI_MESSAGE = lazy_gettext("Remove the hidden text-direction characters (often pasted in with the text), then try again")

_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # all but tab, LF, CR
_LINE_BREAKS = re.compile("[\t\n\r]")


def strip_controls(text, *, multi_line: bool = False):
    """``text`` without control characters: tab, LF and CR kept when ``multi_line``, else spaces.

    Anything that is not a string (None, a default value) is returned unchanged."""
    if not isinstance(text, str):
        return text
    text = _CONTROLS.sub("", text)
    return text if multi_line else _LINE_BREAKS.sub(" ", text)


def strip_single_line(text):
    """The filter of single-line text fields."""
    return strip_controls(text)


def strip_multi_line(text):
    """The filter of multi-line text fields (tab and new lines kept)."""
    return strip_controls(text, multi_line=True)


def has_bidi_controls(text: str | None) -> bool:
    """True when ``text`` holds a bidirectional embedding, override or isolate character."""
    return isinstance(text, str) and _BIDI.search(text) is not None
