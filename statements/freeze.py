"""Freezing a closed month's statements outside the close-month request.

Freezing a month builds and stores every team's statement (PDF + CSV) and the county pack: about
1.6 s a team on one process, so ~64 s for 40 teams — longer than a reverse proxy waits. Closing
a month therefore only commits the close; who freezes (``STATEMENT_FREEZE``):

- ``"cron"`` (production default): nothing in the request. Cron runs
  ``flask --app wsgi statements freeze-pending``, which freezes every pending month.
- ``"after_response"`` (development and testing default): the close-month response registers
  :func:`freeze_after_response`; when the WSGI server closes the response (after the body is
  written) a background thread of the same process freezes the month. A thread, not the request
  thread itself: gunicorn (gthread) and the Werkzeug server only return a keep-alive connection
  to the poller after ``close()`` returns, so a browser following the redirect on the same
  connection would wait for the whole freeze. The thread is a daemon: a worker that stops
  mid-freeze leaves the month pending for the next ``freeze-pending`` or first download.

A month is *pending* when it is closed and lacks its county pack or the statement of any team
that existed when it was closed (a team created later has no entries in it: the closed-period
trigger refuses them). Closed months are those someone closed (a ``ledger_period`` row) and the
months before them, which that close closed too: from the ledger's first entry, or the first
close if that is earlier. A month closed that way is "closed when" the first close at or after
it happened. So closing October when nothing was closed before also freezes every earlier month
with entries, and none of their county packs is built inside a download.

Everything here is idempotent and race-safe, and renders each statement once however many runners
start together (cron on every host, the background thread): a month is frozen under its lock
(``community.jobs.exclusive``: a PostgreSQL advisory lock, a lock file on SQLite), and the runner
holding it re-reads the month's status first; a runner that does not get it leaves the month to
the holder. ``store.store_frozen`` still lets one writer win the UNIQUE (month, scope) (a first
download racing a freeze), the loser serving the winner's row.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, Response
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session

from community import jobs
from community.db import get_engine, open_session
from community.models import Team
from ledger import signals
from ledger.models import JournalEntry, LedgerPeriod
from statements import store
from statements.models import COUNTY_SCOPE, FrozenStatement

log = logging.getLogger(__name__)

FREEZE_MODES = ("cron", "after_response")
BACKGROUND_PASSES = 10  # freeze_pending passes one background freeze of every pending month makes, at most

_threads: dict[tuple[Flask, dt.date | None], threading.Thread] = {}  # (app, month or None: every pending month) → its thread
_threads_lock = threading.Lock()


@dataclass(frozen=True)
class MonthStatus:
    """How far a closed month's statements are frozen."""

    month: dt.date
    teams_ready: int  # frozen statements of the teams that existed when the month was closed
    teams_total: int  # those teams
    pack_ready: bool

    @property
    def frozen(self) -> bool:
        return self.pack_ready and self.teams_ready >= self.teams_total


def _month_after(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_statuses(session: Session, *, pending_only: bool = False) -> list[MonthStatus]:
    """Every closed month (oldest first) with how many of its statements are frozen.

    Five small queries whatever the history: the closes, the first entry, the teams, one row
    per month with frozen team statements, and the months with a frozen pack."""
    periods = session.execute(
        select(LedgerPeriod.month_start, LedgerPeriod.closed_at).order_by(LedgerPeriod.month_start)
    ).all()
    if not periods:
        return []
    first_entry = session.execute(select(func.min(JournalEntry.effective_date))).scalar_one()
    month = min(periods[0].month_start, first_entry.replace(day=1) if first_entry else periods[0].month_start)
    closed_when: dict[dt.date, dt.datetime] = {}  # each closed month → when the close that closed it happened
    for period in periods:
        while month <= period.month_start:
            closed_when[month] = period.closed_at
            month = _month_after(month)
    created = [c for (c,) in session.execute(select(Team.created_at)).all()]
    # Frozen statements of the teams that existed when their month was closed, per month.
    closer = aliased(LedgerPeriod)
    first_close_from = (
        select(func.min(LedgerPeriod.month_start))
        .where(LedgerPeriod.month_start >= FrozenStatement.month_start)
        .correlate(FrozenStatement)
        .scalar_subquery()
    )
    ready = dict(
        session.execute(
            select(FrozenStatement.month_start, func.count())
            .join(Team, Team.id == FrozenStatement.team_id)
            .join(closer, closer.month_start == first_close_from)
            .where(Team.created_at <= closer.closed_at)
            .group_by(FrozenStatement.month_start)
        ).all()
    )
    packs = set(
        session.execute(select(FrozenStatement.month_start).where(FrozenStatement.scope == COUNTY_SCOPE)).scalars()
    )
    found = [
        MonthStatus(
            month=month,
            teams_ready=int(ready.get(month, 0)),
            teams_total=sum(1 for c in created if c <= closed_at),
            pack_ready=month in packs,
        )
        for month, closed_at in closed_when.items()
    ]
    return [s for s in found if not s.frozen] if pending_only else found


def pending_months(session: Session) -> list[MonthStatus]:
    """Closed months whose statements are not all frozen yet, oldest first."""
    return month_statuses(session, pending_only=True)


def month_status(session: Session, month: dt.date) -> MonthStatus | None:
    """How far ``month``'s statements are frozen; None unless someone closed that month."""
    return next((s for s in month_statuses(session) if s.month == month), None)


def _status_of(engine: Engine, month: dt.date) -> MonthStatus | None:
    with open_session(engine, write=False) as session:
        return month_status(session, month)


def freeze_if_pending(
    engine: Engine, month: dt.date, *, progress: Callable[[str], None] | None = None
) -> MonthStatus | None:
    """Freeze ``month`` unless it is already frozen or another runner (cron on another host, a
    background thread) is freezing it now; returns its status afterwards (None when it is not a
    closed month). The status is read again once the month's lock is held, so a month the
    previous holder finished is not rendered again."""
    with jobs.exclusive(engine, f"statements:freeze:{month:%Y-%m}") as mine:
        status = _status_of(engine, month)
        if status is None or status.frozen or not mine:
            return status
        store.freeze_month(engine, month=month, at_close=True, progress=progress)
        return _status_of(engine, month)


@dataclass
class FreezeRun:
    """What one ``freeze_pending`` run did."""

    frozen: list[MonthStatus]
    failed: list[tuple[dt.date, str]]
    elsewhere: list[dt.date] = field(default_factory=list)  # being frozen by another runner


def freeze_pending(engine: Engine, *, progress: Callable[[str], None] | None = None) -> FreezeRun:
    """Freeze every pending month, oldest first. A month that fails is reported and left
    pending (its stored rows stay: each is all-or-nothing); the others still run. A month
    another runner holds is left to it (``elsewhere``)."""
    with open_session(engine, write=False) as session:
        months = [s.month for s in pending_months(session)]
    run = FreezeRun(frozen=[], failed=[])
    for month in months:
        try:
            status = freeze_if_pending(engine, month, progress=progress)
        except Exception as error:  # reported by the caller; the next month still runs
            log.exception("freezing statements for %s failed", month)
            run.failed.append((month, f"{type(error).__name__}: {error}"))
        else:
            if status is not None and not status.frozen:
                run.elsewhere.append(month)
            elif status is not None:
                run.frozen.append(status)
    return run


def init_app(app: Flask) -> None:
    """Freeze after a month is closed, when ``STATEMENT_FREEZE`` says so (connecting twice is a no-op)."""
    signals.month_closed.connect(_on_month_closed)


def _on_month_closed(app: Flask, *, month: dt.date, response: Response) -> None:
    if app.config["STATEMENT_FREEZE"] == "after_response":
        freeze_after_response(response, app)


def freeze_after_response(response: Response, app: Flask) -> Response:
    """Freeze every pending month (the one just closed, and any it closed with it) in a
    background thread once the server has sent ``response``."""
    response.call_on_close(lambda: start_background_freeze(app, None))
    return response


def start_background_freeze(app: Flask, month: dt.date | None) -> threading.Thread:
    """Start (or return the running) background freeze of ``month`` in this process; None
    freezes every pending month, oldest first, and covers any one month too."""
    with _threads_lock:
        for key in ((app, None), (app, month)):
            running = _threads.get(key)
            if running is not None and running.is_alive():
                return running
        thread = threading.Thread(
            target=_freeze_in_background,
            args=(app, month),
            name=f"statement-freeze-{month:%Y-%m}" if month else "statement-freeze-pending",
            daemon=True,
        )
        _threads[(app, month)] = thread
        thread.start()
        return thread


def _freeze_in_background(app: Flask, month: dt.date | None) -> None:
    try:
        with app.app_context():
            if month is None:
                # Again while a pass freezes something: a month closed during a pass (closing a
                # later month while this runs) is left to the next pass, not to cron.
                for _ in range(BACKGROUND_PASSES):
                    if not any(status.frozen for status in freeze_pending(get_engine(app)).frozen):
                        break
            else:
                freeze_if_pending(get_engine(app), month)
    except Exception:  # the month is closed either way; it stays pending for cron or a download
        log.exception("freezing %s in the background failed; it stays pending", month or "pending months")


def wait_for_background_freezes(timeout: float | None = None) -> bool:  # ok: not money (seconds)
    """Join this process's background freezes (tests; a clean shutdown). True if none is left."""
    with _threads_lock:
        threads = list(_threads.values())
    for thread in threads:
        thread.join(timeout)
    with _threads_lock:
        for key, thread in list(_threads.items()):
            if not thread.is_alive():
                del _threads[key]
        return not _threads
