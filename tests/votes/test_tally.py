"""Tests for the tally engine, the Pabulib reader/writer and the ``votes tally`` command.

The reference is pabutools 1.2.3: the outcomes recorded in
``shared/pabulib/expected.json`` and, in the property test, pabutools itself on
small random elections.  None of this needs the app or its database.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.votes import pabulib_data
from votes.cli import votes_cli
from votes.pabulib import Ballot, Election, Project, parse_pb_string, read_pb, write_pb
from votes.tally import RULE_METHODS, RULES, RuleError, base_vote_type, default_format_money, tally

DATA = pabulib_data.DATA
EXPECTED = DATA / pabulib_data.EXPECTED_NAME
# Skips with the reason when the data is missing, and fails instead under CI (tests/votes/conftest.py).
needs_data = pytest.mark.usefixtures("pabulib")
NO_DATA = pytest.param(None, None, None, id="no-data")  # the one case run (and skipped) without the data


@cache
def expected() -> dict:
    """expected.json, or an empty shape when the data is absent."""
    if not EXPECTED.is_file():
        return {"instances": {}}
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


@cache
def election(name: str) -> Election:
    """A sample file, read once per test session."""
    return read_pb(DATA / name)


def expected_cases() -> list:
    """One case per sample file and rule key that expected.json has an outcome for."""
    if not EXPECTED.is_file():
        return [NO_DATA]
    cases = []
    for name, instance in expected()["instances"].items():
        column = base_vote_type(instance["vote_type"])
        for rule, method in RULE_METHODS[column].items():
            outcome = instance["outcomes"].get(method)
            if outcome is None:
                continue  # pabutools was not run with this rule (e.g. add1 without completion)
            marks = ()
            if "selected" not in outcome:
                reason = f"pabutools did not compute it: {outcome.get('error', 'no outcome')}"
                marks = (pytest.mark.skip(reason=reason),)
            cases.append(
                pytest.param(name, rule, method, marks=marks, id=f"{name.removesuffix('.pb')}-{rule}")
            )
    return cases


# --- Outcomes recorded from pabutools --------------------------------------------------------


@needs_data
@pytest.mark.parametrize(("name", "rule", "method"), expected_cases())
def test_matches_pabutools_outcome(name: str, rule: str, method: str) -> None:
    want = expected()["instances"][name]["outcomes"][method]
    result = tally(election(name), rule)
    assert result.method == method
    assert set(result.selected) == set(want["selected"])
    assert len(result.selected) == len(set(result.selected))
    assert result.total_cost == Fraction(want["total_cost"])
    assert set(result.explanations) == set(election(name).projects)


@needs_data
def test_every_expected_outcome_is_covered() -> None:
    covered = {(case.values[0], case.values[2]) for case in expected_cases() if not case.marks and case.values[0]}
    for name, instance in expected()["instances"].items():
        for method, outcome in instance["outcomes"].items():
            if "selected" in outcome:
                assert (name, method) in covered


def test_missing_pabulib_data_skips_with_its_reason_and_fails_under_ci(tmp_path: Path) -> None:
    def outcome(environ):  # caught here, or a skip would skip this test instead of failing it
        try:
            return "ran", pabulib_data.require(tmp_path, environ)
        except pytest.skip.Exception as skipped:
            return "skipped", str(skipped)
        except pytest.fail.Exception as failed:
            return "failed", str(failed)

    missing = f"Pabulib sample data not found at {tmp_path}"
    skipped, reason = outcome({})
    assert skipped == "skipped" and reason.startswith(missing) and "did not run" in reason
    failed, reason = outcome({"CI": "true"})
    assert failed == "failed" and reason.startswith("CI is set, so the Pabulib data is expected") and missing in reason
    (tmp_path / "expected.json").write_text("{}", encoding="utf-8")
    assert outcome({"CI": "true"}) == ("ran", tmp_path)


def test_ci_run_stops_at_once_when_ci_expects_the_pabulib_data_and_it_is_missing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parents[2] / ".ci" / "run", repo / ".ci" / "run")
    (repo / "Makefile").write_text("test:\n\t@echo suite ran\n", encoding="utf-8")  # stands in for the suite
    env = {**os.environ, "CI": "true", "THRIVING_TEST_DATABASE_URL": "postgresql://unused"}
    run = subprocess.run(["bash", str(repo / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)  # noqa: S603, S607 - our own CI script, run with a fixed argv
    assert run.returncode == 1 and "suite ran" not in run.stdout
    assert "Pabulib sample data is missing at ../shared/pabulib" in run.stderr
    (tmp_path / "shared" / "pabulib").mkdir(parents=True)
    (tmp_path / "shared" / "pabulib" / "expected.json").write_text("{}", encoding="utf-8")
    run = subprocess.run(["bash", str(repo / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)  # noqa: S603, S607 - our own CI script, run with a fixed argv
    assert run.returncode == 0 and "suite ran" in run.stdout


# --- Reading and writing .pb files -----------------------------------------------------------


def _pabutools_profile(instance, profile) -> tuple:
    """A comparable summary of what pabutools parsed."""
    projects = sorted((p.name, Fraction(int(p.cost.numerator), int(p.cost.denominator))) for p in instance)
    budget = Fraction(int(instance.budget_limit.numerator), int(instance.budget_limit.denominator))
    ballots = []
    for ballot in profile:
        if isinstance(ballot, dict) and ballot and next(iter(ballot.values())) is not None:
            ballots.append(tuple((p.name, Fraction(str(v))) for p, v in ballot.items()))
        elif isinstance(ballot, dict):  # ordinal: an ordered dict of projects
            ballots.append(tuple(p.name for p in ballot))
        else:  # approval: a set
            ballots.append(tuple(sorted(p.name for p in ballot)))
    return projects, budget, ballots


def _our_profile(e: Election) -> tuple:
    projects = sorted((p.id, p.cost) for p in e.projects.values())
    ballots = []
    for b in e.ballots:
        if e.vote_type in ("cumulative", "scoring"):
            ballots.append(
                tuple((pid, Fraction(pts)) for pid, pts in zip(b.choices, b.points or (), strict=True))
            )
        elif e.vote_type == "ordinal":
            ballots.append(b.choices)
        else:
            ballots.append(tuple(sorted(b.choices)))
    return projects, e.budget, ballots


@needs_data
@pytest.mark.parametrize("name", sorted(expected()["instances"]) or [pytest.param(None, id="no-data")])
def test_reader_and_writer_agree_with_pabutools(name: str, tmp_path: Path) -> None:
    from pabutools.election import parse_pabulib

    ours = election(name)
    theirs = _pabutools_profile(*parse_pabulib(str(DATA / name)))
    assert _our_profile(ours) == theirs
    out = tmp_path / "copy.pb"
    with out.open("w", encoding="utf-8", newline="") as handle:
        write_pb(ours, handle)
    assert _pabutools_profile(*parse_pabulib(str(out))) == theirs
    assert _our_profile(read_pb(out)) == theirs


def test_reader_handles_quotes_decimals_and_none() -> None:
    text = (
        "META\nkey;value\nbudget;1000,5\nvote_type;cumulative\n"
        'description;"a; quoted ""field"""\n'
        "PROJECTS\nproject_id;cost;name\n10;400000.0;Ten\n9;0.5;none\n"
        "VOTES\nvoter_id;vote;points\nv1;10,9;2,1\nv2;none;none\n"
    )
    e = parse_pb_string(text)
    assert e.budget == Fraction(2001, 2)
    assert e.meta["description"] == 'a; quoted "field"'
    assert e.projects["10"] == Project("10", Fraction(400000), "Ten")
    assert e.projects["9"].cost == Fraction(1, 2) and e.projects["9"].name == ""
    assert e.ballots == [Ballot("v1", ("10", "9"), (2, 1)), Ballot("v2", (), ())]


def test_writer_rejects_ids_that_cannot_be_written() -> None:
    e = Election({}, Fraction(10), "approval", {"a,b": Project("a,b", Fraction(1))}, [])
    with pytest.raises(ValueError, match="cannot be written"):
        write_pb(e, io.StringIO())


# --- The engine's own interface --------------------------------------------------------------


def _tiny_election() -> Election:
    projects = {
        pid: Project(pid, Fraction(cost), f"Project {pid}") for pid, cost in [("9", 600), ("10", 600)]
    }
    ballots = [Ballot(str(i), ("9", "10")) for i in range(3)]
    return Election({}, Fraction(1000), "approval", projects, ballots)


def test_ties_go_to_the_smallest_id_as_a_string() -> None:
    # Both projects have the same votes and cost and only one fits: '10' < '9'.
    for rule in ("greedy", "greedy-per-cost", "mes", "mes-cardinality", "mes-add1-greedy", "phragmen"):
        assert tally(_tiny_election(), rule).selected == ["10"], rule


def test_in_app_shape_with_pence_and_pound_formatting() -> None:
    class AppProject:
        def __init__(self, pid: str, pence: int, name: str) -> None:
            self.id, self.cost, self.name = pid, pence, name

    class AppElection:
        vote_type = "approval"
        budget = 150_000  # £1,500.00 in pence
        projects = [
            AppProject("1", 100_000, "Bench"),
            AppProject("2", 90_000, "Bins"),
            AppProject("3", 40_000, "Art"),
        ]
        ballots = [("1", "3"), ("1",), ("2", "3"), ("1", "2")]

    def pounds(pence: Fraction) -> str:
        return "£" + default_format_money(Fraction(pence) / 100)

    result = tally(AppElection(), "greedy", format_money=pounds)
    assert result.selected == ["1", "3"]
    assert result.total_cost == 140_000
    assert result.explanations["1"] == "funded: 3 votes, fitted in the £1,500 left (ranked most votes first)"
    assert result.explanations["2"] == (
        "not funded: 2 votes, cost £900 but only £500 was left (ranked most votes first)"
    )
    assert "£" in tally(AppElection(), "mes", format_money=pounds).explanations["1"]


def test_unknown_or_unsuitable_rule_is_refused() -> None:
    with pytest.raises(RuleError, match="unknown rule"):
        tally(_tiny_election(), "borda")
    ordinal = Election({}, Fraction(10), "ordinal", {"1": Project("1", Fraction(5))}, [Ballot("a", ("1",))])
    with pytest.raises(RuleError, match="not defined for ordinal"):
        tally(ordinal, "phragmen")


def test_ballot_for_unknown_project_is_refused() -> None:
    e = _tiny_election()
    e.ballots.append(Ballot("x", ("404",)))
    with pytest.raises(ValueError, match="unknown project"):
        tally(e, "greedy")


# --- The command line ------------------------------------------------------------------------


@needs_data
def test_cli_prints_selected_ids_then_reasons() -> None:
    name = "Poland_Warszawa_2019_Las.pb"
    runner = CliRunner()
    plain = runner.invoke(votes_cli, ["tally", str(DATA / name), "--rule", "mes"])
    assert plain.exit_code == 0, plain.output
    want = expected()["instances"][name]["outcomes"]["mes_cost_sat"]["selected"]
    assert sorted(plain.output.split()) == sorted(want)
    explained = runner.invoke(votes_cli, ["tally", str(DATA / name), "--rule", "mes", "--explain"])
    assert explained.exit_code == 0, explained.output
    ids, _, reasons = explained.output.partition("\n\n")
    assert ids.split() == plain.output.split()
    lines = reasons.strip().splitlines()
    assert len(lines) == len(election(name).projects)
    assert all(": funded" in line or ": not funded" in line for line in lines)


@needs_data
def test_cli_refuses_unknown_and_unsuitable_rules() -> None:
    runner = CliRunner()
    unknown = runner.invoke(votes_cli, ["tally", str(DATA / "Poland_Warszawa_2019_Las.pb"), "--rule", "nope"])
    assert unknown.exit_code != 0
    assert "unknown rule 'nope'" in unknown.output
    unsuitable = runner.invoke(
        votes_cli, ["tally", str(DATA / "Poland_Gdansk_2020_Chelm.pb"), "--rule", "phragmen"]
    )
    assert unsuitable.exit_code != 0
    assert "not defined for cumulative" in unsuitable.output


def test_cli_reports_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pb"
    bad.write_text("META\nkey;value\nvote_type;approval\n", encoding="utf-8")
    result = CliRunner().invoke(votes_cli, ["tally", str(bad), "--rule", "greedy"])
    assert result.exit_code != 0
    assert "cannot read" in result.output and "budget" in result.output


def test_cli_works_on_a_written_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.pb"
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_pb(_tiny_election(), handle)
    result = CliRunner().invoke(votes_cli, ["tally", str(path), "--rule", "phragmen"])
    assert result.exit_code == 0, result.output
    assert result.output == "10\n"


# --- Property test: random small elections against pabutools ---------------------------------

IDS = ["1", "2", "3", "9", "10", "11", "100"]


@st.composite
def elections(draw) -> Election:
    """Small elections with ties, unsupported and free projects, and costs that exactly fit."""
    vote_type = draw(st.sampled_from(["approval", "cumulative", "ordinal"]))
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=6, unique=True))
    costs = [Fraction(draw(st.integers(0, 80)), draw(st.sampled_from([1, 1, 1, 2]))) for _ in ids]
    subset = draw(st.lists(st.sampled_from(range(len(ids))), unique=True))
    budget = draw(
        st.one_of(
            st.just(sum((costs[i] for i in subset), Fraction(0))),  # some projects fit exactly
            st.integers(1, 160).map(Fraction),
        )
    )
    if budget == 0:
        budget = Fraction(1)
    projects = {pid: Project(pid, cost, f"P{pid}") for pid, cost in zip(ids, costs, strict=True)}
    ballots = []
    for voter in range(draw(st.integers(1, 9))):
        chosen = draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids)))
        if vote_type == "approval":
            ballots.append(Ballot(str(voter), tuple(chosen)))
        elif vote_type == "ordinal":
            ballots.append(Ballot(str(voter), tuple(chosen)))
        else:
            points = tuple(draw(st.integers(0, 3)) for _ in chosen)
            ballots.append(Ballot(str(voter), tuple(chosen), points))
    return Election({"description": "generated"}, budget, vote_type, projects, ballots)


def _pabutools_outcome(method: str, instance, profile) -> set[str]:
    from pabutools.election import (
        Additive_Borda_Sat,
        Additive_Cardinal_Sat,
        AdditiveSatisfaction,
        Cardinality_Sat,
        Cost_Sat,
    )
    from pabutools.rules import (
        completion_by_rule_combination,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
        sequential_phragmen,
    )

    def points_cost_sat_func(instance, profile, ballot, project, precomputed_values):
        return ballot.get(project, 0) * project.cost

    class Points_Cost_Sat(AdditiveSatisfaction):  # noqa: N801 - expected.json's name
        def __init__(self, instance, profile, ballot):
            AdditiveSatisfaction.__init__(self, instance, profile, ballot, points_cost_sat_func)

    sats = {
        "cost_sat": Cost_Sat,
        "cardinality_sat": Cardinality_Sat,
        "points_cost_sat": Points_Cost_Sat,
        "additive_cardinal_sat": Additive_Cardinal_Sat,
        "additive_borda_sat": Additive_Borda_Sat,
    }
    if method == "sequential_phragmen":
        outcome = sequential_phragmen(instance, profile)
    elif method == "mes_cost_sat_add1":
        outcome = method_of_equal_shares(instance, profile, sat_class=Cost_Sat, voter_budget_increment=1)
    elif method == "mes_cost_sat_add1_then_greedy_cost_sat":
        outcome = completion_by_rule_combination(
            instance,
            profile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [{"sat_class": Cost_Sat, "voter_budget_increment": 1}, {"sat_class": Cost_Sat}],
        )
    elif method.startswith("greedy_"):
        outcome = greedy_utilitarian_welfare(
            instance, profile, sat_class=sats[method.removeprefix("greedy_")]
        )
    else:
        outcome = method_of_equal_shares(instance, profile, sat_class=sats[method.removeprefix("mes_")])
    return {p.name for p in outcome}


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(generated=elections())
def test_every_rule_agrees_with_pabutools_on_random_elections(generated: Election, tmp_path_factory) -> None:
    from pabutools.election import parse_pabulib

    path = tmp_path_factory.mktemp("pb") / "generated.pb"
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_pb(generated, handle)
    instance, profile = parse_pabulib(str(path))
    ours = read_pb(path)
    assert _our_profile(ours) == _pabutools_profile(instance, profile)
    for rule, method in RULE_METHODS[base_vote_type(ours.vote_type)].items():
        result = tally(ours, rule)
        assert set(result.selected) == _pabutools_outcome(method, instance, profile), (rule, method)
        assert result.total_cost == sum((ours.projects[p].cost for p in result.selected), Fraction(0))
        assert set(result.explanations) == set(ours.projects)


def test_rule_table_is_complete() -> None:
    assert set(RULES) == set(RULE_METHODS["approval"])
    for column in ("cumulative", "ordinal"):
        assert set(RULE_METHODS[column]) == {"greedy", "greedy-per-cost", "mes", "mes-approval"}


# --- Property test: renumbering voters changes nothing (votes.tally.mes.MesInput.renumbered) --


@st.composite
def approval_elections(draw) -> Election:
    """Approval elections large enough for many budget classes and voters leaving play."""
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=7, unique=True))
    costs = [Fraction(draw(st.integers(1, 60)), draw(st.sampled_from([1, 1, 3]))) for _ in ids]
    projects = {pid: Project(pid, cost, f"P{pid}") for pid, cost in zip(ids, costs, strict=True)}
    ballots = [
        Ballot(str(voter), tuple(draw(st.lists(st.sampled_from(ids), unique=True))))
        for voter in range(draw(st.integers(1, 40)))
    ]
    budget = Fraction(draw(st.integers(1, 200)))
    return Election({"description": "generated"}, budget, "approval", projects, ballots)


def _run_facts(run) -> tuple:
    trace = [(r.s, r.theta, r.theta_key, r.limit, r.rhos, r.keys) for r in run.trace]
    counts = [bits.bit_count() for bits in run.in_play]
    return run.selected, trace, run.rounds, run.dropped, counts


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(generated=approval_elections(), source_step=st.integers(0, 3))
def test_renumbered_voters_give_the_same_runs_and_add1_outcome(generated: Election, source_step: int) -> None:
    import importlib

    from votes.tally.mes import MesInput, mes_run
    from votes.tally.prepare import Prepared

    add1 = importlib.import_module("votes.tally.add1")
    prep = Prepared(generated)
    base = prep.budget / prep.n
    mi = MesInput(prep, "cost")
    renumbered = mi.renumbered(mes_run(mi, base, source_step))
    assert sorted(p.supp.bit_count() for p in renumbered.projects) == sorted(
        p.supp.bit_count() for p in mi.projects
    )
    above = {}
    for step in range(6, -1, -1):  # from the top down, each hinted by the run above, as add1 does
        ours = mes_run(mi, base, step, hint=above.get("ours"))
        theirs = mes_run(renumbered, base, step, hint=above.get("theirs"))
        assert _run_facts(ours) == _run_facts(theirs), step
        reference = mes_run(mi, base, 0)
        assert _run_facts(mes_run(mi, base, step, reference=reference)) == _run_facts(
            mes_run(renumbered, base, step, reference=reference)
        )
        above = {"ours": ours, "theirs": theirs}
    plain = add1.mes_add1(prep, "cost")
    saved = add1._RENUMBER_MIN_WORK, add1._RENUMBER_EVERY
    add1._RENUMBER_MIN_WORK, add1._RENUMBER_EVERY = 0, 1  # renumbered after step 0 and at every block
    try:
        fast = add1.mes_add1(Prepared(generated), "cost")
    finally:
        add1._RENUMBER_MIN_WORK, add1._RENUMBER_EVERY = saved
    assert (fast[0], fast[3], fast[2].rounds) == (plain[0], plain[3], plain[2].rounds)
    # The helper's chains (run in-process here) renumber their own copy as they go.
    saved_helper = add1._HELPER_STATE, add1._HELPER_RENUMBERED_AT, add1._RENUMBER_EVERY
    add1._HELPER_STATE, add1._HELPER_RENUMBERED_AT, add1._RENUMBER_EVERY = (mi, base), 0, 1
    try:
        chains = [add1._chain_in_helper(1, 4, renumber=True) for _ in range(3)]
        assert add1._HELPER_STATE[0] is not mi
    finally:
        add1._HELPER_STATE, add1._HELPER_RENUMBERED_AT, add1._RENUMBER_EVERY = saved_helper
    want = {k: mes_run(mi, base, k).selected for k in range(1, 5)}
    assert chains == [want, want, want]


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(generated=approval_elections(), step=st.integers(0, 4))
def test_voters_out_of_play_may_stay_in_the_budget_classes(generated: Election, step: int) -> None:
    """MES runs are the same whether voters out of play leave the classes at once or never."""
    import importlib

    from votes.tally.mes import MesInput, mes_run
    from votes.tally.prepare import Prepared

    mes_module = importlib.import_module("votes.tally.mes")
    prep = Prepared(generated)
    mi = MesInput(prep, "cost")
    base = prep.budget / prep.n
    saved = mes_module._STALE_SHARE
    facts = []
    try:
        for share in (1, saved, 10**9):  # filtered whenever one is out of play, by default, never
            mes_module._STALE_SHARE = share
            facts.append(_run_facts(mes_run(mi, base, step)))
    finally:
        mes_module._STALE_SHARE = saved
    assert facts[0] == facts[1] == facts[2]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(generated=approval_elections(), repeat_first=st.booleans())
def test_listing_bits_hold_every_ballot_once_in_some_voter_order(generated: Election, repeat_first: bool) -> None:
    """Prepared.listing_bits numbers voters its own way: each ballot is still one voter's column."""
    from collections import Counter

    from votes.tally.prepare import Prepared

    ballots = list(generated.ballots)
    if repeat_first and ballots and ballots[0].choices:
        ballots[0] = Ballot(ballots[0].id, ballots[0].choices + ballots[0].choices[:1])
    election = Election(generated.meta, generated.budget, "approval", generated.projects, ballots)
    bits = Prepared(election).listing_bits()
    assert set(bits) == set(generated.projects)
    columns = Counter(
        frozenset(pid for pid, b in bits.items() if b >> voter & 1) for voter in range(len(ballots))
    )
    assert max(b.bit_length() for b in bits.values()) <= len(ballots)
    assert columns == Counter(frozenset(b.choices) for b in ballots)
