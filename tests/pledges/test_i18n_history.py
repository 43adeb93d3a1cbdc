"""What the app itself wrote into records that never change, shown in the reader's language (issue 16,
community/sentences.py): a pledge's history and status reason (pledges/reasons.py) and the ledger's
descriptions (ledger/descriptions.py) stay English in the database, the statements and the CSV file,
and a Polish or Romanian page writes them in its language; what a person typed is shown as typed."""

import datetime as dt

import pytest
from babel.dates import format_date
from sqlalchemy import select

from community.db import open_session
from community.formatting import long_date
from ledger.descriptions import DESCRIPTIONS
from ledger.models import JournalEntry
from pledges import services
from pledges.models import Pledge, PledgeEvent
from pledges.reasons import REASONS
from tests.pledges.conftest import money_pledge, receive
from tests.support.factories import TODAY

# ---- the sentences --------------------------------------------------------------------------


def test_the_records_keep_the_english_they_always_had(app):
    """The stored text is what the app wrote before (f-strings), in any request's language: the
    hash chain, the statements, the CSV files and the idempotency hashes see no change."""
    day = dt.date(2026, 11, 4)
    with app.test_request_context("/?lang=pl"):
        assert REASONS.english("lapsed", date=day) == f"Its date, {day:%-d %B %Y}, passed before it was fulfilled."
        assert REASONS.english("on_behalf", name="Ben Member") == "Recorded by Ben Member on their behalf"
        assert REASONS.english("reminded") == "A reminder was emailed"
        assert DESCRIPTIONS.english("pledge_received", reference="P00007") == "Pledge P00007 received"
        assert DESCRIPTIONS.english("virement", from_team="A", to_team="B") == "Virement from A to B"
        assert DESCRIPTIONS.english("allocation") == "Budget allocation"


@pytest.mark.parametrize(("lang", "stored", "shown"), [
    ("pl", "Its date, 4 November 2026, passed before it was fulfilled.", "Termin, 4 listopada 2026, minął przed realizacją."),
    ("ro", "Its date, 4 November 2026, passed before it was fulfilled.",
     "Termenul, 4 noiembrie 2026, a trecut înainte ca angajamentul să fie îndeplinit."),
    ("pl", "Recorded by Ben Member on their behalf", "Zapisane w imieniu darczyńcy przez: Ben Member"),
    ("ro", "A reminder was emailed", "S-a trimis un memento prin e-mail"),
    ("en", "A reminder was emailed", "A reminder was emailed"),
    ("pl", "We moved away", "We moved away"),  # the pledger's own words
    ("pl", "Its date, 31 February 2026, passed before it was fulfilled.",  # not a date the app writes
     "Its date, 31 February 2026, passed before it was fulfilled."),
])
def test_a_pledge_reason_is_written_again_in_the_readers_language(app, lang, stored, shown):
    with app.test_request_context(f"/?lang={lang}"):
        assert REASONS.in_language(stored) == shown


@pytest.mark.parametrize(("lang", "stored", "shown"), [
    ("pl", "Pledge P00007 received", "Wpłata z zobowiązania P00007"),
    ("ro", "Gift beyond pledge P00007 received", "Donație primită peste angajamentul P00007"),
    ("pl", "Reversal of L000012: Pledge P00007 received", "Storno L000012: Wpłata z zobowiązania P00007"),
    ("ro", "Reversal of L000012: Bus pass for an apprentice", "Stornare L000012: Bus pass for an apprentice"),
    ("pl", "Virement from Shirebrook Connected Team to Gamesley Connected Team",
     "Przesunięcie środków z Shirebrook Connected Team do Gamesley Connected Team"),
    ("ro", "Budget allocation", "Alocare de buget"),
    ("pl", "Bus pass for an apprentice", "Bus pass for an apprentice"),  # a spend's purpose, as typed
    ("pl", "", ""),
])
def test_a_ledger_description_is_written_again_in_the_readers_language(app, lang, stored, shown):
    with app.test_request_context(f"/?lang={lang}"):
        assert DESCRIPTIONS.in_language(stored) == shown


# ---- on the pages ---------------------------------------------------------------------------


def _events(engine, pledge_id) -> list[PledgeEvent]:
    with open_session(engine, write=False) as s:
        return list(s.execute(select(PledgeEvent).where(PledgeEvent.pledge_id == pledge_id)
                              .order_by(PledgeEvent.id)).scalars())


def test_a_pledges_history_and_lapse_reason_are_shown_in_polish_and_stored_in_english(
        app, client, session, world, sign_in, engine):
    pledge = services.make_pledge(
        session=session, team=world["team"], made_by=world["staff"], kind="money", today=TODAY - dt.timedelta(days=30),
        description="£200 towards the youth space", on_behalf_name="Shirebrook Co-op", on_behalf_is_organisation=True,
        contact_email="coop@example.org", amount_pence=20_000, due_on=TODAY - dt.timedelta(days=1))
    session.commit()
    services.send_reminder(session=session, team=world["team"], pledge_id=pledge.id, actor_id=world["staff"].id,
                           send=lambda **message: None)
    session.commit()
    services.lapse_due(session=session, today=TODAY)
    session.commit()
    stored = [(e.action, e.reason) for e in _events(engine, pledge.id)]
    due = TODAY - dt.timedelta(days=1)
    assert stored == [("made", f"Recorded by {world['staff'].name} on their behalf"),
                      ("reminded", "A reminder was emailed"),
                      ("lapsed", f"Its date, {due:%-d %B %Y}, passed before it was fulfilled.")]
    sign_in(world["staff"])
    page = client.get(f"/teams/{world['team'].slug}/pledges/{pledge.id}?lang=pl").get_data(as_text=True)
    with app.test_request_context("/?lang=pl"):
        polish_due = long_date(due)
    assert polish_due == f"{due.day} {format_date(due, 'MMMM', locale='pl')} {due.year}"  # "22 listopada 2026"
    assert f"Termin, {polish_due}, minął przed realizacją." in page
    assert f"Złożone — Zapisane w imieniu darczyńcy przez: {world['staff'].name}" in page
    assert "Przypomniano — Wysłano przypomnienie e-mailem" in page
    for english in ("on their behalf", "A reminder was emailed", "passed before it was fulfilled", "Reminded"):
        assert english not in page
    english_page = client.get(f"/teams/{world['team'].slug}/pledges/{pledge.id}?lang=en").get_data(as_text=True)
    assert "Reminded — A reminder was emailed" in english_page and "Made — Recorded by" in english_page


def test_a_persons_own_withdrawal_reason_stays_as_they_wrote_it(client, session, world, sign_in):
    pledge = money_pledge(session, world)
    services.withdraw(session=session, team=world["team"], pledge_id=pledge.id, actor=world["staff"],
                      reason="A reminder was emailed twice, please stop", is_team_staff=True)
    session.commit()
    sign_in(world["staff"])
    page = client.get(f"/teams/{world['team'].slug}/pledges/{pledge.id}?lang=ro").get_data(as_text=True)
    assert "Retrase — A reminder was emailed twice, please stop" in page


def test_the_team_ledger_shows_the_apps_descriptions_in_romanian_and_stores_english(
        client, session, world, engine):
    pledge = money_pledge(session, world, pence=5_000)
    receive(session, world, pledge, 7_000, "k-gift", extra_as_gift=True)
    with open_session(engine, write=False) as s:
        descriptions = sorted(s.execute(select(JournalEntry.description).where(
            JournalEntry.description.like("%" + pledge.reference + "%"))).scalars())
        gift = s.execute(select(Pledge).where(Pledge.gift_of_pledge_id == pledge.id)).scalar_one()
    assert descriptions == [f"Gift beyond pledge {pledge.reference} received", f"Pledge {pledge.reference} received"]
    slug = world["team"].slug
    page = client.get(f"/teams/{slug}/ledger?lang=ro").get_data(as_text=True)
    assert f"Încasare pentru angajamentul {pledge.reference}" in page
    assert f"Donație primită peste angajamentul {pledge.reference}" in page
    assert f"Pledge {pledge.reference} received" not in page
    assert f"Pledge {pledge.reference} received" in client.get(f"/teams/{slug}/ledger?lang=en").get_data(as_text=True)
    # The gift's own pledge: its description the app wrote, in the reader's language too.
    assert gift.description == f"Extra gift beyond pledge {pledge.reference}: £200 towards the youth space"
    wall = client.get(f"/teams/{slug}/pledges?lang=pl").get_data(as_text=True)
    assert f"Dodatkowy dar ponad zobowiązanie {pledge.reference}: £200 towards the youth space" in wall
