"""No test reads the clock when its module is imported.

CI started a run at 23:45 and these were still running after midnight: ``TOMORROW =
london_today() + 1 day`` had become today, and twelve tests failed that pass at noon. A date
worked out at import (a module constant, a ``parametrize`` value, a default argument) is the
day the suite started, not the day the test runs. ``tests/support/clock.py`` gives the dates
to call inside the test instead.
"""

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
CLOCK_CALLS = {"today", "tomorrow", "this_month", "last_month", "end_of_last_month", "two_months_ago",
               "london_today", "utcnow", "now", "utcfromtimestamp", "time", "monotonic"}


def _called(node: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of each clock function ``node`` calls (``dt.date.today()`` is ``today``).

    Lambdas are skipped: they run when the test calls them."""
    found = []

    def visit(n):
        if isinstance(n, ast.Lambda):
            return
        if isinstance(n, ast.Call):
            name = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
            if name in CLOCK_CALLS:
                found.append((n.lineno, name))
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return found


def import_time_clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, function) for each clock call made when ``source`` is imported."""
    reads = []
    for stmt in ast.parse(source).body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.Expr)):
            parts = [stmt]
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            args = [] if isinstance(stmt, ast.ClassDef) else [*stmt.args.defaults, *stmt.args.kw_defaults]
            parts = [*stmt.decorator_list, *(a for a in args if a is not None)]
        else:
            continue
        reads += [read for part in parts for read in _called(part)]
    return reads


@pytest.mark.parametrize("source, expected", [
    ("TOMORROW = london_today() + dt.timedelta(days=1)", [(1, "london_today")]),
    ("TODAY = dt.date.today()", [(1, "today")]),
    ('@pytest.mark.parametrize("d", [today()])\ndef test_x(d): pass', [(1, "today")]),
    ("def _rows(engine, month=last_month()): pass", [(1, "last_month")]),
    ("def f(*, at=utcnow()): pass", [(1, "utcnow")]),
    ("FAR = dt.date(2999, 1, 1)", []),
    ('@pytest.mark.parametrize("d", [tomorrow, lambda: today()])\ndef test_x(d): pass', []),
    ("def test_x():\n    day = today()", []),
])
def test_the_scan_finds_what_it_should(source, expected):
    assert import_time_clock_reads(source) == expected


def test_no_test_module_reads_the_clock_at_import():
    offenders = [f"{path.relative_to(TESTS)}:{line}: {name}()"
                 for path in sorted(TESTS.rglob("*.py"))
                 for line, name in import_time_clock_reads(path.read_text(encoding="utf-8"))]
    assert offenders == [], "work these out inside the test (tests/support/clock.py):\n" + "\n".join(offenders)
