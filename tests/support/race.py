"""The one race harness: N attempts, each in its own thread and database session, released
together by a barrier; every attempt's outcome is collected.

    outcomes = race(engine, [attempt] * 20, refused=(InsufficientFunds,))
    assert outcomes.count("ok") == 6

``attempt(session, i)`` does the work (without committing); the harness commits, or rolls back
and records why. Outcomes are ``"ok"``, ``"refused"`` (one of the expected refusals) or
``"error: <ExceptionName>: <message>"`` (anything else: a wrong outcome for the test to catch).
``write=False`` opens deferred transactions (SQLite's ``BEGIN`` instead of ``BEGIN IMMEDIATE``),
which is how the lock-removed variants show the race can be lost on SQLite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine
from sqlmodel import Session

from community.db import open_session

Attempt = Callable[[Session, int], object]


def race(engine: Engine, attempts: Sequence[Attempt], *, refused: tuple[type[BaseException], ...] = (),
         write: bool = True, timeout: float = 120) -> list[str]:
    """Run every attempt at once; the outcomes in the order the attempts were given."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str | None] = [None] * len(attempts)

    def worker(i: int, attempt: Attempt) -> None:
        barrier.wait(timeout=timeout)
        session = open_session(engine, write=write)
        try:
            attempt(session, i)
            session.commit()
            outcomes[i] = "ok"
        except refused:
            session.rollback()
            outcomes[i] = "refused"
        except Exception as error:  # noqa: BLE001 - any other failure is a wrong outcome, reported
            session.rollback()
            outcomes[i] = f"error: {type(error).__name__}: {error}"
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return [o if o is not None else "error: still running" for o in outcomes]
