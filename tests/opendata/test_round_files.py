"""Open data of rounds and teams: the .pb file read back by pabutools tallies, with the round's
own rule, to the outcome the results page shows; results CSV/JSON agree with the database; an
open round has no files yet (404, a sentence); a team's ideas and public ledger downloads."""

import csv
import io

import pytest
from sqlalchemy import select

from community.models import Team
from ledger.queries import team_balances
from tests.votes.test_tally import _pabutools_outcome
from votes import services as votes
from votes.models import Ballot, Round
from votes.pabulib import parse_pb_string
from votes.tally.rules import RULE_METHODS


def _closed(db):
    return db.execute(select(Round).where(Round.status == "closed")).scalars().all()


def test_the_pb_file_tallies_in_pabutools_to_the_published_outcome(world, db, tmp_path):
    from pabutools.election import parse_pabulib

    rounds = _closed(db)
    assert rounds
    for rnd in rounds:
        team = db.get(Team, rnd.team_id)
        response = world["client"].get(f"/teams/{team.slug}/rounds/{rnd.id}/results.pb")
        assert response.status_code == 200
        path = tmp_path / f"round-{rnd.id}.pb"
        path.write_bytes(response.data)
        instance, profile = parse_pabulib(str(path))
        outcome = _pabutools_outcome(RULE_METHODS["approval"][rnd.rule], instance, profile)
        page = world["client"].get(f"/teams/{team.slug}/rounds/{rnd.id}/results").get_data(as_text=True)
        funded = {votes.tally_id(idea.id) for ri, idea in votes.results(session=db, rnd=rnd) if ri.funded}
        assert outcome == funded and funded
        for _ri, idea in votes.results(session=db, rnd=rnd):
            assert idea.title in page
        counted = db.execute(select(Ballot).where(Ballot.round_id == rnd.id, Ballot.spoilt_reason.is_(None))).scalars().all()
        assert len(profile) == len(counted)
        text = response.get_data(as_text=True)
        assert [b.id for b in parse_pb_string(text).ballots] == [str(n) for n in range(1, len(counted) + 1)]
        for ballot in counted:
            assert ballot.reference not in text and ballot.voter_key not in text
        assert instance.budget_limit == rnd.budget_pence


def test_results_csv_and_json_match_the_database_and_the_page_links_them(world, db):
    for rnd in _closed(db):
        team = db.get(Team, rnd.team_id)
        base = f"/teams/{team.slug}/rounds/{rnd.id}/results"
        page = world["client"].get(base).get_data(as_text=True)
        for fmt in ("csv", "json", "pb"):
            assert f'href="{base}.{fmt}"' in page
        data = world["client"].get(f"{base}.json").json
        rows = list(csv.DictReader(io.StringIO(world["client"].get(f"{base}.csv").get_data(as_text=True))))
        expected = votes.results(session=db, rnd=rnd)
        assert [i["idea_id"] for i in data["ideas"]] == [int(r["idea_id"]) for r in rows] == [i.id for _, i in expected]
        assert [i["votes"] for i in data["ideas"]] == [ri.votes for ri, _ in expected]
        assert [r["funded"] for r in rows] == ["Y" if ri.funded else "N" for ri, _ in expected]
        assert data["turnout"]["total"] == votes.turnout(session=db, round_id=rnd.id)["total"]
        assert data["round"]["spent_pence"] == rnd.spent_pence


@pytest.mark.parametrize("fmt", ["csv", "json", "pb"])
def test_an_open_round_has_no_files_yet(world, db, fmt):
    rnd = db.execute(select(Round).where(Round.status == "open")).scalars().first()
    team = db.get(Team, rnd.team_id)
    response = world["client"].get(f"/teams/{team.slug}/rounds/{rnd.id}/results.{fmt}")
    assert response.status_code == 404
    assert "Results are published when the round closes." in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/teams/shirebrook/rounds/999999/results.csv", "/teams/nowhere/rounds/1/results.pb",
                                 "/teams/gamesley/rounds/1/results.json", "/teams/shirebrook/rounds/1/results.xml",
                                 "/teams/nowhere/ideas.csv", "/teams/nowhere/ledger.csv"])
def test_unknown_rounds_and_teams_are_404(world, url):
    assert world["client"].get(url).status_code == 404


def test_a_teams_ideas_as_csv_and_json(world, db):
    team = db.execute(select(Team).where(Team.slug == "shirebrook")).scalar_one()
    visible = votes.visible_ideas(session=db, team=team)
    rows = list(csv.DictReader(io.StringIO(world["client"].get("/teams/shirebrook/ideas.csv").get_data(as_text=True))))
    data = world["client"].get("/teams/shirebrook/ideas.json").json
    assert [int(r["id"]) for r in rows] == [i["id"] for i in data["ideas"]] == [r.id for r in visible]
    assert [int(r["supporters"]) for r in rows] == [r.supporters for r in visible]
    assert data["licence"] == "OGL-UK-3.0"
    assert {i["status_label"] for i in data["ideas"]} <= {"Waiting for review", "Needs changes", "Feasible",
                                                          "Not feasible", "Funded", "In delivery", "Done"}
    polish = world["client"].get("/teams/shirebrook/ideas.json?lang=pl")
    assert polish.status_code == 200 and polish.json == data, "a shared file says the same in every language"


def test_a_teams_public_ledger_csv_ends_at_its_balance(world, db):
    rows = list(csv.DictReader(io.StringIO(world["client"].get("/teams/shirebrook/ledger.csv").get_data(as_text=True))))
    balance = next(r["balance"] for r in team_balances(session=db) if r["team"].slug == "shirebrook")
    total = sum(int(r["Amount"].replace(".", "")) for r in rows)
    assert total == balance and int(rows[-1]["Running balance"].replace(".", "")) == balance
    assert "Rita Morgan" not in str(rows) and any(r["Payee"] == "Redacted – personal data" for r in rows)
    empty = world["client"].get("/teams/ashbourne/ledger.csv").get_data(as_text=True)
    assert empty.splitlines() == ["Date,Transaction number,Entry kind,Description,Payee,Category,Amount,Running balance"]
