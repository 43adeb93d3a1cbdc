"""What SQL a piece of code runs: for tests that count a page's or a service's queries."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def statements_run(engine) -> Iterator[list[str]]:
    """``with statements_run(engine) as seen:`` — ``seen`` holds every statement sent to the
    database inside the block, in order (the listener is removed even if the block raises)."""
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)
