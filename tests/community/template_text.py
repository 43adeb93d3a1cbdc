"""A small scan of Jinja/HTML templates for words a reader sees that are not inside ``_()``
(tests/community/test_i18n.py). Jinja comments, statements and expressions, HTML tags and the
insides of <script> and <style> are left out; what remains is the raw text of the page, and any
letter in it is a string nobody can translate. ``aria-label``, ``data-label`` (shown by the
stacked tables' CSS), ``alt``, ``title`` and ``placeholder`` attributes with letters count too.
An expression ends at the ``}}`` outside its own brackets and strings, so a macro call's
``params={'label': {'text': _('Code')}}`` is one expression, not text."""

from __future__ import annotations

import re

# Everything but {{ ... }}, found by _expression_end (dictionaries inside it close with "}}" too).
OTHER = re.compile(r"\{#.*?#\}|\{%.*?%\}|<script\b.*?</script>|<style\b.*?</style>|<!--.*?-->|<[^>]*>", re.S)
ATTRIBUTE = re.compile(r"""\b(aria-label|data-label|alt|title|placeholder)\s*=\s*(["'])([^"']*)\2""")
LETTER = re.compile(r"[^\W\d_]")


def _expression_end(source: str, start: int) -> int:
    """Where the ``{{`` at ``start`` closes: the first ``}}`` outside brackets and strings."""
    depth, quote, i = 0, None, start + 2
    while i < len(source):
        char = source[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]" or (char == "}" and depth > 0):
            depth -= 1
        elif source.startswith("}}", i):
            return i + 2
        i += 1
    return len(source)


def tokens(source: str) -> list[tuple[bool, str]]:
    """``source`` cut into (is_markup, piece): markup is a tag, comment, statement or expression."""
    found, text_start, i = [], 0, 0
    while i < len(source):
        if source.startswith("{{", i):
            end = _expression_end(source, i)
        else:
            match = OTHER.match(source, i)
            if not match:
                i += 1
                continue
            end = match.end()
        if i > text_start:
            found.append((False, source[text_start:i]))
        found.append((True, source[i:end]))
        text_start = i = end
    if text_start < len(source):
        found.append((False, source[text_start:]))
    return found


def unmarked(source: str) -> list[str]:
    """The pieces of raw text (and visible attributes) in ``source`` that contain letters."""
    found = []
    for is_markup, piece in tokens(source):
        if not is_markup:
            text = " ".join(piece.split())
            if LETTER.search(text) and not re.fullmatch(r"&[a-z]+;|&#\d+;", text):
                found.append(text)
        elif piece.startswith("<") and not piece.startswith(("<script", "<style", "<!--")):
            for _name, _quote, value in ATTRIBUTE.findall(re.sub(r"\{\{.*?\}\}", "", piece)):
                if LETTER.search(value):
                    found.append(f"{_name}={value!r}")
    return found
