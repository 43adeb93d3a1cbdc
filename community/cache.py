"""A few seconds' cache of public pages for visitors without a cookie ("micro-caching").

A link to the idea list or a round's results shared in a neighbourhood group brings many
people at once, nearly all anonymous and without a cookie: each worker builds such a page at
most once every ``PUBLIC_PAGE_CACHE_SECONDS`` (default 2; 0 switches it off, as in testing)
and serves the same bytes to the others. Nothing personal can be shared:

* a request carrying any cookie (signed in, or holding a CSRF token or a flash message) is
  never answered from the cache and never fills it;
* a response is stored only if it is a 200 and the page put nothing into the session (a
  page that made a CSRF token for a form is not shared).

Pages differ by language (community/i18n.py): the key is the path, the sorted query string and
the language the request gets (``?lang=`` or, without it, the browser's ``Accept-Language``),
so a ``?lang=pl`` visitor never gets the English bytes.

Flask-Caching's in-process ``SimpleCache``: each worker keeps its own copy, so a page is at
most a few seconds old for anonymous visitors; signed-in people always see it fresh.
"""

import hashlib
from collections.abc import Callable

from flask import Flask, request, session
from flask_caching import Cache

from community import i18n

cache = Cache()


def init_app(app: Flask) -> None:
    seconds = int(app.config["PUBLIC_PAGE_CACHE_SECONDS"])
    cache.init_app(app, config={
        "CACHE_TYPE": "SimpleCache" if seconds > 0 else "NullCache",
        "CACHE_DEFAULT_TIMEOUT": seconds,
        "CACHE_THRESHOLD": 1000,  # pages kept per worker; SimpleCache drops expired ones first
    })


def _personal() -> bool:
    """True when this request may get a personal page: it carries a cookie (of any kind)."""
    return bool(request.cookies) or request.method != "GET"


def _shareable(rv) -> bool:
    """Store only a page (a view's plain ``str``, i.e. a 200; never a redirect, an error or a
    response with headers of its own) that put nothing in the session (no CSRF token, no flash)."""
    return isinstance(rv, str) and not session


def page_key(*_args, **_kwargs) -> str:
    """The cache key of this request's page: language, path and sorted query string."""
    query = str(sorted(request.args.items(multi=True))).encode()
    return f"page/{i18n.language()}{request.path}?{hashlib.sha256(query).hexdigest()}"


def public_page(view: Callable) -> Callable:
    """Serve a public GET page from the micro-cache to visitors without a cookie."""
    return cache.cached(unless=_personal, response_filter=_shareable, make_cache_key=page_key)(view)
