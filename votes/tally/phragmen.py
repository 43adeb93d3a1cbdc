"""Sequential Phragmén: pabutools' sequential_phragmen (approval ballots)."""

from __future__ import annotations

from fractions import Fraction

from votes.tally.prepare import Prepared


def phragmen(prep: Prepared) -> tuple[list[str], dict[str, tuple]]:
    """pabutools' sequential_phragmen (approval ballots)."""
    budget = prep.budget
    candidates = {pid for pid in prep.ids if prep.cost[pid] <= budget}
    score = prep.votes
    # Voters of a group share a load; loads are held per "load class" (the
    # last funded project the voter approves), and each project keeps the
    # number of its supporters in each class.
    group_class = [0] * len(prep.groups)
    class_load: list[Fraction] = [Fraction(0)]
    counts: dict[str, dict[int, int]] = {pid: {} for pid in prep.ids}
    supporters: dict[str, list[int]] = {pid: [] for pid in prep.ids}
    for g, (m, content) in enumerate(prep.groups):
        for pid in content:
            supporters[pid].append(g)
            counts[pid][0] = counts[pid].get(0, 0) + m
    load_sum = dict.fromkeys(prep.ids, Fraction(0))
    chosen: list[str] = []
    spent = Fraction(0)
    facts: dict[str, tuple] = {}
    while candidates:
        best = None  # None stands for +infinity (no supporters)
        tied: list[str] = []
        first = True
        for pid in candidates:
            load = Fraction(load_sum[pid] + prep.cost[pid], score[pid]) if score[pid] else None
            if first:
                best, tied, first = load, [pid], False
            elif load is not None and (best is None or load < best):
                best, tied = load, [pid]
            elif load == best:
                tied.append(pid)
        too_big = [pid for pid in tied if spent + prep.cost[pid] > budget]
        if too_big:
            # pabutools stops as soon as any project tied for the lowest load does not fit.
            for pid in candidates:
                facts[pid] = ("stopped", budget - spent, min(too_big), best)
            break
        pid = min(tied)
        facts[pid] = ("funded", len(chosen) + 1, best, budget - spent)
        chosen.append(pid)
        spent += prep.cost[pid]
        candidates.discard(pid)
        if best is None:
            continue
        new_class = len(class_load)
        class_load.append(best)
        moved: dict[str, dict[int, int]] = {}
        for g in supporters[pid]:
            old = group_class[g]
            group_class[g] = new_class
            m = prep.groups[g][0]
            for other in prep.groups[g][1]:
                if other in candidates:
                    bucket = moved.setdefault(other, {})
                    bucket[old] = bucket.get(old, 0) + m
        for other, bucket in moved.items():
            delta = Fraction(0)
            for old, m in bucket.items():
                delta += m * (best - class_load[old])
            load_sum[other] += delta
    for pid in prep.ids:
        if pid not in facts:
            facts[pid] = ("too_expensive",)
    return chosen, facts
