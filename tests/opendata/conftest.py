"""One demo world per database for the open data tests (built once per session: freezing a month
renders every team's PDF): the demo places, people, ideas, pledges, Shirebrook's two rounds and
quick spend, and last month's money, closed and frozen. Last month holds a spend of each kind the
Transparency files sort: over £500 to an organisation and by card to a person, small card spend,
£499.99 and exactly £500 (not over), a refund of the first, a virement (internal)."""

import shutil
import uuid

import pytest
from sqlalchemy import select

from community.db import get_engine, make_null_pool_engine, open_session, utcnow
from community.migrate import upgrade
from community.models import Person, Team
from tests.conftest import PG_URL, TEST_SECRET, scratch_pg_database
from tests.support.clock import last_month, today
from wsgi import create_app

# (payee, is a person, pence, method, day of last month)
LAST_MONTH_SPEND = [
    ("Bolsover Print", False, 75_000, "invoice", 3),
    ("Rita Morgan", True, 62_000, "purchase card", 4),
    ("Co-op", False, 1_234, "purchase card", 5),
    ("Wickes", False, 49_999, "invoice", 6),
    ("Argos", False, 50_000, "invoice", 7),
    ("=HYPERLINK(\"x\")", False, 50_001, "purchase card", 8),
]


def _key() -> str:
    return uuid.uuid4().hex


def _load(app) -> dict:
    from demo import people, pledges, votes
    from demo.spend import load_spend_demo
    from ledger import services as ledger
    from statements import store

    engine = get_engine(app)
    with open_session(engine, write=True) as session:
        loaded = people.load(session)
        photos = f"{app.config['INSTANCE_UPLOADS']}/photos"  # the demo's pictures, never in the checkout
        votes.load(session, photos_dir=photos)
        pledges.load_demo_pledges(session, teams=loaded["teams"], members=loaded["members"])
        shire = session.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        gamesley = session.execute(select(Team).where(Team.slug == "gamesley")).scalar_one()
        finance = session.execute(select(Person).where(Person.is_finance)).scalars().first()
        for team in (shire, gamesley):
            ledger.allocate(gl_code="R1000", session=session, team=team, amount_pence=2_000_000, actor_id=finance.id,
                            effective_date=last_month(), idempotency_key=_key())
        entries = []
        for payee, person, pence, method, day in LAST_MONTH_SPEND:
            held = ledger.hold(session=session, team=shire, amount_pence=pence, category="equipment",
                               description=f"Kit from {payee}", payee=payee, payee_is_individual=person,
                               actor_id=finance.id, idempotency_key=_key())
            entries.append(ledger.settle_hold(session=session, hold_id=held.id, actual_pence=pence, actor_id=finance.id,
                                              effective_date=last_month().replace(day=day), method=method,
                                              receipt_ref=f"R-{day}", idempotency_key=_key()))
        ledger.reverse(session=session, entry_id=entries[0].id, team=shire, reason="Refunded by supplier",
                       actor_id=finance.id, effective_date=last_month().replace(day=20), idempotency_key=_key())
        ledger.transfer(session=session, from_team=shire, to_team=gamesley, amount_pence=60_000,
                        reason="Shared event", actor_id=finance.id, effective_date=last_month().replace(day=21),
                        idempotency_key=_key())
        ledger.close_month(session=session, month=last_month(), actor_id=finance.id, today=today())
        session.commit()
        votes.load_rounds(session, secret=TEST_SECRET, now=utcnow(), photos_dir=photos)
        load_spend_demo(session, teams=[shire], members=loaded["members"], today=today(),
                        receipts_dir=app.config["RECEIPTS_DIR"])
        session.commit()
    with app.app_context():
        store.freeze_month(engine, month=last_month(), at_close=True)
    return {"finance_id": finance.id}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory):
    """{"app", "client", "engine", "finance_id"}: the demo world on one database."""
    folder = tmp_path_factory.mktemp("opendata")
    config = {"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": TEST_SECRET, "RATELIMIT_ENABLED": False,
              "WTF_CSRF_ENABLED": False, "OUTBOX_DIR": str(folder / "outbox"),
              "RECEIPTS_DIR": str(folder / "receipts"), "INSTANCE_UPLOADS": str(folder / "uploads"),
              "STATEMENT_FREEZE": "cron"}
    if request.param == "sqlite":
        path = folder / "od.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield from _world({**config, "DATABASE_URL": f"sqlite:///{path}"})
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set THRIVING_TEST_DATABASE_URL to run these")
    with scratch_pg_database("thriving_od") as url:
        engine = make_null_pool_engine(url)
        upgrade(engine)
        engine.dispose()
        yield from _world({**config, "DATABASE_URL": url})


def _world(config: dict):
    app = create_app(config)
    loaded = _load(app)
    yield {"app": app, "client": app.test_client(), "engine": get_engine(app), **loaded}
    get_engine(app).dispose()


@pytest.fixture
def db(world):
    with open_session(world["engine"], write=False) as session:
        yield session


