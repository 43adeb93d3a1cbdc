"""Where the rate-limit counters live (community/limits.py, issue 14 finding 11): the choice at
start-up and the SQLite file that every worker shares when no Redis answers."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from community import limits
from wsgi import create_app


def _closed_port_uri() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"redis://127.0.0.1:{s.getsockname()[1]}/0"


def test_a_configured_storage_is_kept(tmp_path):
    assert limits.choose_storage("redis://example:6380/1", instance_path=str(tmp_path)) == "redis://example:6380/1"
    assert limits.choose_storage("memory://", instance_path=str(tmp_path)) == "memory://"


def test_auto_without_redis_is_the_sqlite_file_in_instance(tmp_path):
    uri = limits.choose_storage("auto", instance_path=str(tmp_path), local_redis=_closed_port_uri())
    assert uri == f"sqlite:///{tmp_path.resolve()}/ratelimits.sqlite3"
    assert "SQLite" in limits.describe_storage(uri)


def test_auto_is_the_local_redis_when_it_answers(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "redis_answers", lambda uri: uri == "redis://127.0.0.1:6379/0")
    uri = limits.choose_storage("auto", instance_path=str(tmp_path))
    assert uri == "redis://127.0.0.1:6379/0"
    assert limits.describe_storage(uri).startswith("Rate limits: Redis at 127.0.0.1:6379")


def test_the_app_default_is_not_per_worker_memory(tmp_path):
    app = create_app({"ENV_NAME": "testing", "SECRET_KEY": "x" * 40, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db",
                      "RATELIMIT_ENABLED": True, "RATELIMIT_LOCAL_REDIS": _closed_port_uri()})
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("sqlite:///")
    assert app.config["RATELIMIT_STORAGE_URI"].endswith("/ratelimits.sqlite3")


def test_memory_is_said_to_be_per_worker():
    assert "NOT shared" in limits.describe_storage("memory://")


def test_the_sqlite_storage_counts_a_fixed_window_and_forgets_it(tmp_path):
    uri = f"sqlite:///{tmp_path}/r.sqlite3"
    one, two = storage_from_string(uri), storage_from_string(uri)  # two workers, one file
    assert isinstance(one, limits.SQLiteStorage)
    limiter_one, limiter_two = FixedWindowRateLimiter(one), FixedWindowRateLimiter(two)
    item = parse("3 per 1 second")
    assert [limiter_one.hit(item, "k"), limiter_two.hit(item, "k"), limiter_one.hit(item, "k")] == [True] * 3
    assert not limiter_two.hit(item, "k")
    assert limiter_one.hit(item, "other")  # another key counts apart
    assert one.get_expiry(item.key_for("k")) > time.time()
    time.sleep(1.1)
    assert two.get(item.key_for("k")) == 0 and limiter_two.hit(item, "k")
    one.clear(item.key_for("k"))
    assert two.get(item.key_for("k")) == 0
    limiter_one.hit(item, "again")
    assert one.check() and one.reset() == 1 and two.get(item.key_for("again")) == 0


HAMMER = """
import json, sys
from limits.storage import storage_from_string
import community.limits  # registers the sqlite:// storage
storage = storage_from_string(sys.argv[1])
print(json.dumps([storage.incr("shared", 300) for _ in range(int(sys.argv[2]))]))
"""


def test_processes_sharing_the_file_count_every_hit_once(tmp_path):
    """Four processes (gunicorn's workers), 50 hits each at once: the counts 1..200, each once."""
    uri = f"sqlite:///{tmp_path}/r.sqlite3"
    storage_from_string(uri)  # the table exists before they start
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    workers = [subprocess.Popen([sys.executable, "-c", HAMMER, uri, "50"], cwd=root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [w.communicate(timeout=60) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    seen = sorted(n for out, _ in outputs for n in json.loads(out))
    assert seen == list(range(1, 201))
