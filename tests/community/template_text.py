"""A small scan of Jinja/HTML templates for words a reader sees that are not inside ``_()``
(tests/community/test_i18n.py). Jinja comments, statements and expressions, HTML tags and the
insides of <script> and <style> are left out; what remains is the raw text of the page, and any
letter in it is a string nobody can translate. ``aria-label``, ``data-label`` (shown by the
stacked tables' CSS), ``alt``, ``title`` and ``placeholder`` attributes with letters count too."""

from __future__ import annotations

import re

TOKEN = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}|<script\b.*?</script>|<style\b.*?</style>|<!--.*?-->|<[^>]*>",
                   re.S)
ATTRIBUTE = re.compile(r"""\b(aria-label|data-label|alt|title|placeholder)\s*=\s*(["'])([^"']*)\2""")
LETTER = re.compile(r"[^\W\d_]")


def unmarked(source: str) -> list[str]:
    """The pieces of raw text (and visible attributes) in ``source`` that contain letters."""
    found = []
    for piece in TOKEN.split(source):
        text = " ".join(piece.split())
        if LETTER.search(text) and not re.fullmatch(r"&[a-z]+;|&#\d+;", text):
            found.append(text)
    for match in TOKEN.finditer(source):
        tag = match.group(0)
        if tag.startswith("<") and not tag.startswith(("<script", "<style", "<!--")):
            for _name, _quote, value in ATTRIBUTE.findall(re.sub(r"\{\{.*?\}\}", "", tag)):
                if LETTER.search(value):
                    found.append(f"{_name}={value!r}")
    return found
