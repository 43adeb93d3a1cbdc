"""Benchmark: a round of 50,000 synthetic ballots from casting to the results page.

Builds a fresh database (SQLite by default, or ``--database-url``), one team with 50,000
eligible residents and 30 feasible ideas, opens a round, then times:

* casting: every ballot through ``votes.services.cast_ballot`` (eligibility, ballot rules,
  HMAC voter key, the one-ballot constraint), committed in batches of ``--batch``;
* closing: ``close_round`` — tally with the round's rule, reasons, hold moves;
* the results page: one GET of ``/teams/<slug>/rounds/<id>/results``.

Usage (from the repository root)::

    .venv/bin/python -m bench.ballots [--ballots 50000] [--rule mes-add1-greedy] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from community.db import get_engine, open_session, utcnow
from community.migrate import upgrade
from community.models import Person, Place, Team
from ledger import services as ledger
from votes import services
from votes.models import Idea
from wsgi import create_app

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-" + "x" * 40


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=50_000)
    parser.add_argument("--ideas", type=int, default=30)
    parser.add_argument("--rule", default="mes-add1-greedy", choices=["greedy", "mes-add1-greedy"])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", action="store_true", help="print a profile of the casting phase")
    parser.add_argument("--http", type=int, default=0, metavar="N",
                        help="then replace N voters' ballots through the view (POST …/ballot, Flask test "
                             "client: sign-in session, CSRF off, receipt email), timed separately")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="thriving-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    app = create_app({"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": url,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False, "OUTBOX_DIR": f"{tmp}/outbox",
                      "MAIL_DELIVERY": "queue"})  # as production: the receipt is queued, cron sends it
    engine = get_engine(app)
    upgrade(engine)
    rng = random.Random(2026)
    with open_session(engine, write=True) as s:
        place = Place(slug="bench", name="Benchton", district="Bench")
        s.add(place)
        s.flush()
        team = Team(slug="bench", name="Bench Team", place_id=place.id, cost_centre="B1")
        s.add(team)
        s.flush()
        staff = Person(email="staff@bench.example", name="Staff")
        s.add(staff)
        s.flush()
        s.execute(insert(Person), [dict(email=f"v{i}@bench.example", name=f"Voter {i}", place_id=place.id,
                                        is_admin=False, is_finance=False, totp_last_step=0, is_demo=False,
                                        is_active=True, created_at=utcnow(), email_confirmed_at=utcnow()) for i in range(args.ballots)])
        ledger.allocate(gl_code="R1000", session=s, team=team, amount_pence=10_000_000, actor_id=staff.id,
                        effective_date=dt.date.today(), idempotency_key="bench-alloc")
        ideas = []
        for n in range(args.ideas):
            cost = rng.randrange(20, 400) * 1000
            idea = Idea(team_id=team.id, title=f"Idea {n}", description="bench", estimated_cost_pence=cost,
                        team_cost_pence=cost, status="feasible")
            s.add(idea)
            ideas.append(idea)
        s.flush()
        now = utcnow()
        rnd = services.open_round(session=s, team=team, actor_id=staff.id, title="Bench round",
                                  budget_pence=1_500_000, opens_at=now - dt.timedelta(hours=1),
                                  closes_at=now + dt.timedelta(days=1), idea_ids=[i.id for i in ideas],
                                  ballot_type="approval", rule=args.rule, idempotency_key="bench-round")
        s.commit()
        voter_ids = list(s.execute(select(Person.id).where(Person.place_id == place.id)).scalars())
        round_id, idea_ids, team_slug, staff_id = rnd.id, [i.id for i in ideas], team.slug, staff.id
    weights = [rng.random() ** 2 for _ in idea_ids]
    ballots = [rng.sample(idea_ids, k=rng.randint(1, 5), counts=None) if rng.random() < 0.5
               else rng.choices(idea_ids, weights=weights, k=rng.randint(1, 5)) for _ in voter_ids]

    with app.app_context():
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        for start in range(0, len(voter_ids), args.batch):
            with open_session(engine, write=True) as s:
                for person_id, chosen in zip(voter_ids[start:start + args.batch],
                                             ballots[start:start + args.batch], strict=True):
                    services.cast_ballot(session=s, rnd_id=round_id, person=s.get(Person, person_id),
                                         secret=SECRET, idea_ids=chosen)
                s.commit()
        t1, c1 = time.perf_counter(), time.process_time()
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        if args.http:
            _http_casts(app, engine, team_slug, round_id, voter_ids[:args.http], ballots[-args.http:], args.profile)
        t_close = time.perf_counter()
        with open_session(engine, write=True) as s:
            services.close_round(session=s, round_id=round_id, actor_id=staff_id, force=True)
            s.commit()
        t2 = time.perf_counter()
    client = app.test_client()
    response = client.get(f"/teams/{team_slug}/rounds/{round_id}/results")
    t3 = time.perf_counter()
    assert response.status_code == 200, response.status_code
    assert f"{len(voter_ids):,}" in response.get_data(as_text=True) or str(len(voter_ids)) in response.get_data(as_text=True)
    print(f"database: {engine.dialect.name}; ballots: {len(voter_ids):,}; ideas: {len(idea_ids)}; rule: {args.rule}")
    print(f"cast (through cast_ballot, batches of {args.batch}): {t1 - t0:7.2f} s "
          f"({len(voter_ids) / (t1 - t0):,.0f} ballots/s); CPU {c1 - c0:.2f} s "
          f"({len(voter_ids) / max(c1 - c0, 1e-9):,.0f} ballots per CPU-second)")
    print(f"close (tally, reasons, holds):                  {t2 - t_close:7.2f} s")
    print(f"results page (one GET):                         {t3 - t2:7.2f} s")
    print(f"total, casting to results page:                 {t3 - t0:7.2f} s"
          + (" (including the view casts)" if args.http else ""))
    engine.dispose()


def _http_casts(app, engine, slug, round_id, voter_ids, ballots, profile) -> None:
    """Replace ballots through the view, one signed-in client per voter (each a replacement:
    the upsert's update path, the receipt email queued for ``mail deliver``)."""
    import secrets

    from community.auth import token_hash
    from community.models import AuthSession

    tokens = [secrets.token_urlsafe(32) for _ in voter_ids]
    with open_session(engine, write=True) as s:
        s.execute(insert(AuthSession), [dict(token_hash=token_hash(t), person_id=p, created_at=utcnow(),
                                             second_factor=False) for t, p in zip(tokens, voter_ids, strict=True)])
        s.commit()
    clients = []
    for token in tokens:
        client = app.test_client()
        with client.session_transaction() as sess:
            sess["_user_id"] = token
            sess["_fresh"] = True
        clients.append(client)
    url = f"/teams/{slug}/rounds/{round_id}/ballot"
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    for client, chosen in zip(clients, ballots, strict=True):
        response = client.post(url, data={"idea": [str(i) for i in chosen]})
        assert response.status_code == 302, (response.status_code, response.get_data(as_text=True)[:500])
    t1, c1 = time.perf_counter(), time.process_time()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    n = len(clients)
    print(f"view (POST …/ballot, test client, {n:,} replacements): {t1 - t0:7.2f} s ({n / (t1 - t0):,.0f} "
          f"ballots/s); CPU {c1 - c0:.2f} s ({n / max(c1 - c0, 1e-9):,.0f} ballots per CPU-second)")


if __name__ == "__main__":
    main()
