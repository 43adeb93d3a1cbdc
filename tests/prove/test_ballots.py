"""Two residents casting and changing their ballots at once, over HTTP against gunicorn
(security.md §4.2, votes): each ends with exactly one ballot, holding their last choice, and no
request fails with a 5xx.

Wave 1: each person submits ``TABS`` different ballots at once from ``TABS`` sessions (tabs,
devices), both people together: each has one ballot row whose choices are one of the sets they
sent. Wave 2: both change their vote at the same moment: each row now holds exactly that change.
Wave 3: the same again, to a different set, so "last counted" is shown twice.

The xfail(strict) variant runs the same waves against ``tests.prove.unsafe_app`` with
``THRIVING_PROVE_UNSAFE_BALLOTS=1`` on a database without the unique (round_id, voter_key): the
naive read-then-write ballot instead of the upsert, so the test is shown to fail (duplicate
ballot rows) when that guard is gone.
"""

from collections import Counter

import pytest

from tests.prove.conftest import Served, serve
from tests.prove.harness import SECRET, ballots_of, fire_together, open_round
from tests.prove.unsafe_app import drop_one_ballot_per_voter

TABS = 8
VOTERS = ("resident", "other_member")  # both live in the team's place (NG20): both may vote


def _key(served, role: str, round_id: int) -> str:
    from votes.services import voter_key

    return voter_key(SECRET, round_id, served.world.actors[role].person_id)


def _rows_each(served: Served, round_id: int, rows: list[tuple[str, str]]) -> str:
    """How many ballot rows each voter has, for the assertion message."""
    counts = Counter(key for key, _choices in rows)
    return ", ".join(f"{role}: {counts[_key(served, role, round_id)]}" for role in VOTERS) + f"; {len(rows)} rows"


def cast_and_change(served: Served) -> None:
    round_id, ideas = open_round(served.database_url, served.world, ideas=4, title="Race round")
    path = f"/teams/{served.world.team_a}/rounds/{round_id}/ballot"
    page = f"/teams/{served.world.team_a}/rounds/{round_id}"
    tabs = {role: [served.browser(role, host=i) for i in range(TABS)] for role in VOTERS}
    for browsers in tabs.values():
        for b in browsers:
            b.csrf(page)
    sets = [[ideas[i % 4]] if i % 2 else [ideas[i % 4], ideas[(i + 1) % 4]] for i in range(TABS)]

    def encoded(choice):
        from votes.services import _encode

        return _encode(sorted(choice))

    calls = [(lambda b=b, c=c: b.post(path, {"idea": c})) for role in VOTERS
             for b, c in zip(tabs[role], sets, strict=True)]
    first = fire_together(calls)
    assert all(0 < o.status < 500 for o in first), sorted(o.status for o in first)
    assert all(o.status == 302 and "/receipt" in o.location for o in first), sorted(o.status for o in first)
    everything = ballots_of(served.database_url, round_id)
    rows = dict(everything)
    assert len(everything) == len(VOTERS), "ballot rows per voter: " + _rows_each(served, round_id, everything)
    for role in VOTERS:
        assert rows[_key(served, role, round_id)] in {encoded(c) for c in sets}

    for final in ([ideas[3]], [ideas[0], ideas[2]]):  # both change at once, twice
        last = {"resident": final, "other_member": sorted(set(ideas) - set(final))}
        outcomes = fire_together([(lambda role=role, last=last: tabs[role][0].post(path, {"idea": last[role]}))
                                  for role in VOTERS])
        assert all(o.status == 302 for o in outcomes), [(o.status, o.body[:200]) for o in outcomes]
        rows = ballots_of(served.database_url, round_id)
        assert len(rows) == len(VOTERS), "ballot rows per voter: " + _rows_each(served, round_id, rows)
        for role in VOTERS:
            assert dict(rows)[_key(served, role, round_id)] == encoded(last[role])
        receipt = tabs["resident"][0].get(f"/teams/{served.world.team_a}/rounds/{round_id}/receipt")
        assert receipt.status_code == 200
        assert all(f"Idea {ideas.index(i) + 1}: planters" in receipt.text for i in last["resident"])
    assert not served.error_lines(), served.log()


@pytest.mark.prove_heavy
def test_two_people_casting_and_changing_at_once_keep_one_ballot_each(fresh_served):
    cast_and_change(fresh_served)


@pytest.mark.prove_heavy
def test_ballots_split_across_two_app_servers_keep_one_each(make_db, backend, tmp_path_factory):
    """The same waves, each person's tabs alternating between two gunicorns on one database."""
    if backend != "postgresql":
        pytest.skip("several app servers share PostgreSQL in production; SQLite is one host's file")
    served = serve(make_db, tmp_path_factory, hosts=2, workers=2)
    try:
        cast_and_change(served)
    finally:
        served.stop()


@pytest.mark.prove_heavy
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="read-then-write without the unique (round, voter key) leaves duplicate ballots")
def test_without_the_upsert_and_its_unique_rule_ballots_are_duplicated(make_db, tmp_path_factory):
    served = serve(make_db, tmp_path_factory, before_start=drop_one_ballot_per_voter,
                   app="tests.prove.unsafe_app:create_app()",
                   env={"THRIVING_PROVE_PAUSE": "0.3", "THRIVING_PROVE_UNSAFE_BALLOTS": "1"})
    try:
        cast_and_change(served)
    finally:
        served.server.stop()
