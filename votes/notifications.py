"""The notifications of the votes domain (issue 16), queued in the transaction of the change they
tell of (community.notify → community.mail: sent after the commit, with the outbox's retries).

Each function is a receiver of a ``votes.signals`` signal, connected in ``create_app``
(:func:`init_app`), or the ``flask votes remind-closing`` run. Each notification respects the
person's choice for its kind and is sent at most once per event and person (community.notify).
The texts are written here, never in views, and every sentence goes through ``_`` for the
translations to come.

Without an app (a service test on a bare session) there is no secret and no link to build, so
nothing is sent (community.notify.can_send).
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app
from sqlmodel import Session

from community.formatting import gbp, london_datetime
from community.models import Person, Team
from community.notify import _, can_send, link, notify, wanted_by
from votes import services, signals
from votes.models import Idea, IdeaUpdate, Round

REVIEW_SUBJECTS = {
    "feasible": _("Your idea “{title}” is feasible"),
    "needs_changes": _("Your idea “{title}” needs changes"),
    "not_feasible": _("Your idea “{title}” is not feasible"),
    "hidden": _("Your idea “{title}” was hidden"),
}


def init_app(app: Flask) -> None:
    """Connect the receivers (connecting twice is a no-op)."""
    signals.idea_reviewed.connect(idea_reviewed)
    signals.round_opened.connect(round_opened)
    signals.round_closed.connect(round_closed)
    signals.delivery_updated.connect(delivery_updated)


def _many(session: Session, people: list[Person], kind: str, event: str, write) -> int:
    """Notify each of ``people`` (their choices read in one query); ``write(person)`` gives
    (subject, body). Returns how many were queued."""
    channels = wanted_by(session=session, person_ids=[p.id for p in people], kind=kind)
    sent = 0
    for person in people:
        if channels[person.id] is None:
            continue
        subject, body = write(person)
        sent += notify(session=session, person=person, kind=kind, event=event, subject=subject, body=body,
                       channel=channels[person.id])
    return sent


def idea_reviewed(_sender, *, session: Session, idea: Idea, update: IdeaUpdate) -> None:
    """The proposer is told the team's decision, with the reason or the cost estimate."""
    if idea.proposer_id is None or not can_send():
        return
    proposer = session.get(Person, idea.proposer_id)
    team = session.get(Team, idea.team_id)
    page = link("votes.idea", slug=team.slug, idea_id=idea.id)
    body = _("Hello {name},\n\n{team} has reviewed your idea “{title}”.\n\n{decision}\n\nSee your idea: {link}\n").format(
        name=proposer.first_name, team=team.name, title=idea.title, decision=update.text, link=page)
    notify(session=session, person=proposer, kind="idea_reviewed", event=f"update:{update.id}",
           subject=REVIEW_SUBJECTS[idea.status].format(title=idea.title), body=body)


def round_opened(_sender, *, session: Session, rnd: Round) -> None:
    """Supporters of its ideas are told their idea is on the ballot; residents that a round opened."""
    if not can_send():
        return
    team = session.get(Team, rnd.team_id)
    rows = services.round_ideas(session=session, round_id=rnd.id)
    page = link("votes.round_page", slug=team.slug, round_id=rnd.id)
    when = _("Voting opens {opens} and closes {closes}.").format(opens=london_datetime(rnd.opens_at),
                                                                 closes=london_datetime(rnd.closes_at))
    supported = {}
    for _ri, idea in rows:
        for person in services.supporters_of(session=session, idea_ids=[idea.id]):
            supported.setdefault(person.id, (person, []))[1].append(idea.title)
    people = [person for person, _titles in supported.values()]
    _many(session, people, "idea_on_round", f"round:{rnd.id}", lambda p: (
        _("An idea you support is on the ballot: {round}").format(round=rnd.title),
        _("Hello {name},\n\n{ideas} is on the ballot of {round} ({team}). {when}\n\n"
          "Vote for the ideas you want: {link}\n").format(
            name=p.first_name, ideas=", ".join(f"“{t}”" for t in supported[p.id][1]), round=rnd.title,
            team=team.name, when=when, link=page)))
    ideas = "".join(f"- {idea.title} ({gbp(ri.cost_pence)})\n" for ri, idea in rows)
    _many(session, services.eligible_residents(session=session, team=team), "round_opened", f"round:{rnd.id}",
          lambda p: (_("A vote is open in {place}: {round}").format(place=team.name, round=rnd.title),
                     _("Hello {name},\n\n{team} has {budget} to spend and you can choose how. {when}\n\n"
                       "The ideas:\n{ideas}\nVote here: {link}\n").format(
                         name=p.first_name, team=team.name, budget=gbp(rnd.budget_pence), when=when, ideas=ideas,
                         link=page)))


def remind_closing(*, session: Session, now: dt.datetime | None = None) -> int:
    """Remind the eligible residents who have not voted in a round closing within 48 hours (once
    per person and round: the reminder is recorded). Returns how many were queued."""
    secret = current_app.config["SECRET_KEY"]
    queued = 0
    for rnd in services.rounds_closing_soon(session=session, now=now):
        team = session.get(Team, rnd.team_id)
        residents = services.eligible_residents(session=session, team=team)
        voted = services.voters_among(session=session, rnd=rnd, people=residents, secret=secret)
        page = link("votes.round_page", slug=team.slug, round_id=rnd.id)
        queued += _many(session, [p for p in residents if p.id not in voted], "round_closing", f"round:{rnd.id}",
                        lambda p, rnd=rnd, team=team, page=page: (
                            _("Last chance to vote: {round} closes {closes}").format(
                                round=rnd.title, closes=london_datetime(rnd.closes_at)),
                            _("Hello {name},\n\nThe vote {round} ({team}) closes {closes} and you have not voted "
                              "yet. It takes a minute: {link}\n").format(
                                name=p.first_name, round=rnd.title, team=team.name,
                                closes=london_datetime(rnd.closes_at), link=page)))
    return queued


def round_closed(_sender, *, session: Session, rnd: Round) -> None:
    """Voters and the supporters of its ideas get the results."""
    if not can_send():
        return
    team = session.get(Team, rnd.team_id)
    rows = services.results(session=session, rnd=rnd)
    residents = services.eligible_residents(session=session, team=team)
    voted = services.voters_among(session=session, rnd=rnd, people=residents,
                                  secret=current_app.config["SECRET_KEY"])
    people = {p.id: p for p in residents if p.id in voted}
    people.update({p.id: p for p in services.supporters_of(session=session, idea_ids=[i.id for _ri, i in rows])})
    funded = "".join(f"- {idea.title} ({gbp(ri.cost_pence)}, {ri.votes} votes)\n" for ri, idea in rows if ri.funded)
    page = link("votes.results", slug=team.slug, round_id=rnd.id)
    body = _("Hello {name},\n\n{round} ({team}) has closed. Funded:\n{funded}\n"
             "See every idea's votes and why it was or was not funded: {link}\n")
    _many(session, sorted(people.values(), key=lambda p: p.id), "round_results", f"round:{rnd.id}", lambda p: (
        _("The results of {round}").format(round=rnd.title),
        body.format(name=p.first_name, round=rnd.title, team=team.name,
                    funded=funded or _("- no idea could be funded\n"), link=page)))


def delivery_updated(_sender, *, session: Session, idea: Idea, update: IdeaUpdate) -> None:
    """The supporters of a funded idea get its delivery updates."""
    if not can_send():
        return
    team = session.get(Team, idea.team_id)
    page = link("votes.idea", slug=team.slug, idea_id=idea.id)
    _many(session, services.supporters_of(session=session, idea_ids=[idea.id]), "idea_delivery",
          f"update:{update.id}", lambda p: (
              _("News of “{title}”").format(title=idea.title),
              _("Hello {name},\n\n{team} posted an update on “{title}”, an idea you support:\n\n{text}\n\n"
                "{link}\n").format(name=p.first_name, team=team.name, title=idea.title, text=update.text,
                                   link=page)))
