"""What the pledges domain holds about a person, for the download and for deleting an account
(community/rights.py, registered in ``create_app``).

Deleting an account withdraws the person's pledges that are still open (nobody is left to keep
them), withdraws their standing signatures (a signature is a person's public word), replaces the
name on their own pledges with "Deleted resident" and clears the contact details. Pledge rows,
fulfilments and events are never deleted (triggers in 0005_pledges); money already received
stays in its restricted fund and its ledger entry is untouched.
"""

from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, func, select

from community.db import utcnow
from community.i18n import _, lazy_gettext
from community.models import Person, Team
from community.rights import DELETED_NAME, Effect, PersonalData, record
from pledges import services
from pledges.models import (
    OPEN_STATUSES,
    CommunityPledge,
    Pledge,
    PledgeEvent,
    PledgeFulfilment,
    PledgeSignature,
    SocialValueRate,
)
from pledges.reasons import REASONS


def _own(session: Session, person: Person) -> list[Pledge]:
    """Pledges the person made for themselves."""
    return list(session.exec(select(Pledge).where(Pledge.pledger_person_id == person.id).order_by(Pledge.id)).all())


def _export(session: Session, person: Person) -> dict[str, Any]:
    pledges = session.exec(select(Pledge, Team).join(Team, Team.id == Pledge.team_id).where(
        or_(Pledge.pledger_person_id == person.id, Pledge.made_by_id == person.id)).order_by(Pledge.id)).all()
    out = []
    for pledge, team in pledges:
        item = record(pledge, omit=("restricted_account_id",)) | {
            "reference": pledge.reference, "team": team.name,
            "yours": pledge.pledger_person_id == person.id,
            "recorded_by_you_for_someone_else": pledge.pledger_person_id != person.id,
            "fulfilments": [record(f, omit=("idempotency_key",)) for f in services.fulfilments(session, pledge.id)],
            "history": [record(e) for e in services.events(session, pledge.id)],
        }
        out.append(item)
    signatures = session.exec(select(PledgeSignature, CommunityPledge)
                              .join(CommunityPledge, CommunityPledge.id == PledgeSignature.community_pledge_id)
                              .where(PledgeSignature.person_id == person.id).order_by(PledgeSignature.id)).all()
    work = {}
    for name, model, column in (
        ("pledge_events_by_you", PledgeEvent, PledgeEvent.actor_id),
        ("fulfilments_recorded_by_you", PledgeFulfilment, PledgeFulfilment.recorded_by_id),
        ("hourly_rates_set_by_you", SocialValueRate, SocialValueRate.set_by_id),
    ):
        rows = session.exec(select(model).where(column == person.id).order_by(model.id)).all()
        if rows:
            work[name] = [record(r, omit=("idempotency_key",)) for r in rows]
    started = session.exec(select(CommunityPledge).where(CommunityPledge.created_by_id == person.id)
                           .order_by(CommunityPledge.id)).all()
    return {
        "pledges": out,
        "community_pledges_signed": [record(s, omit=("person_id",)) | {"title": cp.title} for s, cp in signatures],
        "community_pledges_started": [record(cp) for cp in started],
        "pledges_team_work": work,
    }


def _effects(session: Session, person: Person) -> list[Effect]:
    own = _own(session, person)
    open_ = [p for p in own if p.is_open]
    standing = session.exec(select(func.count()).where(
        PledgeSignature.person_id == person.id, PledgeSignature.withdrawn_at.is_(None))).one()
    started = session.exec(select(func.count()).where(CommunityPledge.created_by_id == person.id)).one()
    return [
        Effect(_("Pledges you have not yet fulfilled"), len(open_), "withdrawn",
               _("Marked withdrawn (“%(reason)s”), so the team stops counting on them and sends no reminders. "
                 "Anything you have already given stays recorded, and money received stays in the fund it was "
                 "given to.", reason=REASONS.in_language(REASONS.english("account_deleted")))),
        Effect(_("Your name and contact details on your pledges"), len(own), "erased",
               _("Your pledges show “%(name)s”; the email and phone number on them are removed.",
                 name=DELETED_NAME)),
        Effect(_("Your signatures on community pledges"), standing, "withdrawn",
               _("Your name no longer appears, and the count of signatures goes down by one.")),
        Effect(_("Pledges you have fulfilled, and community pledges you started"), len(own) - len(open_) + started,
               "kept", _("They are part of the team's public record; they stay, without your name.")),
    ]


def _erase(session: Session, person: Person) -> None:
    for pledge in _own(session, person):
        if pledge.status in OPEN_STATUSES:
            services.withdraw(session=session, team=session.get(Team, pledge.team_id), pledge_id=pledge.id,
                              actor=person, reason=REASONS.english("account_deleted"), is_team_staff=False)
        pledge.pledger_name = DELETED_NAME  # 0019_gdpr allows this one change of a fixed column
        pledge.contact_email = pledge.contact_phone = None
        session.add(pledge)
    now = utcnow()
    for signature in session.exec(select(PledgeSignature).where(
            PledgeSignature.person_id == person.id, PledgeSignature.withdrawn_at.is_(None))).all():
        signature.withdrawn_at = now
        session.add(signature)
    session.flush()


PLEDGES = PersonalData(
    name="pledges",
    columns=("pledge.pledger_person_id", "pledge.made_by_id", "pledge_fulfilment.recorded_by_id",
             "pledge_event.actor_id", "community_pledge.created_by_id", "pledge_signature.person_id",
             "pledge_social_value_rate.set_by_id"),
    export=_export,
    effects=_effects,
    erase=_erase,
    headings={"pledges": lazy_gettext("Your pledges"),
              "community_pledges_signed": lazy_gettext("Community pledges you signed"),
              "community_pledges_started": lazy_gettext("Community pledges you started"),
              "pledges_team_work": lazy_gettext("Your work for a team: pledges")},
)
