"""Residents in their own language (issue 16): refusals built from parameters, the date input,
the staff invitation, the app's own idea updates and the withheld payee are written in the
language of the request (or of the email's recipient); the council's records stay English."""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from pathlib import Path

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from babel.dates import get_month_names
from flask import url_for
from flask_wtf import FlaskForm
from sqlalchemy import text
from sqlmodel import select

from community import services
from community.dates import _MONTHS, DateError, DateInputField, month_numbers, parse_date_parts
from community.db import open_session, utcnow
from community.i18n import force_locale
from community.models import MailMessage
from ledger import services as ledger
from pledges.models import Pledge
from tests.support.clock import today
from tests.support.factories import SECRET, feasible_idea, open_round
from votes import services as votes
from votes.explanations import update_text
from votes.models import Ballot, IdeaUpdate, Round

ROOT = Path(__file__).resolve().parents[2]


def _refusal(action) -> str:
    with pytest.raises(votes.VotesError) as caught:
        action()
    return caught.value.message


# ---- refusals with parameters ------------------------------------------------------------


def test_an_ideas_refusals_are_whole_sentences_in_the_requests_language(app, session, world):
    def propose(**changes):
        fields = dict(title="Bench", description="A bench by the pond", estimated_cost_pence=10_000) | changes
        return lambda: votes.propose_idea(
            session=session, team=world["team"], proposer=world["residents"][0], **fields
        )

    with app.test_request_context("/?lang=pl"):
        assert _refusal(propose(title="   ")) == "Wpisz tytuł."
        assert _refusal(propose(title="x" * 121)) == "Tytuł może mieć najwyżej 120 znaków."
        assert _refusal(propose(estimated_cost_pence=0)) == "Wpisz szacowany koszt większy niż £0."
    with app.test_request_context("/?lang=ro"):
        assert _refusal(propose(description="")) == "Scrieți ce este și pe cine ajută."
        idea = votes.propose_idea(
            session=session,
            team=world["team"],
            proposer=world["residents"][0],
            title="Mural",
            description="On the wall",
            estimated_cost_pence=5_000,
        )
        assert (
            _refusal(
                lambda: votes.review_idea(
                    session=session,
                    team=world["team"],
                    idea_id=idea.id,
                    reviewer_id=world["member"].id,
                    decision="not_feasible",
                )
            )
            == "Introduceți motivul pentru care nu este realizabilă."
        )
    with app.test_request_context("/"):
        assert _refusal(propose(title="x" * 121)) == "The title must be 120 characters or fewer."
    session.rollback()


def test_the_ballots_rules_refuse_in_the_voters_language_with_plurals(app, session, world):
    ideas = [feasible_idea(session, world, "Bench", 10_000), feasible_idea(session, world, "Mural", 20_000)]
    rnd = open_round(session, world, ideas, ballot_type="approval_k", k=1)
    session.commit()

    def cast(chosen):
        return lambda: votes.cast_ballot(
            session=session,
            rnd_id=rnd.id,
            person=world["residents"][1],
            secret=SECRET,
            idea_ids=[i.id for i in chosen],
        )

    with app.test_request_context("/?lang=ro"):
        assert _refusal(cast(ideas)) == "Alegeți cel mult 1 idee; ați ales 2."
        assert _refusal(cast([])) == "Alegeți cel puțin o idee."
    with app.test_request_context("/?lang=pl"):
        assert _refusal(cast(ideas)) == "Wybierz najwyżej 1 pomysł; wybrano: 2."
    with app.test_request_context("/"):
        assert _refusal(cast(ideas)) == "Choose no more than 1 idea; you chose 2."


def _move_round(engine, round_id, **times):
    with open_session(engine, write=True) as s:
        rnd = s.get(Round, round_id)
        for name, value in times.items():
            setattr(rnd, name, value)
        s.commit()


@pytest.mark.parametrize(
    ("lang", "when", "message"),
    [("pl", "closed", "Ta runda jest zamknięta."),
     ("ro", "closed", "Această rundă este încheiată."),
     ("pl", "not_yet", "Głosowanie w tej rundzie jeszcze się nie rozpoczęło."),
     ("ro", "not_yet", "Votul în această rundă nu a început încă.")],
)
def test_a_vote_in_a_round_that_is_not_open_is_refused_in_the_voters_language(
    client, session, world, sign_in, engine, lang, when, message
):
    """votes.services._checked_cast's RoundClosed, posted through the ballot page: the voter opened the
    ballot while the round was open; it closed (or was moved to open later) before they sent it."""
    ideas = [feasible_idea(session, world, "Bench", 10_000), feasible_idea(session, world, "Mural", 20_000)]
    rnd = open_round(session, world, ideas)
    session.commit()
    sign_in(world["residents"][1])
    base = f"/teams/{world['team'].slug}/rounds/{rnd.id}"
    assert client.get(f"{base}?lang={lang}").status_code == 200
    now = utcnow()
    if when == "closed":
        _move_round(engine, rnd.id, closes_at=now - dt.timedelta(minutes=1))
    else:
        _move_round(engine, rnd.id, opens_at=now + dt.timedelta(days=1), closes_at=now + dt.timedelta(days=8))
    response = client.post(f"{base}/ballot?lang={lang}", data={"idea": [ideas[0].id], "action": "submit"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html, html
    assert "This round is" not in html
    with open_session(engine, write=False) as s:
        assert s.execute(select(Ballot)).first() is None


def test_residents_only_and_confirm_first_are_translated(app, session, world):
    with app.test_request_context("/?lang=pl"):
        bench = feasible_idea(session, world, "Bench", 10_000)
        message = _refusal(lambda: votes.support(session=session, idea_id=bench.id, person=world["outsider"]))
        assert message.startswith("Tylko mieszkańcy miejscowości tego zespołu mogą tu popierać pomysły.")
        world["residents"][2].email_confirmed_at = None
        with pytest.raises(services.EmailNotConfirmed) as caught:
            services.require_confirmed(world["residents"][2], "vote")
        assert str(caught.value) == (
            "Potwierdź swój adres e-mail, zanim zagłosujesz: użyj linku, który wysłaliśmy "
            "na res2@example.org, albo poproś o nowy."
        )
    session.rollback()


# ---- the date input ----------------------------------------------------------------------


class _WhenForm(FlaskForm):
    when = DateInputField("When")


def _labels(html: str) -> list[str]:
    """The three boxes' labels, then the hint."""
    labels = [
        re.search(rf'for="when-{part}">\s*(.*?)\s*</label>', html).group(1)
        for part in ("day", "month", "year")
    ]
    return [*labels, re.search(r'class="govuk-hint">\s*(.*?)\s*</div>', html).group(1)]


def test_the_date_inputs_labels_hint_and_messages_follow_the_page(app):
    with app.test_request_context("/?lang=pl"):
        assert _labels(str(_WhenForm(formdata=None).when())) == [
            "Dzień",
            "Miesiąc",
            "Rok",
            "Na przykład 27 3 2026",
        ]
        with pytest.raises(DateError, match="^Data musi zawierać miesiąc$"):
            parse_date_parts("3", "", "2026")
        with pytest.raises(DateError, match="^Data musi być prawdziwą datą$"):
            parse_date_parts("31", "2", "2026")
    with app.test_request_context("/?lang=ro"):
        with pytest.raises(DateError, match="^Data trebuie să includă ziua și anul$"):
            parse_date_parts("", "2", "")
    with app.test_request_context("/"):
        assert _labels(str(_WhenForm(formdata=None).when())) == [
            "Day",
            "Month",
            "Year",
            "For example, 27 3 2026",
        ]
        with pytest.raises(DateError, match="^The date must include a month and year$"):
            parse_date_parts("3", "", "")


def test_a_pledge_forms_date_is_refused_in_polish(client, world, sign_in):
    sign_in(world["residents"][0])
    page = client.post(
        "/teams/shirebrook/pledges/new/time?lang=pl",
        data={
            "description": "Gardening",
            "hours": "2",
            "frequency": "once",
            "visibility": "public_named",
            "due_on-day": "3",
            "due_on-month": "",
            "due_on-year": "2030",
        },
    )
    html = page.get_data(as_text=True)
    assert "Data musi zawierać miesiąc" in html and "Dzień" in html


@pytest.mark.parametrize(
    ("lang", "typed", "month"),
    [("pl", "listopada", 11), ("pl", "Listopad", 11), ("pl", "lis", 11), ("pl", "września", 9),
     ("pl", "wrzesnia", 9), ("pl", "paź", 10), ("pl", "PAZDZIERNIKA", 10), ("pl", "lutego", 2), ("pl", "maj", 5),
     ("pl", "maja", 5), ("pl", "November", 11), ("pl", "3", 3),
     ("ro", "noiembrie", 11), ("ro", "nov.", 11), ("ro", "Nov", 11), ("ro", "sept.", 9), ("ro", "iunie", 6),
     ("ro", "iul", 7), ("ro", "mai", 5), ("ro", "December", 12),
     ("en", "november", 11), ("en", "Sept", 9)],
)
def test_a_month_may_be_typed_in_the_pages_language(app, lang, typed, month):
    with app.test_request_context(f"/?lang={lang}"):
        assert parse_date_parts("11", typed, "2031") == dt.date(2031, month, 11)


@pytest.mark.parametrize(
    ("lang", "typed", "message"),
    [("pl", "listopadx", "Data musi być prawdziwą datą"), ("pl", "noiembrie", "Data musi być prawdziwą datą"),
     ("ro", "listopada", "Data trebuie să fie o dată reală"), ("ro", "lis", "Data trebuie să fie o dată reală"),
     ("en", "listopada", "The date must be a real date"), ("en", "noiembrie", "The date must be a real date")],
)
def test_another_languages_month_or_a_misspelt_one_is_not_a_real_date(app, lang, typed, message):
    with app.test_request_context(f"/?lang={lang}"):
        with pytest.raises(DateError) as caught:
            parse_date_parts("11", typed, "2031")
    assert str(caught.value) == message and caught.value.parts == {"month"}


@pytest.mark.parametrize("lang", ["pl", "ro"])
def test_every_month_name_of_a_language_is_read_and_none_means_another_month_in_english(app, lang):
    names = 0
    with app.test_request_context(f"/?lang={lang}"):
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in get_month_names(width, context, lang).items():
                    assert parse_date_parts("1", name, "2031") == dt.date(2031, number, 1), name
                    names += 1
    assert names == 48
    numbers = month_numbers(lang)
    for key, number in numbers.items():
        assert _MONTHS.get(key, number) == number, key


def _pledge_time(client, lang, month, year):
    return client.post(
        f"/teams/shirebrook/pledges/new/time?lang={lang}",
        data={"description": "Gardening", "hours": "2", "frequency": "once", "visibility": "public_named",
              "due_on-day": "11", "due_on-month": month, "due_on-year": str(year)},
    )


@pytest.mark.parametrize(("lang", "month", "refused"),
                         [("pl", "listopada", "Data musi być prawdziwą datą"),
                          ("ro", "noiembrie", "Data trebuie să fie o dată reală")])
def test_a_pledge_by_a_date_typed_in_polish_or_romanian(client, session, world, sign_in, engine, lang, month, refused):
    sign_in(world["residents"][0])
    year = today().year + 1
    wrong = _pledge_time(client, lang, month + "x", year)
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 200  # the form again (pledges/views.py answers a refused form so)
    assert re.search(r'id="due_on-error"[^>]*>.*?' + re.escape(refused), html, re.S), html
    assert f'value="{month}x"' in html  # what was typed stays in the box
    with open_session(engine, write=False) as s:
        assert s.execute(select(Pledge)).first() is None
    assert _pledge_time(client, lang, month, year).status_code == 302
    with open_session(engine, write=False) as s:
        assert [p.due_on for p in s.execute(select(Pledge)).scalars()] == [dt.date(year, 11, 11)]


# ---- the staff invitation ----------------------------------------------------------------


def _mail_to(session, address) -> MailMessage:
    return session.exec(select(MailMessage).where(MailMessage.to_address == address)).one()


def test_an_invitation_is_written_in_the_recipients_language(app, session, world):
    admin, team = world["finance"], world["team"]
    polish = world["residents"][3]
    polish.language = "pl"
    session.add(polish)
    session.commit()
    link = lambda token: f"https://thriving.example/invitations/{token}"  # noqa: E731
    with app.test_request_context("/"):  # an English page; the recipient reads Polish
        what = services.send_invitation(
            session=session,
            actor=admin,
            email=polish.email,
            role="member",
            team_id=team.id,
            link=link,
            email_language="ro",
        )
        fresh = services.send_invitation(
            session=session,
            actor=admin,
            email="new@example.org",
            role="finance",
            team_id=None,
            link=link,
            email_language="ro",
        )
    with app.test_request_context("/?lang=pl"):
        services.send_invitation(
            session=session,
            actor=admin,
            email="other@example.org",
            role="enabler",
            team_id=team.id,
            link=link,
        )
        assert (
            services.describe_role(session=session, role="finance", team_id=None)
            == "pracownik działu finansów"
        )
    session.commit()
    assert what == "a member of Shirebrook Connected Team" and fresh == "finance staff"  # the admin's page
    mail = _mail_to(session, polish.email)  # the account's own language wins over the form's choice
    assert mail.subject == "Zaproszenie do zespołu Shirebrook Connected Team"
    assert "jako: członek zespołu Shirebrook Connected Team" in mail.body and "w ciągu 7 dni" in mail.body
    mail = _mail_to(session, "new@example.org")  # no account: the form's choice
    assert mail.subject == "Sunteți invitat în Thriving Communities"
    assert "ca personal financiar" in mail.body and "Acceptați în 7 zile" in mail.body
    mail = _mail_to(session, "other@example.org")  # no account, no choice: the page's language
    assert (
        mail.subject == "Zaproszenie do zespołu Shirebrook Connected Team"
        and "koordynator zespołu" in mail.body
    )


def test_the_invite_form_passes_its_language_to_the_email(
    client, session, world, make_person, sign_in, engine
):
    admin = make_person("ada@example.org", role="admin")
    assert sign_in(admin).status_code == 302
    response = client.post(
        "/admin/invite",
        data={"email": "ion@example.org", "role": "finance", "team_id": "0", "email_language": "ro"},
    )
    assert response.status_code == 302
    from community.db import open_session

    with open_session(engine, write=False) as reader:
        assert _mail_to(reader, "ion@example.org").subject == "Sunteți invitat în Thriving Communities"


# ---- the app's own idea updates ----------------------------------------------------------


def _funded_world(session, world):
    idea = feasible_idea(session, world, "Bench", 10_000)
    rnd = open_round(session, world, [idea])
    votes.cast_ballot(
        session=session, rnd_id=rnd.id, person=world["residents"][1], secret=SECRET, idea_ids=[idea.id]
    )
    votes.close_round(session=session, round_id=rnd.id, actor_id=world["member"].id, now=rnd.closes_at)
    session.commit()
    return idea, {u.status: u for u in votes.updates_of(session=session, idea_id=idea.id)}


def test_funded_and_feasible_updates_are_written_in_the_readers_language(app, client, session, world):
    idea, updates = _funded_world(session, world)
    funded, feasible = updates["funded"], updates["feasible"]
    assert funded.kind == "funded" and funded.params["round"] == "Spring round"
    assert funded.text.startswith("Funded in Spring round: funded: 1 vote")  # the English record stays
    assert feasible.kind == "feasible" and feasible.params == {"cost_pence": 10_000}
    with app.test_request_context("/?lang=pl"):
        assert update_text(funded).startswith("Sfinansowany w rundzie Spring round: sfinansowany: 1 głos")
        assert update_text(feasible) == "Wykonalny; zespół szacuje koszt na £100.00."
        page = url_for("votes.idea", slug="shirebrook", idea_id=idea.id, lang="ro")
    with app.test_request_context("/"):
        assert update_text(funded) == funded.text and update_text(feasible) == feasible.text
    html = client.get(page).get_data(as_text=True)
    assert "Finanțată în Spring round: finanțată" in html and "Funded in" not in html
    old = IdeaUpdate(idea_id=idea.id, status="funded", text="Funded in an old round: as it was")
    with app.test_request_context("/?lang=pl"):
        assert update_text(old) == "Funded in an old round: as it was"  # a row with no kind shows its text


def _migration():
    path = ROOT / "migrations" / "versions" / "i18n_0001_update_kind.py"
    spec = importlib.util.spec_from_file_location("i18n_0001", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_gives_old_rows_their_kind_only_when_the_text_is_the_apps(session, engine, world):
    idea, updates = _funded_world(session, world)
    human = votes.add_delivery_update(
        session=session,
        team=world["team"],
        idea_id=idea.id,
        author_id=world["member"].id,
        status="funded",
        text="Funded in Spring round: we start in May",
    )  # a person's own words
    session.commit()
    session.execute(text("UPDATE vote_idea_update SET kind = NULL, params = NULL"))  # as before the migration
    session.commit()
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        _migration()._backfill()
    session.expire_all()
    assert session.get(IdeaUpdate, updates["funded"].id).kind == "funded"
    assert session.get(IdeaUpdate, updates["funded"].id).params == updates["funded"].params
    assert session.get(IdeaUpdate, updates["feasible"].id).params == {"cost_pence": 10_000}
    assert session.get(IdeaUpdate, human.id).kind is None


# ---- the withheld payee ------------------------------------------------------------------


def test_the_withheld_payee_is_translated_on_the_page_and_english_in_the_open_data_file(
    client, session, world
):
    team, finance = world["team"], world["finance"]
    held = ledger.hold(
        session=session,
        team=team,
        amount_pence=2_000,
        category="equipment",
        description="Litter pickers",
        actor_id=finance.id,
        idempotency_key="h1",
        payee="Jo Bloggs",
        payee_is_individual=True,
    )
    ledger.settle_hold(
        session=session,
        hold_id=held.id,
        actual_pence=2_000,
        actor_id=finance.id,
        effective_date=today(),
        idempotency_key="s1",
    )
    session.commit()
    polish = client.get("/teams/shirebrook/ledger?lang=pl").get_data(as_text=True)
    assert "osoba prywatna (dane ukryte)" in polish and "individual (withheld)" not in polish
    assert "Sprzęt" in polish and "Jo Bloggs" not in polish  # the category in Polish too
    assert "individual (withheld)" in client.get("/teams/shirebrook/ledger?lang=en").get_data(as_text=True)
    english_csv = client.get("/teams/shirebrook/ledger.csv").data
    assert client.get("/teams/shirebrook/ledger.csv?lang=pl").data == english_csv
    assert b"Redacted" in english_csv and b"Equipment" in english_csv


def test_the_payee_and_category_filters_keep_other_text(app):
    from ledger.codes import shown_category
    from ledger.queries import WITHHELD, shown_payee

    with app.test_request_context("/?lang=ro"):
        assert shown_payee(WITHHELD) == "persoană fizică (date ascunse)"
        assert shown_payee("Acme Ltd") == "Acme Ltd" and shown_payee(None) == ""
        assert (
            shown_category("crisis support")
            == shown_category("Crisis support")
            == "Sprijin în situații de criză"
        )
        assert shown_category("bicycles") == "Bicycles"
    with force_locale("en"):
        assert shown_payee(WITHHELD) == WITHHELD
