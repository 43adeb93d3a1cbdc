"""Nothing personal in any open data: fetch every file and API answer (the Transparency page's
files, each round's results downloads, the team pages' open data links, the API from its team
list by every link and every page) and look for each person's email, full name and id-bearing
fields, and for any ballot's voter key or receipt reference. The list is built from the database."""

import json
import re
from urllib.parse import urljoin, urlsplit

from sqlalchemy import select

from community.models import Person, Team
from votes.models import Ballot, Round

START = ["/transparency", "/statistics", "/api/v1/teams"]
OPEN_DATA = re.compile(r"^/(transparency|statistics|api/v1|teams/[^/]+/(statistics|ledger\.csv|ideas\.(csv|json)|"
                       r"rounds/\d+/results\.(csv|json|pb)))")
PERSONAL_KEYS = re.compile(r'"(person_id|proposer(_id)?|approver(_id)?|author(_id)?|voter_key|email|user(_id)?|'
                           r'requester(_id)?|decided_by(_id)?|actor(_id)?)"')


def _links(body: str, json_answer: bool) -> list[str]:
    if json_answer:
        found = []

        def walk(value):
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif isinstance(value, str) and value.startswith("/"):
                found.append(value)

        walk(json.loads(body))
        return found
    return re.findall(r'href="([^"#]+)"', body)


def crawl(client, start: list[str]) -> dict[str, str]:
    seen: dict[str, str] = {}
    queue = list(start)
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        seen[url] = body
        for link in _links(body, response.content_type == "application/json"):
            link = urljoin(url, link.replace("&amp;", "&"))
            if urlsplit(link).netloc:
                continue
            if OPEN_DATA.match(urlsplit(link).path) and link not in seen and link != "/api/v1":  # the server base
                queue.append(link)
    return seen


def test_no_open_data_names_a_person(world, db):
    teams = db.execute(select(Team.slug)).scalars().all()
    rounds = [f"/teams/{slug}/rounds/{rid}/results" for slug, rid in db.execute(
        select(Team.slug, Round.id).join(Round, Round.team_id == Team.id))]
    start = START + [f"/teams/{slug}/statistics" for slug in teams] + [f"/teams/{slug}/ledger.csv" for slug in teams]
    start += [f"/teams/{slug}/ideas.{fmt}" for slug in teams for fmt in ("csv", "json")]
    pages = crawl(world["client"], start)
    for page in [u for u in rounds if world["client"].get(u).status_code == 200]:
        body = world["client"].get(page).get_data(as_text=True)
        for link in re.findall(r'href="([^"]+results\.(?:csv|json|pb))"', body):
            pages.update(crawl(world["client"], [link]))
    kinds = {u.rsplit(".", 1)[-1] if "." in u.rsplit("/", 1)[-1] else "page" for u in pages}
    assert {"csv", "json", "pb", "page"} <= kinds, kinds
    assert any("purchase-card.csv" in u for u in pages) and any("page=2" in u for u in pages), sorted(pages)
    people = db.execute(select(Person.email, Person.name)).all()
    assert len(people) > 20
    secrets = [k for (k,) in db.execute(select(Ballot.voter_key))] + [r for (r,) in db.execute(select(Ballot.reference))]
    for url, body in pages.items():
        lowered = body.lower()
        for email, name in people:
            assert email.lower() not in lowered, (url, email)
            assert name.lower() not in lowered, (url, name)
        assert not PERSONAL_KEYS.search(body), (url, PERSONAL_KEYS.search(body))
        for secret in secrets:
            assert secret not in body, url
