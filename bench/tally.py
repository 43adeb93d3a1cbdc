"""Benchmark: our tally against pabutools 1.2.3 on a Pabulib file (Poland_Warszawa_2023_Bialoleka.pb by default).

Runs ``greedy``, ``mes`` and ``mes-add1-greedy`` (or the ``--rule`` ones) with
our engine (best of a few runs, parsing excluded) and the matching pabutools
call (one run, parsing excluded, as in expected.json), checks the outcomes are
identical and prints both times and the speed-up; then the same count through
``flask --app wsgi votes tally`` in a new process (start-up included, as issue 18's
"end to end" row measures it) against the same pabutools time.  pabutools' add1 rule takes
minutes on large files (about 190 s on Białołęka, not done in 150 s on Łódź
2022), so for it the outcome and time are taken from expected.json unless
``--run-pabutools-add1``; a file expected.json has no add1 outcome for is
reported as ``unchecked`` (our time only).  ``--file`` takes a name in
``--data`` or a path, e.g. the held-back Poland_Lodz_2022.pb for issue 18's goal
(MES at least 100x pabutools, mes-add1-greedy within 1 s).

Usage (from the repository root)::

    .venv/bin/python -m bench.tally [--file NAME] [--rule RULE ...] [--repeat N] [--run-pabutools-add1] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

from votes.pabulib import read_pb
from votes.tally import tally

ROOT = Path(__file__).resolve().parents[1]

FILE = "Poland_Warszawa_2023_Bialoleka.pb"
RULES = [
    ("greedy", "greedy_cost_sat"),
    ("mes", "mes_cost_sat"),
    ("mes-add1-greedy", "mes_cost_sat_add1_then_greedy_cost_sat"),
]


def run_pabutools(method: str, instance, profile) -> set[str]:
    """Run the pabutools call that expected.json records for ``method``."""
    from pabutools.election import Cost_Sat
    from pabutools.rules import (
        completion_by_rule_combination,
        greedy_utilitarian_welfare,
        method_of_equal_shares,
    )

    if method == "greedy_cost_sat":
        outcome = greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat)
    elif method == "mes_cost_sat":
        outcome = method_of_equal_shares(instance, profile, sat_class=Cost_Sat)
    else:
        outcome = completion_by_rule_combination(
            instance,
            profile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [{"sat_class": Cost_Sat, "voter_budget_increment": 1}, {"sat_class": Cost_Sat}],
        )
    return {p.name for p in outcome}


def end_to_end(path: Path, rule: str, repeat: int) -> tuple[float, list[str]]:
    """``flask --app wsgi votes tally FILE --rule RULE`` as a user runs it (a new process: start-up,
    reading the file, counting, printing), best wall time of ``repeat``, and the ids it printed."""
    env = {**os.environ, "THRIVING_ENV": os.environ.get("THRIVING_ENV", "development")}
    times, printed = [], []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "votes", "tally", str(path), "--rule", rule],
                              cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        printed = done.stdout.split()
    return min(times), printed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; exit 1 if any outcome differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "pabulib")
    parser.add_argument("--file", default=FILE, help=f"a .pb file name in --data, or a path (default {FILE})")
    parser.add_argument(
        "--rule",
        action="append",
        choices=[rule for rule, _ in RULES],
        help="rules to run (default: all three)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of our engine per rule (best is kept)")
    parser.add_argument(
        "--run-pabutools-add1",
        action="store_true",
        help="really run pabutools' add1 (minutes on large files)",
    )
    parser.add_argument("--end-to-end", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the command line as a user runs it, start-up included (default on)")
    args = parser.parse_args(argv)

    from pabutools.election import parse_pabulib

    path = Path(args.file) if Path(args.file).is_file() else args.data / args.file
    expected_file = args.data / "expected.json"
    instances = (
        json.loads(expected_file.read_text(encoding="utf-8"))["instances"] if expected_file.is_file() else {}
    )
    expected = instances.get(path.name, {}).get("outcomes", {})
    election = read_pb(path)
    instance, profile = parse_pabulib(str(path))
    print(
        f"{path.name}: {len(election.ballots):,} voters, {len(election.projects)} projects (parsing excluded)"
    )
    print(f"{'rule':<17} {'ours':>9} {'pabutools':>22} {'speed-up':>9}  outcome")
    ok = True
    for rule, method in RULES:
        if args.rule and rule not in args.rule:
            continue
        times = []
        for _ in range(max(1, args.repeat)):
            start = time.perf_counter()
            result = tally(election, rule)
            times.append(time.perf_counter() - start)
        ours = min(times)
        if method == RULES[-1][1] and not args.run_pabutools_add1:
            if "selected" not in expected.get(method, {}):
                print(f"{rule:<17} {ours:>8.3f}s {'-':>9}  ({'no reference':>13}) {'-':>8}   unchecked")
                continue
            theirs_set = set(expected[method]["selected"])
            theirs = float(expected[method]["seconds"])
            source = "expected.json"
        else:
            start = time.perf_counter()
            theirs_set = run_pabutools(method, instance, profile)
            theirs = time.perf_counter() - start
            source = "measured"
        same = set(result.selected) == theirs_set
        total = sum((election.projects[pid].cost for pid in theirs_set), Fraction(0))
        same = same and result.total_cost == total
        if "total_cost" in expected.get(method, {}):
            same = same and total == Fraction(expected[method]["total_cost"])
        ok = ok and same
        print(
            f"{rule:<17} {ours:>8.3f}s {theirs:>9.2f}s ({source:>13}) {theirs / ours:>8.1f}x  "
            f"{'identical' if same else 'DIFFERENT'}"
        )
        if args.end_to_end:
            wall, printed = end_to_end(path, rule, args.repeat)
            same_printed = printed == list(result.selected)
            ok = ok and same_printed
            print(f"  … end to end, `flask --app wsgi votes tally` (start-up included): {wall:.3f}s, "
                  f"{theirs / wall:.1f}x pabutools  {'identical' if same_printed else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
