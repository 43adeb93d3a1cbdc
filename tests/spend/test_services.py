"""Quick spend services: every rule of issue #4 and every bad input, nothing written on refusal."""

import datetime as dt
import io

import pytest
from PIL import Image, ImageFile
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from community import passwords
from community.db import open_session, utcnow
from community.models import AuditEvent, AuthSession, Membership, Person, Place, Team
from demo.spend import tiny_png
from ledger import services as ledger
from ledger.errors import InsufficientFunds, InvalidAmount, NotFound
from ledger.models import Hold, HoldStatus, JournalEntry
from spend import receipts
from spend import services as spend
from spend.models import SpendRequest
from tests.support.clock import today, tomorrow

from . import receipt_files as files

PASSWORD = "correct horse battery"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


@pytest.fixture
def world(session):
    """Team 1 (enabler Erin, members Asha and Ben, finance-and-member Fran), team 2 (Olu);
    team 1 has £1,000 in its budget."""
    place = Place(slug="shirebrook", name="Shirebrook", district="Bolsover")
    session.add(place)
    session.flush()
    teams = [Team(slug=f"team-{i}", name=f"Team {i}", place_id=place.id, cost_centre=f"CC{i:03d}") for i in (1, 2)]
    session.add_all(teams)
    session.flush()
    hashed = passwords.hash_password(PASSWORD)

    def person(name, team=None, role="member", **flags):
        p = Person(email=f"{name.lower()}@example.org", name=name, password_hash=hashed,
                   totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", **flags)
        session.add(p)
        session.flush()
        if team is not None:
            session.add(Membership(team_id=team.id, person_id=p.id, role=role))
        return p

    people = {
        "erin": person("Erin", teams[0], "enabler"),
        "asha": person("Asha", teams[0]),
        "ben": person("Ben", teams[0]),
        "fran": person("Fran", teams[0], is_finance=True),
        "olu": person("Olu", teams[1]),
        "finance": person("Finn", is_finance=True),
    }
    session.flush()
    ledger.allocate(gl_code="R1000", session=session, team=teams[0], amount_pence=100_000, actor_id=people["finance"].id,
                    effective_date=today(), idempotency_key="fund-1")
    session.commit()
    return {"team": teams[0], "other": teams[1], **people}


def ask(session, world, amount=4_500, who="asha", **kw):
    values = dict(payee="Stagecoach", payee_is_individual=False, purpose="Bus pass for an apprentice",
                  category="travel")
    values.update(kw)
    return spend.request_spend(session=session, team=world["team"], requester=world[who], amount_pence=amount,
                               **values)


def fresh_auth(session, person, *, minutes_ago=1):
    row = AuthSession(token_hash=f"h{person.id}-{minutes_ago}", person_id=person.id, second_factor=True,
                      created_at=utcnow() - dt.timedelta(minutes=minutes_ago))
    session.add(row)
    session.flush()
    return row


def approve(session, world, request_id, who="ben", key="k1", auth=None):
    return spend.approve(session=session, team=world["team"], request_id=request_id, approver=world[who],
                         auth_session=auth, idempotency_key=key)


def count(session, model) -> int:
    return len(session.execute(select(model)).scalars().all())


def available(session, world) -> int:
    return ledger.available_of(session=session, team=world["team"])


# --------------------------------------------------------------------------- requesting


def test_a_member_requests_spend(session, world):
    r = ask(session, world, payee_is_individual=True, payee="")
    session.commit()
    assert (r.status, r.amount_pence, r.payee, r.payee_is_individual) == ("pending", 4_500, "Individual", True)
    assert available(session, world) == 100_000  # a request commits nothing


@pytest.mark.parametrize(
    ("who", "kw", "error", "text"),
    [
        ("fran", {}, spend.NotAllowed, "Finance staff cannot"),
        ("finance", {}, spend.NotAllowed, "Finance staff cannot"),
        ("olu", {}, NotFound, "does not exist"),
        ("asha", {"category": "stuff"}, spend.SpendError, "category"),
        ("asha", {"payee": "  "}, spend.SpendError, "who will be paid"),
        ("asha", {"purpose": ""}, spend.SpendError, "what the money is for"),
        ("asha", {"account_id": 999}, spend.SpendError, "fund that has money"),
        ("asha", {"idea_id": 3}, spend.SpendError, "idea"),
    ],
)
def test_bad_requests_are_refused_and_nothing_written(session, world, who, kw, error, text):
    with pytest.raises(error, match=text):
        ask(session, world, who=who, **kw)
    session.rollback()
    assert count(session, SpendRequest) == 0


@pytest.mark.parametrize("amount", [0, -5, True, 1.5, 100_000_001])
def test_bad_amounts_are_refused(session, world, amount):
    with pytest.raises(InvalidAmount):
        ask(session, world, amount=amount)


def test_above_the_enablers_limit_needs_a_resident_vote(app, session, world):
    with pytest.raises(spend.OverLimit, match="resident vote") as caught:
        ask(session, world, amount=100_001)
    assert caught.value.needs_vote
    with app.test_request_context():
        assert spend.ideas_path(world["team"]) == "/teams/team-1/ideas/new"
    assert spend.idea_choices(session=session, team=world["team"]) == []


def test_a_restricted_fund_can_pay_only_when_it_has_money(session, world):
    team = world["team"]
    empty = ledger.open_restricted_fund(session=session, team=team, label="Empty pledge")
    full = ledger.open_restricted_fund(session=session, team=team, label="Rotary pledge")
    other = ledger.open_restricted_fund(session=session, team=world["other"], label="Not ours")
    ledger.receive_into_fund(session=session, team=team, account_id=full.id, amount_pence=5_000,
                             actor_id=world["finance"].id, effective_date=today(), idempotency_key="rx",
                             description="Rotary pledge paid")
    session.commit()
    labels = [f.label for f in spend.funding_choices(session=session, team=team)]
    assert labels == ["Team budget", "Rotary pledge"]
    for bad in (empty.id, other.id):
        with pytest.raises(spend.SpendError):
            ask(session, world, account_id=bad)
    r = ask(session, world, amount=4_000, account_id=full.id)
    approve(session, world, r.id)
    session.commit()
    hold = session.get(Hold, r.hold_id)
    assert hold.account_id == full.id
    assert ledger.available_in(session=session, account_id=full.id) == 1_000
    assert available(session, world) == 100_000


# --------------------------------------------------------------------------- approving


def test_another_member_approves_and_the_money_is_committed(session, world):
    r = ask(session, world)
    approved = approve(session, world, r.id)
    session.commit()
    assert approved.status == "approved" and approved.decided_by_id == world["ben"].id
    assert session.get(Hold, approved.hold_id).status == HoldStatus.OPEN
    assert available(session, world) == 100_000 - 4_500


@pytest.mark.parametrize(("who", "error"), [("asha", spend.NotAllowed), ("fran", spend.NotAllowed),
                                            ("finance", spend.NotAllowed), ("olu", NotFound)])
def test_the_requester_finance_and_outsiders_cannot_approve(session, world, who, error):
    r = ask(session, world)
    session.commit()
    with pytest.raises(error):
        approve(session, world, r.id, who=who)
    session.rollback()
    assert count(session, Hold) == 0
    assert session.get(SpendRequest, r.id).status == "pending"


def test_another_teams_request_is_not_found(session, world):
    r = ask(session, world)
    session.commit()
    with pytest.raises(NotFound):
        spend.approve(session=session, team=world["other"], request_id=r.id, approver=world["olu"],
                      auth_session=None, idempotency_key="x")


def test_approving_twice_gives_a_clear_message_and_no_second_hold(session, world):
    r = ask(session, world)
    approve(session, world, r.id, key="first")
    session.commit()
    with pytest.raises(spend.WrongState, match="already approved by Ben"):
        approve(session, world, r.id, who="erin", key="second")
    session.rollback()
    assert count(session, Hold) == 1
    # The same form sent again (same key) is the same approval, not an error and not a new hold.
    again = approve(session, world, r.id, key="first")
    assert again.hold_id == r.hold_id and count(session, Hold) == 1


def test_member_limit_and_enabler_limit(session, world):
    r = ask(session, world, amount=30_000)
    session.commit()
    with pytest.raises(spend.OverLimit, match="Members can approve up to £250.00") as caught:
        approve(session, world, r.id, who="ben")
    assert not caught.value.needs_vote
    session.rollback()
    approved = approve(session, world, r.id, who="erin", auth=fresh_auth(session, world["erin"]))
    session.commit()
    assert approved.status == "approved"


def _second_enabler(session, world, name="Dee"):
    dee = Person(email=f"{name.lower()}@example.org", name=name, password_hash=world["erin"].password_hash,
                 totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    session.add(dee)
    session.flush()
    session.add(Membership(team_id=world["team"].id, person_id=dee.id, role="enabler"))
    session.commit()
    return dee


def names(session, world, request):
    return [p.name for p in spend.approvers_of(session=session, team=world["team"], request=request)]


def test_only_those_whose_limit_covers_a_request_are_its_approvers(session, world):
    small, large = ask(session, world, amount=25_000), ask(session, world, amount=25_001)
    session.commit()
    # Never the requester, never finance (Fran is finance and a member), never above one's own limit.
    assert names(session, world, small) == ["Erin", "Ben"]
    assert names(session, world, large) == ["Erin"]


def test_an_enablers_own_request_above_the_member_limit_is_refused_if_no_other_enabler_could_approve(
        session, world):
    with pytest.raises(spend.OverLimit, match="another enabler of Team 1 must approve yours") as caught:
        ask(session, world, amount=40_000, who="erin")
    assert caught.value.field == "amount" and not caught.value.needs_vote
    session.rollback()
    assert count(session, SpendRequest) == 0
    # Within the members' limit a member approves it as usual.
    r = ask(session, world, amount=25_000, who="erin")
    assert names(session, world, r) == ["Asha", "Ben"]


def test_another_enabler_approves_an_enablers_own_request_above_the_member_limit(session, world):
    _second_enabler(session, world)
    r = ask(session, world, amount=40_000, who="erin")
    session.commit()
    assert names(session, world, r) == ["Dee"]
    with pytest.raises(spend.OverLimit, match="Members can approve up to £250.00. Dee can approve this."):
        approve(session, world, r.id, who="ben", auth=fresh_auth(session, world["ben"]))
    session.rollback()
    with pytest.raises(spend.NeedsFreshSignIn):  # the second enabler confirms it is them like anyone
        spend.approve(session=session, team=world["team"], request_id=r.id, approver=_by_name(session, "Dee"),
                      auth_session=None, idempotency_key="dee")
    session.rollback()
    dee = _by_name(session, "Dee")
    approved = spend.approve(session=session, team=world["team"], request_id=r.id, approver=dee,
                             auth_session=fresh_auth(session, dee), idempotency_key="dee")
    session.commit()
    assert (approved.status, approved.decided_by_id) == ("approved", dee.id)
    assert available(session, world) == 100_000 - 40_000


def test_a_request_nobody_else_in_the_team_could_approve_is_refused(session, world):
    olu = world["olu"]  # alone in team 2
    with pytest.raises(spend.OverLimit, match="No one else in Team 2 can approve"):
        spend.request_spend(session=session, team=world["other"], requester=olu, amount_pence=1_000,
                            payee="Co-op", payee_is_individual=False, purpose="Milk", category="food")
    session.rollback()
    assert count(session, SpendRequest) == 0


def _by_name(session, name):
    return session.execute(select(Person).where(Person.name == name)).scalar_one()


def test_limits_are_read_again_at_approval(session, world):
    r = ask(session, world, amount=20_000)
    session.commit()
    spend.set_limits(session=session, team=world["team"], actor=world["erin"], member_limit_pence=10_000,
                     enabler_limit_pence=100_000)
    session.commit()
    with pytest.raises(spend.OverLimit):
        approve(session, world, r.id)


def test_a_lowered_enabler_limit_is_read_again_at_approval(session, world):
    r = ask(session, world, amount=60_000)  # within the enabler's £1,000 when asked
    session.commit()
    spend.set_limits(session=session, team=world["team"], actor=world["erin"], member_limit_pence=25_000,
                     enabler_limit_pence=50_000)
    session.commit()
    with pytest.raises(spend.OverLimit, match=r"£600\.00 is more than the team can approve \(£500\.00\)") as caught:
        approve(session, world, r.id, who="erin", auth=fresh_auth(session, world["erin"]))
    assert caught.value.needs_vote
    session.rollback()
    assert count(session, Hold) == 0
    assert session.get(SpendRequest, r.id).status == "pending"
    assert available(session, world) == 100_000


def test_above_250_needs_a_sign_in_within_15_minutes(session, world):
    r = ask(session, world, amount=25_001)
    session.commit()
    stale = fresh_auth(session, world["erin"], minutes_ago=16)
    with pytest.raises(spend.NeedsFreshSignIn):
        approve(session, world, r.id, who="erin", auth=stale)
    with pytest.raises(spend.NeedsFreshSignIn):
        approve(session, world, r.id, who="erin", auth=None)
    session.rollback()
    assert count(session, Hold) == 0
    stale = fresh_auth(session, world["erin"], minutes_ago=16)
    stale.reauthenticated_at = utcnow() - dt.timedelta(minutes=2)
    approved = approve(session, world, r.id, who="erin", auth=stale)
    assert approved.status == "approved"


def test_exactly_250_needs_no_fresh_sign_in(session, world):
    r = ask(session, world, amount=25_000)
    assert approve(session, world, r.id, auth=fresh_auth(session, world["ben"], minutes_ago=600)).status == "approved"


def test_not_enough_money_is_refused_and_logged_as_an_exception(session, world):
    first = ask(session, world, amount=90_000)
    second = ask(session, world, amount=20_000, who="ben")
    approve(session, world, first.id, who="erin", key="a", auth=fresh_auth(session, world["erin"]))
    session.commit()
    with pytest.raises(InsufficientFunds):
        approve(session, world, second.id, who="asha", key="b")
    session.rollback()
    spend.record_overspend_refused(session=session, team=world["team"], request_id=second.id,
                                   actor_id=world["asha"].id, amount_pence=20_000)
    session.commit()
    assert session.get(SpendRequest, second.id).status == "pending"
    assert count(session, Hold) == 1
    events = session.execute(select(AuditEvent).where(AuditEvent.action == "ledger.overspend_refused")).scalars().all()
    assert [e.subject for e in events] == [f"Team 1: £200.00 for spend request {second.id}"]


# --------------------------------------------------------------------------- rejecting, withdrawing, cancelling


def test_reject_needs_a_reason_and_another_member(session, world):
    r = ask(session, world)
    session.commit()
    with pytest.raises(spend.SpendError, match="reason"):
        spend.reject(session=session, team=world["team"], request_id=r.id, approver=world["ben"], reason=" ")
    with pytest.raises(spend.NotAllowed):
        spend.reject(session=session, team=world["team"], request_id=r.id, approver=world["asha"], reason="no")
    done = spend.reject(session=session, team=world["team"], request_id=r.id, approver=world["ben"],
                        reason="Ask the food bank first")
    session.commit()
    assert (done.status, done.rejection_reason) == ("rejected", "Ask the food bank first")
    with pytest.raises(spend.WrongState, match="already rejected"):
        approve(session, world, r.id, who="erin")


def test_only_the_requester_withdraws_and_only_before_approval(session, world):
    r = ask(session, world)
    with pytest.raises(spend.NotAllowed):
        spend.withdraw(session=session, team=world["team"], request_id=r.id, actor=world["ben"])
    spend.withdraw(session=session, team=world["team"], request_id=r.id, actor=world["asha"])
    session.commit()
    with pytest.raises(spend.WrongState, match="withdrawn"):
        approve(session, world, r.id)
    later = ask(session, world)
    approve(session, world, later.id, key="k2")
    with pytest.raises(spend.WrongState):
        spend.withdraw(session=session, team=world["team"], request_id=later.id, actor=world["asha"])


def test_cancelling_an_approval_releases_the_money(session, world):
    r = ask(session, world)
    approve(session, world, r.id)
    session.commit()
    spend.cancel(session=session, team=world["team"], request_id=r.id, actor=world["asha"], idempotency_key="c")
    session.commit()
    assert session.get(SpendRequest, r.id).status == "cancelled"
    assert session.get(Hold, r.hold_id).status == HoldStatus.VOIDED
    assert available(session, world) == 100_000
    with pytest.raises(spend.WrongState, match="cancelled"):
        pay(session, world, r.id)


# --------------------------------------------------------------------------- paying


def pay(session, world, request_id, amount=4_200, ref=None, **kw):
    values = dict(paid_on=today(), method="purchase card", receipt_content_type="image/png",
                  idempotency_key="pay-1")
    values.update(kw)
    return spend.record_payment(session=session, team=world["team"], request_id=request_id, actor=world["asha"],
                                actual_pence=amount, receipt_ref=ref or "a" * 32, **values)


def test_paying_less_than_approved_releases_the_difference(session, world):
    r = ask(session, world)
    approve(session, world, r.id)
    paid = pay(session, world, r.id, amount=4_200)
    session.commit()
    assert paid.status == "paid" and paid.paid_pence == 4_200
    entry = session.get(JournalEntry, paid.paid_entry_id)
    assert (entry.proposer_id, entry.approver_id, entry.receipt_ref, entry.method) == (
        world["asha"].id, world["ben"].id, "a" * 32, "purchase card")
    assert available(session, world) == 100_000 - 4_200
    assert ledger.verify(session=session).ok
    actions = session.execute(select(AuditEvent.action).where(AuditEvent.action.like("spend.%"))).scalars().all()
    assert sorted(actions) == ["spend.approve", "spend.pay"]
    with pytest.raises(spend.WrongState, match="already been paid"):
        pay(session, world, r.id, idempotency_key="pay-2")


def test_paying_more_than_approved_is_refused_and_nothing_written(session, world):
    r = ask(session, world)
    approve(session, world, r.id)
    session.commit()
    with pytest.raises(InvalidAmount, match="more than the £45.00 approved"):
        pay(session, world, r.id, amount=4_501)
    session.rollback()
    assert session.get(SpendRequest, r.id).status == "approved"
    assert count(session, JournalEntry) == 1  # only the allocation


@pytest.mark.parametrize(
    ("kw", "text"),
    [({"method": "cash in hand"}, "how it was paid"),
     ({"paid_on": tomorrow}, "future"),
     ({"ref": "../../etc/passwd"}, "Upload the receipt"),
     ({"receipt_content_type": "text/html"}, "Upload the receipt")],
)
def test_bad_payment_details_are_refused(session, world, kw, text):
    r = ask(session, world)
    approve(session, world, r.id)
    session.commit()
    kw = {k: v() if callable(v) else v for k, v in kw.items()}  # dates worked out now, not at collection
    with pytest.raises(spend.SpendError, match=text):
        pay(session, world, r.id, **kw)


def test_a_pending_request_cannot_be_paid_and_finance_cannot_pay(session, world):
    r = ask(session, world)
    with pytest.raises(spend.WrongState, match="waiting"):
        pay(session, world, r.id)
    approve(session, world, r.id)
    with pytest.raises(spend.NotAllowed):
        spend.record_payment(session=session, team=world["team"], request_id=r.id, actor=world["fran"],
                             actual_pence=100, receipt_ref="a" * 32, paid_on=today(), method="invoice",
                             receipt_content_type="application/pdf", idempotency_key="p")


# --------------------------------------------------------------------------- receipts


@pytest.mark.parametrize(("data", "mime"), [(tiny_png(), "image/png"), (JPEG, "image/jpeg"), (PDF, "application/pdf")])
def test_receipts_are_recognised_by_content(data, mime):
    assert receipts.sniff_receipt(data) == mime


@pytest.mark.parametrize(
    ("data", "text"),
    [(HTML, "JPEG or PNG"), (b"", "empty"), (b"GIF89a" + b"\x00" * 20, "JPEG or PNG"),
     (b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "JPEG or PNG"),
     (b"\x89PNG" + b"\x00" * receipts.RECEIPT_MAX_BYTES, "10 MB")],
)
def test_bad_receipts_are_refused(data, text):
    with pytest.raises(spend.InvalidReceipt, match=text):
        receipts.sniff_receipt(data)


def test_receipts_are_stored_under_random_names(tmp_path):
    ref1, _ = receipts.store_receipt(tmp_path, tiny_png())
    ref2, _ = receipts.store_receipt(tmp_path, tiny_png())
    assert ref1 != ref2 and len(ref1) == 32
    stored = files.open_image(receipts.receipt_path(tmp_path, ref1).read_bytes())
    assert (stored.format, stored.size, stored.getpixel((0, 0))) == ("PNG", (1, 1), (255, 255, 255))
    assert receipts.receipt_path(tmp_path, "../" + ref1) is None
    assert receipts.receipt_path(tmp_path, None) is None
    with pytest.raises(spend.InvalidReceipt):
        receipts.store_receipt(tmp_path, HTML)
    assert len(list(tmp_path.iterdir())) == 2


def test_a_phone_photo_is_stored_upright_without_exif_gps_or_comment(tmp_path):
    assert files.open_image(files.phone_photo()).getexif().get_ifd(0x8825)  # the GPS is there to strip
    ref, content_type = receipts.store_receipt(tmp_path, files.phone_photo())
    assert content_type == "image/jpeg"
    stored = files.assert_clean((tmp_path / ref).read_bytes(), "JPEG")
    assert stored.size == (40, 60)  # turned by its Orientation tag: the red half is now on top
    top, bottom = stored.getpixel((20, 5)), stored.getpixel((20, 55))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60


def test_a_png_loses_its_text_chunks_and_exif(tmp_path):
    assert files.open_image(files.png_with_text()).text  # the chunks are there to strip
    ref, content_type = receipts.store_receipt(tmp_path, files.png_with_text())
    assert content_type == "image/png"
    assert files.assert_clean((tmp_path / ref).read_bytes(), "PNG").size == (20, 10)


@pytest.mark.parametrize(("data", "mime", "image_format"),
                         [(files.png_html_polyglot(), "image/png", "PNG"),
                          (files.jpeg_html_polyglot(), "image/jpeg", "JPEG")])
def test_a_polyglot_keeps_its_image_and_loses_its_html(tmp_path, data, mime, image_format):
    ref, content_type = receipts.store_receipt(tmp_path, data)
    assert content_type == mime
    files.assert_clean((tmp_path / ref).read_bytes(), image_format)


def test_a_big_photo_is_shrunk_to_the_longest_side(tmp_path):
    out = io.BytesIO()
    Image.new("RGB", (6000, 300), (10, 20, 30)).save(out, format="JPEG")
    ref, _ = receipts.store_receipt(tmp_path, out.getvalue())
    assert files.open_image((tmp_path / ref).read_bytes()).size == (receipts.RECEIPT_MAX_SIDE, 205)


@pytest.mark.parametrize(
    ("make", "text"),
    [(files.png_bomb, "too large in pixels"),
     (files.png_huge_header, "too large in pixels"),
     (files.truncated_jpeg, "could not be opened"),
     (files.fake_png_polyglot, "could not be opened"),
     (lambda: JPEG, "could not be opened"),
     (lambda: files.SVG, "JPEG or PNG"),
     (lambda: HTML, "JPEG or PNG")],
    ids=["bomb", "huge-header", "truncated-jpeg", "png-signature-then-html", "jpeg-of-zeros", "svg", "html"],
)
def test_hostile_images_are_refused_and_nothing_is_stored(tmp_path, make, text):
    with pytest.raises(spend.InvalidReceipt, match=text) as refused:
        receipts.store_receipt(tmp_path, make())
    assert refused.value.field == "receipt"
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_photo_is_refused_even_after_weasyprint_allowed_them(tmp_path, monkeypatch):
    """WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES when imported."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(spend.InvalidReceipt, match="could not be opened"):
        receipts.store_receipt(tmp_path, files.truncated_jpeg())
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True and list(tmp_path.iterdir()) == []


def test_a_pdf_is_stored_as_it_came(tmp_path):
    hostile = PDF + b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >>\n"
    ref, content_type = receipts.store_receipt(tmp_path, hostile)
    assert (content_type, (tmp_path / ref).read_bytes()) == ("application/pdf", hostile)


# --------------------------------------------------------------------------- limits and identity


def test_only_the_enabler_sets_limits(session, world):
    with pytest.raises(spend.NotAllowed):
        spend.set_limits(session=session, team=world["team"], actor=world["ben"], member_limit_pence=1,
                         enabler_limit_pence=2)
    with pytest.raises(spend.SpendError, match="at least"):
        spend.set_limits(session=session, team=world["team"], actor=world["erin"], member_limit_pence=500,
                         enabler_limit_pence=400)
    with pytest.raises(spend.SpendError):
        spend.set_limits(session=session, team=world["team"], actor=world["erin"], member_limit_pence=0,
                         enabler_limit_pence=400)
    spend.set_limits(session=session, team=world["team"], actor=world["erin"], member_limit_pence=10_000,
                     enabler_limit_pence=50_000)
    session.commit()
    assert (world["team"].member_limit_pence, world["team"].enabler_limit_pence) == (10_000, 50_000)


def test_confirm_identity_needs_password_and_a_new_code(session, world):
    import pyotp

    erin = world["erin"]
    auth = fresh_auth(session, erin, minutes_ago=60)
    code = pyotp.TOTP(erin.totp_secret).now()
    with pytest.raises(spend.SpendError, match="password"):
        spend.confirm_identity(session=session, person=erin, auth_session=auth, password="wrong", code=code)
    with pytest.raises(spend.SpendError, match="code"):
        spend.confirm_identity(session=session, person=erin, auth_session=auth, password=PASSWORD, code="000000x")
    assert not spend.is_fresh(auth)
    spend.confirm_identity(session=session, person=erin, auth_session=auth, password=PASSWORD, code=code)
    assert spend.is_fresh(session.get(AuthSession, auth.id))
    with pytest.raises(spend.SpendError, match="used"):
        spend.confirm_identity(session=session, person=erin, auth_session=auth, password=PASSWORD, code=code)


# --------------------------------------------------------------------------- housekeeping and the dashboard


def test_expire_and_flag(session, world):
    old = ask(session, world)
    old.created_at = utcnow() - dt.timedelta(days=15)
    young = ask(session, world)
    unpaid = ask(session, world)
    approve(session, world, unpaid.id)
    unpaid.decided_at = utcnow() - dt.timedelta(days=31)
    session.add_all([old, unpaid])
    session.commit()
    assert spend.expire(session=session) == {"expired": 1, "flagged": 1}
    session.commit()
    assert spend.expire(session=session) == {"expired": 0, "flagged": 0}
    assert [session.get(SpendRequest, r.id).status for r in (old, young, unpaid)] == ["expired", "pending", "approved"]
    assert session.get(SpendRequest, unpaid.id).flagged_at is not None
    assert session.get(Hold, unpaid.hold_id).status == HoldStatus.OPEN  # flagged, still committed
    assert spend.expire(session=session, pending_days=0) == {"expired": 1, "flagged": 0}


def test_the_dashboard(session, world):
    now = utcnow()
    quick, slow, waiting = ask(session, world), ask(session, world), ask(session, world)
    quick.created_at = now - dt.timedelta(hours=1)
    slow.created_at = now - dt.timedelta(hours=5)
    waiting.created_at = now - dt.timedelta(hours=3)
    session.add_all([quick, slow, waiting])
    session.flush()
    approve(session, world, quick.id, key="q")
    spend.reject(session=session, team=world["team"], request_id=slow.id, approver=world["ben"], reason="no")
    session.commit()
    board = spend.dashboard(session=session, team=world["team"], now=now + dt.timedelta(seconds=1))
    assert [r.id for r, _ in board.pending] == [waiting.id]
    assert board.pending[0][1] >= dt.timedelta(hours=3)
    assert [r.id for r in board.approved] == [quick.id]
    assert board.funds[0].available_pence == 100_000 - 4_500
    assert dt.timedelta(hours=2, minutes=59) < board.median_decision < dt.timedelta(hours=3, minutes=1)


# --------------------------------------------------------------------------- the database enforces it


def test_the_database_refuses_illegal_changes(engine, session, world):
    r = ask(session, world)
    approve(session, world, r.id)
    session.commit()
    for statement in (
        f"UPDATE spend_request SET status = 'pending' WHERE id = {r.id}",
        f"UPDATE spend_request SET amount_pence = 1 WHERE id = {r.id}",
        f"DELETE FROM spend_request WHERE id = {r.id}",
        f"UPDATE spend_request SET status = 'paid' WHERE id = {r.id}",
    ):
        with open_session(engine, write=True) as raw, pytest.raises((IntegrityError, DBAPIError)):
            raw.execute(text(statement))
            raw.commit()
    with open_session(engine, write=True) as raw, pytest.raises((IntegrityError, DBAPIError)):
        raw.execute(text(
            "INSERT INTO spend_request (team_id, requester_id, amount_pence, payee, payee_is_individual, purpose,"
            " category, status, created_at, decided_by_id) VALUES "
            f"({world['team'].id}, {world['asha'].id}, 100, 'x', false, 'x', 'food', 'pending', "
            f"'2026-01-01 00:00:00', {world['asha'].id})"))
        raw.commit()


# --------------------------------------------------------------------------- funded ideas


def _funded_idea(session, world, pence=60_000):
    from votes.models import Idea

    held = ledger.hold(session=session, team=world["team"], amount_pence=pence, category="activity materials",
                       description="Funded idea: youth space", actor_id=world["erin"].id, idempotency_key="idea-hold")
    idea = Idea(team_id=world["team"].id, title="Youth space", description="A room for teenagers",
                estimated_cost_pence=pence, team_cost_pence=pence, status="funded", hold_id=held.id)
    session.add(idea)
    session.commit()
    return idea, held


def test_spend_for_a_funded_idea_draws_on_its_commitment(session, world):
    idea, held = _funded_idea(session, world)
    assert spend.idea_choices(session=session, team=world["team"]) == [(idea.id, "Youth space (£600.00 committed by the vote)")]
    before = available(session, world)
    # £400 is over the member limit, but the residents already voted this money.
    request = ask(session, world, amount=40_000, idea_id=idea.id, category="equipment")
    session.commit()
    approve(session, world, request.id, auth=fresh_auth(session, world["ben"]))
    session.commit()
    assert available(session, world) == before  # nothing new committed: the vote's money was used
    session.refresh(idea)
    rest = session.get(Hold, idea.hold_id)
    assert rest.amount_pence == 20_000 and rest.status == "open"
    assert session.get(Hold, held.id).status == "voided"


def test_spend_beyond_a_funded_ideas_commitment_needs_the_usual_limits(session, world):
    idea, _ = _funded_idea(session, world, pence=30_000)
    request = ask(session, world, amount=40_000, idea_id=idea.id)
    session.commit()
    with pytest.raises(spend.OverLimit):
        approve(session, world, request.id, auth=fresh_auth(session, world["ben"]))


def _more_money(session, world, pence=100_000):
    ledger.allocate(gl_code="R1000", session=session, team=world["team"], amount_pence=pence, actor_id=world["finance"].id,
                    effective_date=today(), idempotency_key=f"more-{pence}")
    session.commit()


def test_a_funded_idea_can_be_spent_above_the_enablers_limit_up_to_its_commitment(session, world):
    _more_money(session, world)
    idea, held = _funded_idea(session, world, pence=150_000)
    before = available(session, world)
    request = ask(session, world, amount=120_000, idea_id=idea.id, category="equipment")
    session.commit()
    assert (request.status, request.amount_pence) == ("pending", 120_000)
    assert names(session, world, request) == ["Erin", "Ben"]  # the residents voted it: no limit applies
    approve(session, world, request.id, auth=fresh_auth(session, world["ben"]))
    session.commit()
    assert available(session, world) == before
    session.refresh(idea)
    assert session.get(Hold, idea.hold_id).amount_pence == 30_000
    assert session.get(Hold, held.id).status == "voided"
    # The whole commitment can be asked for too.
    assert ask(session, world, amount=30_000, idea_id=idea.id).status == "pending"


@pytest.mark.parametrize("amount", [150_001, 200_000])
def test_above_a_funded_ideas_commitment_and_the_enablers_limit_is_refused(session, world, amount):
    _more_money(session, world)
    idea, _ = _funded_idea(session, world, pence=150_000)
    with pytest.raises(spend.OverLimit, match="more than the £1,500.00 the residents voted for “Youth space”") \
            as caught:
        ask(session, world, amount=amount, idea_id=idea.id)
    assert caught.value.field == "amount" and caught.value.needs_vote
    session.rollback()
    assert count(session, SpendRequest) == 0


def test_a_funded_idea_paid_from_another_fund_gives_no_exemption(session, world):
    _more_money(session, world)
    idea, _ = _funded_idea(session, world, pence=150_000)
    fund = ledger.open_restricted_fund(session=session, team=world["team"], label="Rotary pledge")
    ledger.receive_into_fund(session=session, team=world["team"], account_id=fund.id, amount_pence=200_000,
                             actor_id=world["finance"].id, effective_date=today(), idempotency_key="rx-big",
                             description="Rotary pledge paid")
    session.commit()
    with pytest.raises(spend.OverLimit, match="it needs a resident vote"):
        ask(session, world, amount=120_000, idea_id=idea.id, account_id=fund.id)
