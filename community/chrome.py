"""The parts of every page that are the same for everybody alike (issue 18): the header with the
service navigation, and the footer. Each is rendered once per process for each combination of
what it depends on — its template, the page's language, a ``?lang=`` in the address (links keep
it), the application root, and the flags the page passes (signed in, staff, finance, admin) —
and then reused, instead of 20-odd ``url_for`` and translations on every request.

A chrome template sees only the flags it is given (and Jinja's globals: ``_``, ``url_for``,
``asset``): never put anything about the person, the request or the page in one. Anything that
does depend on them (the language switch, "Signed in as", flashed messages) stays in base.html.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from markupsafe import Markup

from community.i18n import language, url_language

MAX_ENTRIES = 512  # a few dozen keys are possible; the bound only guards against the unexpected


def chrome(name: str, **flags: bool) -> Markup:
    """The rendered chrome template ``name`` for these flags, from the cache when it is there."""
    cache = current_app.extensions["chrome_cache"]
    flags = {flag: bool(value) for flag, value in flags.items()}
    key = (name, language(), url_language(), request.script_root, *sorted(flags.items()))
    found = cache.get(key)
    if found is None:
        html = current_app.jinja_env.get_template(name).render(flags)
        found = Markup(html)  # noqa: S704 - our own template's output, escaped as it rendered
        if len(cache) >= MAX_ENTRIES:
            cache.clear()
        cache[key] = found
    return found


def init_app(app: Flask) -> None:
    app.extensions["chrome_cache"] = {}
    app.jinja_env.globals["chrome"] = chrome
