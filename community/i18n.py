"""Translations (issue 16, languages): the one import point for marking strings.

Python code writes ``from community.i18n import _, gettext, ngettext, lazy_gettext`` (Flask-Babel's
functions: named placeholders, ``ngettext`` fills ``%(num)s``; ``lazy_gettext`` for strings made
at import time, such as form labels); templates write ``{{ _("Vote") }}`` and ``{{ ngettext(...)
}}``. The catalogues are ``translations/<lang>/LC_MESSAGES/messages.po`` (scripts/translations.sh).

Which language a request gets (:func:`select_locale`), first that applies:

1. ``?lang=pl`` in the URL (a visitor's choice; links carry it, see :func:`carry_language`, so
   pages can be shared and the cookie-less micro-cache keys on it, community/cache.py);
2. the signed-in person's saved language (``Person.language``);
3. the best match of the browser's ``Accept-Language``;
4. English.

A language that does not exist (``?lang=xx``) is ignored, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlencode

from flask import Flask, g, has_app_context, has_request_context, request
from flask_babel import (
    Babel,
    force_locale,
    get_locale,
    get_translations,
    gettext,
    lazy_gettext,
    lazy_ngettext,
    ngettext,
)
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

# Each language's name in that language (the GOV.UK language switch shows them so).
LANGUAGES = {"en": "English", "pl": "Polski", "ro": "Română"}
DEFAULT = "en"
_ = gettext

__all__ = ["LANGUAGES", "_", "force_locale", "gettext", "in_english", "language", "lazy_gettext", "lazy_ngettext",
           "ngettext", "url_language"]

P = ParamSpec("P")
R = TypeVar("R")

babel = Babel()


def _translations():
    """The catalogue of the current locale, looked up once per locale per request: a page calls
    ``_()`` dozens of times and Flask-Babel resolves its context, domain and cache on each
    (a fifth of a page's time, bench/load.py). Keyed by the locale object, so ``force_locale``
    (emails in the recipient's language, statements in English) still switches."""
    if not has_app_context():
        return get_translations()
    locale = get_locale()
    cached = g.get("_thriving_translations")
    if cached is None or cached[0] is not locale:
        cached = g._thriving_translations = (locale, get_translations())
    return cached[1]


def in_english(make: Callable[P, R]) -> Callable[P, R]:
    """``make`` runs under ``force_locale("en")``: the council's records (statements, the county
    pack and their CSVs, from which the transparency files are cut) are English whatever the
    language of the person who asks, or of the request that closed the month. Outside an app
    context it runs as it is (English already)."""

    @wraps(make)
    def english(*args: P.args, **kwargs: P.kwargs) -> R:
        with force_locale(DEFAULT):
            return make(*args, **kwargs)

    return english


def url_language() -> str | None:
    """The language asked for in the URL (``?lang=``), if it is one of ours."""
    if not has_request_context():
        return None
    asked = request.args.get("lang", "")
    return asked if asked in LANGUAGES else None


def select_locale() -> str:
    chosen = url_language()
    if chosen:
        return chosen
    if has_request_context():
        saved = getattr(getattr(current_user, "person", None), "language", None) \
            if current_user and current_user.is_authenticated else None
        if saved in LANGUAGES:
            return saved
        return request.accept_languages.best_match(LANGUAGES) or DEFAULT
    return DEFAULT


_LABELS: dict[tuple[int, str], tuple[Mapping, dict[str, str]]] = {}


def labels(mapping: Mapping[str, object]) -> dict[str, str]:
    """A module's fixed labels (``lazy_gettext`` values) in the active language, as plain text:
    made once per language, not translated again for each of a page's 50 rows (a lazy string
    used as a dict key or rendered translates itself every time)."""
    key = (id(mapping), language())
    found = _LABELS.get(key)
    if found is None or found[0] is not mapping:
        found = _LABELS[key] = (mapping, {code: str(label) for code, label in mapping.items()})
    return found[1]


def language() -> str:
    """The active language's code ("en", "pl" or "ro")."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


def carry_language(endpoint: str, values: dict) -> None:
    """``url_for`` keeps the visitor's ``?lang=`` on every link of the page (not on static files).
    Inside ``force_locale`` (an email to someone else, written during this request) the link
    carries the recipient's language instead of the visitor's."""
    if url_language() and endpoint != "static" and "lang" not in values:
        values["lang"] = language()


def _here(**lang) -> str:
    """This page's address (path and query) with ``lang`` replaced, or removed when not given."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    args += list(lang.items())
    return request.path + ("?" + urlencode(args) if args else "")


def language_url(code: str) -> str:
    """The language switch's link for a visitor: this page in language ``code``."""
    return _here(lang=code)


def here_without_language() -> str:
    """Where the signed-in person's language switch sends them back to (their saved language
    then applies, so the address carries no ``?lang=``)."""
    return _here()


def _vary(response):
    """Without ``?lang=`` the page depends on the browser's languages: say so to any cache."""
    if url_language() is None:
        response.vary.add("Accept-Language")
    return response


def _translate_field_error_prefix() -> None:
    """govuk-frontend-wtf renders a field's error with GOV.UK's visually hidden "Error:" prefix in
    English; give it in the page's language (once per process: the widgets are shared classes)."""
    from govuk_frontend_wtf import gov_form_base

    for cls in (gov_form_base.GovFormBase, gov_form_base.GovIterableBase):
        if "map_gov_params" not in cls.__dict__ or getattr(cls.map_gov_params, "translated", False):
            continue
        original = cls.map_gov_params

        def mapped(self, field, _original=original, **kwargs):
            params = _original(self, field, **kwargs)
            if "errorMessage" in params:
                params["errorMessage"].setdefault("visuallyHiddenText", gettext("Error"))
            return params

        mapped.translated = True
        cls.map_gov_params = mapped


CATALOGUE = "_thriving_catalogue"  # the template context's key for the catalogue of this render
LANGUAGE = "_thriving_language"  # and for its language's code (the date filters read it)


def _bind_catalogue() -> dict:
    """Once per ``render_template``: the catalogue of the locale the page renders in (so an email
    rendered inside ``force_locale`` gets the recipient's, a statement English)."""
    return {CATALOGUE: _translations(), LANGUAGE: language()}


def bound_language(context: Context) -> str:
    """The language this render was bound to (see above), or the active one."""
    return context.get(LANGUAGE) or language()


def _catalogue(context: Context):
    # A template rendered without Flask's context processors (or a macro imported without
    # context) has none bound: look it up as Flask-Babel would.
    return context.get(CATALOGUE) or _translations()


def _formatted(context: Context, text: str, variables: dict) -> str:
    """Jinja's "newstyle" rule: the translation is trusted markup, the variables are escaped, and
    the text is always a format string (``%%`` is a per cent sign)."""
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - the catalogue is ours (trusted), as in Jinja's newstyle gettext
    return text % variables if variables or "%" in text else text


@pass_context
def _jinja_gettext(context: Context, text: str, **variables) -> str:
    return _formatted(context, _catalogue(context).ugettext(text), variables)


@pass_context
def _jinja_ngettext(context: Context, singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    return _formatted(context, _catalogue(context).ungettext(singular, plural, num), variables)


def init_app(app: Flask) -> None:
    """Flask-Babel (catalogues in translations/ beside wsgi.py) and its Jinja ``_``, ``gettext`` and
    ``ngettext`` (Jinja's "newstyle" gettext: the translated text is trusted, the variables are
    escaped); the language switch's names; links keep ``?lang=``."""
    babel.init_app(app, locale_selector=select_locale, default_locale=DEFAULT,
                   default_timezone="Europe/London")
    app.url_defaults(carry_language)
    app.after_request(_vary)
    _translate_field_error_prefix()
    app.jinja_env.install_gettext_callables(
        gettext=lambda text: _translations().ugettext(text),
        ngettext=lambda singular, plural, n: _translations().ungettext(singular, plural, n), newstyle=True,
        pgettext=lambda context, text: _translations().upgettext(context, text),
        npgettext=lambda context, singular, plural, n: _translations().unpgettext(context, singular, plural, n))
    # The two that pages call hundreds of times, without Jinja's two layers of Context.call and
    # Flask-Babel's locale lookup on each: the catalogue is bound once per render (below).
    app.jinja_env.globals.update(_=_jinja_gettext, gettext=_jinja_gettext, ngettext=_jinja_ngettext)
    app.context_processor(_bind_catalogue)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=language, language_url=language_url,
                                 here_without_language=here_without_language)
