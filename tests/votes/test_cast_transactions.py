"""What one ballot cast over HTTP asks of the database (issue 18: ≥ 600 ballots/s on SQLite).

The request reads in its own session and writes in a short transaction of its own
(``writes_in_short_transactions``): the read transaction ends before the write begins (on SQLite
a reader left open keeps the WAL from being checkpointed back to its start, so it grows and
every commit retries the checkpoint), and the write transaction holds the two inserts alone
(the receipt email is built before the write lock is taken)."""

import re

from sqlalchemy import event, select

from community.db import open_session
from community.models import MailMessage
from tests.support.factories import feasible_idea, open_round
from votes.models import Ballot


def _record(engine):
    """Everything the engine does, in order: ("begin" | "commit" | "rollback" | SQL, connection)."""
    log = []

    def on_sql(conn, _cursor, statement, *_args):
        # SQLite's BEGIN is logged by the begin event; PostgreSQL's upsert runs in a savepoint.
        if not re.match(r"\s*(BEGIN|SAVEPOINT|RELEASE SAVEPOINT)\b", statement):
            log.append((" ".join(statement.split()), id(conn.connection.dbapi_connection)))

    def on(kind):
        return lambda conn: log.append((kind, id(conn.connection.dbapi_connection)))

    listeners = [("before_cursor_execute", on_sql), ("begin", on("begin")), ("commit", on("commit")),
                 ("rollback", on("rollback"))]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    return log, lambda: [event.remove(engine, name, fn) for name, fn in listeners]


def _cast(client, slug, round_id, idea_ids):
    return client.post(f"/teams/{slug}/rounds/{round_id}/ballot", data={"idea": idea_ids, "action": "submit"})


def test_a_cast_reads_then_writes_the_ballot_and_its_receipt_alone(client, session, world, sign_in, engine, app):
    app.config["MAIL_DELIVERY"] = "queue"  # as production: the receipt waits in the outbox for cron
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    session.commit()
    session.close()
    assert sign_in(world["residents"][1]).status_code == 302
    assert _cast(client, slug, rnd.id, [ideas[0].id]).status_code == 302  # the round's rules, read once

    log, stop = _record(engine)
    try:
        response = _cast(client, slug, rnd.id, [ideas[1].id])
    finally:
        stop()
    assert response.status_code == 302 and response.headers["Location"].endswith("/receipt")
    statements = [s for s, _c in log if s not in ("begin", "commit", "rollback")]
    assert len(statements) == 4, statements  # who is signed in, the team and round, the ballot, its receipt
    assert statements[0].startswith("SELECT auth_session.id") and statements[1].startswith("SELECT team.id")

    writes = [i for i, (s, _c) in enumerate(log) if s.startswith("INSERT")]
    ballot, receipt = (log[i] for i in writes)
    assert ballot[0].startswith("INSERT INTO vote_ballot") and receipt[0].startswith("INSERT INTO mail_message")
    writer = ballot[1]
    # The write transaction: begin, the two inserts, commit; nothing else runs in it.
    begun = max(i for i, (s, c) in enumerate(log[:writes[0]]) if s == "begin" and c == writer)
    assert [s for s, c in log[begun + 1:] if c == writer][:3] == [ballot[0], receipt[0], "commit"]
    # …and by then the reads' transaction has ended (committed: nothing is expired), on any connection.
    reads = [i for i, (s, _c) in enumerate(log) if s.startswith("SELECT")]
    reader = log[reads[0]][1]
    ended = [i for i, (s, c) in enumerate(log) if s in ("commit", "rollback") and c == reader and i > reads[-1]]
    assert ended and ended[0] < begun, log

    with open_session(engine, write=False) as s:
        assert [b.choices for b in s.execute(select(Ballot)).scalars()] == [str(ideas[1].id)]


def test_a_changed_vote_is_emailed_with_the_ballot_s_own_reference(client, session, world, sign_in, engine, app):
    """The receipt is written before the ballot for the reference a first ballot gets; a changed
    vote keeps its first reference, and its receipt says that one."""
    app.config["MAIL_DELIVERY"] = "queue"
    slug = world["team"].slug
    ideas = [feasible_idea(session, world, "Bench", 100_000), feasible_idea(session, world, "Mural", 40_000)]
    rnd = open_round(session, world, ideas)
    session.commit()
    session.close()
    sign_in(world["residents"][1])
    assert _cast(client, slug, rnd.id, [ideas[0].id]).status_code == 302
    assert _cast(client, slug, rnd.id, [ideas[1].id]).status_code == 302
    with open_session(engine, write=False) as s:
        ballot = s.execute(select(Ballot)).scalar_one()
        bodies = [m.body for m in s.execute(select(MailMessage).order_by(MailMessage.id)).scalars()]
    assert ballot.choices == str(ideas[1].id)
    receipts = [b for b in bodies if "Receipt reference" in b]
    assert len(receipts) == 2
    assert all(f"Receipt reference: {ballot.reference}\n" in b for b in receipts), receipts
    assert "- Bench" in receipts[0] and "- Mural" in receipts[1] and "Bench" not in receipts[1]
