"""Open data of a team and its rounds, nothing personal in any of it:

* a team's public ledger as CSV (its budget account, as the public ledger page shows it: a
  payee who is a person redacted, no proposer or approver);
* a team's ideas as CSV and JSON (no proposer, no supporter: only how many);
* a closed round's results as CSV and JSON, and its ballots as a Pabulib ``.pb`` file.

**Ballots in the .pb file** are keyed by ballot number 1…n, not by the voter's receipt
reference: a receipt shown to someone else would otherwise tell them how that voter voted. The
numbers follow the ballots' random receipt references, so they say nothing about who voted when
either. Spoilt paper ballots carry no votes (the tally leaves them out), so they are left out
here too and the file tallies to the published outcome. Costs and the budget are in **pence**,
as the app tallies them (the Equal Shares completion raises each voter's share by 1 unit: 1p,
not £1; a file in pounds would tally differently); META ``comment`` says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from community.errors import NotFound
from community.i18n import _, force_locale
from community.models import Team
from ledger.codes import category_label
from ledger.models import LedgerAccount
from ledger.queries import WITHHELD, list_entries
from opendata.transparency import REDACTED, scrub
from votes import services as votes
from votes.models import STATUS_LABELS, Ballot, Round
from votes.pabulib import Ballot as PbBallot
from votes.pabulib import Election, Project, election_to_string

LEDGER_COLUMNS = ("Date", "Transaction number", "Entry kind", "Description", "Payee", "Category", "Amount",
                  "Running balance")
IDEA_COLUMNS = ("id", "title", "status", "status_label", "cost_pence", "supporters")
RESULT_COLUMNS = ("idea_id", "title", "cost_pence", "votes", "funded", "funded_order", "explanation")
PB_RULES = {"greedy": "greedy", "mes-add1-greedy": "equalshares/add1 completed by greedy"}


def csv_safe(text: str | None) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection), as the statements do."""
    text = text or ""
    return "'" + text if text and text[0] in "=+-@\t\r" else text


def _csv(columns, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


# --------------------------------------------------------------------------- team ledger


def _has_budget(session: Session, team: Team) -> bool:
    code = f"team:{team.id}:budget"
    return session.execute(select(LedgerAccount.id).where(LedgerAccount.code == code)).first() is not None


def team_ledger_csv(*, session: Session, team: Team) -> bytes:
    """Every entry of the team's budget account, oldest first, with its running balance."""
    rows = []
    if _has_budget(session, team):
        number = 1
        while True:
            page = list_entries(session=session, team=team, page=number, per_page=200)
            rows.extend(page.rows)
            if not page.has_next:
                break
            number += 1
    rows.reverse()
    return _csv(LEDGER_COLUMNS, (
        (r.effective_date.isoformat(), r.reference, r.kind,
         csv_safe(scrub(r.description, r.payee) if r.public_payee == WITHHELD else r.description),
         csv_safe(REDACTED if r.public_payee == WITHHELD else r.public_payee),
         csv_safe(category_label(r.category) if r.category else ""),
         pounds(r.amount_pence), pounds(r.balance_after_pence)) for r in rows))


# --------------------------------------------------------------------------- ideas


def ideas(*, session: Session, team: Team) -> list[dict]:
    """The team's ideas the public sees (hidden ones left out), newest first. Status labels are
    in English whatever the page's language: a shared file says the same to everyone."""
    with force_locale("en"):
        labels = {status: str(label) for status, label in STATUS_LABELS.items()}
    return [{"id": r.id, "title": r.title, "status": r.status, "status_label": labels.get(r.status, r.status),
             "cost_pence": r.team_cost_pence or r.estimated_cost_pence, "supporters": int(r.supporters)}
            for r in votes.visible_ideas(session=session, team=team)]


def ideas_csv(rows: list[dict]) -> bytes:
    return _csv(IDEA_COLUMNS, ([r["id"], csv_safe(r["title"]), r["status"], r["status_label"], r["cost_pence"],
                                r["supporters"]] for r in rows))


# --------------------------------------------------------------------------- rounds


def team_round(*, session: Session, team: Team, round_id: int) -> Round:
    rnd = session.get(Round, round_id)
    if rnd is None or rnd.team_id != team.id:
        raise NotFound(_("There is no such round in this team."))
    return rnd


def closed_round(*, session: Session, team: Team, round_id: int) -> Round:
    """The team's round if it is closed; NotFound with a sentence otherwise."""
    rnd = team_round(session=session, team=team, round_id=round_id)
    if rnd.status != "closed":
        raise NotFound(_("Results are published when the round closes."))
    return rnd


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def round_summary(rnd: Round) -> dict:
    return {"id": rnd.id, "title": rnd.title, "status": rnd.status, "budget_pence": rnd.budget_pence,
            "ballot_type": rnd.ballot_type, "max_choices": rnd.max_choices, "rule": rnd.rule,
            "opens_at": _iso(rnd.opens_at), "closes_at": _iso(rnd.closes_at), "closed_at": _iso(rnd.closed_at)}


def results(*, session: Session, team: Team, rnd: Round) -> dict:
    """A closed round's results as the results page shows them, funded ideas first."""
    turnout = votes.turnout(session=session, round_id=rnd.id)
    return {
        "team": team.slug,
        "round": {**round_summary(rnd), "spent_pence": rnd.spent_pence},
        "turnout": {k: turnout[k] for k in ("online", "imported", "paper", "spoilt", "total")},
        "ideas": [{"idea_id": idea.id, "title": idea.title, "cost_pence": ri.cost_pence, "votes": ri.votes or 0,
                   "funded": bool(ri.funded), "funded_order": ri.funded_order, "explanation": ri.explanation or ""}
                  for ri, idea in votes.results(session=session, rnd=rnd)],
        "licence": "OGL-UK-3.0",
    }


def results_csv(data: dict) -> bytes:
    return _csv(RESULT_COLUMNS, ([i["idea_id"], csv_safe(i["title"]), i["cost_pence"], i["votes"],
                                  "Y" if i["funded"] else "N", i["funded_order"] or "", csv_safe(i["explanation"])]
                                 for i in data["ideas"]))


@dataclass(frozen=True)
class PbFile:
    text: str
    ballots: int


def pabulib(*, session: Session, team: Team, rnd: Round) -> PbFile:
    """The round as a Pabulib file: projects keyed as the tally keys them (``tally_id``: the
    zero-padded idea number, so pabutools' tie-break matches ours), ballots by number."""
    rows = votes.round_ideas(session=session, round_id=rnd.id)
    projects = {votes.tally_id(idea.id): Project(votes.tally_id(idea.id), ri.cost_pence, idea.title)
                for ri, idea in rows}
    counted = session.execute(
        select(Ballot.choices).where(Ballot.round_id == rnd.id, Ballot.spoilt_reason.is_(None))
        .order_by(Ballot.reference)
    ).scalars().all()
    ballots = [PbBallot(str(n), tuple(votes.tally_id(i) for i in votes.decode(choices)))
               for n, choices in enumerate(counted, start=1)]
    meta = {
        "description": f"{team.name}: {rnd.title}",
        "country": "United Kingdom",
        "unit": team.name,
        "instance": rnd.title,
        "currency": "GBP",
        "comment": "Costs and budget are in pence (1/100 of a pound). Voters are numbered; no person is named.",
        "rule": PB_RULES.get(rnd.rule, rnd.rule),
        "date_begin": f"{rnd.opens_at:%d.%m.%Y}",
        "date_end": f"{rnd.closes_at:%d.%m.%Y}",
        "licence": "Open Government Licence v3.0",
    }
    election = Election(meta=meta, budget=rnd.budget_pence, vote_type="approval", projects=projects, ballots=ballots)
    return PbFile(text=election_to_string(election), ballots=len(ballots))


