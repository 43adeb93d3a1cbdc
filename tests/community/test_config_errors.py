"""A missing or wrong configuration, from the command line and under gunicorn (issue 18): one
sentence naming the variable, exit status 2, no traceback. Each case is a real subprocess with
every ``THRIVING_*`` variable cleared first."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROD_TOTP_KEYS

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s" * 40


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THRIVING_", "FLASK_"))}
    return {**env, "PYTHONPATH": str(ROOT), **values}


def _flask(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _one_sentence(done: subprocess.CompletedProcess, variable: str) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(lines) == 1, lines
    assert variable in lines[0] and lines[0].rstrip().endswith("."), lines[0]
    return lines[0]


NOTIFY_KEY = "test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"
TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
PRODUCTION = {"THRIVING_SECRET_KEY": SECRET, "THRIVING_TOTP_KEYS": PROD_TOTP_KEYS,
              "THRIVING_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}


@pytest.mark.parametrize(("values", "variable"), [
    ({}, "THRIVING_SECRET_KEY"),  # no THRIVING_ENV: production, without its secret
    ({"THRIVING_ENV": "prod"}, "THRIVING_ENV"),
    ({**PRODUCTION, "THRIVING_SECRET_KEY": ""}, "THRIVING_SECRET_KEY"),
    ({**PRODUCTION, "THRIVING_TOTP_KEYS": ""}, "THRIVING_TOTP_KEYS"),
    ({**PRODUCTION, "THRIVING_TOTP_KEYS": "not-a-key"}, "THRIVING_TOTP_KEYS"),
    ({**PRODUCTION, "THRIVING_DATABASE_URL": ""}, "THRIVING_DATABASE_URL"),
    ({"THRIVING_ENV": "development", "THRIVING_DATABASE_URL": "not a database"}, "THRIVING_DATABASE_URL"),
    ({"THRIVING_ENV": "development", "THRIVING_SPEND_FRESH_MINUTES": "soon"}, "THRIVING_SPEND_FRESH_MINUTES"),
    ({"THRIVING_ENV": "development", "THRIVING_RATELIMIT_ENABLED": "maybe"}, "THRIVING_RATELIMIT_ENABLED"),
    ({"THRIVING_ENV": "development", "THRIVING_MAIL_DELIVERY": "pigeon"}, "THRIVING_MAIL_DELIVERY"),
    ({"THRIVING_ENV": "development", "THRIVING_NOTIFY_API_KEY": "not-a-key"}, "THRIVING_NOTIFY_API_KEY"),
    ({"THRIVING_ENV": "development", "THRIVING_NOTIFY_API_KEY": NOTIFY_KEY}, "THRIVING_NOTIFY_EMAIL_TEMPLATE_ID"),
    ({"THRIVING_ENV": "development", "THRIVING_NOTIFY_API_KEY": NOTIFY_KEY, "THRIVING_NOTIFY_EMAIL_TEMPLATE_ID": TEMPLATE,
      "THRIVING_NOTIFY_SMS_TEMPLATE_ID": TEMPLATE, "THRIVING_NOTIFY_BASE_URL": "localhost:6011"},
     "THRIVING_NOTIFY_BASE_URL"),
])
def test_a_bad_configuration_is_one_sentence_and_exit_2(values, variable):
    _one_sentence(_flask(["ledger", "verify"], _env(**{k: v for k, v in values.items() if v})), variable)


@pytest.mark.parametrize("args", [
    ["--help"], ["db", "upgrade"], ["users", "demo-list"], ["statements", "freeze-pending"],
    ["mail", "deliver"], ["votes", "tally", "missing.pb", "--rule", "greedy"], ["backup", "--out", "x"],
    ["routes"], ["shell"],
])
def test_every_command_says_the_same_sentence(args):
    line = _one_sentence(_flask(args, _env()), "THRIVING_SECRET_KEY")
    assert line.startswith("Production needs THRIVING_SECRET_KEY")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_fails_with_the_sentence_and_exit_2(tmp_path):
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", "2", "--bind",
               f"127.0.0.1:{_free_port()}", "--pid", str(tmp_path / "pid"), "wsgi:create_app()"]
    process = subprocess.Popen(command, cwd=ROOT, env=_env(THRIVING_ENV="production"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
        pytest.fail(f"gunicorn kept running with a bad configuration:\n{output}")
    assert process.returncode == 2, output
    assert "Traceback" not in output, output
    assert output.count("THRIVING_SECRET_KEY") == 1, output
    errors = [line for line in output.splitlines() if "[ERROR]" in line or "Error" in line]
    assert len(errors) == 1 and "Production needs THRIVING_SECRET_KEY" in errors[0], output
    assert not (tmp_path / "pid").exists()


@pytest.mark.parametrize("args", [
    ["ledger", "verify"], ["mail", "deliver"], ["votes", "close-due"], ["spend", "expire"],
    ["pledges", "lapse-due"], ["statements", "freeze-pending"], ["users", "demo-list"],
])
def test_a_command_on_a_database_without_tables_says_so(args, tmp_path):
    """A cron job run before the first ``db upgrade``: one sentence saying what to run, exit 2."""
    env = _env(THRIVING_ENV="development", THRIVING_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert "db upgrade" in _one_sentence(_flask(args, env), "db upgrade")


@pytest.mark.parametrize("url", ["postgresql://nobody@127.0.0.1:1/none", "sqlite:////nonexistent-folder/x.sqlite3"])
def test_a_command_on_a_database_that_cannot_be_opened_names_the_variable(url):
    _one_sentence(_flask(["ledger", "verify"], _env(THRIVING_ENV="development", THRIVING_DATABASE_URL=url)),
                  "THRIVING_DATABASE_URL")


def test_votes_tally_does_not_build_the_web_app(tmp_path):
    """``votes tally`` counts a file: no blueprint, view or sign-in extension is imported for it
    (building the web app was 1.3 s of its 1.4 s on Białołęka)."""
    election = tmp_path / "tiny.pb"
    election.write_text("META\nkey;value\nnum_projects;2\nnum_votes;2\nbudget;10\nvote_type;approval\n"
                        "PROJECTS\nproject_id;cost\na;6\nb;6\nVOTES\nvoter_id;vote\n1;a\n2;a,b\n")
    probe = ("import sys; from flask.cli import main; sys.argv = ['flask', '--app', 'wsgi', 'votes', 'tally', "
             f"{str(election)!r}, '--rule', 'greedy']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('LOADED', sorted(m for m in sys.modules if m == 'flask_login' or m.endswith('.views')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=_env(THRIVING_ENV="development"),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    funded, loaded = done.stdout.split("LOADED")
    assert funded.split() == ["a"], done.stdout + done.stderr  # it counted
    assert loaded.strip() == "[]", loaded
