"""The emails quick spend sends, queued in the action's transaction (sent after the commit; see
community.mail), each in its recipient's language (``force_locale(person.language)``, as every
email). Links are absolute, so these run inside a request or an app context with SERVER_NAME."""

from flask import url_for
from sqlalchemy import select
from sqlmodel import Session

from community import mail
from community.formatting import gbp
from community.i18n import _, force_locale
from community.models import Person, Team
from spend.models import SpendLimitChange, SpendRequest, SpendStatus
from spend.services import approvers_of, person_name


def _send(person: Person, write) -> None:
    """Queue an email to ``person`` in the action's transaction; ``write()`` gives (subject, body)
    and runs in the person's language."""
    with force_locale(person.language):
        subject, body = write()
    mail.send(to=person.email, subject=subject, body=body)


def new_request(*, session: Session, team: Team, spend_request: SpendRequest) -> None:
    """Everyone who could approve it is told of a new request."""
    link = url_for("spend.detail", slug=team.slug, request_id=spend_request.id, _external=True)
    requester = person_name(session=session, person_id=spend_request.requester_id)
    amount = gbp(spend_request.amount_pence)
    for person in approvers_of(session=session, team=team, request=spend_request):
        _send(
            person,
            lambda: (
                _("Spend request: %(amount)s for %(team)s", amount=amount, team=team.name),
                _(
                    "%(requester)s asks to spend %(amount)s: %(purpose)s\n\nApprove or reject it here: %(link)s\n",
                    requester=requester,
                    amount=amount,
                    purpose=spend_request.purpose,
                    link=link,
                ),
            ),
        )


def decided(*, session: Session, team: Team, spend_request: SpendRequest) -> None:
    """The requester is told of the approval or the rejection, with its reason."""
    requester = session.get(Person, spend_request.requester_id)
    link = url_for("spend.detail", slug=team.slug, request_id=spend_request.id, _external=True)
    who = person_name(session=session, person_id=spend_request.decided_by_id)
    amount = gbp(spend_request.amount_pence)
    if spend_request.status == SpendStatus.REJECTED:
        _send(
            requester,
            lambda: (
                _("Your spend request was rejected"),
                _(
                    "%(who)s rejected your request for %(amount)s.\n\nReason: %(reason)s\n\n%(link)s\n",
                    who=who,
                    amount=amount,
                    reason=spend_request.rejection_reason,
                    link=link,
                ),
            ),
        )
    else:
        _send(
            requester,
            lambda: (
                _("Your spend request was approved"),
                _(
                    "%(who)s approved your request for %(amount)s. The money is committed; record the payment and "
                    "upload the receipt here: %(link)s\n",
                    who=who,
                    amount=amount,
                    link=link,
                ),
            ),
        )


def limits_requested(*, session: Session, team: Team, change: SpendLimitChange) -> None:
    """Finance (not the asker) is told a raise above the defaults waits for them."""
    link = url_for("spend.limit_changes", _external=True)
    who = person_name(session=session, person_id=change.requested_by_id)
    for person in session.execute(
        select(Person).where(Person.is_finance, Person.is_active, Person.id != change.requested_by_id)
    ).scalars():
        _send(
            person,
            lambda: (
                _("Approval limits for %(team)s: a raise waits for you", team=team.name),
                _(
                    "%(who)s asks to let members of %(team)s approve up to %(member)s (now %(member_now)s) and the "
                    "enabler up to %(enabler)s (now %(enabler_now)s).\n\nThis is above the council's defaults, so it "
                    "waits for finance or an admin: %(link)s\n",
                    who=who,
                    team=team.name,
                    member=gbp(change.member_limit_pence),
                    member_now=gbp(change.previous_member_limit_pence),
                    enabler=gbp(change.enabler_limit_pence),
                    enabler_now=gbp(change.previous_enabler_limit_pence),
                    link=link,
                ),
            ),
        )


def limits_decided(*, session: Session, team: Team, change: SpendLimitChange) -> None:
    """The asker is told what finance decided."""
    asker = session.get(Person, change.requested_by_id)
    who = person_name(session=session, person_id=change.decided_by_id)
    if change.status == "approved":
        _send(
            asker,
            lambda: (
                _("Approval limits for %(team)s were approved", team=team.name),
                _(
                    "%(who)s approved the new approval limits of %(team)s: members up to %(member)s, the enabler up "
                    "to %(enabler)s.\n",
                    who=who,
                    team=team.name,
                    member=gbp(change.member_limit_pence),
                    enabler=gbp(change.enabler_limit_pence),
                ),
            ),
        )
    else:
        _send(
            asker,
            lambda: (
                _("Approval limits for %(team)s were refused", team=team.name),
                _(
                    "%(who)s refused the new approval limits of %(team)s. Reason: %(reason)s\n",
                    who=who,
                    team=team.name,
                    reason=change.reason,
                ),
            ),
        )
