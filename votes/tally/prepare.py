"""Input preparation: an election reduced to what the rules need (voter bitsets, grouped ballots)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction
from operator import attrgetter

from votes.pabulib import Ballot, Election, Project
from votes.tally.rules import RuleError, base_vote_type


class Prepared:
    """The election reduced to what the rules need.

    Sets of voters are bitsets (ints); voters are numbered by decreasing
    ballot length in ``listing_bits`` and in ballot order in ``level_bits``
    (the rules do not depend on the numbering).
    Identical ballots are grouped (with their multiplicity) for the rules
    that walk ballots; the bitset-based ones do not need it.
    """

    def __init__(self, election: Election) -> None:
        self.vote_type = base_vote_type(election.vote_type)
        self.budget = Fraction(election.budget)
        projects = project_list(election.projects)
        self.ids: list[str] = [p.id for p in projects]
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("project ids must be unique")
        self.cost: dict[str, Fraction] = {p.id: Fraction(p.cost) for p in projects}
        self.name: dict[str, str] = {p.id: p.name for p in projects}
        self.ballots = list(election.ballots)
        self.n = len(self.ballots)
        # Approval Ballot objects (the common, large case) are read as they
        # are; anything else goes through _content.
        self._plain = self.vote_type == "approval" and set(map(type, self.ballots)) <= {Ballot}
        self._contents: list[tuple | frozenset] | None = None
        self._bits: dict[str, int] | None = None
        if self._plain:
            # Every rule needs the voter bitsets of plain approval ballots:
            # building them checks the ids too (an unknown one is a KeyError).
            try:
                self.listing_bits()
                listed_ids: set[str] = set()
            except KeyError:
                listed_ids = set().union(*map(_choices_of, self.ballots))
        else:
            listed_ids = set().union(*map(self.listed, set(self.contents)))
        if not self.cost.keys() >= listed_ids:
            unknown = sorted(listed_ids - self.cost.keys())
            raise ValueError(f"ballots vote for unknown project(s) {', '.join(map(repr, unknown))}")
        self._groups: list[tuple[int, tuple | frozenset]] | None = None
        self._votes: dict[str, int] | None = None
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
            # One byte per voter and project (1: listed), then each row of
            # bytes becomes an int at C speed via a string of binary digits.
            marks = {pid: bytearray(self.n) for pid in self.ids}
            listed = self.listed
            rows = list(map(_choices_of, self.ballots) if self._plain else map(listed, self.contents))
            # Voters are numbered by decreasing ballot length (ties in ballot
            # order): long ballots tend to stay in play longest in MES, whose
            # bitsets get shorter as the high-numbered voters leave play.
            rows.sort(key=len, reverse=True)
            for i, row in enumerate(rows):
                for pid in row:  # a repeated id sets the same byte again
                    marks[pid][i] = 1
            self._bits = {
                pid: int(mark.translate(_BINARY_DIGITS)[::-1], 2) if self.n else 0 for pid, mark in marks.items()
            }
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
_BINARY_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def _exact(value) -> int | Fraction:
    """An exact number, as an int when it is whole (ints are much faster than Fractions)."""
    value = Fraction(value)
    return value.numerator if value.denominator == 1 else value


def project_list(projects) -> list[Project]:
    if isinstance(projects, Mapping):
        items = []
        for key, value in projects.items():
            pid = getattr(value, "id", key)
            items.append(Project(str(pid), Fraction(value.cost), getattr(value, "name", "") or ""))
        return items
    return [Project(str(p.id), Fraction(p.cost), getattr(p, "name", "") or "") for p in projects]


def as_election(election_like) -> Election:
    if isinstance(election_like, Election):
        return election_like
    for attr in ("budget", "vote_type", "projects", "ballots"):
        if not hasattr(election_like, attr):
            raise TypeError(f"tally needs an Election-like object with .{attr}")
    projects = {p.id: p for p in project_list(election_like.projects)}
    return Election(
        meta=dict(getattr(election_like, "meta", {}) or {}),
        budget=Fraction(election_like.budget),
        vote_type=election_like.vote_type,
        projects=projects,
        ballots=list(election_like.ballots),
    )
