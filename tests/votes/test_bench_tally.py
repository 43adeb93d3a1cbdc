"""bench/tally.py, the tally benchmark of issue 18: ``--file`` and ``--rule`` choose what it runs;
an add1 outcome that expected.json does not hold is reported as unchecked, never as identical."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from bench import tally as bench
from votes.pabulib import Ballot, Election, Project, write_pb

LAS = "Poland_Warszawa_2019_Las.pb"


def _lines(out: str) -> dict[str, str]:
    """The figure lines of the benchmark's output, by rule."""
    return {line.split()[0]: line for line in out.splitlines()[2:] if line.strip() and "…" not in line}


@pytest.mark.usefixtures("pabulib")
def test_chosen_rules_on_a_named_file_match_pabutools(capsys) -> None:
    assert bench.main(["--file", LAS, "--rule", "mes", "--rule", "mes-add1-greedy", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{LAS}: 127 voters, 13 projects")
    lines = _lines(out)
    assert set(lines) == {"mes", "mes-add1-greedy"}
    assert lines["mes"].endswith("identical") and "measured" in lines["mes"]
    assert lines["mes-add1-greedy"].endswith("identical") and "expected.json" in lines["mes-add1-greedy"]
    command_line = [line for line in out.splitlines() if "end to end" in line]  # the CLI in a new process
    assert len(command_line) == 2 and all(line.endswith("x pabutools  identical") for line in command_line), out


def test_a_file_without_reference_outcomes_is_compared_where_it_can_be(tmp_path: Path, capsys) -> None:
    projects = {
        pid: Project(pid, Fraction(cost), f"P{pid}") for pid, cost in [("1", 300), ("2", 500), ("3", 400)]
    }
    choices = [("1",), ("1", "2"), ("2", "3"), ("3",), ("1", "3"), ("2",)]
    ballots = [Ballot(str(i), choice) for i, choice in enumerate(choices)]
    path = tmp_path / "own.pb"
    with path.open("w", encoding="utf-8", newline="") as handle:
        write_pb(Election({"description": "own"}, Fraction(900), "approval", projects, ballots), handle)
    # No expected.json in --data: greedy and MES are run by pabutools, add1 has nothing to compare with.
    assert bench.main(["--data", str(tmp_path), "--file", str(path), "--repeat", "1"]) == 0
    lines = _lines(capsys.readouterr().out)
    assert lines["greedy"].endswith("identical") and lines["mes"].endswith("identical")
    assert lines["mes-add1-greedy"].endswith("unchecked")
    assert "no reference" in lines["mes-add1-greedy"]
