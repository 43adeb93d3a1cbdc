"""Demo ideas and rounds for ``flask --app wsgi demo load``.

``load`` adds ideas in Shirebrook in each state of review, proposed by the demo residents, with
supports. ``load_rounds`` runs once the team has money (after the ledger history): a round that
opened five weeks ago and closed at load time, with its results, and a round open for 14 days
that most of Shirebrook's demo residents have voted in — Rita Morgan has not, so she can vote
straight away. Everything goes through the services; the ledger sees only holds dated today
(the current month, never a closed one). A few ideas and delivery steps have a photo, drawn
when the demo is loaded (demo/pictures.py) and stored in ``photos_dir`` (default: the app's)."""

import datetime as dt
from pathlib import Path

from sqlmodel import Session, select

from community.db import LONDON
from community.models import Membership, Person, Place, Team
from demo import pictures
from votes import delivery, photos, services
from votes.models import Idea, Round

# Who voted for what, by first name and idea title (approval ballot: any number of ideas).
CLOSED_BALLOTS = {
    "Rita": ("Planters on Main Street", "Grit bins for the hill streets"),
    "Tom": ("Youth club kit",),
    "Dawn": ("Youth club kit", "Grit bins for the hill streets"),
    "Kevin": ("Planters on Main Street", "Grit bins for the hill streets"),
    "Sue": ("Youth club kit", "Grit bins for the hill streets"),
}
# Knapsack ballot of what the last round did not fund (Youth club kit £480, Christmas lights
# £420, Dog waste bins £180): each choice fits the £800 budget. Rita and Sue have not voted.
OPEN_BALLOTS = {
    "Tom": ("Youth club kit", "Dog waste bins on the rec"),
    "Dawn": ("Christmas lights on Market Square", "Dog waste bins on the rec"),
    "Kevin": ("Youth club kit",),
}
OPEN_BUDGET_PENCE = 80_000
CLOSED_BUDGET_PENCE = 60_000


# The demo pictures (demo/pictures.py) of a few ideas and delivery steps, by title.
IDEA_PHOTOS = {"Planters on Main Street": "planters", "Youth club kit": "youth_club",
               "Bulbs for the rec": "bulbs", "Benches by the pond": "benches"}
STEP_PHOTOS = {"Order the planters from the garden centre": "planters",
               "Put them in at Carter Lane and Portland Road": "grit_bins"}


def _photo(titles: dict[str, str], title: str, directory: str | Path | None, **size) -> tuple[str, str] | None:
    """The stored demo picture of an idea or step with a photo (None for the others)."""
    if title not in titles:
        return None
    return pictures.store(photos.photos_dir() if directory is None else directory, titles[title], **size)


def load(session: Session, *, photos_dir: str | Path | None = None) -> None:
    team = session.exec(select(Team).where(Team.slug == "shirebrook")).first()
    if team is None or session.exec(select(Person).where(Person.place_id == team.place_id)).first() is None:
        return
    residents = list(session.exec(select(Person).where(Person.place_id == team.place_id).order_by(Person.id)))
    reviewer = session.exec(select(Membership).where(Membership.team_id == team.id)).first()
    ideas = [
        ("Planters on Main Street", "Flower planters outside the shops, looked after by the school garden club.",
         30_000, "feasible", 35_000, None),
        ("Youth club kit", "A pool table and games for the Tuesday youth club at the Welfare hall.",
         50_000, "feasible", 48_000, None),
        ("Grit bins for the hill streets", "Grit bins at the top of Carter Lane and Portland Road for icy mornings.",
         20_000, "feasible", 22_000, None),
        ("Christmas lights on Market Square", "Lights in the square's trees, switched on at the Christmas fair.",
         40_000, "feasible", 42_000, None),
        ("Dog waste bins on the rec", "Three dog waste bins along the recreation ground path.",
         15_000, "feasible", 18_000, None),
        ("Bulbs for the rec", "Spring bulbs along the path in the recreation ground, planted by volunteers.",
         20_000, "proposed", None, None),
        ("Benches by the pond", "Two benches by the pond in the park so older people can rest on the walk.",
         90_000, "needs_changes", None, "Which pond? Tell us where exactly, and whether the council owns the land."),
    ]
    for n, (title, text, cost, decision, team_cost, note) in enumerate(ideas):
        proposer = residents[n % len(residents)]
        idea = services.propose_idea(session=session, team=team, proposer=proposer, title=title,
                                     description=text, estimated_cost_pence=cost,
                                     photo=_photo(IDEA_PHOTOS, title, photos_dir, max_side=photos.IDEA_PHOTO_MAX_SIDE))
        for supporter in residents:
            if supporter.id != proposer.id:
                services.support(session=session, idea_id=idea.id, person=supporter)
        if decision != "proposed" and reviewer is not None:
            services.review_idea(session=session, team=team, idea_id=idea.id, reviewer_id=reviewer.person_id,
                                 decision=decision, team_cost_pence=team_cost, note=note)


def _month_round(when: dt.datetime) -> str:
    """'November 2026 round', the month as seen in Derbyshire."""
    return f"{when.astimezone(LONDON):%B %Y} round"


def load_rounds(session: Session, *, secret: str, now: dt.datetime, photos_dir: str | Path | None = None) -> None:
    """Shirebrook's closed and open demo rounds (does nothing if the team has any round)."""
    team = session.exec(select(Team).where(Team.slug == "shirebrook")).first()
    if team is None or session.exec(select(Round).where(Round.team_id == team.id)).first() is not None:
        return
    opener = session.exec(select(Membership).where(Membership.team_id == team.id, Membership.role == "enabler")).first()
    if opener is None:
        return
    residents = {p.name.split()[0]: p for p in session.exec(select(Person).where(Person.place_id == team.place_id))}
    ideas = {i.title: i.id for i in session.exec(select(Idea).where(Idea.team_id == team.id))}

    # The last round: opened five weeks ago, closes at load time (a closing time must be in the
    # future when a round is opened, so it cannot have closed earlier without writing around
    # the services), ballots cast during its first week, then closed and tallied.
    opened = (now - dt.timedelta(days=35)).replace(minute=0, second=0, microsecond=0)
    closes = now + dt.timedelta(seconds=5)
    last = services.open_round(
        session=session, team=team, actor_id=opener.person_id, title=_month_round(opened),
        budget_pence=CLOSED_BUDGET_PENCE, opens_at=opened, closes_at=closes,
        idea_ids=[ideas[t] for t in ("Planters on Main Street", "Youth club kit", "Grit bins for the hill streets")],
        ballot_type="approval", rule="mes-add1-greedy", idempotency_key=f"demo-round-{team.id}-closed")
    for n, (name, titles) in enumerate(CLOSED_BALLOTS.items()):
        if name in residents:
            services.cast_ballot(session=session, rnd_id=last.id, person=residents[name], secret=secret,
                                 idea_ids=[ideas[t] for t in titles], now=opened + dt.timedelta(days=1, hours=n))
    services.close_round(session=session, round_id=last.id, actor_id=opener.person_id, now=closes)
    _deliver(session, team=team, actor_id=opener.person_id, today=now.astimezone(LONDON).date(), photos_dir=photos_dir)

    # This round: open from the start of this hour for 14 days, with what the last round did not fund.
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    on_ballot = [i.id for i in session.exec(select(Idea).where(Idea.team_id == team.id,
                                                               Idea.status == "feasible"))]
    current = services.open_round(
        session=session, team=team, actor_id=opener.person_id, title=_month_round(now),
        budget_pence=OPEN_BUDGET_PENCE, opens_at=this_hour, closes_at=this_hour + dt.timedelta(days=14),
        idea_ids=on_ballot, ballot_type="knapsack",
        rule="mes-add1-greedy", idempotency_key=f"demo-round-{team.id}-open")
    for name, titles in OPEN_BALLOTS.items():
        if name in residents:
            services.cast_ballot(session=session, rnd_id=current.id, person=residents[name], secret=secret,
                                 idea_ids=[ideas[t] for t in titles], now=now)
    session.flush()


# The delivery of what the closed round funded (issue 17), by idea title: (step, days from today it
# is planned for, done today or not); an idea with a closing note is then marked done.
DELIVERY = {
    "Planters on Main Street": ([("Order the planters from the garden centre", -3, True),
                                 ("Plant them with the school garden club", 10, False),
                                 ("Agree the watering rota with the shops", 14, False)], None),
    "Grit bins for the hill streets": ([("Order three grit bins", -7, True),
                                        ("Put them in at Carter Lane and Portland Road", -1, True)],
                                       "Three grit bins are in place at the top of Carter Lane and Portland Road, "
                                       "filled with grit before the first frost."),
}


def _deliver(session: Session, *, team: Team, actor_id: int, today: dt.date, photos_dir: str | Path | None) -> None:
    """Steps for the demo's funded ideas (some done) and one idea done with its closing note."""
    funded = {i.title: i.id for i in session.exec(select(Idea).where(Idea.team_id == team.id,
                                                                     Idea.status == "funded"))}
    for title, (steps, closing_note) in DELIVERY.items():
        if title not in funded:
            continue
        for step, days, done in steps:
            delivery.add_milestone(session=session, team=team, idea_id=funded[title], actor_id=actor_id, title=step,
                                   planned_on=today + dt.timedelta(days=days),
                                   done_on=today + dt.timedelta(days=min(days, 0)) if done else None,
                                   today=today, photo=_photo(STEP_PHOTOS, step, photos_dir))
        if closing_note:
            delivery.mark_done(session=session, team=team, idea_id=funded[title], actor_id=actor_id,
                               closing_note=closing_note)


def resident_notes(session: Session, *, people: list[Person], secret: str, now: dt.datetime) -> dict[int, str]:
    """For ``users demo-list``: each resident's place and whether they can vote now."""
    places = {p.id: p.name for p in session.exec(select(Place))}
    rounds: dict[int, list[Round]] = {}
    for rnd, place_id in session.exec(select(Round, Team.place_id).join(Team, Team.id == Round.team_id)
                                      .where(Round.status == "open").order_by(Round.id)):
        if services.is_open_for_voting(rnd, now):
            rounds.setdefault(place_id, []).append(rnd)
    notes = {}
    for person in people:
        if person.place_id is None:
            continue
        where = f"resident, {places.get(person.place_id, '?')}"
        open_here = rounds.get(person.place_id, [])
        if not open_here:
            notes[person.id] = f"{where}: no round open"
            continue
        parts = []
        for rnd in open_here:
            voted = services.my_ballot(session=session, rnd=rnd, person=person, secret=secret) is not None
            parts.append(f"{'has voted in' if voted else 'can vote now in'} {rnd.title}")
        notes[person.id] = f"{where}: {'; '.join(parts)}"
    return notes
