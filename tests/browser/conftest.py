"""Browser tests: Debian's Chromium driven by Playwright against a live server on loopback."""

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from community.db import get_engine, open_session
from tests.conftest import TEST_SECRET
from tests.support.clock import today
from wsgi import create_app

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"


def pytest_collection_modifyitems(items):
    if CHROMIUM:
        return
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason="Debian's chromium is not installed (make test installs it as root)"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--disable-gpu", "--no-sandbox"],
    }


@pytest.fixture(scope="session")
def live_server(sqlite_template, tmp_path_factory):
    """The app with demo data on a SQLite file, served by Werkzeug in a thread: the places, people
    and ideas, and Shirebrook's demo rounds (a closed one with results, an open one most demo
    residents have voted in) funded by an allocation instead of the 13-month ledger history, and
    Shirebrook's demo quick spend (one request waiting, one approved, one paid with a receipt)."""

    from sqlalchemy import select

    from community.db import utcnow
    from community.models import Person, Team
    from demo import people, pledges, votes
    from demo.spend import load_spend_demo
    from ledger import services as ledger

    path = tmp_path_factory.mktemp("live") / "live.sqlite3"
    shutil.copyfile(sqlite_template, path)
    app = create_app({"ENV_NAME": "testing", "SECRET_KEY": TEST_SECRET, "DATABASE_URL": f"sqlite:///{path}",
                      "RATELIMIT_ENABLED": False, "OUTBOX_DIR": str(path.parent / "outbox"),
                      "RECEIPTS_DIR": str(path.parent / "receipts"), "INSTANCE_UPLOADS": str(path.parent / "uploads")})
    with open_session(get_engine(app), write=True) as session:
        loaded = people.load(session)
        photos = path.parent / "uploads" / "photos"  # INSTANCE_UPLOADS/photos, as the app serves them
        votes.load(session, photos_dir=photos)
        pledges.load_demo_pledges(session, teams=loaded["teams"], members=loaded["members"])
        team = session.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
        finance = session.execute(select(Person).where(Person.is_finance)).scalars().first()
        ledger.allocate(gl_code="R1000", session=session, team=team, amount_pence=200_000, actor_id=finance.id,
                        effective_date=today(), idempotency_key="browser-demo-rounds")
        votes.load_rounds(session, secret=TEST_SECRET, now=utcnow(), photos_dir=photos)
        load_spend_demo(session, teams=[team], members=loaded["members"], today=today(),
                        receipts_dir=app.config["RECEIPTS_DIR"])
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "app": app}
    server.shutdown()


@pytest.fixture
def shot():
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
