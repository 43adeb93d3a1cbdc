"""The same cron on every host (issue 18, "Several app servers"): two job runners, separate
processes on one database (PostgreSQL, and SQLite), start every cron job together — ``mail
deliver``, ``votes close-due``, ``spend expire``, ``pledges lapse-due``, ``statements
freeze-pending`` — over queued email, due rounds, expirable requests, lapsing pledges and a
closed month not yet frozen. Afterwards each email went out once, each round was closed once,
each request expired and each pledge lapsed once, each statement was rendered once, and
``ledger verify`` is green. The xfail variants run the same with the claiming switched off
(``community.jobs._CLAIMING``): the naive jobs send, report and render twice.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from community.db import london_today, make_engine, open_session, utcnow
from tests.prove.harness import ROOT, World, open_round, seed, verify

pytestmark = pytest.mark.prove_heavy

EMAILS = 40
ROUNDS = 3
REQUESTS = 3
PLEDGES = 3
TEAMS = 2  # the seed's; one month is pending: TEAMS statements and the county pack
RUN_TIMEOUT = 300


@dataclass
class Run:
    """What two runners did to one prepared database."""

    database_url: str
    workdir: Path
    world: World
    outputs: dict[str, str]  # job → both runners' output
    mail_queued: int
    round_ids: list[int]
    request_ids: list[int]
    pledge_ids: list[int]

    def renders(self) -> Counter:
        path = self.workdir / "renders"
        lines = path.read_text().splitlines() if path.exists() else []
        return Counter(line.split(" ", 1)[1] for line in lines)


def _prepare(database_url: str) -> tuple[World, int, list[int], list[int], list[int]]:
    from community import mail
    from community.models import MailMessage, Person, Team
    from ledger import services as ledger
    from ledger.periods import close_month
    from pledges import services as pledges
    from spend import services as spend
    from spend.models import SpendRequest
    from votes.models import Round

    world = seed(database_url)
    round_ids = [open_round(database_url, world, ideas=2, title=f"Round {i}")[0] for i in range(ROUNDS)]
    now = utcnow()
    today = london_today()
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    engine = make_engine(database_url)
    try:
        with open_session(engine, write=True) as s:
            team = s.get(Team, world.team_a_id)
            member = s.get(Person, world.actors["member"].person_id)
            resident = s.get(Person, world.actors["resident"].person_id)
            for i in range(EMAILS):
                mail.send(to=f"resident{i}@example.org", subject=f"Message {i}", body="Hello.", session=s)
            s.execute(update(Round).where(Round.id.in_(round_ids))
                      .values(opens_at=now - dt.timedelta(hours=2), closes_at=now - dt.timedelta(minutes=1)))
            request_ids = [spend.request_spend(session=s, team=team, requester=member, amount_pence=500,
                                               payee="Hardware shop", payee_is_individual=False,
                                               purpose=f"Bulbs {i}", category=sorted(spend.CATEGORY_CODES)[0]).id
                           for i in range(REQUESTS)]
            s.execute(update(SpendRequest).where(SpendRequest.id.in_(request_ids))
                      .values(created_at=now - dt.timedelta(days=20)))
            pledge_ids = [pledges.make_pledge(session=s, team=team, made_by=resident, kind="money",
                                              description=f"£{i + 5}", amount_pence=500 + i,
                                              today=today - dt.timedelta(days=10),
                                              due_on=today - dt.timedelta(days=1)).id
                          for i in range(PLEDGES)]
            ledger.allocate(gl_code="R1000", session=s, team=team, amount_pence=5_000,
                            actor_id=world.actors["finance"].person_id, effective_date=last_month,
                            idempotency_key="jobs-last-month")
            s.flush()
            close_month(session=s, month=last_month, actor_id=world.actors["finance"].person_id)
            s.commit()
            queued = s.execute(select(func.count()).select_from(MailMessage)
                               .where(MailMessage.sent_at.is_(None))).scalar_one()
    finally:
        engine.dispose()
    return world, queued, round_ids, request_ids, pledge_ids


def _run_two(make_db, tmp_path_factory, *, claiming: bool) -> Run:
    database_url = make_db()
    world, queued, round_ids, request_ids, pledge_ids = _prepare(database_url)
    workdir = tmp_path_factory.mktemp("jobs")
    flags = [] if claiming else ["--no-claiming"]
    runners = [subprocess.Popen([sys.executable, "-m", "tests.prove.job_runner", database_url, str(workdir),
                                 name, *flags], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True) for name in ("host-a", "host-b")]
    outputs: dict[str, str] = {}
    for runner in runners:
        out, _ = runner.communicate(timeout=RUN_TIMEOUT)
        assert runner.returncode == 0, out
        for block in out.split("== ")[1:]:
            job, _, text = block.partition("\n")
            outputs[job.split()[0]] = outputs.get(job.split()[0], "") + text
    return Run(database_url, workdir, world, outputs, queued, round_ids, request_ids, pledge_ids)


@pytest.fixture(scope="module")
def claimed_run(make_db, tmp_path_factory):
    return _run_two(make_db, tmp_path_factory, claiming=True)


@pytest.fixture(scope="module")
def naive_run(make_db, tmp_path_factory):
    return _run_two(make_db, tmp_path_factory, claiming=False)


def _rows(run: Run, statement):
    engine = make_engine(run.database_url)
    try:
        with open_session(engine, write=False) as s:
            return s.execute(statement).all()
    finally:
        engine.dispose()


def check_mail(run: Run) -> None:
    from community.models import MailMessage

    eml = list((run.workdir / "outbox").glob("*.eml"))
    sent = sum(int(n) for n in re.findall(r"^(\d+) sent", run.outputs["mail"], re.M))
    assert run.mail_queued >= EMAILS
    assert (len(eml), sent) == (run.mail_queued, run.mail_queued), run.outputs["mail"]
    unsent = _rows(run, select(MailMessage.id).where(MailMessage.sent_at.is_(None)))
    assert unsent == []


def check_rounds(run: Run) -> None:
    from community.models import AuditEvent
    from votes.models import Round

    reported = Counter(int(n) for n in re.findall(r"^closed round (\d+)", run.outputs["rounds"], re.M))
    assert reported == Counter(run.round_ids), run.outputs["rounds"]
    closed = _rows(run, select(Round.id).where(Round.id.in_(run.round_ids), Round.status == "closed"))
    assert len(closed) == ROUNDS
    audits = _rows(run, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "round.closed"))
    assert audits[0][0] == ROUNDS


def check_spend(run: Run) -> None:
    from spend.models import SpendRequest

    expired = sum(int(n) for n in re.findall(r"^expired (\d+)", run.outputs["spend"], re.M))
    assert expired == REQUESTS, run.outputs["spend"]
    rows = _rows(run, select(SpendRequest.status).where(SpendRequest.id.in_(run.request_ids)))
    assert [status for (status,) in rows] == ["expired"] * REQUESTS


def check_pledges(run: Run) -> None:
    from pledges.models import PledgeEvent

    lapsed = sum(int(n) for n in re.findall(r"^(\d+) pledge\(s\) lapsed", run.outputs["pledges"], re.M))
    assert lapsed == PLEDGES, run.outputs["pledges"]
    events = _rows(run, select(PledgeEvent.pledge_id, func.count()).where(PledgeEvent.action == "lapsed")
                   .group_by(PledgeEvent.pledge_id))
    assert dict(events) == {pledge_id: 1 for pledge_id in run.pledge_ids}


def check_statements(run: Run) -> None:
    from statements.models import FrozenStatement

    renders = run.renders()
    assert sum(renders.values()) == TEAMS + 1 and set(renders.values()) == {1}, (renders, run.outputs["statements"])
    stored = _rows(run, select(func.count()).select_from(FrozenStatement))
    assert stored[0][0] == TEAMS + 1
    assert run.outputs["statements"].count("frozen: 2 of 2 team statements and the county pack.") == 1


CHECKS = {"mail": check_mail, "rounds": check_rounds, "spend": check_spend, "pledges": check_pledges,
          "statements": check_statements}


@pytest.mark.parametrize("job", CHECKS)
def test_two_runners_do_each_job_once(claimed_run, job):
    CHECKS[job](claimed_run)


def test_two_runners_leave_the_ledger_green(claimed_run):
    report = verify(claimed_run.database_url)
    assert report.ok, report.summary()


@pytest.mark.xfail(strict=True, reason="without claiming, both runners do the same work")
@pytest.mark.parametrize("job", CHECKS)
def test_without_claiming_two_runners_do_it_twice(naive_run, job):
    CHECKS[job](naive_run)

