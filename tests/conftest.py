"""Shared fixtures: a freshly migrated database per test on SQLite and, when
``THRIVING_TEST_DATABASE_URL`` is set, on PostgreSQL too; the app, its client and runner."""

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher
from sqlalchemy import make_url, text

from community import passwords
from community.db import make_engine, make_null_pool_engine, open_session
from community.migrate import upgrade
from wsgi import create_app

# The suite makes thousands of throw-away password hashes (every person a test creates, every
# sign-in verifies one). At production's cost (argon2-cffi defaults: 64 MiB, t=3, p=4) each takes
# 0.1 s on an idle machine and 0.5 s on two busy cores, most of the suite's time. In this process
# new hashes are argon2id at the smallest cost; the tests of hashing itself put production's back
# (``production_hasher``); servers and job runners started as processes hash as production does.
passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))

pytest_plugins = ["tests.support.factories"]  # place_and_team, make_person, sign_in, people, votes_world

PG_URL = os.environ.get("THRIVING_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]
TEST_SECRET = "test-secret-" + "x" * 40
PROD_TOTP_KEYS = "lTuMjH_tzKguS8V8sr-GZolhO2avtsJ35BbBLvqi99U="  # for the tests' production apps (development uses instance/totp_keys)


@pytest.fixture
def production_hasher():
    """Production's password hasher for one test (see the top of this file)."""
    cheap = passwords.use_hasher(PasswordHasher())
    yield
    passwords.use_hasher(cheap)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """One migrated SQLite file; each test gets a copy (much faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@contextmanager
def scratch_pg_database(prefix: str, *, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database next to ``THRIVING_TEST_DATABASE_URL`` (empty, or a copy of
    ``template``); yields its URL and drops it afterwards. Skips the test without PostgreSQL."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set THRIVING_TEST_DATABASE_URL to run these")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_null_pool_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_template():
    """One migrated PostgreSQL database used as the template for each test's database."""
    with scratch_pg_database("thriving_tpl") as url:
        engine = make_null_pool_engine(url)
        upgrade(engine)
        engine.dispose()
        yield make_url(url).database


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """A fresh, migrated, empty database for one test."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    with scratch_pg_database("thriving_t", template=request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture
def app(database_url, tmp_path):
    """The app on the test database. CSRF is off here so view tests can post plainly;
    tests/community/test_csrf.py turns it back on to prove every form needs it."""
    app = create_app(
        {
            "ENV_NAME": "testing",
            "TESTING": True,
            "SECRET_KEY": TEST_SECRET,
            "DATABASE_URL": database_url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "INSTANCE_UPLOADS": str(tmp_path / "uploads"),
        }
    )
    yield app
    from community.db import get_engine

    get_engine(app).dispose()


@pytest.fixture
def engine(app):
    from community.db import get_engine

    return get_engine(app)


@pytest.fixture
def session(app, engine):
    """A write session for service tests; the test commits when the use case would.

    No app context is pushed here: requests made by ``client`` in the same test must get
    their own context (and their own database session), as they would in production."""
    s = open_session(engine, write=True)
    yield s
    s.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
