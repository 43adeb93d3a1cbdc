"""Pabulib ``.pb`` files: the election data model, a parser and a writer.

This module owns the in-memory model of a participatory-budgeting election
(:class:`Election`, :class:`Project`, :class:`Ballot`) and its conversion from
and to the Pabulib text format (https://pabulib.org/format).  The parser
follows ``pabutools.election.parse_pabulib`` (version 1.2.3) so that the tally
sees exactly the profile pabutools would see:

* the file is read as UTF-8 (a BOM is ignored), split into lines and each line
  is parsed as ``;``-separated CSV, so quoted fields work;
* the ``cost`` column and the META ``budget`` are read exactly as
  :class:`fractions.Fraction` (``"400000.0"`` -> ``400000``; a decimal comma
  is accepted);
* project ids are strings; fields whose value is ``none`` count as missing;
* ``choose-1`` is read as approval, an approval ballot is a set (duplicates
  are dropped), an ordinal ballot keeps the first position of a repeated
  project, a cumulative/scoring ballot needs a ``points`` column (without it
  the ballot is empty, as in pabutools) and a repeated project keeps its first
  position and its last points.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO

APPROVAL_TYPES = frozenset({"approval", "choose-1"})
POINTS_TYPES = frozenset({"cumulative", "scoring"})
VOTE_TYPES = APPROVAL_TYPES | POINTS_TYPES | {"ordinal"}


class PabulibError(ValueError):
    """Raised when a ``.pb`` file cannot be read or an election cannot be written."""


@dataclass(frozen=True)
class Project:
    """A project: string id, exact cost and display name."""

    id: str
    cost: Fraction
    name: str = ""


@dataclass(frozen=True)
class Ballot:
    """A ballot: voter id, chosen project ids (ranked for ordinal) and points if any."""

    id: str
    choices: tuple[str, ...]
    points: tuple[int | Fraction, ...] | None = None


@dataclass
class Election:
    """A whole election: META entries, budget limit, vote type, projects and ballots."""

    meta: dict[str, str]
    budget: Fraction
    vote_type: str
    projects: dict[str, Project]
    ballots: list[Ballot] = field(default_factory=list)


def parse_number(text: str) -> Fraction:
    """Read a cost, budget or points value exactly (``"1234,5"`` is accepted)."""
    try:
        return Fraction(text.strip().replace(",", "."))
    except (ValueError, ZeroDivisionError) as exc:
        raise PabulibError(f"not a number: {text!r}") from exc


def _points_value(text: str) -> int | Fraction:
    value = parse_number(text)
    # Points are integers in practice; keep them as int so they read naturally.
    return value.numerator if value.denominator == 1 else value


def _is_none(value: str) -> bool:
    return value.strip().lower() == "none"


def _is_special(value: str) -> bool:
    # A first field with one of these names starts a section (or is read as missing).
    return value.strip().lower() in ("meta", "projects", "votes", "none")


def read_pb(source: str | Path | IO[str]) -> Election:
    """Parse a ``.pb`` file given as a path or a text file object."""
    if isinstance(source, str | Path):
        with open(source, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    else:
        text = source.read()
        if text.startswith("\ufeff"):
            text = text[1:]
    return parse_pb_string(text)


def parse_pb_string(text: str) -> Election:
    """Parse the text of a ``.pb`` file."""
    meta: dict[str, str] = {}
    projects: dict[str, Project] = {}
    raw_votes: list[dict[str, str]] = []

    # Same line handling as pabutools: splitlines first, then CSV per line.
    reader = csv.reader(text.splitlines(), delimiter=";")
    section = ""
    header: list[str] = []
    for row in reader:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        tag = row[0].strip().lower()
        if tag in ("meta", "projects", "votes"):
            section = tag
            header = [h.strip() for h in next(reader, [])]
            continue
        if section == "meta":
            if len(row) < 2:
                raise PabulibError(f"META line without a value: {row!r}")
            meta[row[0].strip()] = row[1].strip()
        elif section == "projects":
            values = {
                header[i]: row[i].strip() for i in range(min(len(row), len(header))) if not _is_none(row[i])
            }
            pid = row[0].strip()
            if "cost" not in values:
                raise PabulibError(f"project {pid!r} has no cost")
            if pid not in projects:  # pabutools keeps the first of duplicated ids
                projects[pid] = Project(pid, parse_number(values["cost"]), values.get("name", ""))
        elif section == "votes":
            raw_votes.append(
                {header[i]: row[i].strip() for i in range(min(len(row), len(header))) if not _is_none(row[i])}
            )
        else:
            raise PabulibError(f"data before any META/PROJECTS/VOTES section: {row!r}")

    if "budget" not in meta:
        raise PabulibError("META has no budget")
    if "vote_type" not in meta:
        raise PabulibError("META has no vote_type")
    vote_type = meta["vote_type"]
    if vote_type not in VOTE_TYPES:
        raise PabulibError(f"unsupported vote_type {vote_type!r}")
    budget = parse_number(meta["budget"])

    ballots = [_make_ballot(values, vote_type, projects, n) for n, values in enumerate(raw_votes)]
    return Election(meta=meta, budget=budget, vote_type=vote_type, projects=projects, ballots=ballots)


def _check_ids(ids: list[str], projects: dict[str, Project], voter: str) -> None:
    for pid in ids:
        if pid not in projects:
            raise PabulibError(f"voter {voter!r} votes for unknown project {pid!r}")


def _make_ballot(values: dict[str, str], vote_type: str, projects: dict[str, Project], n: int) -> Ballot:
    voter = values.get("voter_id", str(n + 1))
    vote = values.get("vote", "")
    names = [name.strip() for name in vote.split(",") if name.strip()]
    if vote_type in POINTS_TYPES:
        if "points" not in values or not vote.strip():
            # pabutools reads a cumulative/scoring ballot without points as empty.
            return Ballot(voter, (), ())
        points_text = values["points"].split(",")
        names = [name.strip() for name in vote.split(",")]
        if len(points_text) < len(names):
            raise PabulibError(f"voter {voter!r}: fewer points than projects")
        _check_ids(names, projects, voter)
        scores: dict[str, int | Fraction] = {}
        for index, name in enumerate(names):
            scores[name] = _points_value(points_text[index])
        return Ballot(voter, tuple(scores), tuple(scores.values()))
    _check_ids(names, projects, voter)
    # Approval ballots are sets and ordinal ballots keep the first position of
    # a repeated project, so dropping later duplicates fits both.
    return Ballot(voter, tuple(dict.fromkeys(names)), None)


def format_number(value: Fraction | int) -> str:
    """Write a number exactly: ``400000``, ``1234.5`` or ``1/3`` when not a finite decimal."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    digits = max(twos, fives)
    scaled = abs(value) * 10**digits
    whole, frac = divmod(scaled.numerator, 10**digits)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{frac:0{digits}d}"


def _clean(text: str) -> str:
    # pabutools splits the file into lines before CSV parsing, so a field can
    # never hold a line break.
    return " ".join(str(text).splitlines()).strip()


def write_pb(election: Election, fileobj: IO[str]) -> None:
    """Write ``election`` in Pabulib format to a text file object."""
    if election.vote_type not in VOTE_TYPES:
        raise PabulibError(f"unsupported vote_type {election.vote_type!r}")
    for pid in election.projects:
        # Ids are stripped and split on commas when read back, a line break
        # would split the row, and a row starting with a section name would
        # start a section.
        if pid != pid.strip() or not pid or "," in pid or len(pid.splitlines()) != 1 or _is_special(pid):
            raise PabulibError(f"project id {pid!r} cannot be written to a .pb file")
    writer = csv.writer(fileobj, delimiter=";", lineterminator="\n")
    meta = {k: v for k, v in election.meta.items() if _clean(k) and not _is_special(_clean(k))}
    meta["budget"] = format_number(election.budget)
    meta["vote_type"] = election.vote_type
    meta["num_projects"] = str(len(election.projects))
    meta["num_votes"] = str(len(election.ballots))
    writer.writerow(["META"])
    writer.writerow(["key", "value"])
    for key, value in meta.items():
        writer.writerow([_clean(key), _clean(value)])
    writer.writerow(["PROJECTS"])
    writer.writerow(["project_id", "cost", "name"])
    for pid, project in election.projects.items():
        writer.writerow([pid, format_number(project.cost), _clean(project.name) or "none"])
    with_points = election.vote_type in POINTS_TYPES
    writer.writerow(["VOTES"])
    writer.writerow(["voter_id", "vote", "points"] if with_points else ["voter_id", "vote"])
    for index, ballot in enumerate(election.ballots):
        voter = _clean(ballot.id)
        if not voter or _is_special(voter):
            voter = str(index + 1)
        unknown = [pid for pid in ballot.choices if pid not in election.projects]
        if unknown:
            raise PabulibError(f"ballot {voter!r} votes for unknown project(s) {unknown!r}")
        row = [voter, ",".join(ballot.choices)]
        if with_points:
            points = ballot.points or ()
            if len(points) != len(ballot.choices):
                raise PabulibError(f"ballot {voter!r}: points and choices differ in length")
            if not points:
                # pabutools cannot read an empty vote with an empty points
                # field, but reads "none" as a ballot without points: empty.
                row = [voter, "none", "none"]
            else:
                row.append(",".join(format_number(p) for p in points))
        writer.writerow(row)


def election_to_string(election: Election) -> str:
    """Return the ``.pb`` text of ``election``."""
    buffer = io.StringIO()
    write_pb(election, buffer)
    return buffer.getvalue()
