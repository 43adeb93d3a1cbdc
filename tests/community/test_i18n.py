"""Languages (issue 16): complete Polish and Romanian catalogues, no unmarked text in the
resident-facing templates, and the language each request, page, email and cached page gets."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlmodel import select

from community import formatting, services
from community.db import open_session
from community.i18n import force_locale
from community.models import MailMessage, Person
from tests.community.template_text import unmarked
from tests.support.factories import PASSWORD
from votes.explanations import in_language
from wsgi import create_app

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("pl", "ro")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "lazy_ngettext": (1, 2)}

# The resident journey's templates (issue 16): every word in them must be inside _() and translated.
RESIDENT_TEMPLATES = [
    "base.html", "chrome/*.html", "macros.html", "errors/error.html",
    *(f"community/{name}.html" for name in (
        "sign_up", "sign_in", "check_email", "confirm_email", "confirm_first", "confirm_link_invalid",
        "forgot_password", "reset_password", "reset_link_invalid", "home", "change_password",
        "change_postcode", "change_language", "account", "form_page", "unsubscribe", "cookies",
        "delete_account", "notifications", "notifications_form", "sign_in_code", "voting_slip", "privacy",
        "accessibility", "team")),
    *(f"votes/{name}.html" for name in ("ballot", "review_ballot", "code_start", "code_ballot", "code_done", "receipt",
                                        "propose", "rounds", "ideas", "idea", "results", "step", "mark_done",
                                        "_delivery", "_team_delivery")),
    "pledges/*.html",  # with the team's and finance's pledge pages
    "ledger/team_ledger.html",  # public: anyone may read a team's ledger
    "opendata/*.html",
]

# Pages only staff and finance read (issue 16: "Staff and finance pages may stay English for now, but their
# strings are marked too"): a catalogue entry may stay empty (English) only when every place it is used
# is one of these. Anything a resident file uses (a template above, or any other file) must be translated.
STAFF_ONLY = [
    "templates/ledger/*.html", "templates/spend/*.html", "templates/statements/*.html",
    *(f"templates/community/{name}.html" for name in (
        "accept_invitation", "admin_form", "admin_home", "admin_remove_role", "admin_reset_two_factor",
        "assisted_check", "assisted_sign_up", "outbox", "recovery_codes", "replace_two_factor", "staff_home",
        "two_factor_setup")),
    *(f"templates/votes/{name}.html" for name in ("new_round", "paper", "review")),
    "ledger/views.py", "spend/views.py", "spend/forms.py", "statements/*.py",
]


def _staff_only(path: str) -> bool:
    """Whether ``path`` (relative to the project) is a staff/finance-only file, and not a resident one."""
    resident = any(fnmatch(path, f"templates/{pattern}") for pattern in RESIDENT_TEMPLATES)
    return not resident and any(fnmatch(path, pattern) for pattern in STAFF_ONLY)


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogues():
    """The .mo files as `make test` compiles them (scripts/translations.sh), if they are stale."""
    for lang in LANGUAGES:
        po = ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as source, mo.open("wb") as target:
                write_mo(target, read_po(source, locale=lang))


def _extracted() -> dict:
    """Every msgid in the code and templates now (babel.cfg), as `pybabel extract` finds them, with the
    files it is used in (relative to the project)."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.setdefault(message if isinstance(message, str) else tuple(message), set()).add(file)
    return found


def _catalogue_problems(catalogue, extracted: dict) -> list[str]:
    """What is wrong with ``catalogue``: missing or fuzzy entries, incomplete plurals, and empty translations
    of anything used outside the staff-only files (those may fall back to English)."""
    entries = {m.id: m for m in catalogue if m.id}
    problems = []
    for msgid, files in sorted(extracted.items(), key=lambda item: str(item[0])):
        entry = entries.get(msgid)
        staff_only = all(_staff_only(file) for file in files)
        if entry is None:
            problems.append(f"missing (run scripts/translations.sh update): {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif isinstance(msgid, tuple):
            forms = list(entry.string) if isinstance(entry.string, (list, tuple)) else [entry.string]
            if not (staff_only and not any(forms)) and (len(forms) != catalogue.num_plurals or not all(forms)):
                problems.append(f"plural forms incomplete: {msgid!r} (used in {sorted(files)})")
        elif not entry.string.strip() and not staff_only:
            problems.append(f"untranslated: {msgid!r} (used in {sorted(files)})")
    problems += [f"{error}: {message.id!r}" for message, errors in catalogue.check() for error in errors]
    return problems


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_is_translated_with_every_plural_form_and_nothing_fuzzy(lang):
    with (ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=lang)
    assert catalogue.num_plurals == 3, catalogue.plural_forms  # Polish and Romanian: one, few, many
    problems = _catalogue_problems(catalogue, _extracted())
    assert not problems, f"{lang}: {len(problems)} problems:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_only_staff_only_entries_may_stay_english(lang):
    """An empty msgstr is allowed for a string only staff pages use, refused once a resident file uses it."""
    with (ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=lang)
    catalogue.add("Reverse<span>%(reference)s</span>", "", locations=[("templates/ledger/team_ledger.html", 1)])
    catalogue.add("Post the figures", "")
    catalogue.add(("%(num)s paper", "%(num)s papers"), ("", "", ""))
    staff = {"Post the figures": {"templates/statements/_statement_body.html", "spend/views.py"},
             ("%(num)s paper", "%(num)s papers"): {"templates/votes/paper.html"}}
    assert _catalogue_problems(catalogue, staff) == []
    resident = {"Post the figures": {"templates/statements/_statement_body.html", "templates/votes/rounds.html"},
                ("%(num)s paper", "%(num)s papers"): {"votes/forms.py"},
                "Reverse<span>%(reference)s</span>": {"templates/ledger/team_ledger.html"}}
    problems = _catalogue_problems(catalogue, resident)
    assert len(problems) == 3, problems
    assert problems[0].startswith("plural forms incomplete: ('%(num)s paper'")
    assert {p.split(":")[0] for p in problems[1:]} == {"untranslated"}
    assert _staff_only("templates/spend/dashboard.html") and _staff_only("statements/views.py")
    assert not _staff_only("templates/ledger/team_ledger.html") and not _staff_only("community/views.py")


def test_no_resident_facing_template_has_text_outside_gettext():
    files = sorted({path for pattern in RESIDENT_TEMPLATES for path in (ROOT / "templates").glob(pattern)})
    assert len(files) == 62
    found = {str(path.relative_to(ROOT)): unmarked(path.read_text()) for path in files}
    found = {name: pieces for name, pieces in found.items() if pieces}
    assert not found, f"text a resident reads but nobody can translate (wrap it in _()): {found}"


def test_no_template_at_all_has_text_outside_gettext():
    """Staff and finance pages too (issue 16), and the text (email) templates if there are any."""
    files = sorted(path for pattern in ("**/*.html", "**/*.txt") for path in (ROOT / "templates").glob(pattern))
    assert len(files) == 99
    found = {str(path.relative_to(ROOT)): unmarked(path.read_text()) for path in files}
    found = {name: pieces for name, pieces in found.items() if pieces}
    assert not found, f"text nobody can translate (wrap it in _()): {found}"


def test_the_template_scan_finds_raw_text_and_visible_attributes():
    assert unmarked('<p class="x">{{ _("Fine") }} {{ name }}</p>') == []
    assert unmarked("<p>Vote now</p>") == ["Vote now"]
    assert unmarked('<td data-label="Place">{{ x }}</td>') == ["data-label='Place'"]
    assert unmarked("{{ form.code(params={'label': {'text': _('Code')}, 'spellcheck': false}) }}") == []
    assert unmarked("{{ x(params={'a': {'b': 1}}) }} Save") == ["Save"]


def test_lang_in_the_url_gives_polish_with_html_lang_and_links_keep_it(client):
    page = client.get("/?lang=pl")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<html lang="pl"' in html
    assert "Zespoły Connected Teams" in html and "Zaloguj się" in html
    assert 'href="/sign-in?lang=pl"' in html  # links carry the language (url_for default)


def test_the_language_switch_names_each_language_in_itself_and_the_current_one_is_not_a_link(client):
    html = client.get("/?lang=ro").get_data(as_text=True)
    assert '<span aria-current="true" lang="ro">Română</span>' in html
    assert re.search(r'<a class="govuk-link" href="/\?lang=pl" hreflang="pl" lang="pl">Polski</a>', html)
    assert re.search(r'<a class="govuk-link" href="/\?lang=en" hreflang="en" lang="en">English</a>', html)


def test_an_unknown_language_falls_back_to_english(client):
    page = client.get("/?lang=xx")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<html lang="en"' in html and "Connected Teams" in html
    assert client.get("/?lang=" + "%C3%A9" * 40).status_code == 200


def test_accept_language_picks_the_first_language_we_have(client):
    html = client.get("/", headers={"Accept-Language": "de-DE,ro;q=0.8,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="ro"' in html and "Echipele Connected Teams" in html
    assert '<html lang="en"' in client.get("/", headers={"Accept-Language": "de, fr"}).get_data(as_text=True)


def test_a_signed_in_persons_choice_is_saved_and_used_after_the_next_sign_in(client, engine, make_person,
                                                                              sign_in, place_and_team):
    person = make_person()
    sign_in(person)
    saved = client.post("/account/language", data={"language": "pl", "next": "/account?lang=en"})
    assert saved.status_code == 302 and saved.headers["Location"] == "/account?lang=en"
    with open_session(engine, write=False) as s:
        assert s.get(Person, person.id).language == "pl"
    client.post("/sign-out")
    sign_in(person)
    html = client.get("/account").get_data(as_text=True)
    assert '<html lang="pl"' in html and "Twoje konto" in html
    assert "Język" in html and "Polski" in html  # the account page's Language row
    bad = client.post("/account/language", data={"language": "xx"})
    assert bad.status_code == 400  # beside the field, nothing saved
    with open_session(engine, write=False) as s:
        assert s.get(Person, person.id).language == "pl"
    offsite = client.post("/account/language", data={"language": "ro", "next": "https://evil.example/"})
    assert offsite.headers["Location"] == "/account"


def test_sign_up_keeps_the_language_it_was_made_in_and_the_email_is_in_it(client, engine, place_and_team):
    data = {"name": "Ana Pop", "email": "ana@example.org", "password": PASSWORD, "postcode": "NG20 8AA"}
    assert client.post("/sign-up?lang=ro", data=data).status_code == 302
    with open_session(engine, write=False) as s:
        assert s.exec(select(Person).where(Person.email == "ana@example.org")).one().language == "ro"
        mail = s.exec(select(MailMessage).where(MailMessage.to_address == "ana@example.org")).one()
    assert mail.subject == "Confirmați adresa de e-mail pentru Thriving Communities"
    assert mail.body.startswith("Bună ziua, Ana,")


def test_a_polish_person_gets_a_polish_email(app, session, make_person, place_and_team):
    person = make_person()
    person.language = "pl"
    session.add(person)
    session.commit()
    with app.test_request_context("/"):  # the English request of someone else (a cron run, say)
        services.request_password_reset(session=session, email=person.email, link=lambda t: f"https://x/{t}")
        session.commit()
    mail = session.exec(select(MailMessage).where(MailMessage.to_address == person.email)).one()
    assert mail.subject == "Zresetuj hasło do Thriving Communities"
    assert "Dzień dobry, Rita," in mail.body and "Link działa jeden raz" in mail.body
    assert re.search(r"w dniu \d+ (stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|"
                     r"października|listopada|grudnia) 20\d\d", mail.body)


def test_the_micro_cache_never_serves_english_to_a_polish_request(database_url, tmp_path):
    app = create_app({"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": "s" * 40, "DATABASE_URL": database_url,
                      "RATELIMIT_ENABLED": False, "OUTBOX_DIR": str(tmp_path / "outbox"),
                      "PUBLIC_PAGE_CACHE_SECONDS": 60})
    client = app.test_client()
    english = client.get("/").get_data(as_text=True)
    assert '<html lang="en"' in english
    assert '<html lang="pl"' in client.get("/?lang=pl").get_data(as_text=True)
    assert '<html lang="pl"' in client.get("/", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert client.get("/", headers={"Accept-Language": "pl"}).headers.get("Vary", "").count("Accept-Language")
    assert client.get("/").get_data(as_text=True) == english  # still cached, still English


def test_dates_use_the_languages_month_names_and_money_stays_british(app):
    import datetime as dt

    with app.test_request_context("/"):
        assert formatting.long_date(dt.date(2026, 11, 23)) == "23 November 2026"
        with force_locale("pl"):
            assert formatting.long_date(dt.date(2026, 11, 23)) == "23 listopada 2026"
            assert formatting.london_datetime(dt.datetime(2026, 7, 1, 12, 5, tzinfo=dt.UTC)) == "1 lip 2026, 13:05"
            assert formatting.gbp(123450) == "£1,234.50"
        with force_locale("ro"):
            assert formatting.long_date(dt.date(2026, 11, 23)) == "23 noiembrie 2026"
            assert formatting.gbp(123450) == "£1,234.50"


@pytest.mark.parametrize("language", ["en", "pl", "ro"])
def test_the_fast_date_filters_say_what_babel_says(app, language):
    """long_date and month_year are cached and london_datetime is written out (babel costs
    ~40 µs a call, 50 a ledger page): each must give babel's own text, across both clock changes,
    naive (stored UTC) times and every month."""
    import datetime as dt

    from babel.dates import format_date, format_datetime

    locale = formatting.LOCALES[language]
    times = [dt.datetime(2026, 3, 29, 0, 59), dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC),
             dt.datetime(2026, 10, 25, 0, 59, tzinfo=dt.UTC), dt.datetime(2026, 10, 25, 1, 0),
             dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC), dt.datetime(2026, 6, 30, 23, 30)]
    times += [dt.datetime(2026, month, 9, 8, 7, tzinfo=dt.UTC) for month in range(1, 13)]
    with app.test_request_context("/"), force_locale(language):
        for when in times:
            assert formatting.london_datetime(when) == format_datetime(when, "d MMM y, HH:mm", tzinfo="Europe/London",
                                                                       locale=locale), when
            day = when.date()
            assert formatting.long_date(day) == format_date(day, "d MMMM y", locale=locale)
            assert formatting.month_year(day) == format_date(day, "LLLL y", locale=locale)


def test_fixed_labels_are_made_once_per_language_and_follow_the_language(app):
    """``labels`` translates a module's lazy labels once per language (the idea list shows 50
    statuses): each language gets its own text, and the same dict again on the next page."""
    from community.i18n import labels
    from votes.models import IDEA_CATEGORIES, STATUS_LABELS

    with app.test_request_context("/"):
        english = labels(STATUS_LABELS)
        assert english["funded"] == "Funded" and type(english["funded"]) is str
        with force_locale("pl"):
            polish = labels(STATUS_LABELS)
            assert polish["funded"] == str(STATUS_LABELS["funded"]) != "Funded"
            assert labels(STATUS_LABELS) is polish
            assert labels(IDEA_CATEGORIES)["other"] == str(IDEA_CATEGORIES["other"]) != "Something else"
        assert labels(STATUS_LABELS) is english
    with app.test_request_context("/?lang=ro"):
        assert labels(STATUS_LABELS)["funded"] not in ("Funded", polish["funded"])


def test_the_tally_explanation_is_shown_in_the_readers_language_with_plurals(app):
    funded = "funded: 3 votes, fitted in the £1,500.00 left (ranked most votes first)"
    step = ("funded at step 2 of Equal Shares: 22 votes, cost £600.00 shared by its supporters (each voter "
            "started with £50.00): they paid £27.28 each")
    with app.test_request_context("/"):
        assert in_language(funded) == funded
        with force_locale("pl"):
            assert in_language(funded).startswith("sfinansowany: 3 głosy, zmieścił się w pozostałej kwocie £1,500.00")
            assert in_language(step).startswith("sfinansowany w kroku 2 metody równych udziałów: 22 głosy")
            assert in_language("not funded: 5 votes, cost £9.00 but only £1.00 was left (ranked most votes first)"
                               ).startswith("niesfinansowany: 5 głosów")
        with force_locale("ro"):
            assert "20 de voturi" in in_language(funded.replace("3 votes", "20 votes"))
        assert in_language("a reason of a rule to come") == "a reason of a rule to come"


def test_form_errors_are_in_the_pages_language_beside_the_field(client):
    page = client.post("/sign-in?lang=pl", data={"email": "", "password": ""})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Wystąpił problem" in html  # the error summary's title
    assert re.search(r'<span class="govuk-visually-hidden">Błąd:</span> Wpisz swój adres e-mail', html)


def test_templates_follow_force_locale_inside_one_request(app):
    """The Jinja ``_`` keeps one catalogue per request (community/i18n.py _translations) but
    switches with ``force_locale``: a Polish page can still render an English statement and a
    Romanian email."""
    from flask import render_template_string

    page = "{{ _('Page not found') }}"
    with app.test_request_context("/?lang=pl"):
        assert render_template_string(page) == "Nie znaleziono strony"
        with force_locale("en"):
            assert render_template_string(page) == "Page not found"
        with force_locale("ro"):
            assert render_template_string(page) == "Pagina nu a fost găsită"
        assert render_template_string(page) == "Nie znaleziono strony"


def test_the_templates_gettext_escapes_variables_in_pages_but_not_in_text(app):
    """community/i18n.py binds the catalogue once per render and formats as Jinja's newstyle
    gettext does: the translation is trusted, variables are escaped where autoescape is on (HTML)
    and left alone where it is off (the text part of an email); ``%%`` is a per cent sign;
    ``ngettext`` picks Polish's plural forms and fills ``num``."""
    from flask import render_template_string

    with app.test_request_context("/?lang=pl"):
        html = render_template_string("{{ _('Ideas for %(team)s', team=name) }}|{{ _('100%%') }}",
                                      name="<b>A&B</b>")
        assert html.endswith("&lt;b&gt;A&amp;B&lt;/b&gt;|100%") and "<b>" not in html
        plain = app.jinja_env.from_string("{% autoescape false %}{{ _('Ideas for %(team)s', team=name) }}"
                                          "{% endautoescape %}")
        assert plain.render(name="<b>A&B</b>").endswith("<b>A&B</b>")
        forms = [render_template_string("{{ ngettext('%(num)s idea, newest first', '%(num)s ideas, newest first', n) }}",
                                         n=n) for n in (1, 3, 5)]
        assert forms[0].startswith("1 ") and forms[1].startswith("3 ") and forms[2].startswith("5 ")
        assert len({f.split(" ", 1)[1] for f in forms}) == 3, forms  # Polish: three plural forms
