"""Backups (security.md L2): ``flask --app wsgi backup --out FILE`` taken while gunicorn serves,
then ``restore FILE``: the restored database passes ``ledger verify`` with the same balances and
chain head. PostgreSQL: the commands refuse and print the pg_dump / pg_restore commands."""

import subprocess
import uuid

import pytest
from sqlalchemy import select

from community.db import make_engine, open_session
from tests.date_parts import date_parts
from tests.prove.harness import ROOT, SECRET, fund, verify
from tests.support.clock import today
from wsgi import create_app


def _balances(database_url: str) -> dict[str, int]:
    from ledger import services
    from ledger.models import LedgerAccount

    engine = make_engine(database_url)
    try:
        with open_session(engine, write=False) as s:
            accounts = s.execute(select(LedgerAccount)).scalars().all()
            return {a.code: services.balance_of(session=s, account_id=a.id) for a in accounts}
    finally:
        engine.dispose()


def _runner(database_url):
    app = create_app({"ENV_NAME": "testing", "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
                      "RATELIMIT_ENABLED": False})
    return app, app.test_cli_runner()


def _virement(served, amount="12.50"):
    finance = served.browser("finance")
    finance.csrf("/finance/virement")
    response = finance.post("/finance/virement", {
        "from_team_id": served.world.team_a_id, "to_team_id": served.world.team_b_id, "amount": amount,
        "reason": "backup drill", **date_parts("effective_date", today()),
        "idempotency_key": uuid.uuid4().hex})
    assert response.status_code == 302, response.text


def test_backup_while_serving_then_restore_gives_the_same_ledger(served, backend, tmp_path):
    fund(served.database_url, served.world.team_a_id, 50_000, served.world.actors["finance"].person_id,
         key=uuid.uuid4().hex)
    _virement(served)
    app, runner = _runner(served.database_url)
    out = tmp_path / "backup.sqlite3"
    result = runner.invoke(args=["backup", "--out", str(out)])
    if backend == "postgresql":
        assert result.exit_code != 0
        assert "pg_dump --format=custom" in result.output and "pg_restore" in result.output
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    assert "ledger OK" in result.output
    before = _balances(served.database_url)
    head = verify(served.database_url).head_hash

    # The backup is a working database on its own: verify and balances, unchanged.
    copy_url = f"sqlite:///{out}"
    assert verify(copy_url).ok and verify(copy_url).head_hash == head
    assert _balances(copy_url) == before

    # Life goes on after the backup …
    _virement(served, "7.00")
    assert _balances(served.database_url) != before

    # … then a restore (server stopped first, as the README says) brings back the backed-up state.
    served.server.stop()
    result = runner.invoke(args=["restore", str(out)])
    assert result.exit_code == 0, result.output
    assert "ledger OK" in result.output and "kept as" in result.output
    assert _balances(served.database_url) == before
    report = verify(served.database_url)
    assert report.ok and report.head_hash == head
    served.server.start()  # the module's other tests keep a running server


def test_restore_refuses_a_file_that_is_not_a_good_backup(tmp_path, backend, make_db):
    url = make_db()
    _, runner = _runner(url)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"<html>not a database</html>" * 100)
    result = runner.invoke(args=["restore", str(junk)])
    assert result.exit_code != 0
    if backend == "postgresql":
        assert "pg_restore" in result.output
    else:
        assert "not a SQLite database" in result.output or "not a Thriving" in result.output
        # and an existing file is never overwritten by a backup
        result = runner.invoke(args=["backup", "--out", str(junk)])
        assert result.exit_code != 0 and "already exists" in result.output


@pytest.mark.prove_heavy
def test_the_commands_are_wired_into_flask(tmp_path, backend, make_db):
    """The real ``flask --app wsgi backup`` entry point (not only the test runner)."""
    if backend == "postgresql":
        pytest.skip("covered by the refusal test above")
    url = make_db()
    out = tmp_path / "b.sqlite3"
    env = {"THRIVING_ENV": "testing", "THRIVING_SECRET_KEY": SECRET, "THRIVING_DATABASE_URL": url,
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "backup", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.exists() and "ledger OK" in done.stdout
