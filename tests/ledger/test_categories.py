"""One list of spend categories (issue 20 item 9): the quick-spend form, the database's CHECK,
the ledger's holds, the statements' labels and the GL mapping all read ledger/codes.py."""


import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ledger import codes, services
from ledger.errors import InvalidRequest
from ledger.models import Hold, JournalEntry
from spend.forms import RequestForm
from spend.models import SpendRequest
from tests.support.clock import today


def _fund(session, team, finance):
    services.allocate(gl_code="R1000", session=session, team=team, amount_pence=100_000, actor_id=finance.id,
                      effective_date=today(), idempotency_key="alloc-categories")
    session.commit()


def test_the_quick_spend_form_offers_the_requestable_categories_of_the_one_list(app):
    with app.test_request_context():
        offered = RequestForm().category.choices
    assert list(offered) == [(c.code, c.label) for c in codes.SPEND_CATEGORIES if c.requestable]
    assert {"printing", "grants", "volunteer expenses"} <= {code for code, _ in offered}


def test_every_category_has_a_label_and_a_gl_code_and_codes_are_unique():
    assert len({c.code for c in codes.SPEND_CATEGORIES}) == len(codes.SPEND_CATEGORIES)
    for category in codes.SPEND_CATEGORIES:
        assert codes.category_label(category.code) == category.label
        assert codes.spend_gl_code(category.code) == category.gl_code
        assert category.gl_code.isdigit() and len(category.gl_code) == 4


@pytest.mark.parametrize("code", [c for c, _ in codes.REQUESTABLE_CATEGORIES])
def test_the_database_accepts_every_requestable_category(session, people, code):
    team, member = people["teams"][0], people["member"]
    session.add(SpendRequest(team_id=team.id, requester_id=member.id, amount_pence=100, payee="Co-op",
                             purpose="Tea", category=code))
    session.flush()
    assert session.execute(select(func.count()).select_from(SpendRequest)).scalar_one() == 1


def test_the_database_refuses_a_category_outside_the_list(session, people):
    team, member = people["teams"][0], people["member"]
    session.add(SpendRequest(team_id=team.id, requester_id=member.id, amount_pence=100, payee="Co-op",
                             purpose="Tea", category="stuff"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_a_hold_outside_the_list_is_refused_and_old_spellings_are_read_as_the_list(session, people):
    team, finance = people["teams"][0], people["finance"]
    _fund(session, team, finance)
    with pytest.raises(InvalidRequest, match="Choose a category from the list") as refused:
        services.hold(session=session, team=team, amount_pence=500, category="stuff", description="Things",
                      actor_id=finance.id, idempotency_key="hold-stuff")
    assert refused.value.field == "category"
    session.rollback()
    assert session.execute(select(func.count()).select_from(Hold)).scalar_one() == 0
    held = services.hold(session=session, team=team, amount_pence=500, category="Volunteer_Expenses",
                         description="Mileage", actor_id=finance.id, idempotency_key="hold-mileage")
    assert held.category == "volunteer expenses"
    services.settle_hold(session=session, hold_id=held.id, actual_pence=500, actor_id=finance.id,
                         effective_date=today(), idempotency_key="settle-mileage", method="petty cash", receipt_ref="R1")
    session.commit()
    spend = session.execute(select(JournalEntry).where(JournalEntry.kind == "spend")).scalar_one()
    assert (spend.category, spend.gl_code) == ("volunteer expenses", "3110")
    assert codes.category_label("activities") == "Activity materials"  # written by earlier versions


@pytest.mark.parametrize("gl_code", [None, "", "  "])
def test_the_ledger_refuses_an_allocation_without_a_gl_code(session, people, gl_code):
    team, finance = people["teams"][0], people["finance"]
    with pytest.raises(InvalidRequest, match="GL code") as refused:
        services.allocate(gl_code=gl_code, session=session, team=team, amount_pence=100, actor_id=finance.id,
                          effective_date=today(), idempotency_key="alloc-no-gl")
    assert refused.value.field == "gl_code"
    assert session.execute(select(func.count()).select_from(JournalEntry)).scalar_one() == 0
