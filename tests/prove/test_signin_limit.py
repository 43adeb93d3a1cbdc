"""The sign-in rate limit under the embedded default (issue 14 finding 11): four gunicorn workers,
no storage configured, 100 wrong-password posts from one address — at most 20 answered (the
limit is 20 per 5 minutes per address), not 20 per worker. Twice: with a Redis answering on the
local address the default uses it; without one it uses the SQLite file all workers share. The
master says which at start-up, in one log line."""

import socket
import uuid

import pytest

from tests.prove.conftest import serve
from tests.prove.harness import Browser

REDIS = ("127.0.0.1", 6379)
POSTS = 100
LIMIT = 20  # community.limits.SIGN_IN_PER_ADDRESS


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens on it once the socket is closed


def wrong_password_answers(url: str, posts: int = POSTS) -> list[int]:
    """Status of each of ``posts`` wrong-password sign-ins, each for another email (so only the
    per-address limit applies) and on a new connection (so they spread over the workers)."""
    browser = Browser(url)
    browser.http.headers["Connection"] = "close"
    token = browser.csrf("/sign-in")
    return [browser.post("/sign-in", {"email": f"nobody{i}@example.org", "password": "wrong wrong"},
                         csrf=token).status_code for i in range(posts)]


@pytest.mark.prove_heavy
@pytest.mark.parametrize("storage", ["redis", "sqlite"])
def test_the_default_sign_in_limit_holds_across_workers(storage, make_db, tmp_path_factory, backend):
    if backend == "postgresql":
        pytest.skip("the limiter's storage does not depend on the database: run once, on SQLite")
    env = {"THRIVING_RATELIMIT_ENABLED": "true",
           # unique per run: the counters of other runs (and of `make run`) are not ours
           "THRIVING_RATELIMIT_KEY_PREFIX": f"prove-{uuid.uuid4().hex}"}
    if storage == "redis":
        if not _redis_answers():
            pytest.skip("no Redis answering on 127.0.0.1:6379")
    else:
        env["THRIVING_RATELIMIT_LOCAL_REDIS"] = f"redis://127.0.0.1:{_closed_port()}/0"
    served = serve(make_db, tmp_path_factory, env=env)
    try:
        statuses = wrong_password_answers(served.url)
        answered = [s for s in statuses if s != 429]
        print(f"{storage}: {len(answered)} of {POSTS} wrong-password posts answered before 429")
        assert len(answered) <= LIMIT, statuses
        assert set(answered) == {200} and statuses[len(answered):] == [429] * (POSTS - len(answered)), statuses
        said = [line for line in served.server.log().splitlines() if "Rate limits:" in line]
        assert len(said) == 1, served.server.log()
        assert ("Redis" if storage == "redis" else "SQLite") in said[0], said
        assert not served.server.error_lines()
    finally:
        served.server.stop()
