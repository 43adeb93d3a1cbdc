"""Quick spend views: permissions, every refusal shown clearly with nothing written, receipts,
the confirm-identity step, emails, the dashboard, limits and the expire command."""

import datetime as dt
import io
import re
import time
import uuid
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select, update

from community.db import open_session, utcnow
from community.models import AuditEvent, AuthSession, Person, Team
from demo.spend import tiny_png
from ledger import services as ledger
from ledger.models import Hold, JournalEntry
from spend import services as spend
from spend.models import SpendRequest
from tests.date_parts import date_parts
from tests.support.clock import today
from tests.support.factories import PASSWORD
from tests.support.statements import statements_run

from . import receipt_files as files
from .test_services import HTML, PDF


def count(engine, model) -> int:
    with open_session(engine, write=False) as reader:
        return reader.execute(select(func.count()).select_from(model)).scalar_one()


def read(engine, model, ident):
    with open_session(engine, write=False) as reader:
        return reader.get(model, ident)


def key_on(page: str) -> str:
    return re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page).group(1)


def login(app, engine, person, *, at=None):
    """A new browser (test client) signed in as ``person`` with password and TOTP."""
    client = app.test_client()
    response = client.post("/sign-in", data={"email": person.email, "password": PASSWORD})
    if response.headers.get("Location", "").endswith("/sign-in/code"):
        with open_session(engine, write=False) as reader:
            secret = reader.get(Person, person.id).totp_secret
        code = pyotp.TOTP(secret).at(at or time.time())
        response = client.post("/sign-in/code", data={"code": code})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def w(app, engine, session, place_and_team, make_person):  # noqa: F811
    place, team = place_and_team
    other = Team(slug="gamesley", name="Gamesley Connected Team", place_id=place.id, cost_centre="TC1002")
    session.add(other)
    session.commit()
    people = {
        "asha": make_person("asha@example.org", role="member", team=team),
        "ben": make_person("ben@example.org", role="member", team=team),
        "erin": make_person("erin@example.org", role="enabler", team=team),
        "olu": make_person("olu@example.org", role="member", team=other),
        "fran": make_person("fran@example.org", role="finance"),
        "rita": make_person("rita@example.org"),
    }
    ledger.allocate(gl_code="R1000", session=session, team=team, amount_pence=100_000, actor_id=people["fran"].id,
                    effective_date=today(), idempotency_key="fund")
    session.commit()
    clients = {}

    def as_(name):
        if name not in clients:
            clients[name] = login(app, engine, people[name])
        return clients[name]

    return {"team": team, "other": other, "as": as_, "app": app, "engine": engine, **people}


def new_request(w, amount="45.00", who="asha", **extra):
    data = {"amount": amount, "payee": "Stagecoach", "purpose": "Bus pass for an apprentice", "category": "travel",
            "account_id": "budget", **extra}
    response = w["as"](who).post("/teams/shirebrook/spend/new", data=data)
    return response


def make_request(w, amount="45.00", who="asha") -> int:
    response = new_request(w, amount, who)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def post_action(w, who, request_id, action, slug="shirebrook", follow=True):
    client = w["as"](who)
    page = client.get(f"/teams/{slug}/spend/{request_id}")
    found = re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page.get_data(as_text=True))
    key = found.group(1) if found else uuid.uuid4().hex  # a hand-made post where no button is shown
    return client.post(f"/teams/{slug}/spend/{request_id}/{action}", data={"idempotency_key": key},
                       follow_redirects=follow)


def approve(w, request_id, who="ben", **kw):
    return post_action(w, who, request_id, "approve", **kw)


def outbox(app) -> list[str]:
    folder = Path(app.config["OUTBOX_DIR"])
    return [p.read_text() for p in folder.glob("*.eml")] if folder.is_dir() else []


def receipts(app) -> list[Path]:
    folder = Path(app.config["INSTANCE_UPLOADS"]) / "receipts"
    return list(folder.iterdir()) if folder.is_dir() else []


def pay(w, request_id, data=b"", filename="receipt.png", amount="42.00", who="asha", **extra):
    client = w["as"](who)
    page = client.get(f"/teams/shirebrook/spend/{request_id}/pay").get_data(as_text=True)
    found = re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page)
    form = {"amount": amount, **date_parts("effective_date", today()), "method": "purchase card",
            "idempotency_key": found.group(1) if found else uuid.uuid4().hex, **extra}
    if data is not None:
        form["receipt"] = (io.BytesIO(data), filename)
    return client.post(f"/teams/shirebrook/spend/{request_id}/pay", data=form,
                       content_type="multipart/form-data")


# --------------------------------------------------------------------------- permissions


def test_only_the_teams_members_see_quick_spend(w, app):
    assert app.test_client().get("/teams/shirebrook/spend").status_code == 302
    assert w["as"]("olu").get("/teams/shirebrook/spend").status_code == 404
    assert w["as"]("fran").get("/teams/shirebrook/spend").status_code == 404
    assert w["as"]("rita").get("/teams/shirebrook/spend").status_code == 403
    page = w["as"]("asha").get("/teams/shirebrook/spend")
    assert page.status_code == 200 and "£1,000.00" in page.get_data(as_text=True)


# --------------------------------------------------------------------------- the whole path


def test_request_approve_pay_and_the_public_ledger(w, app, engine):
    form = w["as"]("asha").get("/teams/shirebrook/spend/new").get_data(as_text=True)
    assert "Team budget (£1,000.00 available)" in form
    assert "resident idea" not in form  # no idea choices yet: the select is not shown
    request_id = make_request(w)
    mails = outbox(app)
    assert len(mails) == 2 and all("Bus pass for an apprentice" in m for m in mails)  # Ben and Erin
    assert "Your request for £45.00 was sent" in w["as"]("asha").get(f"/teams/shirebrook/spend/{request_id}").get_data(as_text=True)

    page = approve(w, request_id).get_data(as_text=True)
    assert "Approved: £45.00 is committed" in page
    assert read(engine, SpendRequest, request_id).status == "approved"
    assert any("approved your request" in m and "To: asha@example.org" in m for m in outbox(app))

    response = pay(w, request_id, tiny_png(), amount="42.00")
    assert response.status_code == 302
    paid = read(engine, SpendRequest, request_id)
    assert (paid.status, paid.paid_pence, paid.receipt_content_type) == ("paid", 4_200, "image/png")
    entry = read(engine, JournalEntry, paid.paid_entry_id)
    assert (entry.proposer_id, entry.approver_id, entry.receipt_ref) == (w["asha"].id, w["ben"].id, paid.receipt_ref)
    assert [p.name for p in receipts(app)] == [paid.receipt_ref]

    public = app.test_client().get("/teams/shirebrook/ledger").get_data(as_text=True)
    assert "Bus pass for an apprentice" in public and "-£42.00" in public.replace("−", "-")
    # The team and finance see who asked, who approved and the receipt; the public does not.
    for who in ("ben", "fran"):
        detail = w["as"](who).get("/teams/shirebrook/ledger").get_data(as_text=True)
        assert f"Asked by {w['asha'].name}. Approved by {w['ben'].name}." in detail
        assert paid.receipt_ref in detail
    assert "Approved by" not in public and paid.receipt_ref not in public

    download = w["as"]("asha").get(f"/teams/shirebrook/spend/{request_id}/receipt")
    assert download.status_code == 200 and download.data == receipts(app)[0].read_bytes()
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"] == "image/png"
    assert w["as"]("fran").get(f"/teams/shirebrook/spend/{request_id}/receipt").status_code == 200
    assert w["as"]("olu").get(f"/teams/shirebrook/spend/{request_id}/receipt").status_code == 404
    assert w["as"]("olu").get(f"/teams/gamesley/spend/{request_id}/receipt").status_code == 404
    assert w["as"]("rita").get(f"/teams/shirebrook/spend/{request_id}/receipt").status_code == 404
    assert app.test_client().get(f"/teams/shirebrook/spend/{request_id}/receipt").status_code == 302
    assert app.test_client().get(f"/static/../instance/receipts/{paid.receipt_ref}").status_code == 404


# --------------------------------------------------------------------------- requesting


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"amount": "abc"}, "Enter the amount in pounds and pence"),
     ({"amount": "0"}, "more than £0"),
     ({"amount": "12.345"}, "two decimal places"),
     ({"category": "stuff"}, "Not a valid choice"),
     ({"purpose": ""}, "Say in plain words"),
     ({"payee": ""}, "who will be paid"),
     ({"account_id": "99"}, "Not a valid choice")],
)
def test_bad_requests_say_why_and_write_nothing(w, engine, extra, message):
    response = new_request(w, **extra)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert count(engine, SpendRequest) == 0


def test_above_the_enablers_limit_links_to_proposing_an_idea(w, engine):
    page = new_request(w, amount="1,000.01").get_data(as_text=True)
    assert "needs a resident vote" in page and 'href="/teams/shirebrook/ideas/new"' in page
    assert count(engine, SpendRequest) == 0


def test_finance_cannot_request(w, engine):
    assert new_request(w, who="fran").status_code == 404
    assert count(engine, SpendRequest) == 0


# --------------------------------------------------------------------------- approving


def test_the_requester_cannot_approve_their_own(w, engine):
    request_id = make_request(w)
    page = approve(w, request_id, who="asha").get_data(as_text=True)
    assert "You cannot approve your own request" in page
    assert count(engine, Hold) == 0


def test_approving_twice_gives_a_clear_message_and_no_second_hold(w, engine):
    request_id = make_request(w)
    approve(w, request_id)
    page = approve(w, request_id, who="erin").get_data(as_text=True)
    assert "already approved by" in page and "Nothing more was committed" in page
    assert count(engine, Hold) == 1


def test_the_same_approval_form_sent_twice_commits_once(w, app, engine):
    request_id = make_request(w)
    client = w["as"]("ben")
    key = key_on(client.get(f"/teams/shirebrook/spend/{request_id}").get_data(as_text=True))
    for _ in range(2):
        assert client.post(f"/teams/shirebrook/spend/{request_id}/approve", data={"idempotency_key": key}).status_code == 302
    assert count(engine, Hold) == 1
    # …and the person who asked is told once.
    assert sum("approved your request" in m for m in outbox(app)) == 1


def test_another_teams_request_is_404(w, engine):
    request_id = make_request(w)
    assert approve(w, request_id, who="olu", slug="gamesley", follow=False).status_code == 404
    assert approve(w, request_id, who="olu", follow=False).status_code == 404
    assert w["as"]("olu").get(f"/teams/gamesley/spend/{request_id}").status_code == 404
    assert w["as"]("olu").get(f"/teams/gamesley/spend/{request_id}/pay").status_code == 404
    assert count(engine, Hold) == 0


def test_a_member_cannot_approve_above_their_limit(w, engine):
    request_id = make_request(w, amount="300.00")
    page = approve(w, request_id).get_data(as_text=True)
    assert "Members can approve up to £250.00" in page
    assert count(engine, Hold) == 0


def amount_error(page: str) -> str:
    """The error message shown beside the amount field (empty if none)."""
    found = re.search(r'<p id="amount-error" class="govuk-error-message">(.*?)</p>', page, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))) if found else ""


def add_enabler(w, session, make_person, name="Dee"):  # noqa: F811
    dee = make_person(f"{name.lower()}@example.org", role="enabler", team=w["team"])
    dee.name = name
    session.add(dee)
    session.commit()
    w[name.lower()] = dee
    return dee


def test_an_enablers_own_request_above_the_member_limit_is_refused_by_the_amount_when_no_one_could_approve(
        w, app, engine):
    response = new_request(w, amount="400.00", who="erin")
    assert response.status_code == 200
    assert "another enabler of Shirebrook Connected Team must approve yours" in amount_error(
        response.get_data(as_text=True))
    assert count(engine, SpendRequest) == 0 and outbox(app) == []


def test_an_enablers_own_request_above_the_member_limit_goes_to_the_other_enabler(
        w, app, engine, session, make_person):  # noqa: F811
    add_enabler(w, session, make_person)
    request_id = make_request(w, amount="400.00", who="erin")
    mails = outbox(app)
    assert len(mails) == 1 and "To: dee@example.org" in mails[0] and "Approve or reject it here" in mails[0]
    own = w["as"]("erin").get(f"/teams/shirebrook/spend/{request_id}").get_data(as_text=True)
    assert "Dee can approve this" in own and "Another member of the team" not in own
    ben = w["as"]("ben").get(f"/teams/shirebrook/spend/{request_id}").get_data(as_text=True)
    assert "You can approve up to £250.00. Dee can approve this." in ben and "Approve £400.00" not in ben
    assert "Members can approve up to £250.00. Dee can approve this." in approve(w, request_id).get_data(as_text=True)
    assert count(engine, Hold) == 0
    dee = login(app, engine, w["dee"])
    page = dee.get(f"/teams/shirebrook/spend/{request_id}").get_data(as_text=True)
    assert "Approve £400.00" in page
    response = dee.post(f"/teams/shirebrook/spend/{request_id}/approve", data={"idempotency_key": key_on(page)},
                        follow_redirects=True)
    assert "Approved: £400.00 is committed" in response.get_data(as_text=True)
    approved = read(engine, SpendRequest, request_id)
    assert (approved.status, approved.decided_by_id) == ("approved", w["dee"].id)
    assert any("approved your request" in m and "To: erin@example.org" in m for m in outbox(app))


def test_a_members_request_above_their_limit_is_sent_to_the_enabler_alone(w, app, engine):
    request_id = make_request(w, amount="300.00")
    mails = outbox(app)
    assert len(mails) == 1 and "To: erin@example.org" in mails[0]
    ben = w["as"]("ben").get(f"/teams/shirebrook/spend/{request_id}").get_data(as_text=True)
    assert "You can approve up to £250.00. Rita Morgan can approve this." in ben and "Approve £300.00" not in ben
    assert "Approve £300.00" in w["as"]("erin").get(f"/teams/shirebrook/spend/{request_id}").get_data(as_text=True)


def test_above_250_needs_a_fresh_sign_in(w, app, engine):
    request_id = make_request(w, amount="300.00")
    erin = w["as"]("erin")
    with open_session(engine, write=True) as s:
        s.execute(update(AuthSession).where(AuthSession.person_id == w["erin"].id)
                  .values(created_at=utcnow() - dt.timedelta(minutes=16)))
        s.commit()
    response = approve(w, request_id, who="erin", follow=False)
    assert response.status_code == 302 and "/spend/confirm-identity" in response.headers["Location"]
    assert count(engine, Hold) == 0
    confirm = response.headers["Location"]
    assert "password and a new code" in erin.get(confirm).get_data(as_text=True)
    with open_session(engine, write=False) as s:
        secret = s.get(Person, w["erin"].id).totp_secret
    bad = erin.post(confirm, data={"password": "wrong password", "code": "123456"})
    assert bad.status_code == 200 and "Your password is not correct" in bad.get_data(as_text=True)
    good = erin.post(confirm, data={"password": PASSWORD, "code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert good.status_code == 302 and good.headers["Location"].endswith(f"/teams/shirebrook/spend/{request_id}")
    assert "Approved: £300.00" in approve(w, request_id, who="erin").get_data(as_text=True)
    assert count(engine, Hold) == 1


@pytest.mark.parametrize("offsite", ["//evil.example", "/\\evil.example", "/\t/evil.example", "https:evil.example"])
def test_an_offsite_next_on_confirm_identity_is_refused(w, engine, offsite):
    """Issue 21, item 6: real credentials posted with an off-site next: the redirect stays here."""
    erin = w["as"]("erin")
    with open_session(engine, write=False) as s:
        secret = s.get(Person, w["erin"].id).totp_secret
    response = erin.post("/teams/shirebrook/spend/confirm-identity", query_string={"next": offsite},
                         data={"password": PASSWORD, "code": pyotp.TOTP(secret).at(time.time() + 30)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/teams/shirebrook/spend"), response.headers["Location"]
    with open_session(engine, write=False) as s:
        assert s.execute(select(AuthSession.reauthenticated_at).where(
            AuthSession.person_id == w["erin"].id, AuthSession.reauthenticated_at.is_not(None))).first()


def test_not_enough_money_refuses_and_logs_an_exception(w, engine):
    big = make_request(w, amount="900.00")
    approve(w, big, who="erin")
    small = make_request(w, amount="200.00", who="ben")
    page = approve(w, small, who="asha").get_data(as_text=True)
    assert "Not approved" in page and "not enough for £200.00" in page
    assert count(engine, Hold) == 1
    with open_session(engine, write=False) as s:
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "ledger.overspend_refused")).scalars().all()
    assert len(events) == 1 and "£200.00" in events[0].subject and "Shirebrook" in events[0].subject


# --------------------------------------------------------------------------- rejecting, withdrawing, cancelling


def test_rejecting_needs_a_reason_and_tells_the_requester(w, app, engine):
    request_id = make_request(w)
    client = w["as"]("ben")
    response = client.post(f"/teams/shirebrook/spend/{request_id}/reject", data={"reason": ""})
    assert response.status_code == 400 and "Give a reason" in response.get_data(as_text=True)
    assert read(engine, SpendRequest, request_id).status == "pending"
    response = client.post(f"/teams/shirebrook/spend/{request_id}/reject", data={"reason": "Try the food bank"})
    assert response.status_code == 302
    assert read(engine, SpendRequest, request_id).status == "rejected"
    assert any("Try the food bank" in m and "To: asha@example.org" in m for m in outbox(app))


def test_withdraw_and_cancel(w, engine):
    first = make_request(w)
    assert "only the person who asked" in post_action(w, "ben", first, "withdraw").get_data(as_text=True).lower()
    assert "was withdrawn" in post_action(w, "asha", first, "withdraw").get_data(as_text=True)
    second = make_request(w)
    approve(w, second)
    assert "released to the team’s budget" in post_action(w, "asha", second, "cancel").get_data(as_text=True)
    assert read(engine, SpendRequest, second).status == "cancelled"
    with open_session(engine, write=False) as s:
        assert ledger.available_of(session=s, team=s.get(Team, w["team"].id)) == 100_000


# --------------------------------------------------------------------------- paying


@pytest.fixture
def approved(w):
    request_id = make_request(w)
    approve(w, request_id)
    return request_id


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [(HTML, "receipt.jpg", "must be a photo (JPEG or PNG) or a PDF"),
     (b"", "receipt.png", "The receipt file is empty"),
     (None, "", "Upload the receipt"),
     (b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024), "big.png", "10 MB or smaller"),
     (files.SVG, "receipt.png", "must be a photo (JPEG or PNG) or a PDF"),
     (files.png_bomb(), "receipt.png", "The photo is too large in pixels"),
     (files.png_huge_header(), "receipt.png", "The photo is too large in pixels"),
     (files.truncated_jpeg(), "receipt.jpg", "The photo could not be opened"),
     (files.fake_png_polyglot(), "receipt.png", "The photo could not be opened")],
    ids=["html-as-jpg", "empty", "none", "over-10-mb", "svg", "bomb", "huge-header", "truncated-jpeg",
         "png-signature-then-html"],
)
def test_bad_receipts_are_refused_clearly(w, app, engine, approved, data, filename, message):
    response = pay(w, approved, data, filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert read(engine, SpendRequest, approved).status == "approved"
    assert count(engine, JournalEntry) == 1 and receipts(app) == []


def test_a_refused_photo_shows_its_message_beside_the_receipt_field(w, app, engine, approved):
    page = pay(w, approved, files.png_bomb(), "receipt.png").get_data(as_text=True)
    assert re.search(r'id="receipt-error"[^>]*>.*?The photo is too large in pixels', page, re.S), page
    assert count(engine, JournalEntry) == 1  # the approval's hold only: no payment entry
    assert read(engine, SpendRequest, approved).status == "approved" and receipts(app) == []


@pytest.mark.parametrize(
    ("lang", "data", "message"),
    [("pl", b"", "Plik pokwitowania jest pusty."),
     ("pl", HTML, "Pokwitowanie musi być zdjęciem (JPEG lub PNG) albo plikiem PDF."),
     ("ro", files.png_bomb(), "Fotografia are prea mulți pixeli."),
     ("ro", files.truncated_jpeg(), "Fotografia nu a putut fi deschisă"),
     ("pl", None, "Dodaj pokwitowanie: zdjęcie lub PDF.")],
    ids=["pl-empty", "pl-html", "ro-bomb", "ro-truncated", "pl-none"],
)
def test_a_refused_receipt_is_explained_in_the_language_of_the_page(w, app, engine, approved, lang, data, message):
    """spend/receipts.py's refusals are in the catalogue (lazy_gettext, which pybabel extracts), shown beside
    the receipt field in the language asked for, and nothing is written."""
    client = w["as"]("asha")
    page = client.get(f"/teams/shirebrook/spend/{approved}/pay").get_data(as_text=True)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page).group(1)
    form = {"amount": "42.00", **date_parts("effective_date", today()), "method": "purchase card",
            "idempotency_key": key}
    if data is not None:
        form["receipt"] = (io.BytesIO(data), "receipt.jpg")
    response = client.post(f"/teams/shirebrook/spend/{approved}/pay?lang={lang}", data=form,
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="receipt-error"[^>]*>.*?' + re.escape(message), page, re.S), page
    assert f'<html lang="{lang}"' in page
    assert read(engine, SpendRequest, approved).status == "approved"
    assert count(engine, JournalEntry) == 1 and receipts(app) == []


def test_a_phone_photo_is_stored_and_served_without_its_metadata(w, app, engine, approved):
    assert pay(w, approved, files.phone_photo(), "IMG_0042.jpg").status_code == 302
    paid = read(engine, SpendRequest, approved)
    assert paid.receipt_content_type == "image/jpeg"
    assert [p.name for p in receipts(app)] == [paid.receipt_ref]
    download = w["as"]("ben").get(f"/teams/shirebrook/spend/{approved}/receipt")
    assert download.status_code == 200 and download.headers["Content-Type"] == "image/jpeg"
    assert files.assert_clean(download.data, "JPEG").size == (40, 60)  # upright, no EXIF or GPS
    name = f"receipt-shirebrook-{approved}.jpg"
    assert download.headers["Content-Disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    assert "IMG_0042" not in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"].split(";")[0] == "sandbox"
    assert download.headers["Cache-Control"] == "no-store"


def test_a_polyglot_is_stored_as_its_image_alone(w, app, engine, approved):
    assert pay(w, approved, files.png_html_polyglot(), "receipt.png").status_code == 302
    stored = receipts(app)[0].read_bytes()
    files.assert_clean(stored, "PNG")
    download = w["as"]("asha").get(f"/teams/shirebrook/spend/{approved}/receipt")
    assert download.data == stored and download.headers["Content-Type"] == "image/png"


def test_the_same_payment_form_sent_again_keeps_one_receipt(w, app, engine, approved):
    page = w["as"]("asha").get(f"/teams/shirebrook/spend/{approved}/pay").get_data(as_text=True)
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]*)"', page).group(1)
    assert pay(w, approved, files.png_html_polyglot(), "receipt.png", idempotency_key=key).status_code == 302
    first = read(engine, SpendRequest, approved).receipt_ref
    assert pay(w, approved, files.phone_photo(), "again.jpg", idempotency_key=key).status_code == 302
    assert read(engine, SpendRequest, approved).receipt_ref == first
    assert [p.name for p in receipts(app)] == [first]  # the second upload is not left behind
    assert count(engine, JournalEntry) == 2


def test_an_unexpected_failure_after_storing_leaves_no_orphan_receipt(w, app, engine, approved, monkeypatch):
    def broken(**_kw):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(spend, "record_payment", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError, match="went away"):
        pay(w, approved, tiny_png(), "receipt.png")
    assert receipts(app) == [] and read(engine, SpendRequest, approved).status == "approved"


def test_a_50_mb_file_gets_a_form_error_not_a_bare_413(w, app, engine, approved):
    response = pay(w, approved, b"\xff\xd8\xff" + b"\x00" * (50 * 1024 * 1024), "huge.jpg")
    assert response.status_code == 302 and "too_large=1" in response.headers["Location"]
    page = w["as"]("asha").get(response.headers["Location"])
    assert page.status_code == 400
    assert "The receipt must be 10 MB or smaller" in page.get_data(as_text=True)
    assert 'name="receipt"' in page.get_data(as_text=True)
    assert read(engine, SpendRequest, approved).status == "approved" and receipts(app) == []


def test_paying_more_than_approved_is_refused(w, app, engine, approved):
    response = pay(w, approved, PDF, "receipt.pdf", amount="45.01")
    assert response.status_code == 400
    assert "more than the £45.00 approved" in response.get_data(as_text=True)
    assert read(engine, SpendRequest, approved).status == "approved"
    assert receipts(app) == []  # the stored file is removed again


def test_a_pdf_receipt_and_the_difference_is_released(w, engine, approved):
    assert pay(w, approved, PDF, "till.pdf", amount="40.00", method="invoice").status_code == 302
    with open_session(engine, write=False) as s:
        assert ledger.available_of(session=s, team=s.get(Team, w["team"].id)) == 100_000 - 4_000
    download = w["as"]("ben").get(f"/teams/shirebrook/spend/{approved}/receipt")
    assert download.headers["Content-Type"] == "application/pdf"
    assert "sandbox" in download.headers["Content-Security-Policy"]


def test_paying_a_pending_request_is_refused(w, engine):
    request_id = make_request(w)
    response = pay(w, request_id, tiny_png())
    assert response.status_code == 400 and "waiting for approval" in response.get_data(as_text=True)
    assert count(engine, JournalEntry) == 1


# --------------------------------------------------------------------------- funded ideas


@pytest.fixture
def funded_idea(w, session):
    """A resident idea the vote funded with £1,500 (the team has £2,000 in its budget)."""
    from votes.models import Idea

    ledger.allocate(gl_code="R1000", session=session, team=w["team"], amount_pence=100_000, actor_id=w["fran"].id,
                    effective_date=today(), idempotency_key="fund-more")
    held = ledger.hold(session=session, team=w["team"], amount_pence=150_000, category="equipment",
                       description="Funded idea: youth space", actor_id=w["erin"].id, idempotency_key="idea-hold")
    idea = Idea(team_id=w["team"].id, title="Youth space", description="A room for teenagers",
                estimated_cost_pence=150_000, team_cost_pence=150_000, status="funded", hold_id=held.id)
    session.add(idea)
    session.commit()
    return idea.id


def test_a_funded_idea_is_spent_above_the_enablers_limit_up_to_its_commitment(w, app, engine, funded_idea):
    form = w["as"]("asha").get("/teams/shirebrook/spend/new").get_data(as_text=True)
    assert "Youth space (£1,500.00 committed by the vote)" in form
    response = new_request(w, amount="1,200.00", idea_id=str(funded_idea))
    assert response.status_code == 302, amount_error(response.get_data(as_text=True))
    request_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert len(outbox(app)) == 2  # Ben and Erin: the residents voted it, so no limit applies
    ben = w["as"]("ben").get(f"/teams/shirebrook/spend/{request_id}").get_data(as_text=True)
    assert "Approve £1,200.00" in ben and "needs a resident vote" not in ben
    assert "Approved: £1,200.00 is committed" in approve(w, request_id).get_data(as_text=True)
    assert read(engine, SpendRequest, request_id).status == "approved"


def test_spend_paid_against_a_funded_idea_is_listed_on_the_ideas_page(w, app, engine, funded_idea):
    """votes shows it, spend owns it: the line reaches the idea's page through votes.ports."""
    idea_page = f"/teams/shirebrook/ideas/{funded_idea}"
    assert "No spend has been charged to this idea yet." in w["as"]("asha").get(idea_page).get_data(as_text=True)
    response = new_request(w, amount="300.00", idea_id=str(funded_idea))
    request_id = int(response.headers["Location"].rsplit("/", 1)[1])
    approve(w, request_id)
    assert pay(w, request_id, data=tiny_png(), amount="280.00").status_code == 302
    page = app.test_client().get(idea_page).get_data(as_text=True)  # a visitor: public
    assert "Stagecoach" in page and "£280.00" in page
    assert "No spend has been charged" not in page


def test_above_a_funded_ideas_commitment_is_refused_by_the_amount_and_nothing_written(
        w, app, engine, funded_idea):
    response = new_request(w, amount="1,500.01", idea_id=str(funded_idea))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "more than the £1,500.00 the residents voted for “Youth space”" in amount_error(page)
    assert 'href="/teams/shirebrook/ideas/new"' in page
    assert count(engine, SpendRequest) == 0 and outbox(app) == []


# --------------------------------------------------------------------------- dashboard, limits, cron


def test_the_dashboard_shows_money_waiting_and_decisions(w):
    first = make_request(w)
    make_request(w, amount="12.00", who="ben")
    approve(w, first)
    page = w["as"]("erin").get("/teams/shirebrook/spend").get_data(as_text=True)
    assert "£955.00" in page  # available after the £45 commitment
    assert "waiting less than a minute" in page
    assert "half of all requests were decided within" in page
    assert "Change the limits" in page


def test_only_the_enabler_sets_limits(w, app):
    assert w["as"]("ben").get("/teams/shirebrook/spend/limits").status_code == 403
    erin = w["as"]("erin")
    assert "250.00" in erin.get("/teams/shirebrook/spend/limits").get_data(as_text=True)
    bad = erin.post("/teams/shirebrook/spend/limits", data={"member_limit": "500", "enabler_limit": "400"})
    assert "at least the members’ limit" in bad.get_data(as_text=True)
    assert erin.post("/teams/shirebrook/spend/limits",  # the check page first, then confirmed
                     data={"member_limit": "100", "enabler_limit": "600"}).status_code == 200
    assert erin.post("/teams/shirebrook/spend/limits",
                     data={"member_limit": "100", "enabler_limit": "600", "confirmed": "yes"}).status_code == 302
    request_id = make_request(w, amount="150.00")
    assert "Members can approve up to £100.00" in approve(w, request_id).get_data(as_text=True)


def test_expire_command(w, runner, engine):
    request_id = make_request(w)
    with open_session(engine, write=True) as s:
        s.execute(update(SpendRequest).values(created_at=utcnow() - dt.timedelta(days=15)))
        s.commit()
    result = runner.invoke(args=["spend", "expire"])
    assert result.exit_code == 0, result.output
    assert "expired 1 request(s) waiting over 14 days" in result.output
    assert read(engine, SpendRequest, request_id).status == "expired"


def test_a_50_mb_file_with_csrf_on_still_gets_the_form_error(w, app, engine, approved):
    """With CSRF on, the token check reads the body before the view: the 413 it raises is
    still turned into the form's message by the blueprint's handler."""
    client = w["as"]("asha")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/teams/shirebrook/spend/{approved}/pay", content_type="multipart/form-data",
                               data={"receipt": (io.BytesIO(b"\x00" * (50 * 1024 * 1024)), "huge.pdf")})
        assert response.status_code == 302 and "too_large=1" in response.headers["Location"]
        assert "10 MB or smaller" in client.get(response.headers["Location"]).get_data(as_text=True)
        # Elsewhere the app's own 413 page still applies.
        other = client.post("/teams/shirebrook/spend/new", content_type="multipart/form-data",
                            data={"x": (io.BytesIO(b"\x00" * (13 * 1024 * 1024)), "x.bin")})
        assert other.status_code == 413
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert read(engine, SpendRequest, approved).status == "approved" and receipts(app) == []


def test_the_dashboard_reads_every_name_on_it_in_one_query(w, engine):
    make_request(w)  # asked by Asha
    erin = w["as"]("erin")  # a rise waits for finance: the page names Erin as its asker
    assert erin.post("/teams/shirebrook/spend/limits",
                     data={"member_limit": "300", "enabler_limit": "900", "confirmed": "yes"}).status_code == 302
    ben = w["as"]("ben")
    with statements_run(engine) as seen:
        page = ben.get("/teams/shirebrook/spend").get_data(as_text=True)
    assert "Waiting for finance:" in page
    assert f"asked by {w['erin'].name}" in page
    assert f"Asked by {w['asha'].name}" in page
    person_selects = [s for s in seen if re.search(r"\bFROM person\b", s)]  # not the sign-in's join
    assert len(person_selects) == 1, person_selects  # the requests' and the limits' names together
