"""The command line starts fast (issue 18): ``flask --app wsgi --help`` lists every command from
wsgi.COMMANDS without importing a view, a model, SQLAlchemy or cryptography; a command, once
chosen, runs on the fully built app. The speed itself is measured by bench/startup.py."""

import importlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import pytest

import wsgi

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "sqlmodel", "cryptography", "community.models", "community.views", "votes.views",
         "spend.views", "weasyprint")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THRIVING_", "FLASK_"))}
    return {**env, "PYTHONPATH": str(ROOT), "THRIVING_ENV": "development"}


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=120, check=False)


def test_help_lists_every_command_and_imports_nothing_heavy():
    done = _run(
        "import sys\n"
        "from flask.cli import main\n"
        "sys.argv = ['flask', '--app', 'wsgi', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n")
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout.splitlines()[-1]
    for name, _target, help_text in wsgi.COMMANDS:
        assert f"  {name} " in done.stdout
        assert help_text.split()[0] in done.stdout


@pytest.mark.parametrize(("name", "target", "help_text"), wsgi.COMMANDS)
def test_the_index_says_what_each_command_says(name, target, help_text):
    module, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    assert command.name == name
    assert (command.help or "").strip().splitlines()[0] == help_text.splitlines()[0]


def test_every_command_of_every_cli_module_is_in_the_index():
    """A command written in a CLI module but left out of wsgi.COMMANDS would never be offered."""
    reachable: set[int] = set()

    def walk(command: click.Command) -> None:
        reachable.add(id(command))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    modules = set()
    for _name, target, _help in wsgi.COMMANDS:
        module, _, attribute = target.partition(":")
        modules.add(module)
        walk(getattr(importlib.import_module(module), attribute))
    for module_name in modules:
        for attribute, value in vars(importlib.import_module(module_name)).items():
            if isinstance(value, click.Command) and getattr(value.callback, "__module__", module_name) == module_name:
                assert id(value) in reachable, f"{module_name}.{attribute} is not reachable from wsgi.COMMANDS"


@pytest.mark.parametrize(("name", "target"), [(n, t) for n, t, _h in wsgi.COMMANDS if ":" in t])
def test_a_group_offers_all_its_commands_in_a_fresh_process(name, target):
    """Loaded alone, as ``flask NAME …`` loads it, a group has every subcommand that any module
    adds to it (``users demo-list`` lives in demo/cli.py: ``make run`` calls it on a fresh
    process, where importing community.cli alone did not register it)."""
    module, _, attribute = target.partition(":")
    for _n, other, _h in wsgi.COMMANDS:
        importlib.import_module(other.partition(":")[0])  # everything registered, as in this process
    everything = sorted(getattr(getattr(importlib.import_module(module), attribute), "commands", {}))
    done = _run("import wsgi\n"
                f"command = next(c for c in wsgi.COMMANDS if c[0] == {name!r})\n"
                "group = wsgi.LazyCommand(*command).load()\n"
                "print(sorted(getattr(group, 'commands', {})))\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(everything)


def test_a_chosen_command_runs_on_the_built_app():
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "routes"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "votes." in done.stdout and "spend." in done.stdout and "/teams/<slug>" in done.stdout


def test_make_runs_first_commands_work_in_fresh_processes(tmp_path):
    """``make run`` starts with ``flask db upgrade``: a module that translated a sentence when
    imported (a default argument ``DESCRIPTIONS.english(...)``) broke every such command with
    KeyError: 'babel', while ``flask routes`` (Flask's own) still worked."""
    env = {**_env(), "THRIVING_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    for args in (["db", "upgrade"], ["ledger", "verify"]):
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, (args, done.stderr[-2000:])
        assert "Traceback" not in done.stderr


def test_a_deferred_build_runs_once_and_a_second_thread_waits_for_it():
    app = wsgi.App(__name__)
    built: list[str] = []

    def build():
        time.sleep(0.2)
        built.append(threading.current_thread().name)

    app.defer(build)
    seen: list[int] = []

    def request():
        with app.test_request_context("/"):
            seen.append(len(built))

    threads = [threading.Thread(target=request, name=f"t{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(built) == 1 and seen == [1, 1]
