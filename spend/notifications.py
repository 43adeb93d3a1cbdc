"""The emails quick spend sends, queued in the action's transaction (sent after the commit; see
community.mail). Links are absolute, so these run inside a request or an app context with
SERVER_NAME."""

from flask import url_for
from sqlalchemy import select
from sqlmodel import Session

from community import mail
from community.formatting import gbp
from community.models import Person, Team
from spend.models import SpendLimitChange, SpendRequest, SpendStatus
from spend.services import approvers_of, person_name


def _send(to: str, subject: str, body: str) -> None:
    """Queue an email in the action's transaction (sent after the commit; see community.mail)."""
    mail.send(to=to, subject=subject, body=body)


def new_request(*, session: Session, team: Team, spend_request: SpendRequest) -> None:
    """Everyone who could approve it is told of a new request."""
    link = url_for("spend.detail", slug=team.slug, request_id=spend_request.id, _external=True)
    requester = person_name(session=session, person_id=spend_request.requester_id)
    for person in approvers_of(session=session, team=team, request=spend_request):
        _send(person.email, f"Spend request: {gbp(spend_request.amount_pence)} for {team.name}",
              f"{requester} asks to spend {gbp(spend_request.amount_pence)}: {spend_request.purpose}\n\n"
              f"Approve or reject it here: {link}\n")


def decided(*, session: Session, team: Team, spend_request: SpendRequest) -> None:
    """The requester is told of the approval or the rejection, with its reason."""
    requester = session.get(Person, spend_request.requester_id)
    link = url_for("spend.detail", slug=team.slug, request_id=spend_request.id, _external=True)
    who = person_name(session=session, person_id=spend_request.decided_by_id)
    if spend_request.status == SpendStatus.REJECTED:
        body = (f"{who} rejected your request for {gbp(spend_request.amount_pence)}.\n\n"
                f"Reason: {spend_request.rejection_reason}\n\n{link}\n")
        subject = "Your spend request was rejected"
    else:
        body = (f"{who} approved your request for {gbp(spend_request.amount_pence)}. The money is committed; "
                f"record the payment and upload the receipt here: {link}\n")
        subject = "Your spend request was approved"
    _send(requester.email, subject, body)


def limits_requested(*, session: Session, team: Team, change: SpendLimitChange) -> None:
    """Finance (not the asker) is told a raise above the defaults waits for them."""
    link = url_for("spend.limit_changes", _external=True)
    who = person_name(session=session, person_id=change.requested_by_id)
    for person in session.execute(select(Person).where(Person.is_finance, Person.is_active,
                                                       Person.id != change.requested_by_id)).scalars():
        _send(person.email, f"Approval limits for {team.name}: a raise waits for you",
              f"{who} asks to let members of {team.name} approve up to {gbp(change.member_limit_pence)} "
              f"(now {gbp(change.previous_member_limit_pence)}) and the enabler up to "
              f"{gbp(change.enabler_limit_pence)} (now {gbp(change.previous_enabler_limit_pence)}).\n\n"
              f"This is above the council's defaults, so it waits for finance or an admin: {link}\n")


def limits_decided(*, session: Session, team: Team, change: SpendLimitChange) -> None:
    """The asker is told what finance decided."""
    asker = session.get(Person, change.requested_by_id)
    who = person_name(session=session, person_id=change.decided_by_id)
    if change.status == "approved":
        body = (f"{who} approved the new approval limits of {team.name}: members up to "
                f"{gbp(change.member_limit_pence)}, the enabler up to {gbp(change.enabler_limit_pence)}.\n")
    else:
        body = f"{who} refused the new approval limits of {team.name}. Reason: {change.reason}\n"
    _send(asker.email, f"Approval limits for {team.name} were {change.status}", body)
