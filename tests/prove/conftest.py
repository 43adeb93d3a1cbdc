"""Fixtures of the proving tests: fresh databases on SQLite (a file) and PostgreSQL (when
``THRIVING_TEST_DATABASE_URL`` is set), seeded through the services, served by real gunicorn.

Heavy tests (a server per test, kills, load) are marked ``prove_heavy``; they still run in
``make test`` — the marker only lets you skip them with ``-m "not prove_heavy"`` while iterating.
"""

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from community.db import make_null_pool_engine
from tests.conftest import PG_URL
from tests.prove.harness import Server, World, minted_browser, seed

BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config):
    config.addinivalue_line("markers", "prove_heavy: starts its own gunicorn or kills one (tests/prove)")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL not configured: set THRIVING_TEST_DATABASE_URL to run these")
    return request.param


@pytest.fixture(scope="session")
def make_db(backend, request, tmp_path_factory):
    """A factory of fresh migrated databases on this module's backend (dropped afterwards)."""
    made: list[str] = []
    admin = make_null_pool_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT") if PG_URL else None

    def make() -> str:
        if backend == "sqlite":
            path = tmp_path_factory.mktemp("db") / "prove.sqlite3"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            return f"sqlite:///{path}"
        template = request.getfixturevalue("pg_template")
        name = f"thriving_p_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        made.append(name)
        return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Served:
    """A seeded database behind a running gunicorn."""

    server: Server
    world: World
    database_url: str
    workdir: Path

    @property
    def url(self) -> str:
        return self.server.url

    def browser(self, role: str | None, *, second_factor: bool | None = None):
        """A browser signed in (with second factor, unless told) as the actor playing ``role``."""
        actor = None if role in (None, "anonymous") else self.world.actors[role]
        return minted_browser(self.url, self.database_url, actor, second_factor=second_factor)


def serve(make_db, tmp_path_factory, *, before_start: Callable[[str], None] | None = None,
          **server_options) -> Served:
    """A fresh seeded database behind a new gunicorn; ``before_start(url)`` runs on the seeded
    database before the server starts (the unsafe variants change its schema there)."""
    url = make_db()
    world = seed(url)
    if before_start is not None:
        before_start(url)
    workdir = tmp_path_factory.mktemp("server")
    server = Server(url, workdir, **server_options).start()
    return Served(server, world, url, workdir)


@pytest.fixture(scope="session")
def shared_served(make_db, tmp_path_factory):
    """One server per backend for the whole run, shared by the tests that change nothing that
    the others rely on (matrix, CSRF, headers, sessions): gunicorn's start is the slow part."""
    running = serve(make_db, tmp_path_factory)
    yield running
    running.server.stop()


@pytest.fixture(scope="module")
def served(make_db, tmp_path_factory):
    """A server of the module's own, for tests that change the world (fuzzing, restores)."""
    running = serve(make_db, tmp_path_factory)
    yield running
    running.server.stop()


@pytest.fixture
def fresh_served(make_db, tmp_path_factory):
    """A server on a database of its own (tests that need a known money state)."""
    running = serve(make_db, tmp_path_factory)
    yield running
    running.server.stop()
