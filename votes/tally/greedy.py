"""Greedy: pabutools' greedy_utilitarian_welfare."""

from __future__ import annotations

from fractions import Fraction

from votes.tally.prepare import Prepared


def greedy(prep: Prepared, kind: str, initial: list[str] | None = None) -> tuple[list[str], dict[str, tuple]]:
    """pabutools' greedy_utilitarian_welfare: returns funded ids and per-project facts."""
    totals = prep.total_sat(kind)
    # Additive satisfactions take pabutools' sorted path: density 0 without
    # support, "infinite" when free and supported.  Additive_Borda_Sat is not
    # flagged additive and takes the generic path, where any free project is
    # "infinite".  Both orders fund the same set, but keep them identical.
    generic = kind == "borda"
    chosen = list(initial or [])
    taken = set(chosen)

    def key(pid: str):
        total, cost = totals[pid], prep.cost[pid]
        if generic and cost == 0:
            return (0, 0, pid)
        if total > 0:
            if cost > 0:
                return (1, -Fraction(total, cost), pid)
            return (0, 0, pid)
        return (1, 0, pid)

    remaining = prep.budget - sum((prep.cost[p] for p in chosen), Fraction(0))
    facts: dict[str, tuple] = {}
    for pid in sorted((p for p in prep.ids if p not in taken), key=key):
        cost = prep.cost[pid]
        if cost <= remaining:
            facts[pid] = ("funded", remaining)
            chosen.append(pid)
            remaining -= cost
        else:
            facts[pid] = ("skipped", remaining)
    return chosen, facts
