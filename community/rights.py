"""Residents' UK GDPR rights: the download of everything we hold about a person (right of
access, Article 15) and deleting an account (right to erasure, Article 17), issue 14.

``community`` sits below the other domains and may not import them, so each domain declares a
:class:`PersonalData` source for its own tables — which columns point at ``person.id``, how to
export them, what deleting an account does to them — and ``create_app`` registers the sources
here (a port, as style.md asks). A test walks ``SQLModel.metadata`` for every foreign key to
``person.id`` and fails when one is neither covered by a source nor listed in :data:`EXCLUDED`.

Deleting never touches a ledger row (append-only, hash-chained) nor a ballot (not linked to the
person): the ``person`` row stays, pseudonymised, so every foreign key still holds.
"""

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import delete, or_
from sqlmodel import Session, select

from community import passwords, services
from community.db import utcnow
from community.errors import Forbidden, InvalidCredentials, NotFound
from community.i18n import DEFAULT, LANGUAGES, _, force_locale, lazy_gettext
from community.models import (
    AuditEvent,
    AuthSession,
    EmailConfirmation,
    Invitation,
    MailMessage,
    Membership,
    NotificationPreference,
    NotificationSent,
    PasswordReset,
    Person,
    Place,
    RecoveryCode,
    Team,
    VotingCode,
)

DELETED_NAME = "Deleted resident"
# RFC 2606 reserves .invalid: mail to it can never be delivered anywhere.
PLACEHOLDER_DOMAIN = "deleted.invalid"
EXPORTED = "account.export"
DELETED = "account.delete"

# Foreign keys to person.id that no export covers, each with the reason (the test reads this).
EXCLUDED: dict[str, str] = {}

BALLOTS = lazy_gettext(
    "Ballots are not linked to people. Each online ballot is stored under a one-way code made "
    "from the round and your account with a secret key, never under your name or account number, "
    "so that nobody can list how a named person voted; this file does not contain your ballots "
    "for the same reason. The receipt emails we sent you when you voted listed your choices: "
    "our copies of them are under \"mail_sent_to_you\", and deleting your account deletes those "
    "copies. Deleting your account leaves your ballots counted, as every result must stay "
    "checkable."
)
# The download's notes and headings are in the person's language (Person.language, as their emails
# are); its section and field names stay English identifiers, the same in every language, so that a
# program (or another service the person moves to) can read the file. "about" → "contents" gives each
# section's heading in the person's language. Each source names its own sections (PersonalData.headings).
_ABOUT_HEADINGS = {
    "about": lazy_gettext("About this file"),
    "ballots": lazy_gettext("Your ballots"),
}
_COMMUNITY_HEADINGS = {
    "account": lazy_gettext("Your account"),
    "sign_in_sessions": lazy_gettext("Places you signed in"),
    "recovery_codes": lazy_gettext("Recovery codes"),
    "password_reset_links": lazy_gettext("Password-reset links"),
    "email_confirmation_links": lazy_gettext("Email-confirmation links"),
    "voting_codes": lazy_gettext("Your voting codes"),
    "voting_codes_you_printed": lazy_gettext("Voting codes you printed for residents"),
    "invitations": lazy_gettext("Invitations"),
    "audit_events": lazy_gettext("Entries in our audit log about your account"),
    "mail_sent_to_you": lazy_gettext("Our copies of emails we sent you"),
    "notification_choices": lazy_gettext("What you chose to be told about"),
    "notifications_sent": lazy_gettext("What we told you about"),
    "links_and_codes_note": lazy_gettext("About links and codes"),
}


@dataclass(frozen=True)
class Effect:
    """One line of the "what happens if you delete your account" page."""

    what: str
    count: int | None  # None: not counted (ballots are not linked to the person)
    outcome: str  # "erased" | "withdrawn" | "kept"
    why: str = ""


def _nothing(session: Session, person: Person) -> list:
    return []


def _no_refusal(session: Session, person: Person) -> str | None:
    return None


def _no_erase(session: Session, person: Person) -> None:
    return None


@dataclass(frozen=True)
class PersonalData:
    """What one domain holds about a person.

    ``columns`` are the ``table.column`` foreign keys to ``person.id`` the export covers;
    ``export`` returns sections (name → JSON-ready data; it runs in the person's language, so a
    note in it is written with ``_()``); ``headings`` gives each of those sections its heading
    (lazy_gettext: shown in the person's language); ``effects`` describes what deleting the
    account does; ``refusal`` gives a reason the account may not be deleted (or None); ``erase``
    erases or pseudonymises the domain's personal data (it runs before the person row is
    pseudonymised, so it still sees the name and email)."""

    name: str
    columns: tuple[str, ...]
    export: Callable[[Session, Person], dict[str, Any]]
    effects: Callable[[Session, Person], list[Effect]] = _nothing
    refusal: Callable[[Session, Person], str | None] = _no_refusal
    erase: Callable[[Session, Person], None] = _no_erase
    notes: dict[str, Any] = field(default_factory=dict)
    headings: dict[str, Any] = field(default_factory=dict)


_EXTENSION = "thriving.personal_data"


def register(app: Flask, source: PersonalData) -> None:
    """Add a domain's source (called from ``create_app``)."""
    app.extensions.setdefault(_EXTENSION, []).append(source)


def registered(app: Flask | None = None) -> list[PersonalData]:
    """The sources registered on the app: community's own first, then each domain's."""
    return list((app or current_app).extensions.get(_EXTENSION, []))


def covered_columns(sources: Iterable[PersonalData]) -> list[str]:
    return [column for source in sources for column in source.columns]


def person_foreign_keys(metadata) -> set[str]:
    """Every ``table.column`` with a foreign key to ``person.id`` in the metadata."""
    found = set()
    for table in metadata.tables.values():
        for fk in table.foreign_keys:
            if fk.column.table.name == "person" and fk.column.name == "id":
                found.add(f"{table.name}.{fk.parent.name}")
    return found


def uncovered(metadata, sources: Iterable[PersonalData]) -> set[str]:
    """Foreign keys to ``person.id`` that no source covers and :data:`EXCLUDED` does not list."""
    return person_foreign_keys(metadata) - set(covered_columns(sources)) - set(EXCLUDED)


# ---- serialising rows ---------------------------------------------------------------------


def value(v: Any) -> Any:
    """A JSON-ready value: times in UTC ISO 8601, dates ISO."""
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def record(row, *, omit: Iterable[str] = ()) -> dict[str, Any]:
    """A table row as a dict of its columns (minus ``omit``: secrets, hashes)."""
    skip = set(omit)
    return {c.key: value(getattr(row, c.key)) for c in row.__table__.columns if c.key not in skip}


# ---- community's own tables ---------------------------------------------------------------


def _about_person(person: Person) -> str:
    return rf"person:{person.id}(?!\d)"


def _audit_about(session: Session, person: Person) -> list[AuditEvent]:
    """Audit events by the person or naming them (their email, or ``person:ID``)."""
    rows = session.exec(select(AuditEvent).where(or_(
        AuditEvent.actor_id == person.id,
        AuditEvent.subject.contains(person.email, autoescape=True),
        AuditEvent.subject.contains(f"person:{person.id}"),
    )).order_by(AuditEvent.id)).all()
    pattern = re.compile(_about_person(person))
    return [e for e in rows if e.actor_id == person.id or person.email in e.subject
            or pattern.search(e.subject)]


def _mail_to(session: Session, person: Person) -> list[MailMessage]:
    return list(session.exec(select(MailMessage).where(MailMessage.to_address == person.email)
                             .order_by(MailMessage.id)).all())


def _roles(session: Session, person: Person) -> list[dict[str, Any]]:
    rows = session.exec(select(Membership, Team).join(Team, Team.id == Membership.team_id)
                        .where(Membership.person_id == person.id)).all()
    roles = [{"role": m.role, "team": t.name, "since": value(m.created_at)} for m, t in rows]
    if person.is_finance:
        roles.append({"role": "finance"})
    if person.is_admin:
        roles.append({"role": "admin"})
    return roles


def _community_export(session: Session, person: Person) -> dict[str, Any]:
    place = session.get(Place, person.place_id) if person.place_id else None
    district = person.postcode.split()[0] if person.postcode else None
    account = {
        "id": person.id, "name": person.name, "email": person.email, "home_postcode": person.postcode,
        "postcode_district": district, "place": place.name if place else None,
        "local_authority_district": place.district if place else None,
        "created_at": value(person.created_at), "active": person.is_active,
        "roles": _roles(session, person),
        "phone": person.phone,
        "email_confirmed_at": value(person.email_confirmed_at),
        "signed_up_without_email": not services.has_email(person),
        "two_factor_authentication": bool(person.totp_secret),
        "demo_account": person.is_demo,
    }
    sessions = session.exec(select(AuthSession).where(AuthSession.person_id == person.id)
                            .order_by(AuthSession.id)).all()
    codes = session.exec(select(RecoveryCode).where(RecoveryCode.person_id == person.id)).all()
    resets = session.exec(select(PasswordReset).where(PasswordReset.person_id == person.id)
                          .order_by(PasswordReset.id)).all()
    invitations = session.exec(select(Invitation).where(or_(
        Invitation.invited_by_id == person.id, Invitation.email == person.email)).order_by(Invitation.id)).all()
    confirmations = session.exec(select(EmailConfirmation).where(EmailConfirmation.person_id == person.id)
                                 .order_by(EmailConfirmation.id)).all()
    voting_codes = session.exec(select(VotingCode).where(VotingCode.person_id == person.id)
                                .order_by(VotingCode.id)).all()
    printed = session.exec(select(VotingCode).where(VotingCode.created_by_id == person.id)
                           .order_by(VotingCode.id)).all()
    return {
        "account": account,
        "sign_in_sessions": [record(s, omit=("token_hash", "person_id")) for s in sessions],
        "recovery_codes": {"made": len(codes), "unused": sum(c.used_at is None for c in codes),
                           "note": _("Only a one-way digest of each code is stored; the codes cannot be shown.")},
        "password_reset_links": [record(r, omit=("token_hash", "person_id")) for r in resets],
        "email_confirmation_links": [record(c, omit=("token_hash", "person_id")) for c in confirmations],
        "voting_codes": [record(c, omit=("code_hash", "request_key", "person_id")) for c in voting_codes],
        "voting_codes_you_printed": [record(c, omit=("code_hash", "request_key", "person_id", "created_by_id"))
                                     for c in printed],
        "invitations": [record(i, omit=("token_hash",)) | {"sent_by_you": i.invited_by_id == person.id}
                        for i in invitations],
        "audit_events": [record(e) for e in _audit_about(session, person)],
        "mail_sent_to_you": [record(m, omit=("next_attempt_at",)) for m in _mail_to(session, person)],
        "notification_choices": [record(p, omit=("id", "person_id")) for p in session.exec(
            select(NotificationPreference).where(NotificationPreference.person_id == person.id)
            .order_by(NotificationPreference.kind)).all()],
        "notifications_sent": [record(n, omit=("id", "person_id")) for n in session.exec(
            select(NotificationSent).where(NotificationSent.person_id == person.id)
            .order_by(NotificationSent.id)).all()],
        "links_and_codes_note": _("Only a one-way digest of each link and code is stored; none can be shown. "
                                  "A voting code's used_at is the day it was used, never the time, so it "
                                  "cannot be matched to a ballot."),
    }


def _community_refusal(session: Session, person: Person) -> str | None:
    roles = _roles(session, person)
    if not roles:
        return None
    names = {"member": _("member"), "enabler": _("enabler"), "finance": _("finance"), "admin": _("admin")}
    named = ", ".join(_("%(role)s of %(team)s", role=names.get(r["role"], r["role"]), team=r["team"]) if "team" in r
                      else names.get(r["role"], r["role"]) for r in roles)
    return _("You have staff roles (%(roles)s). The programme needs the records of what staff did while they "
             "hold a role, so an account with roles cannot be deleted. Ask an administrator to remove your "
             "roles first; then you can delete your account here.", roles=named)


def _community_effects(session: Session, person: Person) -> list[Effect]:
    sessions = session.exec(select(AuthSession.id).where(
        AuthSession.person_id == person.id, AuthSession.revoked_at.is_(None))).all()
    codes = session.exec(select(RecoveryCode.id).where(RecoveryCode.person_id == person.id)).all()
    resets = session.exec(select(PasswordReset.id).where(PasswordReset.person_id == person.id)).all()
    confirmations = session.exec(select(EmailConfirmation.id).where(EmailConfirmation.person_id == person.id)).all()
    voting_codes = session.exec(select(VotingCode.id).where(VotingCode.person_id == person.id)).all()
    printed = session.exec(select(VotingCode.id).where(VotingCode.created_by_id == person.id)).all()
    invitations = session.exec(select(Invitation.id).where(
        Invitation.email == person.email, Invitation.accepted_at.is_(None))).all()
    return [
        Effect(_("Your name, email address, home postcode and place"), 1, "erased",
               _("Your account is renamed “%(name)s” and given an address that receives no mail.",
                 name=DELETED_NAME)),
        Effect(_("Your password and authenticator app") if person.totp_secret else _("Your password"), 1, "erased",
               _("Nobody can sign in to the account again.")),
        Effect(_("Recovery codes"), len(codes), "erased"),
        Effect(_("Password-reset links, and invitations not yet accepted"), len(resets) + len(invitations),
               "erased"),
        Effect(_("Email-confirmation links and voting codes"), len(confirmations) + len(voting_codes), "erased",
               _("A vote already cast with a code stays counted, linked to nobody.")),
        Effect(_("Voting codes you printed for residents"), len(printed), "kept",
               _("They record who signed a resident up; they keep your account's number, not your name.")),
        Effect(_("Places you are signed in (including this one)"), len(sessions), "erased",
               _("You are signed out everywhere.")),
        Effect(_("Your choices of what you are told about, and the record of what we told you"),
               len(session.exec(select(NotificationPreference.id).where(
                   NotificationPreference.person_id == person.id)).all()) + len(session.exec(
                   select(NotificationSent.id).where(NotificationSent.person_id == person.id)).all()), "erased"),
        Effect(_("Our copies of emails we sent you"), len(_mail_to(session, person)), "erased",
               _("Including vote receipts, which listed your choices.")),
        Effect(_("Entries in our audit log about your account"), len(_audit_about(session, person)), "kept",
               _("They record what happened and when, for security and accountability; your email address in "
                 "them is replaced by the account's number.")),
    ]


def _community_erase(session: Session, person: Person) -> None:
    """Runs last: everything else has seen the name and email it needed."""
    old_email = person.email
    for event in _audit_about(session, person):
        if old_email in event.subject:
            event.subject = event.subject.replace(old_email, f"person:{person.id}")[:200]
            session.add(event)
    session.execute(delete(MailMessage).where(MailMessage.to_address == old_email))
    session.execute(delete(Invitation).where(Invitation.email == old_email, Invitation.accepted_at.is_(None)))
    placeholder = f"deleted-{person.id}-{secrets.token_hex(4)}@{PLACEHOLDER_DOMAIN}"
    for invitation in session.exec(select(Invitation).where(Invitation.email == old_email)).all():
        invitation.email = placeholder
        session.add(invitation)
    session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    session.execute(delete(PasswordReset).where(PasswordReset.person_id == person.id))
    session.execute(delete(EmailConfirmation).where(EmailConfirmation.person_id == person.id))
    session.execute(delete(VotingCode).where(VotingCode.person_id == person.id))
    session.execute(delete(NotificationPreference).where(NotificationPreference.person_id == person.id))
    session.execute(delete(NotificationSent).where(NotificationSent.person_id == person.id))
    services.end_all_sessions(session, person_id=person.id)
    person.name, person.email = DELETED_NAME, placeholder
    person.password_hash, person.totp_secret, person.totp_last_step = None, None, 0
    person.postcode, person.place_id, person.is_active, person.phone = None, None, False, None
    session.add(person)


COMMUNITY = PersonalData(
    name="community",
    columns=("membership.person_id", "auth_session.person_id", "invitation.invited_by_id",
             "audit_event.actor_id", "recovery_code.person_id", "password_reset.person_id",
             "email_confirmation.person_id", "voting_code.person_id", "voting_code.created_by_id",
             "notification_preference.person_id", "notification_sent.person_id"),
    export=_community_export,
    effects=_community_effects,
    refusal=_community_refusal,
    erase=_community_erase,
    headings=_COMMUNITY_HEADINGS,
)


# ---- the two rights ------------------------------------------------------------------------


def _ordered(sources: Iterable[PersonalData]) -> list[PersonalData]:
    """Community's own source last (its erase pseudonymises the person row), whatever was passed."""
    rest = [s for s in sources if s.name != COMMUNITY.name]
    return [*rest, COMMUNITY]


def _account_first(sources: Iterable[PersonalData]) -> list[PersonalData]:
    """Community's own source first: the account leads the file, and its refusal (staff roles,
    which an administrator can remove) is the one to read first."""
    ordered = _ordered(sources)
    return [ordered[-1], *ordered[:-1]]


def export_personal_data(*, session: Session, person_id: int, sources: Iterable[PersonalData],
                         privacy_url: str = "/privacy") -> dict[str, Any]:
    """Everything we hold about the person, as one JSON-ready document, its notes and headings in
    the person's language (``about.contents``: each section's heading). Audited
    ("account.export"); NotFound for an unknown or deleted account."""
    person = session.get(Person, person_id)
    if person is None or not person.is_active:
        raise NotFound(_("There is no such account."))
    lang = person.language if person.language in LANGUAGES else DEFAULT
    with force_locale(lang):
        document = _document(session, person, _account_first(sources), privacy_url, lang)
    session.add(AuditEvent(actor_id=person.id, action=EXPORTED, subject=f"person:{person.id}"))
    session.flush()
    return document


def _document(session: Session, person: Person, sources: list[PersonalData], privacy_url: str,
              lang: str) -> dict[str, Any]:
    about: dict[str, Any] = {
        "service": "Thriving Communities",
        "controller": _("Derbyshire County Council"),
        "generated_at": value(utcnow()),
        "language": lang,
        "times": _("Times are in UTC (ISO 8601); money is in pence (fields ending _pence)."),
        "names": _("The names of the sections and fields are in English, the same in every language, so that "
                   "programs can read this file; \"contents\" gives each section's heading."),
        "privacy_notice": privacy_url,
    }
    document: dict[str, Any] = {"about": about}
    headings = dict(_ABOUT_HEADINGS)
    for source in sources:
        headings |= source.headings
        for key, data in source.export(session, person).items():
            document[key] = data
        for key, note in source.notes.items():
            document[key] = str(note)
    document["ballots"] = str(BALLOTS)
    about["contents"] = {key: str(headings[key]) if key in headings else key for key in document}
    return document


@dataclass(frozen=True)
class DeletionPlan:
    """What deleting this account would do, or why it may not be deleted."""

    refusals: list[str]
    erased: list[Effect]
    withdrawn: list[Effect]
    kept: list[Effect]

    @property
    def allowed(self) -> bool:
        return not self.refusals


def deletion_plan(*, session: Session, person_id: int, sources: Iterable[PersonalData]) -> DeletionPlan:
    """The confirmation page's content: refusals (staff roles, financial records) and effects."""
    person = session.get(Person, person_id)
    if person is None or not person.is_active:
        raise NotFound(_("There is no such account."))
    ordered = _account_first(sources)
    refusals = [r for s in ordered if (r := s.refusal(session, person))]
    # Lines about nothing ("Recovery codes (0)") are left out; uncounted ones (ballots) stay.
    effects = [e for s in ordered for e in s.effects(session, person) if e.count != 0]
    return DeletionPlan(
        refusals=refusals,
        erased=[e for e in effects if e.outcome == "erased"],
        withdrawn=[e for e in effects if e.outcome == "withdrawn"],
        kept=[e for e in effects if e.outcome == "kept"],
    )


def delete_account(*, session: Session, person_id: int, password: str, sources: Iterable[PersonalData]) -> None:
    """Erase or pseudonymise the person's data after checking their password again.

    Refused (Forbidden, nothing written) while any source gives a reason: staff roles, or
    records the council must keep under the person's name. InvalidCredentials for a wrong
    password. Every domain erases its part, then the person row becomes "Deleted resident" with
    an undeliverable address, no password, postcode or second factor, and every session ends.
    Audited ("account.delete") with the account number only."""
    person = session.execute(select(Person).where(Person.id == person_id).with_for_update()).scalar_one_or_none()
    if person is None or not person.is_active:
        raise NotFound(_("There is no such account."))
    for source in _account_first(sources):
        reason = source.refusal(session, person)
        if reason:
            raise Forbidden(reason)
    if not passwords.verify_password(person.password_hash, password or ""):
        raise InvalidCredentials(_("Your password is not correct."), field="password")
    for source in _ordered(sources):
        source.erase(session, person)
    session.add(AuditEvent(actor_id=person.id, action=DELETED, subject=f"person:{person.id}"))
    session.flush()
