"""Benchmark: `flask votes remind-closing` for a round of 20,000 eligible residents (issue 16).

Builds a fresh database (a SQLite file by default; PostgreSQL with ``--database-url`` or
THRIVING_TEST_DATABASE_URL, whose database is used as it is: give it a scratch one), opens a round
closing in 30 hours, then bulk-inserts the residents (after the opening, so the "round opened"
notifications are not part of the figures): 10% turned the reminder off, 10% chose text messages
(with a mobile number; GOV.UK Notify configured with a fake key: nothing is delivered). Then times
``votes.notifications.remind_closing`` (the command's service function) with its commit, twice:
the second run must queue nothing (idempotence).

Usage (from the repository root)::

    .venv/bin/python -m bench.reminders [--residents 20000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from community.db import get_engine, open_session, utcnow
from community.migrate import upgrade
from community.models import MailMessage, NotificationPreference, Person, Place, Team
from ledger import services as ledger
from votes import notifications, services
from votes.models import Idea
from wsgi import create_app

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-" + "x" * 40
FAKE_KEY = "bench-11111111-2222-3333-4444-555555555555-66666666-7777-8888-9999-000000000000"
TEMPLATE = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--database-url", default=os.environ.get("THRIVING_TEST_DATABASE_URL"))
    parser.add_argument("--sqlite", action="store_true", help="ignore THRIVING_TEST_DATABASE_URL")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="thriving-bench-")
    url = f"sqlite:///{tmp}/bench.sqlite3" if args.sqlite or not args.database_url else args.database_url
    app = create_app({"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": url,
                      "OUTBOX_DIR": f"{tmp}/outbox", "MAIL_DELIVERY": "queue", "NOTIFY_API_KEY": FAKE_KEY,
                      "NOTIFY_EMAIL_TEMPLATE_ID": TEMPLATE, "NOTIFY_SMS_TEMPLATE_ID": TEMPLATE,
                      "PUBLIC_URL": "https://thriving.example"})
    engine = get_engine(app)
    upgrade(engine)
    with app.app_context(), open_session(engine, write=True) as s:
        place = Place(slug="bench", name="Benchton", district="Bench")
        s.add(place)
        s.flush()
        team = Team(slug="bench", name="Bench Team", place_id=place.id, cost_centre="B1")
        staff = Person(email="staff@bench.example", name="Staff")
        s.add_all([team, staff])
        s.flush()
        ledger.allocate(gl_code="R1000", session=s, team=team, amount_pence=1_000_000, actor_id=staff.id,
                        effective_date=dt.date.today(), idempotency_key="bench-alloc")
        idea = Idea(team_id=team.id, title="Benches", description="bench", estimated_cost_pence=40_000,
                    team_cost_pence=40_000, status="feasible")
        s.add(idea)
        s.flush()
        now = utcnow()
        services.open_round(session=s, team=team, actor_id=staff.id, title="Bench round", budget_pence=100_000,
                            opens_at=now - dt.timedelta(hours=1), closes_at=now + dt.timedelta(hours=30),
                            idea_ids=[idea.id], ballot_type="approval", rule="greedy", idempotency_key="bench-round")
        t0 = time.perf_counter()
        s.execute(insert(Person), [dict(
            email=f"r{i}@bench.example", name=f"Resident {i}", place_id=place.id, is_admin=False, is_finance=False,
            totp_last_step=0, is_demo=False, is_active=True, created_at=now, email_confirmed_at=now,
            phone=f"+4477009{i:05d}"[:13] if i % 10 == 1 else None) for i in range(args.residents)])
        ids = list(s.execute(select(Person.id).where(Person.place_id == place.id).order_by(Person.id)).scalars())
        s.execute(insert(NotificationPreference), [
            dict(person_id=pid, kind="round_closing", channel="none" if n % 10 == 0 else "sms", updated_at=now)
            for n, pid in enumerate(ids) if n % 10 in (0, 1)])
        s.commit()
        t_setup = time.perf_counter() - t0
    with app.app_context():
        runs = []
        for _run in range(2):
            with open_session(engine, write=True) as s:
                t0 = time.perf_counter()
                queued = notifications.remind_closing(session=s)
                s.commit()
                runs.append((queued, time.perf_counter() - t0))
        with open_session(engine, write=False) as s:
            rows = dict(s.execute(select(MailMessage.channel, func.count()).group_by(MailMessage.channel)).all())
    print(f"database: {engine.dialect.name}; eligible residents: {len(ids):,} (inserted in {t_setup:.2f} s)")
    print(f"remind-closing, first run:  {runs[0][1]:6.2f} s, {runs[0][0]:,} queued "
          f"({runs[0][0] / runs[0][1]:,.0f} a second); outbox rows by channel: {rows}")
    print(f"remind-closing, second run: {runs[1][1]:6.2f} s, {runs[1][0]:,} queued (must be 0)")
    engine.dispose()


if __name__ == "__main__":
    main()
