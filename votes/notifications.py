"""The notifications of the votes domain (issue 16), queued in the transaction of the change they
tell of (community.notify → community.mail: sent after the commit, with the outbox's retries).

Each function is a receiver of a ``votes.signals`` signal, connected in ``create_app``
(:func:`init_app`), or the ``flask votes remind-closing`` run. Each notification respects the
person's choice for its kind and is sent at most once per event and person (community.notify).
The texts are written here, never in views, each through community/i18n.py and in the
recipient's language (``force_locale(person.language)``).

Without an app (a service test on a bare session) there is no secret and no link to build, so
nothing is sent (community.notify.can_send).
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app
from sqlmodel import Session

from community.formatting import gbp, london_datetime, long_date
from community.i18n import _, force_locale, get_locale, lazy_gettext, ngettext
from community.models import Person, Team
from community.notify import can_send, link, notify, notify_many
from votes import services, signals
from votes.explanations import update_text
from votes.models import Idea, IdeaUpdate, Round

REVIEW_SUBJECTS = {
    "feasible": lazy_gettext("Your idea “%(title)s” is feasible"),
    "needs_changes": lazy_gettext("Your idea “%(title)s” needs changes"),
    "not_feasible": lazy_gettext("Your idea “%(title)s” is not feasible"),
    "hidden": lazy_gettext("Your idea “%(title)s” was hidden"),
}


def init_app(app: Flask) -> None:
    """Connect the receivers (connecting twice is a no-op)."""
    signals.idea_reviewed.connect(idea_reviewed)
    signals.round_opened.connect(round_opened)
    signals.round_closed.connect(round_closed)
    signals.delivery_updated.connect(delivery_updated)
    signals.milestone_changed.connect(milestone_changed)


def _many(session: Session, people: list[Person], kind: str, event: str, write) -> int:
    """Notify each of ``people`` (set-based: community.notify.notify_many); ``write(person)`` gives
    (subject, body, text) — the email and the short text message — and runs in the person's
    language. Returns how many were queued."""
    return notify_many(session=session, people=people, kind=kind, event=event, write=write)


def _per_language(make):
    """``make()`` once per language (a round's thousands of residents share a few languages):
    called inside the recipient's ``force_locale``, keyed by the active locale."""
    made: dict[str, object] = {}

    def get():
        key = str(get_locale())
        if key not in made:
            made[key] = make()
        return made[key]

    return get


def idea_reviewed(_sender, *, session: Session, idea: Idea, update: IdeaUpdate) -> None:
    """The proposer is told the team's decision, with the reason or the cost estimate."""
    if idea.proposer_id is None or not can_send():
        return
    proposer = session.get(Person, idea.proposer_id)
    team = session.get(Team, idea.team_id)
    page = link("votes.idea", slug=team.slug, idea_id=idea.id)
    with force_locale(proposer.language):
        body = _("Hello %(name)s,\n\n%(team)s has reviewed your idea “%(title)s”.\n\n%(decision)s\n\n"
                 "See your idea: %(link)s\n",
                 name=proposer.first_name, team=team.name, title=idea.title, decision=update_text(update), link=page)
        subject = str(REVIEW_SUBJECTS[idea.status]) % {"title": idea.title}
        text = _("%(subject)s. See why: %(link)s", subject=subject, link=page)
    notify(session=session, person=proposer, kind="idea_reviewed", event=f"update:{update.id}",
           subject=subject, body=body, text=text)


def _when(rnd: Round) -> str:
    return _("Voting opens %(opens)s and closes %(closes)s.", opens=london_datetime(rnd.opens_at),
             closes=london_datetime(rnd.closes_at))


def round_opened(_sender, *, session: Session, rnd: Round) -> None:
    """Supporters of its ideas are told their idea is on the ballot; residents that a round opened."""
    if not can_send():
        return
    team = session.get(Team, rnd.team_id)
    rows = services.round_ideas(session=session, round_id=rnd.id)
    page = link("votes.round_page", slug=team.slug, round_id=rnd.id)
    supported = {}
    for _ri, idea in rows:
        for person in services.supporters_of(session=session, idea_ids=[idea.id]):
            supported.setdefault(person.id, (person, []))[1].append(idea.title)
    people = [person for person, _titles in supported.values()]
    _many(session, people, "idea_on_round", f"round:{rnd.id}", lambda p: (
        _("An idea you support is on the ballot: %(round)s", round=rnd.title),
        _("Hello %(name)s,\n\n%(ideas)s is on the ballot of %(round)s (%(team)s). %(when)s\n\n"
          "Vote for the ideas you want: %(link)s\n",
          name=p.first_name, ideas=", ".join(f"“{t}”" for t in supported[p.id][1]), round=rnd.title,
          team=team.name, when=_when(rnd), link=page),
        _("An idea you support is on the ballot of %(round)s. Vote: %(link)s", round=rnd.title, link=page)))
    ideas = "".join(f"- {idea.title} ({gbp(ri.cost_pence)})\n" for ri, idea in rows)
    opened = _per_language(lambda: (
        _("A vote is open in %(place)s: %(round)s", place=team.name, round=rnd.title),
        _("Hello %(name)s,\n\n%(team)s has %(budget)s to spend and you can choose how. %(when)s\n\n"
          "The ideas:\n%(ideas)s\nVote here: %(link)s\n"),
        _("A vote is open in %(place)s until %(closes)s: %(link)s", place=team.name,
          closes=london_datetime(rnd.closes_at), link=page),
        _when(rnd)))

    def write_opened(p):
        subject, body, text, when = opened()
        return subject, body % {"name": p.first_name, "team": team.name, "budget": gbp(rnd.budget_pence),
                                "when": when, "ideas": ideas, "link": page}, text

    _many(session, services.eligible_residents(session=session, team=team), "round_opened", f"round:{rnd.id}",
          write_opened)


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
                        _reminder(rnd, team, page))
    return queued


def _reminder(rnd: Round, team: Team, page: str):
    """The reminder's writer: its texts made once per language (20,000 residents, a few
    languages), only the name filled in per person."""
    def make():
        closes = london_datetime(rnd.closes_at)
        return (_("Last chance to vote: %(round)s closes %(closes)s", round=rnd.title, closes=closes),
                _("Hello %(name)s,\n\nThe vote %(round)s (%(team)s) closes %(closes)s and you have "
                  "not voted yet. It takes a minute: %(link)s\n"),
                _("Last chance to vote in %(round)s: it closes %(closes)s. %(link)s", round=rnd.title,
                  closes=closes, link=page),
                closes)

    texts = _per_language(make)

    def write(p):
        subject, body, text, closes = texts()
        return subject, body % {"name": p.first_name, "round": rnd.title, "team": team.name, "closes": closes,
                                "link": page}, text

    return write


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
    page = link("votes.results", slug=team.slug, round_id=rnd.id)

    def funded() -> str:
        lines = "".join("- {} ({}, {})\n".format(idea.title, gbp(ri.cost_pence),
                                                 ngettext("%(num)s vote", "%(num)s votes", ri.votes))
                        for ri, idea in rows if ri.funded)
        return lines or _("- no idea could be funded\n")

    _many(session, sorted(people.values(), key=lambda p: p.id), "round_results", f"round:{rnd.id}", lambda p: (
        _("The results of %(round)s", round=rnd.title),
        _("Hello %(name)s,\n\n%(round)s (%(team)s) has closed. Funded:\n%(funded)s\n"
          "See every idea's votes and why it was or was not funded: %(link)s\n",
          name=p.first_name, round=rnd.title, team=team.name, funded=funded(), link=page),
        _("The results of %(round)s are out: %(link)s", round=rnd.title, link=page)))


def delivery_updated(_sender, *, session: Session, idea: Idea, update: IdeaUpdate) -> None:
    """The supporters of a funded idea get its delivery updates."""
    if not can_send():
        return
    team = session.get(Team, idea.team_id)
    page = link("votes.idea", slug=team.slug, idea_id=idea.id)
    _many(session, services.supporters_of(session=session, idea_ids=[idea.id]), "idea_delivery",
          f"update:{update.id}", lambda p: (
              _("News of “%(title)s”", title=idea.title),
              _("Hello %(name)s,\n\n%(team)s posted an update on “%(title)s”, an idea you support:\n\n%(text)s\n\n"
                "%(link)s\n", name=p.first_name, team=team.name, title=idea.title, text=update_text(update),
                link=page),
              _("News of “%(title)s”, an idea you support: %(link)s", title=idea.title, link=page)))


def followers(session: Session, idea: Idea) -> list[Person]:
    """Who follows a funded idea: its supporters and the residents who voted in the round that
    funded it (found only by recomputing each resident's ballot key: no ballot names anyone, and
    what they chose is not read)."""
    people = {p.id: p for p in services.supporters_of(session=session, idea_ids=[idea.id])}
    rnd = session.get(Round, idea.funded_round_id) if idea.funded_round_id is not None else None
    if rnd is not None:
        team = session.get(Team, idea.team_id)
        residents = services.eligible_residents(session=session, team=team)
        voted = services.voters_among(session=session, rnd=rnd, people=residents,
                                      secret=current_app.config["SECRET_KEY"])
        people.update({p.id: p for p in residents if p.id in voted})
    return sorted(people.values(), key=lambda p: p.id)


def milestone_changed(_sender, *, session: Session, idea: Idea, milestone, event: str) -> None:
    """Supporters and voters of a funded idea are told each step added or done, and when it is
    done (once per event and person: community.notify), each in their own language."""
    if not can_send():
        return
    team = session.get(Team, idea.team_id)
    page = link("votes.idea", slug=team.slug, idea_id=idea.id)

    def news() -> str:
        if milestone is None:
            return _("“%(title)s” is done. %(note)s", title=idea.title, note=idea.closing_note or "")
        if milestone.done_on is not None:
            return _("Step done: %(step)s (%(day)s).", step=milestone.title, day=long_date(milestone.done_on))
        return _("New step planned: %(step)s (planned for %(day)s).", step=milestone.title,
                 day=long_date(milestone.planned_on))

    _many(session, followers(session, idea), "idea_delivery", event, lambda p: (
        _("News of “%(title)s”", title=idea.title),
        _("Hello %(name)s,\n\n%(team)s has news of “%(title)s”, an idea you supported or voted on:\n\n%(news)s\n\n"
          "Follow it here: %(link)s\n", name=p.first_name, team=team.name, title=idea.title, news=news(),
          link=page),
        _("%(news)s %(link)s", news=news(), link=page)))
