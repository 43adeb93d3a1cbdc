"""The participatory-budgeting tally: which projects a voting rule funds, and why.

This module owns the counting rules.  It is pure Python with exact arithmetic
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

Speed (all exact): voters are held as bitsets (Python ints), one per
project, and identical ballots are grouped for the rules that walk ballots.
MES keeps voters in classes of equal remaining budget, sorted by budget;
since a voter with money left has always paid full shares, a project's
available money follows from a few popcounts, and its affordability factor
from walking the classes from the richer or the poorer end, whichever is
shorter.  Money is kept as integers over a common denominator that grows
when a share needs it.  The cyclic garbage collector is paused during a
tally (see :func:`_gc_paused`).

add1 (see :func:`_mes_add1`) must land on exactly the step where pabutools'
+1 stepping stops, and the outcome is not monotone in the step, so steps are
only skipped with a proof: two runs that fund the same projects in the same
order, with each rival beaten at both ends, give the same outcome at every
step in between (budgets are monotone in the starting budget for a fixed
history).  Otherwise every step is run, each one using the run one step up as
a source of lower bounds, and large searches use one forked helper process.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce
from math import gcd, lcm
from operator import attrgetter, itemgetter, or_

from votes.pabulib import APPROVAL_TYPES, POINTS_TYPES, Ballot, Election, Project

__all__ = [
    "RULES",
    "RULE_METHODS",
    "Result",
    "RuleError",
    "default_format_money",
    "rules_for",
    "tally",
]

RULES = (
    "greedy",
    "greedy-per-cost",
    "mes",
    "mes-approval",
    "mes-cardinality",
    "mes-add1",
    "mes-add1-greedy",
    "phragmen",
)

# The --rule table: rule key -> pabutools computation, per vote type
# (choose-1 is approval; scoring is treated like cumulative).
RULE_METHODS: dict[str, dict[str, str]] = {
    "approval": {
        "greedy": "greedy_cost_sat",
        "greedy-per-cost": "greedy_cardinality_sat",
        "mes": "mes_cost_sat",
        "mes-approval": "mes_cost_sat",
        "mes-cardinality": "mes_cardinality_sat",
        "mes-add1": "mes_cost_sat_add1",
        "mes-add1-greedy": "mes_cost_sat_add1_then_greedy_cost_sat",
        "phragmen": "sequential_phragmen",
    },
    "cumulative": {
        "greedy": "greedy_points_cost_sat",
        "greedy-per-cost": "greedy_additive_cardinal_sat",
        "mes": "mes_additive_cardinal_sat",
        "mes-approval": "mes_cost_sat",
    },
    "ordinal": {
        "greedy": "greedy_cost_sat",
        "greedy-per-cost": "greedy_additive_borda_sat",
        "mes": "mes_additive_borda_sat",
        "mes-approval": "mes_cost_sat",
    },
}

# Satisfaction kinds, named after pabutools' classes:
#   cost        Cost_Sat              cost of each chosen project (points/rank ignored)
#   card        Cardinality_Sat       1 per chosen project
#   points      Additive_Cardinal_Sat the points given
#   points_cost Points_Cost_Sat       points x cost (greedy by total points)
#   borda       Additive_Borda_Sat    len(ballot) - position - 1
_GREEDY_KIND = {
    "greedy_cost_sat": "cost",
    "greedy_cardinality_sat": "card",
    "greedy_points_cost_sat": "points_cost",
    "greedy_additive_cardinal_sat": "points",
    "greedy_additive_borda_sat": "borda",
}
_MES_KIND = {
    "mes_cost_sat": "cost",
    "mes_cardinality_sat": "card",
    "mes_additive_cardinal_sat": "points",
    "mes_additive_borda_sat": "borda",
}


class RuleError(ValueError):
    """Raised for an unknown rule or a rule not defined for the vote type."""


@dataclass
class Result:
    """Outcome of a tally: funded ids in funding order and a reason for every project."""

    rule: str
    method: str
    selected: list[str]
    explanations: dict[str, str]
    total_cost: Fraction
    budget: Fraction


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


def base_vote_type(vote_type: str) -> str:
    """Return the rule-table column for a vote type (approval, cumulative or ordinal)."""
    if vote_type in APPROVAL_TYPES:
        return "approval"
    if vote_type in POINTS_TYPES:
        return "cumulative"
    if vote_type == "ordinal":
        return "ordinal"
    raise RuleError(f"unsupported vote type {vote_type!r}")


def rules_for(vote_type: str) -> list[str]:
    """Return the rule keys defined for a vote type."""
    return list(RULE_METHODS[base_vote_type(vote_type)])


def method_for(vote_type: str, rule: str) -> str:
    """Return the pabutools computation a rule key means for a vote type, or raise RuleError."""
    if rule not in RULES:
        raise RuleError(f"unknown rule {rule!r}; choose one of: {', '.join(RULES)}")
    column = base_vote_type(vote_type)
    methods = RULE_METHODS[column]
    if rule not in methods:
        raise RuleError(
            f"rule {rule!r} is not defined for {vote_type} ballots; "
            f"rules for {vote_type}: {', '.join(methods)}"
        )
    return methods[rule]


# ---------------------------------------------------------------------------
# Input preparation
# ---------------------------------------------------------------------------


class _Prepared:
    """The election reduced to what the rules need.

    Voters are numbered in ballot order; sets of voters are bitsets (ints).
    Identical ballots are grouped (with their multiplicity) for the rules
    that walk ballots; the bitset-based ones do not need it.
    """

    def __init__(self, election: Election) -> None:
        self.vote_type = base_vote_type(election.vote_type)
        self.budget = Fraction(election.budget)
        projects = _project_list(election.projects)
        self.ids: list[str] = [p.id for p in projects]
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("project ids must be unique")
        self.cost: dict[str, Fraction] = {p.id: Fraction(p.cost) for p in projects}
        self.name: dict[str, str] = {p.id: p.name for p in projects}
        self.ballots = list(election.ballots)
        self.n = len(self.ballots)
        # Approval Ballot objects (the common, large case) are read as they
        # are; anything else goes through _content.
        self._plain = self.vote_type == "approval" and all(type(b) is Ballot for b in self.ballots)
        self._contents: list[tuple | frozenset] | None = None
        if self._plain:
            listed_ids = set().union(*map(_choices_of, self.ballots))
        else:
            listed_ids = set().union(*map(self.listed, set(self.contents)))
        if not self.cost.keys() >= listed_ids:
            unknown = sorted(listed_ids - self.cost.keys())
            raise ValueError(f"ballots vote for unknown project(s) {', '.join(map(repr, unknown))}")
        self._groups: list[tuple[int, tuple | frozenset]] | None = None
        self._votes: dict[str, int] | None = None
        self._bits: dict[str, int] | None = None
        self._sat_cache: dict[str, list[dict[str, int | Fraction]]] = {}
        self._total_cache: dict[str, dict[str, int | Fraction]] = {}

    def _content(self, ballot) -> tuple | frozenset:
        """A hashable form of a ballot: equal ballots give equal contents."""
        if isinstance(ballot, Ballot):
            choices, points = ballot.choices, ballot.points
        elif isinstance(ballot, tuple | list):
            choices, points = ballot, None
        else:
            choices, points = ballot.choices, getattr(ballot, "points", None)
        if self.vote_type == "approval":
            return frozenset(choices)  # a set: order does not matter
        if self.vote_type == "ordinal":
            return tuple(dict.fromkeys(choices))  # a repeated project keeps its first rank
        if points is None:
            raise ValueError("cumulative/scoring ballots need points")
        scores: dict[str, int | Fraction] = {}
        for pid, pts in zip(choices, points, strict=True):
            scores[pid] = _exact(pts)
        return tuple(scores.items())

    def listed(self, content: tuple | frozenset) -> list[str] | tuple | frozenset:
        """Project ids a ballot lists (any points, any rank)."""
        if self.vote_type == "cumulative":
            return [pid for pid, _ in content]
        return content

    @property
    def contents(self) -> list[tuple | frozenset]:
        """Each ballot's hashable meaning: approval: frozenset of ids, ordinal: ids in rank
        order, points: ((id, points), ...)."""
        if self._contents is None:
            if self._plain:
                self._contents = list(map(frozenset, map(_choices_of, self.ballots)))
            else:
                self._contents = list(map(self._content, self.ballots))
        return self._contents

    @property
    def groups(self) -> list[tuple[int, tuple | frozenset]]:
        """Distinct ballots with their multiplicity, in order of first appearance."""
        if self._groups is None:
            self._groups = [(m, c) for c, m in Counter(self.contents).items()]
        return self._groups

    @property
    def votes(self) -> dict[str, int]:
        """Number of ballots listing each project (any points, any rank)."""
        if self._votes is None:
            if self._bits is not None or self._plain:
                self._votes = {pid: bits.bit_count() for pid, bits in self.listing_bits().items()}
            else:
                counted: Counter[str] = Counter()
                for m, content in self.groups:
                    for pid in self.listed(content):
                        counted[pid] += m
                self._votes = {pid: counted.get(pid, 0) for pid in self.ids}
        return self._votes

    def sats(self, kind: str) -> list[dict[str, int | Fraction]]:
        """Per group, the satisfaction each listed project gives (pabutools' sat_project)."""
        if kind in self._sat_cache:
            return self._sat_cache[kind]
        out: list[dict[str, int | Fraction]] = []
        cost = self.cost
        for _, content in self.groups:
            if kind == "cost":
                sat = {pid: cost[pid] for pid in self.listed(content)}
            elif kind == "card":
                sat = dict.fromkeys(self.listed(content), 1)
            elif kind in ("points", "points_cost"):
                if self.vote_type != "cumulative":
                    raise RuleError("points-based satisfaction needs cumulative or scoring ballots")
                if kind == "points":
                    sat = dict(content)
                else:
                    sat = {pid: pts * cost[pid] for pid, pts in content}
            elif kind == "borda":
                if self.vote_type != "ordinal":
                    raise RuleError("Borda satisfaction needs ordinal ballots")
                size = len(content)
                sat = {pid: size - pos - 1 for pos, pid in enumerate(content)}
            else:  # pragma: no cover - internal misuse
                raise ValueError(kind)
            out.append(sat)
        self._sat_cache[kind] = out
        return out

    def total_sat(self, kind: str) -> dict[str, int | Fraction]:
        """Total satisfaction per project (sum over ballots)."""
        if kind in self._total_cache:
            return self._total_cache[kind]
        if kind == "cost":
            totals = {pid: self.votes[pid] * self.cost[pid] for pid in self.ids}
        elif kind == "card":
            totals = dict(self.votes)
        elif kind == "points_cost":
            points = self.total_sat("points")
            totals = {pid: points[pid] * self.cost[pid] for pid in self.ids}
        else:
            totals = dict.fromkeys(self.ids, 0)
            for (m, _), sat in zip(self.groups, self.sats(kind), strict=True):
                for pid, value in sat.items():
                    totals[pid] += m * value
        self._total_cache[kind] = totals
        return totals

    def listing_bits(self) -> dict[str, int]:
        """Per project, the bitset of voters whose ballot lists it."""
        if self._bits is None:
            size = self.n // 8 + 1
            bufs = {pid: bytearray(size) for pid in self.ids}
            listed = self.listed
            rows = map(_choices_of, self.ballots) if self._plain else map(listed, self.contents)
            for i, row in enumerate(rows):
                at, bit = i >> 3, 1 << (i & 7)
                for pid in row:  # a repeated id sets the same bit again
                    bufs[pid][at] |= bit
            self._bits = {pid: int.from_bytes(buf, "little") for pid, buf in bufs.items()}
        return self._bits

    def level_bits(self, kind: str) -> dict[str, dict[int | Fraction, int]]:
        """Per project, the voters giving it each positive satisfaction value, as bitsets."""
        by_content: dict = {}
        for (_, content), sat in zip(self.groups, self.sats(kind), strict=True):
            by_content[content] = sat
        voters: dict[str, dict[int | Fraction, list[int]]] = {pid: {} for pid in self.ids}
        for i, content in enumerate(self.contents):
            for pid, value in by_content[content].items():
                if value > 0:
                    voters[pid].setdefault(value, []).append(i)
        return {
            pid: {value: _bits_of(idx, self.n) for value, idx in levels.items()}
            for pid, levels in voters.items()
        }


def _bits_of(indices: Iterable[int], n: int) -> int:
    """Bitset of the given voter indices."""
    buf = bytearray(n // 8 + 1)
    for i in indices:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


_choices_of = attrgetter("choices")


def _exact(value) -> int | Fraction:
    """An exact number, as an int when it is whole (ints are much faster than Fractions)."""
    value = Fraction(value)
    return value.numerator if value.denominator == 1 else value


def _project_list(projects) -> list[Project]:
    if isinstance(projects, Mapping):
        items = []
        for key, value in projects.items():
            pid = getattr(value, "id", key)
            items.append(Project(str(pid), Fraction(value.cost), getattr(value, "name", "") or ""))
        return items
    return [Project(str(p.id), Fraction(p.cost), getattr(p, "name", "") or "") for p in projects]


# ---------------------------------------------------------------------------
# Greedy
# ---------------------------------------------------------------------------


def _greedy(
    prep: _Prepared, kind: str, initial: list[str] | None = None
) -> tuple[list[str], dict[str, tuple]]:
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


# ---------------------------------------------------------------------------
# Method of equal shares
# ---------------------------------------------------------------------------


class _MesProject:
    """A project as MES sees it: cost, satisfaction levels and supporters as bitsets."""

    __slots__ = ("idx", "id", "cost", "sig_n", "sig_d", "levels", "mult", "binary", "lb0", "lb0_key", "supp")

    def __init__(self, idx: int, pid: str, cost: Fraction, sig: Fraction, levels: list[tuple[int, int]]):
        self.idx = idx
        self.id = pid
        self.cost = cost
        # A supporter's satisfaction is u * sigma for the u of its level.
        self.sig_n = sig.numerator
        self.sig_d = sig.denominator
        self.levels = levels
        self.binary = len(levels) == 1 and levels[0][0] == 1
        lu = 1
        for u, _ in levels:
            lu = lcm(lu, u)
        # Sorting supporters by budget / u is sorting by budget * (lu // u).
        self.mult = {u: lu // u for u, _ in levels}
        total = sum(u * bits.bit_count() for u, bits in levels)
        self.lb0 = cost / (total * sig)  # pabutools' initial affordability
        self.lb0_key = self.lb0.numerator * _KEY_SCALE // self.lb0.denominator
        supp = 0
        for _, bits in levels:
            supp |= bits
        self.supp = supp


class _MesInput:
    """MES projects (supported, positive cost) with their supporters as voter bitsets."""

    def __init__(self, prep: _Prepared, kind: str) -> None:
        self.prep = prep
        self.kind = kind
        binary_bits: dict[str, int] = {}
        per_project: dict[str, dict[int | Fraction, int]] = {pid: {} for pid in prep.ids}
        if kind in ("cost", "card"):
            # Same satisfaction for every supporter (Cost_Sat: the cost, which
            # makes a free project worth nothing to anyone).
            binary_bits = {
                pid: bits
                for pid, bits in prep.listing_bits().items()
                if bits and (kind == "card" or prep.cost[pid] > 0)
            }
        else:
            per_project = prep.level_bits(kind)
        self.projects: list[_MesProject] = []
        self.free: list[str] = []  # supported and free: pabutools funds these up front
        self.unsupported: list[str] = []
        for pid in sorted(prep.ids):
            by_value = per_project[pid]
            if not by_value and pid not in binary_bits:
                self.unsupported.append(pid)
                continue
            if prep.cost[pid] == 0:
                self.free.append(pid)
                continue
            if pid in binary_bits:
                sig = prep.cost[pid] if kind == "cost" else Fraction(1)
                levels = [(1, binary_bits[pid])]
            else:
                num, den = 0, 1
                for value in by_value:
                    value = Fraction(value)
                    num = gcd(num, value.numerator)
                    den = lcm(den, value.denominator)
                sig = Fraction(num, den)
                levels = [(int(value / sig), bits) for value, bits in sorted(by_value.items())]
            self.projects.append(_MesProject(len(self.projects), pid, prep.cost[pid], sig, levels))
        self.cost_den = 1
        self.everyone = 0
        for p in self.projects:
            self.cost_den = lcm(self.cost_den, p.cost.denominator)
            self.everyone |= p.supp
        self.all_binary = all(p.binary for p in self.projects)
        # Supporters of both j and s, filled in on demand and kept across runs.
        self.pairs: list[dict[int, int]] = [{} for _ in self.projects]


class _Round:
    """One MES round as needed to certify runs: the pick, its rho, and how far the scan went."""

    __slots__ = ("s", "theta", "theta_key", "limit", "rhos", "keys")

    def __init__(
        self,
        s: int,
        theta: Fraction,
        theta_key: int,
        limit: int | None,
        rhos: dict[int, Fraction],
        keys: dict[int, int],
    ):
        self.s = s
        self.keys = keys  # lower-bound keys of all projects after this round's evaluations
        self.theta = theta  # rho of the funded project
        self.theta_key = theta_key  # floor(theta * _KEY_SCALE)
        # Every project whose stored bound key was <= limit was evaluated (None: all).
        self.limit = limit
        self.rhos = rhos  # exact rho of the affordable projects evaluated this round


class _MesRun:
    """Outcome of one MES run, its trace, and the facts used by the explanations."""

    def __init__(self) -> None:
        self.selected: list[str] = []
        self.trace: list[_Round] = []
        self.rounds: dict[str, dict] = {}  # funded project -> facts
        self.dropped: dict[str, dict] = {}  # unaffordable project -> facts


_KEY_SCALE = 1 << 64  # integer sort keys for rho: floor(rho * _KEY_SCALE)
_BLOCK = 16  # add1: steps run per block (at most _BLOCK - 1 runs past the stopping step)
_MAX_JUMP = 1 << 20  # add1: widest interval tried with a certificate
_HELPER_MIN_WORK = 50_000  # add1: total supporters from which a helper process is used


def _mes_run(
    mi: _MesInput,
    base: Fraction,
    step: int = 0,
    reference: _MesRun | None = None,
    hint: _MesRun | None = None,
    explain: bool = True,
) -> _MesRun:
    """One run of MES with ``base + step`` per voter.

    With a ``reference`` run (at a smaller step), each round also evaluates
    every project whose bound is within the reference's rho for that round,
    so that :func:`_certified` can compare the two runs.  A ``hint`` run at a
    larger step supplies lower bounds on rho for as long as both runs have
    funded the same projects: with the same history every budget is at most
    the hint's, so every rho is at least the hint's.
    """
    run = _MesRun()
    projects = mi.projects
    if not projects:
        return run
    fast = mi.all_binary
    # Money is held as integers in units of 1/q; q grows when a share needs it.
    q = lcm(base.denominator, mi.cost_den)
    costq = [p.cost.numerator * (q // p.cost.denominator) for p in projects]
    b0 = base.numerator * (q // base.denominator) + q * step
    # Voters with equal budgets are interchangeable: (budget, voter bitset)
    # classes sorted by budget.  Voters with nothing left are dropped, and so,
    # from time to time, are voters who support no remaining project.
    classes: list[tuple[int, int]] = [(b0, mi.everyone)] if b0 > 0 else []
    alive = mi.everyone if b0 > 0 else 0
    relevant_count = alive.bit_count()
    # Funded (project, payment per voter) so far.  A voter who still has money
    # always paid the full share, so their budget is b0 minus the shares of
    # the funded projects they approve: this gives any project's available
    # money from a few popcounts (binary satisfaction only).
    history: list[tuple[int, int]] = []
    pairs = mi.pairs
    remaining = {p.idx for p in projects}
    lkey = {p.idx: p.lb0_key for p in projects}
    hint_ok = hint is not None
    budget_of = itemgetter(0)
    bits_of = itemgetter(1)

    def eval_binary(p: _MesProject) -> tuple[tuple[int, int] | None, int]:
        """((cost - paid by the poor, number of rich), available money) or (None, money)."""
        bits = p.supp
        cnt = (bits & alive).bit_count()
        avail = b0 * cnt
        if history:
            pj = pairs[p.idx]
            for s, pay in history:
                both = pj.get(s)
                if both is None:
                    both = pj[s] = bits & projects[s].supp
                avail -= pay * (both & alive).bit_count()
        cost = costq[p.idx]
        if avail < cost:
            return None, avail
        # pabutools walks supporters from the poorest up until the equal
        # share fits.  The same split can be found walking down from the
        # richest: take the side that the stored bound says is shorter.
        guess = lkey[p.idx] * p.sig_n * q // (p.sig_d * _KEY_SCALE)
        if 2 * bisect_left(classes, guess, key=budget_of) < len(classes):
            num = cost
            for v, cb in classes:
                w = (cb & bits).bit_count()
                if w:
                    if num <= v * cnt:
                        break
                    num -= v * w
                    cnt -= w
            return (num, cnt), avail
        top_sum = top_cnt = 0
        for v, cb in reversed(classes):
            w = (cb & bits).bit_count()
            if w:
                s2 = top_sum + v * w
                c2 = top_cnt + w
                if avail - s2 + v * c2 < cost:
                    break
                top_sum, top_cnt = s2, c2
        return (cost - avail + top_sum, top_cnt), avail

    def eval_generic(p: _MesProject) -> tuple[tuple[int, int] | None, int]:
        num = costq[p.idx]
        mult = p.mult
        entries = []
        for v, cb in classes:
            for u, lbits in p.levels:
                w = (cb & lbits).bit_count()
                if w:
                    entries.append((v * mult[u], v, u, w))
        avail = sum(e[1] * e[3] for e in entries)
        if avail < num:
            return None, avail
        entries.sort(key=budget_of)
        den = sum(e[2] * e[3] for e in entries)
        for _, v, u, w in entries:
            if num * u <= v * den:
                break
            num -= v * w
            den -= u * w
        return (num, den), avail

    evaluate = eval_binary if fast else eval_generic
    rnd = 0
    while remaining:
        rnd += 1
        ref_key = None
        if reference is not None and rnd <= len(reference.trace):
            ref_key = reference.trace[rnd - 1].theta_key
        if hint_ok and rnd <= len(hint.trace):
            for j, key in hint.trace[rnd - 1].keys.items():
                if key > lkey[j]:
                    lkey[j] = key
        best: Fraction | None = None
        best_key = 0
        tied: list[int] = []
        found: dict[int, tuple[Fraction, tuple[int, int]]] = {}
        limit: int | None = None
        for j in sorted(remaining, key=lkey.__getitem__):
            # Stored values are lower bounds (budgets only shrink), so the
            # scan stops once they exceed the best rho found (or the
            # reference's rho, for the certificate).  Keys are floors of
            # rho * scale: key(j) > floor(best * scale) implies rho_j > best.
            if best is not None:
                threshold = best_key if ref_key is None or ref_key < best_key else ref_key
                if lkey[j] > threshold:
                    limit = threshold if limit is None else min(limit, threshold)
                    break
            p = projects[j]
            if fast and best is not None:
                # Cheap bound first: the share is at least an equal split of
                # the cost among the supporters with money left.
                cnt = (p.supp & alive).bit_count()
                if cnt:
                    key = costq[j] * p.sig_d * _KEY_SCALE // (cnt * p.sig_n * q)
                    if key > lkey[j]:
                        lkey[j] = key
                        if key > threshold:
                            limit = threshold if limit is None else min(limit, threshold)
                            continue
            ev, avail = evaluate(p)
            if ev is None:
                remaining.discard(j)
                run.dropped[p.id] = {"left": Fraction(avail, q), "funded_before": len(run.selected)}
                continue
            rho_den = ev[1] * p.sig_n * q
            rho = Fraction(ev[0] * p.sig_d, rho_den)
            lkey[j] = ev[0] * p.sig_d * _KEY_SCALE // rho_den
            found[j] = (rho, ev)
            if best is None or rho < best:
                best = rho
                best_key = lkey[j]
                tied = [j]
            elif rho == best:
                tied.append(j)
        if not tied:
            break
        s = min(tied, key=lambda j: projects[j].id)
        sp = projects[s]
        run.trace.append(
            _Round(
                s,
                best,
                best_key,
                limit,
                {j: r for j, (r, _) in found.items()},
                {j: lkey[j] for j in remaining},
            )
        )
        hint_ok = hint_ok and len(hint.trace) >= rnd and hint.trace[rnd - 1].s == s
        num, den = found[s][1]

        # The payment per unit of satisfaction is num / den: rescale money by
        # f so that it becomes an integer.
        f = den // gcd(den, num)
        pay = num * f // den
        supp = sp.supp
        payers = (supp & alive).bit_count() if explain else 0
        poor = poor_paid = 0
        history = [(h, hp * f) for h, hp in history] if f > 1 else history
        history.append((s, pay))
        remaining.discard(s)
        if f > 1:
            q *= f
            b0 *= f
            costq = [c * f for c in costq]
        if fast:
            # Every supporter owes the same share.  Classes are sorted by
            # budget: those at or below the share pay all they have (and
            # leave), the others keep the difference, in the same order.
            split = bisect_right(classes, num // den, key=budget_of)
            touched = list(map(supp.__and__, map(bits_of, classes)))
            low = list(filter(None, touched[:split]))
            if low:
                alive ^= reduce(or_, low)
            if explain:
                for (v, _), t in zip(classes[:split], touched[:split], strict=True):
                    if t and v * den < num:  # could not pay the share: paid everything left
                        w = t.bit_count()
                        poor += w
                        poor_paid += v * f * w
            if f > 1:
                kept = [
                    (v * f, cb ^ t if t else cb)
                    for (v, cb), t in zip(classes, touched, strict=True)
                    if cb != t
                ]
                kept += [
                    (v * f - pay, t) for (v, _), t in zip(classes[split:], touched[split:], strict=True) if t
                ]
            else:
                kept = [
                    c if not t else (c[0], c[1] ^ t)
                    for c, t in zip(classes, touched, strict=True)
                    if c[1] != t
                ]
                kept += [
                    (v - pay, t) for (v, _), t in zip(classes[split:], touched[split:], strict=True) if t
                ]
        else:
            kept = []
            for v, cb in classes:
                v *= f
                touched = cb & supp
                if cb != touched:
                    kept.append((v, cb ^ touched))
                if not touched:
                    continue
                for u, lbits in sp.levels:
                    part = touched & lbits
                    if not part:
                        continue
                    nv = v - u * pay
                    if nv > 0:
                        kept.append((nv, part))
                        continue
                    alive ^= part
                    if nv < 0:  # could not pay rho * sat: paid everything left
                        w = part.bit_count()
                        poor += w
                        poor_paid += v * w
        # Equal budgets may sit in separate classes: the scans treat them alike.
        kept.sort(key=budget_of)
        # Voters who support no remaining project no longer matter: drop
        # them once there are noticeably fewer of them.
        relevant = 0
        for j in remaining:
            relevant |= projects[j].supp
        relevant &= alive
        count = relevant.bit_count()
        if 4 * count < 3 * relevant_count:
            relevant_count = count
            kept = [(v, x) for v, cb in kept if (x := cb & relevant)]
        classes = kept
        run.selected.append(sp.id)
        run.rounds[sp.id] = {
            "round": rnd,
            # Per voter (one level of 1), else per unit of satisfaction (sat = u * sigma).
            "share": Fraction(pay, q) if sp.binary else Fraction(pay * sp.sig_d, q * sp.sig_n),
            "per_unit": not sp.binary,
            "payers": payers - poor,
            "poor": poor,
            "poor_paid": Fraction(poor_paid, q),
        }
    return run


def _certified(mi: _MesInput, low: _MesRun, high: _MesRun) -> bool:
    """True if every step between the steps of ``low`` and ``high`` gives the same MES outcome.

    For a fixed sequence of funded projects, every voter's remaining budget
    is a non-decreasing function of the starting budget (a project's rho only
    falls when budgets rise, and what is left is max(0, budget - rho * sat)).
    So at any step k in between, round r's pick has rho at most its rho in
    ``low``, and any rival's rho is at least its rho (or stored bound) in
    ``high``.  If in every round each rival of ``high`` is beaten by the
    pick's rho in ``low`` (ties going to the smaller id) and both runs stop
    after the same rounds, induction on the rounds gives the same run at k.
    """
    if len(low.trace) != len(high.trace):
        return False
    for lo, hi in zip(low.trace, high.trace, strict=True):
        if lo.s != hi.s:
            return False
        theta = lo.theta
        if hi.limit is not None and hi.limit < lo.theta_key:
            return False  # some rival in high was not evaluated far enough
        sid = mi.projects[lo.s].id
        for j, rho in hi.rhos.items():
            if j != lo.s and (rho < theta or (rho == theta and mi.projects[j].id < sid)):
                return False
    return True


def _mes(prep: _Prepared, kind: str) -> tuple[list[str], _MesInput, _MesRun]:
    """pabutools' method_of_equal_shares with no completion."""
    mi = _MesInput(prep, kind)
    if prep.n == 0:  # pabutools returns the empty allocation, even for free projects
        return [], mi, _MesRun()
    run = _mes_run(mi, prep.budget / prep.n)
    return mi.free + run.selected, mi, run


def _mes_add1(prep: _Prepared, kind: str) -> tuple[list[str], _MesInput, _MesRun, int]:
    """MES with voter_budget_increment=1: exactly the outcome of pabutools' +1 stepping.

    pabutools runs MES at steps k = 0, 1, 2, ... (budget / n + k per voter)
    and stops at the first k whose outcome overspends (returning the outcome
    of k - 1) or is exhaustive.  Every step below the answer is accounted for
    here too, in one of two ways:

    * a run at k + w is compared with the run at k; if :func:`_certified`
      proves that every step in between gives the same outcome, and it does
      not stop, the whole interval is skipped (and the next try is twice as
      wide; after a failed wide try, a normal block follows);
    * otherwise every step of the block is run, from the top down so that
      each run takes lower bounds on rho from the run above it (far fewer
      evaluations), and the first stop is looked for from the bottom up,
      exactly as pabutools steps.  On large elections the lower half of the
      block runs in a forked helper process (see :func:`_helper_pool`).

    No monotonicity is assumed: steps are only skipped with a certificate.
    At most _BLOCK - 1 steps past the answer are run.
    """
    mi = _MesInput(prep, kind)
    if prep.n == 0:
        return [], mi, _MesRun(), 0
    base = prep.budget / prep.n
    budget = prep.budget
    available = [(p.id, p.cost) for p in mi.projects]

    def status(selected: list[str]) -> str | None:
        outcome = mi.free + selected
        spent = sum((prep.cost[p] for p in outcome), Fraction(0))
        if spent > budget:
            return "over"
        chosen = set(outcome)
        # Exhaustive as in pabutools' add1 loop: only projects with a
        # supporter and a positive cost are considered.
        if all(pid in chosen or spent + cost > budget for pid, cost in available):
            return "done"
        return None

    def answer(step: int) -> tuple[list[str], _MesInput, _MesRun, int]:
        run = _mes_run(mi, base, step)  # again, with the facts for the explanations
        return mi.free + run.selected, mi, run, step

    run_a = _mes_run(mi, base, 0, explain=False)
    if status(run_a.selected) is not None:  # MES at budget / n never overspends
        return answer(0)
    with _helper_pool(mi, base) as pool:
        a, width = 0, _BLOCK
        while True:
            b = a + width
            top = _mes_run(mi, base, b, reference=run_a, explain=False)
            if width > 1 and status(top.selected) is None and _certified(mi, run_a, top):
                # Every step in [a, b] gives the same, non-stopping outcome.
                a, run_a, width = b, top, min(2 * width, _MAX_JUMP)
                continue
            if width > _BLOCK:
                width = _BLOCK  # a wide jump failed: try a normal block instead
                continue
            outcomes = {b: top.selected}
            middle = b - 1
            if pool is not None and b - a > 3:
                middle = (a + b) // 2
                lower = pool.apply_async(_chain_in_helper, (a + 1, middle))
            else:
                lower = None
            run = top
            for k in range(b - 1, middle, -1):
                run = _mes_run(mi, base, k, hint=run, explain=False)
                outcomes[k] = run.selected
            if lower is not None:
                outcomes.update(lower.get())
            else:
                for k in range(middle, a, -1):
                    run = _mes_run(mi, base, k, hint=run, explain=False)
                    outcomes[k] = run.selected
            for k in range(a + 1, b + 1):
                state = status(outcomes[k])
                if state == "over":
                    return answer(k - 1)
                if state == "done":
                    return answer(k)
            a, run_a, width = b, top, _BLOCK


# State a forked helper inherits: (MES input, base budget per voter).
_HELPER_STATE: tuple[_MesInput, Fraction] | None = None


def _chain_in_helper(low: int, high: int) -> dict[int, list[str]]:
    """In the helper process: run steps high down to low, each hinted by the one above."""
    if _HELPER_STATE is None:  # pragma: no cover - only reached in a forked helper
        raise RuntimeError("helper state missing")
    mi, base = _HELPER_STATE
    out: dict[int, list[str]] = {}
    run = None
    for k in range(high, low - 1, -1):
        run = _mes_run(mi, base, k, hint=run, explain=False)
        out[k] = run.selected
    return out


@contextmanager
def _helper_pool(mi: _MesInput, base: Fraction):
    """One forked helper process for large add1 searches, or None to run everything here.

    Only used where forking is safe and worth it: Linux, at least two CPUs,
    a single-threaded caller (so no lock can be held across the fork) and a
    large election.  The helper only computes; results do not depend on it.
    """
    global _HELPER_STATE
    work = sum(p.supp.bit_count() for p in mi.projects)
    if (
        work < _HELPER_MIN_WORK
        or not sys.platform.startswith("linux")
        or (os.cpu_count() or 1) < 2
        or threading.active_count() != 1
    ):
        yield None
        return
    _HELPER_STATE = (mi, base)
    try:
        pool = multiprocessing.get_context("fork").Pool(1)
    except (OSError, ImportError, ValueError):  # pragma: no cover - e.g. no semaphores, process limits
        _HELPER_STATE = None
        yield None
        return
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()
        _HELPER_STATE = None


# ---------------------------------------------------------------------------
# Sequential Phragmén
# ---------------------------------------------------------------------------


def _phragmen(prep: _Prepared) -> tuple[list[str], dict[str, tuple]]:
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


# ---------------------------------------------------------------------------
# Public entry point and explanations
# ---------------------------------------------------------------------------


def _as_election(election_like) -> Election:
    if isinstance(election_like, Election):
        return election_like
    for attr in ("budget", "vote_type", "projects", "ballots"):
        if not hasattr(election_like, attr):
            raise TypeError(f"tally needs an Election-like object with .{attr}")
    projects = {p.id: p for p in _project_list(election_like.projects)}
    return Election(
        meta=dict(getattr(election_like, "meta", {}) or {}),
        budget=Fraction(election_like.budget),
        vote_type=election_like.vote_type,
        projects=projects,
        ballots=list(election_like.ballots),
    )


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
    election = _as_election(election_like)
    method = method_for(election.vote_type, rule)
    fmt = format_money or default_format_money
    with _gc_paused():
        return _tally(election, rule, method, fmt)


@contextmanager
def _gc_paused():
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
    prep = _Prepared(election)
    words = _Words(prep, fmt)

    if method in _GREEDY_KIND:
        kind = _GREEDY_KIND[method]
        selected, facts = _greedy(prep, kind)
        explanations = words.greedy(kind, facts)
    elif method in _MES_KIND:
        kind = _MES_KIND[method]
        selected, mi, run = _mes(prep, kind)
        explanations = words.mes(mi, run, selected, prep.budget / prep.n if prep.n else Fraction(0))
    elif method in ("mes_cost_sat_add1", "mes_cost_sat_add1_then_greedy_cost_sat"):
        selected, mi, run, step = _mes_add1(prep, "cost")
        share = prep.budget / prep.n + step if prep.n else Fraction(0)
        explanations = words.mes(mi, run, selected, share, step=step)
        if method.endswith("greedy_cost_sat"):
            mes_part = set(selected)
            selected, facts = _greedy(prep, "cost", initial=selected)
            completion = words.greedy("cost", facts, completing=True)
            for pid, text in completion.items():
                if pid not in mes_part:
                    explanations[pid] = text
    elif method == "sequential_phragmen":
        selected, facts = _phragmen(prep)
        explanations = words.phragmen(facts)
    else:  # pragma: no cover - the table and the dispatch are kept in step
        raise RuleError(method)
    total = sum((prep.cost[p] for p in selected), Fraction(0))
    ordered = {pid: explanations[pid] for pid in prep.ids}
    return Result(rule, method, selected, ordered, total, prep.budget)


class _Words:
    """Builds the plain-English reasons; money goes through ``fmt``."""

    def __init__(self, prep: _Prepared, fmt: Callable[[Fraction], str]) -> None:
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

    def mes(self, mi: _MesInput, run: _MesRun, selected: list[str], share: Fraction, step: int = 0) -> dict:
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
