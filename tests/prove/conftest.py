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
    """A seeded database behind one running gunicorn, or several (``also``: more app servers on
    other ports sharing the same database, as production's hosts behind a load balancer)."""

    server: Server
    world: World
    database_url: str
    workdir: Path
    also: tuple[Server, ...] = ()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def servers(self) -> tuple[Server, ...]:
        return (self.server, *self.also)

    def host(self, i: int) -> str:
        """The URL of the server attempt ``i`` goes to: round robin, as a load balancer would."""
        return self.servers[i % len(self.servers)].url

    def browser(self, role: str | None, *, second_factor: bool | None = None, host: int = 0):
        """A browser signed in (with second factor, unless told) as the actor playing ``role``,
        talking to server ``host`` (round robin over the servers)."""
        actor = None if role in (None, "anonymous") else self.world.actors[role]
        return minted_browser(self.host(host), self.database_url, actor, second_factor=second_factor)

    def error_lines(self) -> list[str]:
        return [line for server in self.servers for line in server.error_lines()]

    def log(self) -> str:
        return "\n".join(server.log() for server in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def serve(make_db, tmp_path_factory, *, before_start: Callable[[str], None] | None = None, hosts: int = 1,
          **server_options) -> Served:
    """A fresh seeded database behind ``hosts`` new gunicorns (each on its own port, all on that
    one database); ``before_start(url)`` runs on the seeded database before the servers start
    (the unsafe variants change its schema there)."""
    url = make_db()
    world = seed(url)
    if before_start is not None:
        before_start(url)
    workdir = tmp_path_factory.mktemp("server")
    servers = []
    try:
        for n in range(hosts):
            servers.append(Server(url, workdir / f"host{n}" if hosts > 1 else workdir, **server_options).start())
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return Served(servers[0], world, url, workdir, tuple(servers[1:]))


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
