"""Issue 14, findings 6 and 10, as classes: every number people type is read in ASCII digits
only, and every text field drops control characters and refuses bidirectional overrides.

Table-driven over the forms that take an amount, a name or a title: each bad value is posted
through the real route, the message must be beside the field and no row may be written. Then
every form class of the app is walked: each inherits the shared base and each of its text
fields is cleaned and checked, so a form added later cannot miss it.
"""

import datetime as dt
import importlib
import pkgutil
import re
import uuid
from dataclasses import dataclass, field
from html import unescape

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import PasswordField, StringField

from community.dates import parse_date_parts
from community.db import london_today, open_session, utcnow
from community.models import AuditEvent, Person, Place, Team
from ledger.errors import DomainError
from ledger.forms import parse_month
from ledger.models import JournalEntry
from ledger.money import parse_pence
from pledges.models import CommunityPledge, Pledge, SocialValueRate
from pledges.services import parse_hours
from pledges.views import _whole_number
from spend.models import SpendRequest
from tests.date_parts import date_parts, moment_parts
from tests.support.factories import feasible_idea, open_round
from votes.forms import parse_time
from votes.models import Ballot, Idea, Round

PACKAGES = ["community", "ledger", "votes", "pledges", "spend", "statements", "ops", "demo"]
DIGITS = "Use the digits 0 to 9"
BIDI = "Remove the hidden text-direction characters"

# Full-width 5, Arabic-Indic 5, Arabic-Indic 12.50, superscript 2, a full-width digit among
# ASCII ones, extended Arabic-Indic (Persian) 5: each was read as pounds (or gave a 500).
OTHER_DIGITS = ["５", "٥", "١٢.٥٠", "²", "1２", "۵"]
# Right-to-left override, left-to-right embedding, first-strong and right-to-left isolates.
BIDI_TEXT = ["Bench\u202e by the pond", "\u202aBench", "\u2068Bench\u2069", "Bench \u2067x"]


def _date_parts(text: str):
    """The GOV.UK date input's three boxes, typed as ``year-month-day`` here for the table."""
    year, month, day = text.split("-")
    return parse_date_parts(day, month, year)


@pytest.mark.parametrize(("parse", "typed"), [
    (parse_pence, "５"), (parse_pence, "١٢.٥٠"), (parse_pence, "£٥"), (parse_pence, "1,٠٠٠"), (parse_pence, "²"),
    (_date_parts, "2026-0٤-01"), (_date_parts, "２026-03-01"), (_date_parts, "2026-03-٠١"),
    (parse_month, "２026-03"), (parse_time, "١٨:٠٠"),
    (parse_hours, "٢"), (parse_hours, "1.５"), (_whole_number, "٣"), (_whole_number, "²"),
], ids=lambda v: getattr(v, "__name__", None) or repr(v))
def test_every_parser_refuses_other_digits_with_the_message(parse, typed):
    """``Decimal("٢")`` is 2 and ``int("١٨")`` is 18: amounts, hours, quantities and the hour of a
    round's closing time were read from other scripts' digits; ``int("²")`` raised instead."""
    with pytest.raises((ValueError, DomainError), match=DIGITS):
        parse(typed)


def _count(engine, model) -> int:
    with open_session(engine, write=False) as reader:
        return reader.execute(select(func.count()).select_from(model)).scalar_one()


def _beside(body: str, name: str) -> str:
    """The error message shown beside field ``name`` (GOV.UK: ``<p id="NAME-error">``)."""
    marker = f'id="{name}-error"'
    assert marker in body, f"no error beside {name!r}"
    return unescape(body[body.index(marker):][:400])


@dataclass
class Case:
    """One form: who posts it, where, the data that would succeed, and the table it writes."""

    who: str
    url: str
    data: object  # dict, or a function of the fixture values returning one
    model: type
    money: list[str] = field(default_factory=list)  # fields taking an amount
    text: list[str] = field(default_factory=list)  # name/title/description fields
    column: dict[str, str] = field(default_factory=dict)  # text field -> the column it is stored in


@pytest.fixture
def town(session, world, make_person):
    """The votes world, plus an admin, a second team and a feasible idea (for rounds)."""
    other = Team(slug="gamesley", name="Gamesley Connected Team", place_id=world["place"].id, cost_centre="TC1002")
    session.add(other)
    admin = make_person("adam@example.org", role="admin")
    idea = feasible_idea(session, world, "Bench", 100_000)
    session.commit()
    return {**world, "other": other, "admin": admin, "idea_id": idea.id}


def _today() -> str:
    return london_today().isoformat()


CASES = {
    "sign-up": Case("anonymous", "/sign-up", {
        "name": "Rita Morgan", "email": "new@example.org", "password": "correct horse battery staple",
        "postcode": "NG20 8AA"}, Person, text=["name"], column={"name": "name"}),
    "team": Case("admin", "/admin/teams/new", lambda t: {
        "name": "Second Team", "slug": "second", "place_id": t["place"].id, "cost_centre": "TC9"},
        Team, text=["name"], column={"name": "name"}),
    "place": Case("admin", "/admin/places/new", {
        "name": "Bolsover", "slug": "bolsover", "district": "Bolsover", "districts": "S44"},
        Place, text=["name"], column={"name": "name"}),
    "idea": Case("resident", "/teams/shirebrook/ideas/new", {
        "title": "Bench by the pond", "description": "Somewhere to sit\r\nin the shade", "estimated_cost": "400"},
        Idea, money=["estimated_cost"], text=["title", "description"],
        column={"title": "title", "description": "description"}),
    "round": Case("member", "/teams/shirebrook/rounds/new", lambda t: {
        "title": "Spring round", "budget": "1500", **moment_parts("opens", "2026-01-01 09:00"),
        **moment_parts("closes", (utcnow() + dt.timedelta(days=7)).strftime("%Y-%m-%d %H:%M")), "ideas": [t["idea_id"]],
        "ballot_type": "approval", "rule": "greedy", "idempotency_key": uuid.uuid4().hex},
        Round, money=["budget"], text=["title"], column={"title": "title"}),
    "money pledge": Case("resident", "/teams/shirebrook/pledges/new/money", {
        "description": "Towards the youth space", "amount": "20", "visibility": "public_named"},
        Pledge, money=["amount"], text=["description"], column={"description": "description"}),
    "community pledge": Case("resident", "/teams/shirebrook/community-pledges/new", {
        "title": "Being Kind in Shirebrook", "promise": "We will check on a neighbour"},
        CommunityPledge, text=["title", "promise"], column={"title": "title", "promise": "promise"}),
    "hourly rate": Case("finance", "/finance/pledges/rate", {"rate": "13.50"}, SocialValueRate, money=["rate"]),
    "allocation": Case("finance", "/finance/allocate", lambda t: {
        "team_id": t["team"].id, "amount": "10.00", **date_parts("effective_date", _today()), "description": "Budget allocation",
        "gl_code": "R1000", "idempotency_key": uuid.uuid4().hex}, JournalEntry, money=["amount"], text=["description"],
        column={"description": "description"}),
    "virement": Case("finance", "/finance/virement", lambda t: {
        "from_team_id": t["team"].id, "to_team_id": t["other"].id, "amount": "10.00", "reason": "Help",
        **date_parts("effective_date", _today()), "idempotency_key": uuid.uuid4().hex}, JournalEntry, money=["amount"],
        text=["reason"]),
    "spend request": Case("member", "/teams/shirebrook/spend/new", {
        "amount": "45.00", "payee": "Stagecoach", "purpose": "Bus pass for an apprentice", "category": "travel",
        "account_id": "budget"}, SpendRequest, money=["amount"], text=["payee", "purpose"],
        column={"payee": "payee", "purpose": "purpose"}),
    "spend limits": Case("enabler", "/teams/shirebrook/spend/limits", {
        "member_limit": "100.00", "enabler_limit": "600.00", "confirmed": "yes"}, AuditEvent,
        money=["member_limit", "enabler_limit"]),
}

PEOPLE = {"admin": "admin", "finance": "finance", "member": "member", "enabler": "enabler"}


def _data(case: Case, town) -> dict:
    return dict(case.data(town) if callable(case.data) else case.data)


@pytest.fixture
def poster(client, town, sign_in):
    """Sign in as the case's person, then return a function posting its form."""

    def start(case: Case):
        if case.who == "resident":
            sign_in(town["residents"][0])
        elif case.who != "anonymous":
            sign_in(town[PEOPLE[case.who]])
        return lambda data: client.post(case.url, data=data)

    return start


def _money_cases():
    return [pytest.param(name, f, id=f"{name}:{f}") for name, case in CASES.items() for f in case.money]


def _text_cases():
    return [pytest.param(name, f, id=f"{name}:{f}") for name, case in CASES.items() for f in case.text]


@pytest.mark.parametrize(("name", "field_name"), _money_cases())
def test_an_amount_in_other_digits_is_refused_beside_the_field(name, field_name, poster, town, engine):
    case = CASES[name]
    post = poster(case)
    before = _count(engine, case.model)
    for typed in OTHER_DIGITS:
        response = post({**_data(case, town), field_name: typed})
        assert response.status_code in (200, 400), (typed, response.status_code)
        assert DIGITS in _beside(response.get_data(as_text=True), field_name), typed
        assert _count(engine, case.model) == before, f"{typed!r} was accepted as an amount"


@pytest.mark.parametrize(("name", "field_name"), _text_cases())
def test_bidirectional_overrides_are_refused_beside_the_field(name, field_name, poster, town, engine):
    case = CASES[name]
    post = poster(case)
    before = _count(engine, case.model)
    for typed in BIDI_TEXT:
        response = post({**_data(case, town), field_name: typed})
        assert response.status_code in (200, 400), (typed, response.status_code)
        assert BIDI in _beside(response.get_data(as_text=True), field_name), typed
        assert _count(engine, case.model) == before, f"{typed!r} was stored"


@pytest.mark.parametrize(("name", "field_name"), _text_cases())
def test_nul_and_controls_are_removed_and_only_controls_is_empty(name, field_name, poster, town, engine):
    case = CASES[name]
    post = poster(case)
    before = _count(engine, case.model)
    response = post({**_data(case, town), field_name: "\x00\x1b\x00"})
    assert response.status_code in (200, 400)
    _beside(response.get_data(as_text=True), field_name)  # "Enter a title", "Enter your name", …
    assert _count(engine, case.model) == before
    good = _data(case, town)
    good[field_name] = good[field_name][:3] + "\x00\x07" + good[field_name][3:]
    response = post(good)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    assert _count(engine, case.model) == before + 1
    if field_name in case.column:
        with open_session(engine, write=False) as reader:
            column = getattr(case.model, case.column[field_name])
            stored = reader.execute(select(column).order_by(case.model.id.desc()).limit(1)).scalar_one()
        assert "\x00" not in stored and "\x07" not in stored
        assert stored.replace("\r\n", "\n") == (good[field_name].replace("\x00\x07", "")
                                                .replace("\r\n", "\n"))


def _digits(number: int, zero: str) -> str:
    """``number`` written in the digits of another script, given its zero (U+0660, U+FF10)."""
    return "".join(chr(ord(zero) + int(c)) for c in str(number))


def test_a_selected_team_in_other_digits_is_not_that_team(poster, town, engine):
    """``int("١")`` is 1: the team select took an Arabic-Indic team number for that team."""
    post = poster(CASES["allocation"])
    before = _count(engine, JournalEntry)
    for zero in ("\u0660", "\uff10"):  # Arabic-Indic, full-width
        response = post({**_data(CASES["allocation"], town), "team_id": _digits(town["team"].id, zero)})
        assert response.status_code in (200, 400)
        _beside(response.get_data(as_text=True), "team_id")
        assert _count(engine, JournalEntry) == before


@pytest.mark.parametrize("typed", ["²", "٢", "２"])
def test_a_page_number_in_other_digits_is_the_first_page(client, town, typed):
    """``"²".isdigit()`` is true and ``int("²")`` raises: a 500; ``"٢"`` was page 2 (a 404)."""
    response = client.get(f"/teams/shirebrook/ledger?page={typed}")
    assert response.status_code == 200
    # The language switch links to this same address in each language, so it keeps ?page= as typed.
    def page(html: str) -> str:
        return re.sub(r'<nav class="app-language-switch".*?</nav>', "", html, flags=re.S)

    assert page(response.get_data(as_text=True)) == page(client.get("/teams/shirebrook/ledger").get_data(as_text=True))


def test_a_url_number_in_other_digits_is_not_found(client, town):
    """Werkzeug's ``<int:…>`` matched ``\\d+``: ``/ideas/５`` was idea 5."""
    idea_id = town["idea_id"]
    assert client.get(f"/teams/shirebrook/ideas/{idea_id}").status_code == 200
    for zero in ("\uff10", "\u0660"):
        assert client.get(f"/teams/shirebrook/ideas/{_digits(idea_id, zero)}").status_code == 404


def test_a_ballot_choice_in_other_digits_is_no_choice(client, session, town, sign_in, engine):
    """``"²".isdigit()`` is true, so ``int("²")`` in the ballot view gave a 500."""
    rnd = open_round(session, town, [session.get(Idea, town["idea_id"])])
    session.commit()
    sign_in(town["residents"][1])
    for path in ("review", "ballot"):
        response = client.post(f"/teams/shirebrook/rounds/{rnd.id}/{path}", data={"idea": ["²"]})
        assert response.status_code in (200, 400), (path, response.status_code)
    assert _count(engine, Ballot) == 0


def test_a_spend_against_an_idea_in_other_digits_is_not_a_500(poster, town, engine):
    post = poster(CASES["spend request"])
    response = post({**_data(CASES["spend request"], town), "idea_id": "²"})
    assert response.status_code != 500


# --------------------------------------------------------------------------- every form, by class


def _app_form_classes() -> list[type]:
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            importlib.import_module(info.name)
    found, todo = [], [FlaskForm]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in PACKAGES:
                found.append(sub)
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _base():
    base = getattr(importlib.import_module("community.forms"), "AppForm", None)
    assert base is not None, "community.forms has no AppForm: there is no shared base form"
    return base


def test_every_form_in_the_app_inherits_the_shared_base():
    classes = _app_form_classes()
    assert len(classes) > 40  # the walk found the app's forms
    base = _base()
    outside = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, base)]
    assert outside == [], f"forms not built on community.forms.AppForm: {outside}"


def _text_fields(form) -> list:
    return [f for f in form if isinstance(f, StringField) and not isinstance(f, PasswordField)]


def test_every_text_field_of_every_form_is_cleaned_and_checked(app):
    """Each form is built with NUL and an override in every text field: each field drops the NUL
    and says the override is refused. Passwords are compared as typed, so they are left alone."""
    checked = 0
    for form_class in _app_form_classes():
        with app.test_request_context(method="POST"):
            names = [f.name for f in _text_fields(form_class(formdata=MultiDict(), meta={"csrf": False}))]
            formdata = MultiDict({n: "Bench\x00\u202e by the pond" for n in names})
            form = form_class(formdata=formdata, meta={"csrf": False})
            for text_field in _text_fields(form):
                label = f"{form_class.__name__}.{text_field.name}"
                assert "\x00" not in str(text_field.data or ""), f"{label} kept a NUL"
                text_field.validate(form)
                assert any(BIDI in e for e in text_field.errors), f"{label} accepted a bidi override"
                checked += 1
            for password in (f for f in form if isinstance(f, PasswordField)):
                password.process(MultiDict({password.name: "pass\x00\u202eword"}))
                assert password.data == "pass\x00\u202eword"
    assert checked > 60


def test_every_amount_field_is_a_money_field(app):
    """A field whose label asks for pounds is the one MoneyField (ASCII digits, two places)."""
    from ledger import forms as ledger_forms

    money_field = getattr(ledger_forms, "MoneyField", None)
    assert money_field is not None, "ledger.forms has no MoneyField"
    amounts = 0
    for form_class in _app_form_classes():
        with app.test_request_context(method="POST"):
            for f in form_class(formdata=MultiDict(), meta={"csrf": False}):
                if "pounds" in str(f.label.text).lower():
                    assert isinstance(f, money_field), f"{form_class.__name__}.{f.name} is not a MoneyField"
                    amounts += 1
    assert amounts >= 13


def test_a_form_cannot_declare_a_field_that_reads_other_digits(app):
    """IntegerField, DecimalField and ``coerce=int`` take ``"٥"`` as 5: the base refuses them."""
    from wtforms import DecimalField, IntegerField, SelectField

    base = _base()

    class Counting(base):
        count = IntegerField("How many")

    class Pricing(base):
        price = DecimalField("Price")

    class Choosing(base):
        team = SelectField("Team", coerce=int, choices=[(1, "One")])

    with app.test_request_context(method="POST"):
        for form_class in (Counting, Pricing, Choosing):
            with pytest.raises(TypeError, match="ascii_int|WholeNumberField"):
                form_class(meta={"csrf": False})
