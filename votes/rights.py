"""What the votes domain holds about a person, for the download and for deleting an account
(community/rights.py, registered in ``create_app``).

Ideas and supports stay when an account is deleted: ideas are public and may be on a ballot, and
a support is only a count once the person row is "Deleted resident". Ballots are not linked to
people at all (``vote_ballot.voter_key`` is an HMAC), so nothing here reads or changes them.
"""

from typing import Any

from flask import has_request_context, url_for
from sqlmodel import Session, func, select

from community.i18n import _, lazy_gettext
from community.models import Person, Team
from community.rights import Effect, PersonalData, record
from votes.models import Idea, IdeaSupport, IdeaUpdate, Milestone, PaperDecision, PaperKeying, Round

_STAFF_WORK = (
    ("ideas_reviewed", Idea, Idea.reviewed_by_id, ("id", "team_id", "title", "status", "reviewed_at")),
    ("idea_updates_written", IdeaUpdate, IdeaUpdate.author_id, ("id", "idea_id", "status", "text", "created_at")),
    ("rounds_opened", Round, Round.created_by_id, ("id", "team_id", "title", "created_at")),
    ("paper_ballots_keyed", PaperKeying, PaperKeying.keyed_by_id, ("id", "round_id", "serial", "pass_no", "created_at")),
    ("paper_ballot_decisions", PaperDecision, PaperDecision.decided_by_id,
     ("id", "round_id", "serial", "decision", "reason", "created_at")),
)


def _link(endpoint: str, path: str, **values) -> str:
    """Where to download a photo: the full address in a request (the download page), else the path."""
    return url_for(endpoint, _external=True, **values) if has_request_context() else path


def _photo(row, team: Team, endpoint: str, path: str, **values) -> dict[str, Any]:
    """The photo the person uploaded with an idea or a delivery step, as a link to the file as we
    keep it (re-encoded, without the metadata the camera wrote): a download of personal data is a
    JSON file, and each photo is there at its address (the same page a resident or the team sees
    it on; a hidden idea's photo opens for its proposer). Empty when there is none."""
    if not row.photo_ref:
        return {}
    return {"photo": {"content_type": row.photo_type,
                      "download": _link(endpoint, path, slug=team.slug, **values)}}


def _ideas(session: Session, person: Person) -> list[dict[str, Any]]:
    rows = session.exec(select(Idea, Team).join(Team, Team.id == Idea.team_id)
                        .where(Idea.proposer_id == person.id).order_by(Idea.id)).all()
    return [record(i, omit=("hold_id", "reviewed_by_id", "funded_round_id", "photo_ref", "photo_type"))
            | {"team": t.name}
            | _photo(i, t, "votes.idea_photo", f"/teams/{t.slug}/ideas/{i.id}/photo", idea_id=i.id)
            for i, t in rows]


def _steps(session: Session, person: Person) -> list[dict[str, Any]]:
    """Delivery steps the person added (team staff), with the photo they uploaded."""
    rows = session.exec(select(Milestone, Team).join(Idea, Idea.id == Milestone.idea_id)
                        .join(Team, Team.id == Idea.team_id)
                        .where(Milestone.created_by_id == person.id).order_by(Milestone.id)).all()
    keep = ("id", "idea_id", "title", "planned_on", "done_on", "created_at")
    return [{k: v for k, v in record(m).items() if k in keep}
            | _photo(m, t, "votes.step_photo", f"/teams/{t.slug}/ideas/{m.idea_id}/steps/{m.id}/photo",
                     idea_id=m.idea_id, step_id=m.id)
            for m, t in rows]


def _supports(session: Session, person: Person) -> list[dict[str, Any]]:
    rows = session.exec(select(IdeaSupport, Idea).join(Idea, Idea.id == IdeaSupport.idea_id)
                        .where(IdeaSupport.person_id == person.id).order_by(IdeaSupport.id)).all()
    return [{"idea_id": i.id, "idea_title": i.title, "supported_at": record(s)["created_at"]} for s, i in rows]


def _export(session: Session, person: Person) -> dict[str, Any]:
    work = {}
    for name, model, column, keep in _STAFF_WORK:
        rows = session.exec(select(model).where(column == person.id).order_by(model.id)).all()
        if rows:
            work[name] = [{k: v for k, v in record(r).items() if k in keep} for r in rows]
    if steps := _steps(session, person):
        work["delivery_steps_added"] = steps
    return {"ideas_proposed": _ideas(session, person), "idea_supports": _supports(session, person),
            "votes_team_work": work}


def _count(session: Session, column, person: Person) -> int:
    return session.exec(select(func.count()).where(column == person.id)).one()


def _effects(session: Session, person: Person) -> list[Effect]:
    return [
        Effect(_("Ideas you proposed"), _count(session, Idea.proposer_id, person), "kept",
               _("Ideas are public and may be on a ballot or funded; they stay, shown without your name. The team "
                 "may still review any that are waiting.")),
        Effect(_("Ideas you supported"), _count(session, IdeaSupport.person_id, person), "kept",
               _("Supports count towards an idea; they stay as numbers, linked to no name.")),
        Effect(_("Your ballots"), None, "kept",
               _("Ballots are not linked to your name or account, and stay counted: every result must stay "
                 "checkable.")),
    ]


VOTES = PersonalData(
    name="votes",
    columns=("vote_idea.proposer_id", "vote_idea.reviewed_by_id", "vote_idea_support.person_id",
             "vote_idea_update.author_id", "vote_round.created_by_id", "vote_paper_keying.keyed_by_id",
             "vote_paper_decision.decided_by_id", "vote_milestone.created_by_id"),
    export=_export,
    effects=_effects,
    headings={"ideas_proposed": lazy_gettext("Ideas you proposed"),
              "idea_supports": lazy_gettext("Ideas you supported"),
              "votes_team_work": lazy_gettext("Your work for a team: ideas and votes")},
)
