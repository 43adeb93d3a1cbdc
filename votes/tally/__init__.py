"""The participatory-budgeting tally: which projects a voting rule funds, and why.

This package owns the counting rules.  It is pure Python with exact arithmetic
only (``int`` and :class:`fractions.Fraction`, never floats), deterministic,
and independent of Flask and the database.  Every rule reproduces
pabutools 1.2.3 with its default settings (exact rationals, resolute outcome,
ties broken in favour of the project whose id is smallest as a Python string,
so ``'10'`` beats ``'9'``).  ``RULE_METHODS`` maps each ``--rule`` key and vote
type to the pabutools computation it reproduces (the keys of
``shared/pabulib/expected.json``):

* ``greedy_*``: ``greedy_utilitarian_welfare`` -- rank projects by total
  satisfaction divided by cost, fund each one that still fits, skip the rest;
* ``mes_*``: ``method_of_equal_shares`` -- every voter gets ``budget / n``;
  repeatedly fund the project that its supporters can pay for with the
  smallest affordability factor rho (each supporter pays ``rho x satisfaction``
  or everything they have left);
* ``mes_cost_sat_add1``: ``voter_budget_increment=1`` -- rerun MES with
  ``budget / n + k`` per voter for k = 0, 1, 2, ... and stop at the first
  outcome that is exhaustive (only projects with a supporter and a positive
  cost count) or return the previous outcome if it overspends;
  ``..._then_greedy_cost_sat`` completes it with greedy-by-votes
  (``completion_by_rule_combination``);
* ``sequential_phragmen``: load balancing, stopping at the first project
  that would not fit.

``Result.selected`` lists the funded projects in the order the rule funded
them (for MES: free projects first, then round by round; for the add1+greedy
rule, the MES projects then the greedy ones; for Phragmén, the order of
selection, whereas pabutools sorts that outcome by id).

Speed (all exact): see :mod:`votes.tally.mes` (voter bitsets, budget classes) and
:mod:`votes.tally.add1` (steps skipped only with a proof); the cyclic garbage
collector is paused during a tally (see :func:`gc_paused`).

Modules: ``rules`` (the --rule table), ``prepare`` (input), ``greedy``, ``mes``,
``add1``, ``phragmen`` and ``explain`` (the reasons); this one holds the entry
point.  Pure: no Flask, no database.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

from votes.pabulib import Election
from votes.tally.add1 import mes_add1
from votes.tally.explain import Words, default_format_money
from votes.tally.greedy import greedy
from votes.tally.mes import mes
from votes.tally.phragmen import phragmen
from votes.tally.prepare import Prepared, as_election
from votes.tally.rules import (
    GREEDY_KIND,
    MES_KIND,
    RULE_METHODS,
    RULES,
    RuleError,
    base_vote_type,
    method_for,
    rules_for,
)

__all__ = [
    "RULES",
    "RULE_METHODS",
    "Result",
    "RuleError",
    "base_vote_type",
    "default_format_money",
    "method_for",
    "rules_for",
    "tally",
]


@dataclass
class Result:
    """Outcome of a tally: funded ids in funding order and a reason for every project."""

    rule: str
    method: str
    selected: list[str]
    explanations: dict[str, str]
    total_cost: Fraction
    budget: Fraction


def tally(
    election_like,
    rule: str,
    format_money: Callable[[Fraction], str] | None = None,
) -> Result:
    """Run ``rule`` on an election and return the funded projects with plain-English reasons.

    ``election_like`` is a :class:`votes.pabulib.Election` or any object with
    ``budget``, ``vote_type``, ``projects`` (a mapping or list of objects with
    ``id``/``cost``/``name``) and ``ballots`` (ballots with ``choices`` and
    ``points``, or plain tuples of project ids).  Money can be given in any
    unit (the app uses integer pence); ``format_money`` turns an exact amount
    in that unit into text for the explanations.
    """
    election = as_election(election_like)
    method = method_for(election.vote_type, rule)
    fmt = format_money or default_format_money
    with gc_paused():
        return _tally(election, rule, method, fmt)


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector for the duration of a tally.

    A tally allocates millions of short-lived tuples but no reference cycles;
    each generational collection would otherwise rescan every live object of
    the host process (20 % of the add1 time in a process that holds a parsed
    pabutools profile).  Reference counting still frees everything.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _tally(election: Election, rule: str, method: str, fmt: Callable[[Fraction], str]) -> Result:
    prep = Prepared(election)
    words = Words(prep, fmt)

    if method in GREEDY_KIND:
        kind = GREEDY_KIND[method]
        selected, facts = greedy(prep, kind)
        explanations = words.greedy(kind, facts)
    elif method in MES_KIND:
        kind = MES_KIND[method]
        selected, mi, run = mes(prep, kind)
        explanations = words.mes(mi, run, selected, prep.budget / prep.n if prep.n else Fraction(0))
    elif method in ("mes_cost_sat_add1", "mes_cost_sat_add1_then_greedy_cost_sat"):
        selected, mi, run, step = mes_add1(prep, "cost")
        share = prep.budget / prep.n + step if prep.n else Fraction(0)
        explanations = words.mes(mi, run, selected, share, step=step)
        if method.endswith("greedy_cost_sat"):
            mes_part = set(selected)
            selected, facts = greedy(prep, "cost", initial=selected)
            completion = words.greedy("cost", facts, completing=True)
            for pid, text in completion.items():
                if pid not in mes_part:
                    explanations[pid] = text
    elif method == "sequential_phragmen":
        selected, facts = phragmen(prep)
        explanations = words.phragmen(facts)
    else:  # pragma: no cover - the table and the dispatch are kept in step
        raise RuleError(method)
    total = sum((prep.cost[p] for p in selected), Fraction(0))
    ordered = {pid: explanations[pid] for pid in prep.ids}
    return Result(rule, method, selected, ordered, total, prep.budget)
