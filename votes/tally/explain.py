"""The plain-English reasons for every project, and the default money format."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from votes.tally.mes import MesInput, MesRun
from votes.tally.prepare import Prepared


def default_format_money(amount: Fraction | int) -> str:
    """Format an amount as a plain number: ``1,400`` or ``1,234.57`` (exact rounding, no currency)."""
    amount = Fraction(amount)
    if amount.denominator == 1:
        return f"{amount.numerator:,}"
    cents = round(amount * 100)  # Fraction rounding is exact (half to even)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}"


def _plain(value: Fraction | int) -> str:
    # Points and scores are counts, not money: never through format_money.
    return default_format_money(value)


class Words:
    """Builds the plain-English reasons; money goes through ``fmt``."""

    def __init__(self, prep: Prepared, fmt: Callable[[Fraction], str]) -> None:
        self.prep = prep
        self.fmt = fmt

    def _votes(self, pid: str) -> str:
        n = self.prep.votes[pid]
        return f"{n:,} vote{'s' if n != 1 else ''}"

    def _support(self, kind: str, pid: str, total: Fraction) -> str:
        if kind in ("points", "points_cost"):
            points = total if kind == "points" else self._points(pid)
            return f"{_plain(points)} point{'' if points == 1 else 's'} from {self._votes(pid)}"
        if kind == "borda":
            return f"Borda score {_plain(total)} from {self._votes(pid)}"
        return self._votes(pid)

    def _points(self, pid: str) -> Fraction:
        return self.prep.total_sat("points")[pid]

    def greedy(self, kind: str, facts: dict[str, tuple], completing: bool = False) -> dict[str, str]:
        prep, fmt = self.prep, self.fmt
        totals = prep.total_sat(kind)
        per_cost = kind in ("card", "points", "borda")
        order = {
            "cost": "most votes first",
            "card": "votes per unit of cost, highest first",
            "points_cost": "most points first",
            "points": "points per unit of cost, highest first",
            "borda": "Borda score per unit of cost, highest first",
        }[kind]
        prefix = "funded from the money Equal Shares left over" if completing else "funded"
        out: dict[str, str] = {}
        for pid in prep.ids:
            if pid not in facts:
                continue
            status, left = facts[pid]
            support = self._support(kind, pid, totals[pid])
            cost = fmt(prep.cost[pid])
            if status == "funded":
                if per_cost and prep.cost[pid] > 0 and totals[pid] > 0:
                    support += f" for a cost of {cost}"
                out[pid] = f"{prefix}: {support}, fitted in the {fmt(left)} left (ranked {order})"
            else:
                out[pid] = (
                    f"not funded: {support}, cost {cost} but only {fmt(left)} was left (ranked {order})"
                )
        return out

    def mes(self, mi: MesInput, run: MesRun, selected: list[str], share: Fraction, step: int = 0) -> dict:
        prep, fmt = self.prep, self.fmt
        out: dict[str, str] = {}
        start = f"each voter started with {fmt(share)}"
        if step:
            start += (
                f": the equal share {fmt(share - step)} plus {step:,}, the first increase "
                "that completes the result"
            )
        funded_votes = [prep.votes[p] for p in selected]
        fewest = min(funded_votes) if funded_votes else None
        for pid in mi.free:
            out[pid] = f"funded: it costs nothing and has {self._votes(pid)}"
        for pid in mi.unsupported:
            votes = prep.votes[pid]
            if mi.kind == "cost" and prep.cost[pid] == 0 and votes:
                out[pid] = (
                    "not funded: it costs nothing, and when satisfaction is measured by cost "
                    "a free project gives no satisfaction, so equal shares never picks it"
                )
            elif mi.kind == "borda" and votes:
                out[pid] = (
                    f"not funded: every one of its {self._votes(pid)} ranks it last, which scores "
                    "no Borda points, so it has no supporters to pay for it"
                )
            elif mi.kind == "points" and votes:
                out[pid] = (
                    f"not funded: its {self._votes(pid)} give it no points, so it has no supporters to pay for it"
                )
            else:
                out[pid] = f"not funded: no voter supports it (cost {fmt(prep.cost[pid])})"
        unit = {"points": "point", "borda": "Borda point"}.get(mi.kind, "unit of satisfaction")
        for pid, info in run.rounds.items():
            share_text = fmt(info["share"]) + (f" per {unit} they gave it" if info["per_unit"] else " each")
            if info["poor"]:
                how = (
                    f"{info['payers']:,} paid {share_text} and {info['poor']:,} who had less left "
                    f"paid all they had ({fmt(info['poor_paid'])} together)"
                )
            else:
                how = f"they paid {share_text}"
            out[pid] = (
                f"funded in round {info['round']}: {self._votes(pid)}, cost {fmt(prep.cost[pid])} shared "
                f"by its supporters ({start}): {how}"
            )
        for pid, info in run.dropped.items():
            cost = fmt(prep.cost[pid])
            before = info["funded_before"]
            if before == 0:
                out[pid] = (
                    f"not funded: {self._votes(pid)}, but even all their equal shares "
                    f"({fmt(info['left'])} together) cannot pay its cost of {cost}"
                )
                continue
            text = (
                f"not funded: {self._votes(pid)}, cost {cost}, but once {before} "
                f"project{'s' if before != 1 else ''} had been paid for, its supporters had only "
                f"{fmt(info['left'])} left between them"
            )
            if fewest is not None and prep.votes[pid] > fewest:
                text += (
                    "; projects with fewer votes were funded because their supporters still had "
                    "money, while this project's supporters had spent theirs on other projects they chose"
                )
            out[pid] = text
        return out

    def phragmen(self, facts: dict[str, tuple]) -> dict[str, str]:
        prep, fmt = self.prep, self.fmt
        out: dict[str, str] = {}
        for pid in prep.ids:
            fact = facts[pid]
            cost = fmt(prep.cost[pid])
            if fact[0] == "funded":
                _, order, load, left = fact
                load_text = (
                    f"each supporter's total load (the money they are counted as paying) "
                    f"became {fmt(load)}, the lowest any project could give"
                    if load is not None
                    else "nobody supports it, but every remaining project was in the same position"
                )
                out[pid] = f"funded as number {order}: {self._votes(pid)}, cost {cost}; {load_text}"
            elif fact[0] == "stopped":
                _, left, blocker, _load = fact
                if pid == blocker:
                    out[pid] = (
                        f"not funded: {self._votes(pid)}; it was next in line but costs {cost} "
                        f"and only {fmt(left)} was left, so the rule stopped"
                    )
                else:
                    out[pid] = (
                        f"not funded: {self._votes(pid)}, cost {cost}; the rule stopped when the next "
                        f"project in line ({blocker}) did not fit in the {fmt(left)} left"
                    )
            else:
                out[pid] = f"not funded: its cost {cost} is more than the whole budget {fmt(prep.budget)}"
        return out
