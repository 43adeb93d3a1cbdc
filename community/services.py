"""Use cases of the community domain: sign-up, sign-in, two-factor, teams, people and roles.

Every function takes a keyword-only ``session``, may flush, and never commits: the view or
command that called it commits once.
"""

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from community import mail, passwords, postcodes
from community.auth import token_hash
from community.db import LONDON, london_midnight, utcnow
from community.errors import (
    ConfirmLinkInvalid,
    DomainError,
    EmailNotConfirmed,
    EmailTaken,
    Forbidden,
    InvalidCode,
    InvalidCredentials,
    InvalidPostcode,
    InvitationInvalid,
    NotFound,
    ResetLinkInvalid,
    VotingCodeInvalid,
)
from community.formatting import long_date
from community.i18n import LANGUAGES, _, force_locale, language, lazy_gettext, ngettext
from community.models import (
    AuditEvent,
    AuthSession,
    EmailConfirmation,
    Invitation,
    Membership,
    PasswordReset,
    Person,
    Place,
    PostcodeDistrict,
    RecoveryCode,
    Team,
    TeamRole,
    VotingCode,
)

TOTP_ISSUER = "Thriving Communities"
INVITATION_DAYS = 7
STAFF_ROLES = ("member", "enabler", "finance", "admin")


def audit(session: Session, *, actor_id: int | None, action: str, subject: str) -> None:
    """Append an audit event."""
    session.add(AuditEvent(actor_id=actor_id, action=action, subject=subject[:200]))


# ---- places and teams -------------------------------------------------------------------


def place_for_postcode(session: Session, *, postcode: str) -> Place | None:
    """The place whose postcode districts include this (normalised) postcode, if any."""
    row = session.get(PostcodeDistrict, postcodes.outward_code(postcode))
    return session.get(Place, row.place_id) if row else None


@dataclass(frozen=True)
class TeamSummary:
    team: Team
    place: Place
    districts: list[str]


def list_teams(session: Session) -> list[TeamSummary]:
    """Every team with its place and postcode districts, by name."""
    rows = session.exec(
        select(Team, Place).join(Place, Place.id == Team.place_id).order_by(Team.name)
    ).all()
    districts: dict[int, list[str]] = {}
    for d in session.exec(select(PostcodeDistrict).order_by(PostcodeDistrict.outward_code)):
        districts.setdefault(d.place_id, []).append(d.outward_code)
    return [TeamSummary(t, p, districts.get(p.id, [])) for t, p in rows]


def get_team(session: Session, *, slug: str) -> TeamSummary:
    """One team by slug, or NotFound."""
    row = session.exec(
        select(Team, Place).join(Place, Place.id == Team.place_id).where(Team.slug == slug)
    ).first()
    if row is None:
        raise NotFound(_("There is no such team."))
    team, place = row
    districts = session.exec(
        select(PostcodeDistrict.outward_code).where(PostcodeDistrict.place_id == place.id)
    ).all()
    return TeamSummary(team, place, sorted(districts))


@dataclass(frozen=True)
class TeamMember:
    first_name: str
    role: str


def list_team_members(session: Session, *, team_id: int) -> list[TeamMember]:
    """Who is in the team, by first name and role (enablers first): safe to publish."""
    rows = session.exec(
        select(Person, Membership)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team_id, Person.is_active)
        .order_by(Membership.role, Person.name)  # "enabler" sorts before "member"
    ).all()
    return [TeamMember(p.first_name, m.role) for p, m in rows]


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def create_place(
    session: Session, *, actor_id: int | None, name: str, slug: str, district: str,
    outward_codes: list[str],
) -> Place:
    """Create a place with its postcode districts; each district belongs to one place only."""
    if not _SLUG.match(slug):
        raise DomainError(_("Use lower-case letters, numbers and hyphens only"), field="slug")
    codes = [c.strip().upper() for c in outward_codes if c.strip()]
    for code in codes:
        if not re.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]?", code):
            raise DomainError(_("%(code)s is not a postcode district", code=code), field="districts")
        if session.get(PostcodeDistrict, code):
            raise DomainError(_("%(code)s already belongs to another place", code=code), field="districts")
    place = Place(name=name.strip(), slug=slug, district=district.strip())
    session.add(place)
    try:
        session.flush()
    except IntegrityError as exc:
        raise DomainError(_("A place with that short name exists"), field="slug") from exc
    for code in codes:
        session.add(PostcodeDistrict(outward_code=code, place_id=place.id))
    audit(session, actor_id=actor_id, action="place.create", subject=place.slug)
    session.flush()
    return place


def create_team(
    session: Session, *, actor_id: int | None, name: str, slug: str, place_id: int,
    cost_centre: str,
) -> Team:
    """Create a Connected Team for a place."""
    if not _SLUG.match(slug):
        raise DomainError(_("Use lower-case letters, numbers and hyphens only"), field="slug")
    if session.get(Place, place_id) is None:
        raise DomainError(_("Choose a place"), field="place_id")
    cost_centre = cost_centre.strip().upper()
    holder = session.exec(select(Team).where(Team.cost_centre == cost_centre)).first()
    if holder is not None:
        raise DomainError(_("%(team)s already has cost centre %(code)s: each team has its own", team=holder.name,
                            code=cost_centre), field="cost_centre")
    team = Team(name=name.strip(), slug=slug, place_id=place_id, cost_centre=cost_centre)
    session.add(team)
    try:
        session.flush()
    except IntegrityError as exc:  # a team created at the same moment (the unique indexes decide)
        raise DomainError(_("A team with that short name or cost centre exists"), field="slug") from exc
    audit(session, actor_id=actor_id, action="team.create", subject=team.slug)
    return team


# ---- people and sign-in -----------------------------------------------------------------


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _checked_resident(session: Session, *, name: str, email: str, password: str, postcode: str) -> Person:
    """A new resident (not added yet) once postcode and password pass; the hashing is done here."""
    normal = postcodes.normalise(postcode)
    if normal is None:
        raise InvalidPostcode(_("Enter a real postcode, like NG20 8AA"), field="postcode")
    problem = passwords.policy_problem(password)
    if problem:
        raise DomainError(problem, field="password")
    place = place_for_postcode(session, postcode=normal)
    return Person(
        name=name.strip(), email=normalise_email(email), postcode=normal,
        place_id=place.id if place else None, password_hash=passwords.hash_password(password),
        language=language(),  # the language they signed up in (community/i18n.py)
    )


def sign_up_resident(
    session: Session, *, name: str, email: str, password: str, postcode: str
) -> Person:
    """Create a resident account. The postcode decides the place (None if outside them all).

    Raises InvalidPostcode, EmailTaken, or DomainError for a weak password. (The sign-up page
    uses :func:`request_sign_up`, which never says whether an email has an account.)
    """
    person = _checked_resident(session, name=name, email=email, password=password, postcode=postcode)
    session.add(person)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise EmailTaken(
            _("An account with this email already exists. Sign in instead."), field="email"
        ) from exc
    return person


def request_sign_up(
    *, session: Session, name: str, email: str, password: str, postcode: str, sign_in_link: str,
    reset_link: str, confirm_link: Callable[[str], str],
) -> Person | None:
    """Sign-up that does not say whether the email already has an account (issue 14, finding 8).

    Postcode and password are checked first (InvalidPostcode, DomainError: they do not depend on
    the email). Then the password is hashed either way, so both paths take as long, and one email
    goes out either way: to a new account, "your account is ready"; to an existing one, "someone
    tried to sign up with your address" (its password is not touched). The caller answers the
    same in both cases. Returns the new person, or None when the address was taken.

    The new account is unconfirmed (``email_confirmed_at`` None) and its email carries a
    confirmation link (``confirm_link(token)``, :func:`request_email_confirmation`): until it is
    used the person can sign in and look around, but not vote, support, pledge or sign."""
    person = _checked_resident(session, name=name, email=email, password=password, postcode=postcode)
    person.email_confirmed_at = None
    existing = session.exec(select(Person).where(Person.email == person.email)).first()
    if existing is None:
        try:
            with session.begin_nested():  # a sign-up racing this one for the same address
                session.add(person)
                session.flush()
        except IntegrityError:
            existing = session.exec(select(Person).where(Person.email == person.email)).one()
    if existing is not None:
        audit(session, actor_id=None, action="sign_up.email_taken", subject=existing.email)
        with force_locale(existing.language):
            mail.send(to=existing.email, subject=_("Someone tried to create an account with your email address"),
                      session=session,
                      body=_("Hello %(name)s,\n\nSomeone tried to create an account with your email "
                             "address on Thriving Communities, but you already have one, so nothing was changed.\n\n"
                             "If it was you, sign in: %(sign_in)s\n"
                             "If you have forgotten your password, reset it: %(reset)s\n\n"
                             "If it was not you, you can ignore this email.\n",
                             name=existing.first_name, sign_in=sign_in_link, reset=reset_link))
        session.flush()
        return None
    place = session.get(Place, person.place_id) if person.place_id else None
    audit(session, actor_id=person.id, action="sign_up", subject=person.email)
    token, until = _new_confirmation(session, person)
    with force_locale(person.language):
        where = (_("Your home postcode is in %(place)s, so you can take part in its Connected Team's "
                   "votes.", place=place.name) if place else _("Your postcode is outside the places we work "
                                                              "in today, so you cannot vote in a local round yet."))
        mail.send(to=person.email, subject=_("Confirm your email address for Thriving Communities"), session=session,
                  body=_("Hello %(name)s,\n\nYour account is ready. %(where)s\n\n"
                         "Before you can vote, support ideas, pledge or sign, confirm your email address "
                         "(you will be asked for the password you chose):\n\n%(link)s\n\n"
                         "The link works once, until %(until)s (7 days).\n\n"
                         "Sign in: %(sign_in)s\n\n"
                         "If you did not create this account, do not confirm it: ignore this email, or "
                         "reset its password to take it over: %(reset)s\n",
                         name=person.first_name, where=where, link=confirm_link(token), until=long_date(until),
                         sign_in=sign_in_link, reset=reset_link))
    session.flush()
    return person


# ---- email confirmation (issue 14) -------------------------------------------------------

CONFIRM_DAYS = 7
CONFIRM_LINKS_PER_WINDOW = 3  # links made for one person within CONFIRM_WINDOW; more send nothing
CONFIRM_WINDOW = dt.timedelta(minutes=30)


def _new_confirmation(session: Session, person: Person, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(EmailConfirmation(person_id=person.id, token_hash=token_hash(token), created_at=now,
                                  expires_at=now + dt.timedelta(days=CONFIRM_DAYS)))
    return token, (now + dt.timedelta(days=CONFIRM_DAYS)).astimezone(LONDON)


def request_email_confirmation(*, session: Session, person: Person, link: Callable[[str], str],
                               now: dt.datetime | None = None) -> bool:
    """Email a new confirmation link ("resend the confirmation email"). False, and nothing sent,
    when the person is confirmed already, has no real address, or has had
    ``CONFIRM_LINKS_PER_WINDOW`` links in the last 30 minutes (an inbox cannot be flooded)."""
    now = now or utcnow()
    person = session.get(Person, person.id)
    if person is None or person.email_confirmed_at is not None or not has_email(person):
        return False
    recent = session.exec(select(func.count()).select_from(EmailConfirmation).where(
        EmailConfirmation.person_id == person.id, EmailConfirmation.created_at > now - CONFIRM_WINDOW)).one()
    if recent >= CONFIRM_LINKS_PER_WINDOW:
        audit(session, actor_id=person.id, action="email.confirm_throttled", subject=person.email)
        return False
    token, until = _new_confirmation(session, person, now)
    audit(session, actor_id=person.id, action="email.confirm_request", subject=person.email)
    with force_locale(person.language):
        mail.send(to=person.email, subject=_("Confirm your email address for Thriving Communities"), session=session,
                  body=_("Hello %(name)s,\n\nConfirm your email address (you will be asked for your "
                         "password):\n\n%(link)s\n\nThe link works once, until %(until)s.\n\n"
                         "If you did not ask for this, ignore this email.\n",
                         name=person.first_name, link=link(token), until=long_date(until)))
    session.flush()
    return True


def check_email_confirmation(*, session: Session, token: str, now: dt.datetime | None = None) -> EmailConfirmation:
    """The confirmation link's row if it can still be used; ConfirmLinkInvalid saying why."""
    now = now or utcnow()
    row = None
    if _RESET_TOKEN.fullmatch(token or ""):
        row = session.exec(select(EmailConfirmation).where(EmailConfirmation.token_hash == token_hash(token))).first()
    if row is None:
        raise ConfirmLinkInvalid(_("This link is not a confirmation link of ours. Check you copied the whole "
                                 "link from the email, or sign in and ask for a new one."), reason="unknown")
    if row.used_at is not None:
        raise ConfirmLinkInvalid(_("This link has already been used. Each link works once: sign in to see "
                                 "whether your address is confirmed, or ask for a new link."), reason="used")
    if row.expires_at <= now:
        raise ConfirmLinkInvalid(_("This link has expired: links work for %(days)s days. Sign in and "
                                   "use “Resend the confirmation email”.", days=CONFIRM_DAYS), reason="expired")
    return row


def confirm_email(*, session: Session, token: str, password: str, now: dt.datetime | None = None) -> Person:
    """Confirm the address through the emailed link, once. The account's password is asked for
    too: someone who made an account with another person's address cannot get it confirmed by
    that person (or their mail scanner) following the link. One conditional UPDATE uses the
    link; the person's other links stop working. Audited ("email.confirm")."""
    now = now or utcnow()
    row = check_email_confirmation(session=session, token=token, now=now)
    person = session.get(Person, row.person_id)
    if not passwords.verify_password(person.password_hash, password or ""):
        raise InvalidCredentials(_("The password is not correct: enter the password of this account."),
                                 field="password")
    used = session.execute(
        update(EmailConfirmation)
        .where(EmailConfirmation.id == row.id, EmailConfirmation.used_at.is_(None),
               EmailConfirmation.expires_at > now)
        .values(used_at=now)
    ).rowcount
    if used != 1:
        raise ConfirmLinkInvalid(_("This link has already been used."), reason="used")
    _mark_confirmed(session, person, now)
    audit(session, actor_id=person.id, action="email.confirm", subject=person.email)
    session.flush()
    return person


def _mark_confirmed(session: Session, person: Person, now: dt.datetime) -> None:
    if person.email_confirmed_at is None:
        person.email_confirmed_at = now
        session.add(person)
    session.execute(update(EmailConfirmation).where(EmailConfirmation.person_id == person.id,
                                                    EmailConfirmation.used_at.is_(None)).values(used_at=now))


# ---- the confirmation gate (issue 14) --------------------------------------------------------


# What a person with an unconfirmed email address was about to do, as whole sentences (each
# language words its own); the keys are what the callers pass as ``doing``.
_CONFIRM_FIRST = {
    "vote": lazy_gettext("Confirm your email address before you vote: use the link we emailed to %(email)s, "
                         "or ask for a new one."),
    "propose ideas": lazy_gettext("Confirm your email address before you propose ideas: use the link we emailed "
                                  "to %(email)s, or ask for a new one."),
    "support ideas": lazy_gettext("Confirm your email address before you support ideas: use the link we emailed "
                                  "to %(email)s, or ask for a new one."),
    "pledge": lazy_gettext("Confirm your email address before you pledge: use the link we emailed to %(email)s, "
                           "or ask for a new one."),
    "sign pledges": lazy_gettext("Confirm your email address before you sign pledges: use the link we emailed "
                                 "to %(email)s, or ask for a new one."),
}


def require_confirmed(person: Person | None, doing: str) -> None:
    """Refuse (EmailNotConfirmed) a person whose email address is not confirmed yet.

    Votes, supports, ideas, pledges and signatures need it: each is counted or published under
    the place's name, and an unconfirmed account costs nothing to make (no mailbox is proved),
    so a script could make hundreds. Looking around, the account pages and the GDPR rights do
    not need it. Residents signed up without email are never confirmed: they vote with their
    printed code (``votes.services.cast_ballot_with_code``), which proves them instead. ``doing``
    is a key of ``_CONFIRM_FIRST``."""
    if person is not None and person.email_confirmed_at is None:
        raise EmailNotConfirmed(_CONFIRM_FIRST[doing] % {"email": person.email})


# ---- assisted sign-up and voting codes (issue 14) ------------------------------------------

NO_EMAIL_DOMAIN = mail.NO_EMAIL_DOMAIN  # RFC 2606: can never be delivered
VOTING_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off paper
VOTING_CODE_LENGTH = 10
VOTING_CODE_DAYS = 90
_UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")  # controls, NUL, bidi overrides


def has_email(person: Person) -> bool:
    """False for residents signed up without email (their address is a placeholder)."""
    return not mail.undeliverable(person.email)


def normalise_voting_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def voting_code_hash(*, secret: str, code: str) -> str:
    """The keyed digest stored for a voting code (HMAC-SHA256 under the app secret)."""
    return hmac.new(secret.encode(), f"voting-code:{normalise_voting_code(code)}".encode(),
                    hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AssistedSignUp:
    """What an assisted sign-up will make, checked and cleaned (nothing written yet)."""

    team: Team
    place: Place
    name: str
    postcode: str
    phone: str | None
    expires_at: dt.datetime


def check_assisted_sign_up(*, session: Session, actor: Person, team_id: int, name: str, postcode: str,
                           phone: str | None, now: dt.datetime | None = None) -> AssistedSignUp:
    """The check page's content: the cleaned details and the code's expiry, or a DomainError
    beside the field (name, postcode outside the team's place, phone). Forbidden unless the
    actor is a member or enabler of the team. Writes nothing."""
    team = session.get(Team, team_id)
    if team is None or session.exec(select(Membership.id).where(
            Membership.team_id == team_id, Membership.person_id == actor.id)).first() is None:
        raise Forbidden(_("Only this team's members and enabler can sign people up here."))
    clean_name = " ".join((name or "").split())
    if not clean_name:
        raise DomainError(_("Enter the resident's name"), field="name")
    if _UNSAFE_TEXT.search(clean_name):
        raise DomainError(_("Enter the name with letters, spaces and punctuation only"), field="name")
    if len(clean_name) > 100:
        raise DomainError(_("The name must be 100 characters or fewer"), field="name")
    normal = postcodes.normalise(postcode or "")
    if normal is None:
        raise InvalidPostcode(_("Enter a real postcode, like NG20 8AA"), field="postcode")
    place = place_for_postcode(session, postcode=normal)
    team_place = session.get(Place, team.place_id)
    if place is None or place.id != team.place_id:
        raise DomainError(_("%(postcode)s is not in %(place)s: this team can sign up its own residents only",
                            postcode=normal, place=team_place.name), field="postcode")
    phone = " ".join((phone or "").split()) or None
    if phone is not None and (len(phone) > 40 or not re.fullmatch(r"[0-9+() ]+", phone)):
        raise DomainError(_("Enter a phone number with digits only, like 01623 123456"), field="phone")
    now = now or utcnow()
    return AssistedSignUp(team, place, clean_name, normal, phone, now + dt.timedelta(days=VOTING_CODE_DAYS))


@dataclass(frozen=True)
class PrintedCode:
    """The resident made by an assisted sign-up and their voting code, to print once."""

    person: Person
    code: str  # "ABCDE-FGHJK"
    expires_at: dt.datetime


def assisted_sign_up(*, session: Session, actor: Person, team_id: int, name: str, postcode: str, phone: str | None,
                     secret: str, request_key: str, now: dt.datetime | None = None) -> PrintedCode:
    """A member or enabler of the team signs up a resident who has no email, at a Local Net.

    The postcode must be in the team's place (:func:`check_assisted_sign_up`). The resident has
    no password (they cannot sign in) and a placeholder address nobody can receive (mail to it
    is never queued); they get a one-time voting code for 90 days instead, returned here once to
    print (only its keyed hash is stored). ``request_key`` is the form's one-time key: the same
    form sent again is refused (DomainError), so a reload does not make a second account.
    Audited ("account.assisted", actor = the member of staff). Nothing written on a refusal."""
    now = now or utcnow()
    checked = check_assisted_sign_up(session=session, actor=actor, team_id=team_id, name=name, postcode=postcode,
                                     phone=phone, now=now)
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", request_key or ""):
        raise DomainError(_("This form has expired. Start again."))
    if session.exec(select(VotingCode.id).where(VotingCode.request_key == request_key)).first() is not None:
        raise DomainError(_("This form was already used: the resident is signed up and their voting code was "
                          "shown once. Start a new form only for someone else."))
    person = Person(name=checked.name, email=f"assisted-{secrets.token_hex(10)}@{NO_EMAIL_DOMAIN}",
                    postcode=checked.postcode, place_id=checked.place.id, phone=checked.phone, password_hash=None,
                    email_confirmed_at=None, created_at=now)
    session.add(person)
    session.flush()
    code = "".join(secrets.choice(VOTING_CODE_ALPHABET) for _ in range(VOTING_CODE_LENGTH))
    session.add(VotingCode(person_id=person.id, code_hash=voting_code_hash(secret=secret, code=code),
                           created_by_id=actor.id, created_at=now, expires_at=checked.expires_at,
                           request_key=request_key))
    session.add(AuditEvent(actor_id=actor.id, action="account.assisted", team_id=checked.team.id,
                           subject=f"person:{person.id} place:{checked.place.id} by team {checked.team.slug}"))
    try:
        session.flush()
    except IntegrityError:  # the same form twice at once: the unique request key keeps one
        raise DomainError(_("This form was already used: the resident is signed up. Start a new form only "
                          "for someone else.")) from None
    return PrintedCode(person, f"{code[:5]}-{code[5:]}", checked.expires_at)


def check_voting_code(*, session: Session, secret: str, code: str, now: dt.datetime | None = None
                      ) -> tuple[VotingCode, Person]:
    """The code's row and its resident if the code can still be used; VotingCodeInvalid
    ("unknown", "used" or "expired") beside the code field otherwise."""
    now = now or utcnow()
    normal = normalise_voting_code(code)
    row = None
    if len(normal) == VOTING_CODE_LENGTH and all(c in VOTING_CODE_ALPHABET for c in normal):
        row = session.exec(select(VotingCode).where(
            VotingCode.code_hash == voting_code_hash(secret=secret, code=normal))).first()
    if row is None:
        raise VotingCodeInvalid(_("This is not a voting code of ours. Check the 10 letters and numbers on your "
                                "slip (there is no O, I or L)."), reason="unknown")
    if row.used_at is not None:
        raise VotingCodeInvalid(_("This voting code has already been used. Each code votes once: ask the team "
                                "at your Local Net if you did not vote with it."), reason="used")
    if row.expires_at <= now:
        raise VotingCodeInvalid(ngettext("This voting code has expired: codes work for %(num)s day. Ask the team "
                                         "at your Local Net for a new one.",
                                         "This voting code has expired: codes work for %(num)s days. Ask the team "
                                         "at your Local Net for a new one.", VOTING_CODE_DAYS), reason="expired")
    person = session.get(Person, row.person_id)
    if person is None or not person.is_active:
        raise VotingCodeInvalid(_("This voting code no longer works."), reason="unknown")
    return row, person


def use_voting_code(*, session: Session, code_id: int, now: dt.datetime | None = None) -> None:
    """Spend the code, once: one conditional UPDATE (``used_at IS NULL`` and not expired), so of
    two uses at once only one can succeed; the other gets VotingCodeInvalid ("used"). Only the
    London day is stored (see ``VotingCode``). Call it in the ballot's own transaction."""
    now = now or utcnow()
    day = london_midnight(now.astimezone(LONDON).date())
    used = session.execute(
        update(VotingCode)
        .where(VotingCode.id == code_id, VotingCode.used_at.is_(None), VotingCode.expires_at > now)
        .values(used_at=day)
    ).rowcount
    if used != 1:
        raise VotingCodeInvalid(_("This voting code has already been used. Each code votes once."), reason="used")


POSTCODE_CHANGED = "account.postcode_changed"
POSTCODE_CHANGE_GAP = dt.timedelta(days=30)  # a home postcode changes at most once a month


def change_postcode(session: Session, *, person: Person, postcode: str, now: dt.datetime | None = None) -> Place | None:
    """A resident who has moved (or mistyped) sets their home postcode; it decides their place,
    and so where they may propose, support and vote. Returns the new place (None: outside them all).

    At most once in 30 days, so nobody can hop between places to vote in each: one ballot per
    person per round holds anyway. Audited (places, not postcodes). Raises InvalidPostcode or
    DomainError; nothing is written then."""
    now = now or utcnow()
    normal = postcodes.normalise(postcode)
    if normal is None:
        raise InvalidPostcode(_("Enter a real postcode, like NG20 8AA"), field="postcode")
    person = session.execute(select(Person).where(Person.id == person.id).with_for_update()).scalar_one()
    if normal == person.postcode:
        raise DomainError(_("%(postcode)s is already your home postcode.", postcode=normal), field="postcode")
    last = session.execute(
        select(func.max(AuditEvent.created_at)).where(
            AuditEvent.action == POSTCODE_CHANGED, AuditEvent.actor_id == person.id
        )
    ).scalar_one()
    if last is not None and now - last < POSTCODE_CHANGE_GAP:
        again = (last + POSTCODE_CHANGE_GAP).astimezone(LONDON).date()
        raise DomainError(_("You changed your postcode less than 30 days ago. You can change it again from "
                            "%(date)s.", date=long_date(again)), field="postcode")
    place = place_for_postcode(session, postcode=normal)
    was = person.place_id
    person.postcode, person.place_id = normal, place.id if place else None
    audit(session, actor_id=person.id, action=POSTCODE_CHANGED,
          subject=f"person:{person.id} place:{was or 'none'} → place:{place.id if place else 'none'}")
    session.flush()
    return place


def set_language(*, session: Session, person: Person, language: str) -> None:
    """Save the language of this person's pages and emails ("en", "pl" or "ro")."""
    if language not in LANGUAGES:
        raise DomainError(_("Choose a language"), field="language")
    person.language = language
    session.add(person)
    session.flush()


def authenticate(session: Session, *, email: str, password: str) -> Person:
    """The person with this email and password; InvalidCredentials otherwise (same message)."""
    person = session.exec(select(Person).where(Person.email == normalise_email(email))).first()
    ok = passwords.verify_password(person.password_hash if person else None, password)
    if not ok or person is None or not person.is_active:
        raise InvalidCredentials(_("Enter a correct email address and password"), field="email")
    if passwords.needs_rehash(person.password_hash):
        person.password_hash = passwords.hash_password(password)
        session.add(person)
    return person


def is_staff(session: Session, *, person: Person) -> bool:
    """Staff are admins, finance, and members or enablers of a team."""
    if person.is_admin or person.is_finance:
        return True
    return session.exec(select(Membership.id).where(Membership.person_id == person.id)).first() is not None


def needs_second_factor(session: Session, *, person: Person) -> bool:
    """Staff must use TOTP; residents who enrolled use it too."""
    return bool(person.totp_secret) or is_staff(session, person=person)


def start_session(session: Session, *, person: Person, second_factor: bool) -> str:
    """Record a new signed-in session and return its token (the cookie keeps only that)."""
    token = secrets.token_urlsafe(32)
    session.add(AuthSession(token_hash=token_hash(token), person_id=person.id, second_factor=second_factor))
    audit(session, actor_id=person.id, action="session.start", subject=person.email)
    session.flush()
    return token


def end_session(session: Session, *, token: str) -> None:
    """Revoke one signed-in session: its cookie stops working everywhere."""
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == token_hash(token))).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def end_all_sessions(session: Session, *, person_id: int, except_token: str | None = None) -> None:
    """Revoke every session of a person (password change, disabling an account)."""
    keep = token_hash(except_token) if except_token else None
    for row in session.exec(
        select(AuthSession).where(AuthSession.person_id == person_id, AuthSession.revoked_at.is_(None))
    ):
        if row.token_hash != keep:
            row.revoked_at = utcnow()
            session.add(row)


def change_password(session: Session, *, person: Person, current: str, new: str, token: str) -> None:
    """Change the password after checking the current one; ends the person's other sessions."""
    if not passwords.verify_password(person.password_hash, current):
        raise InvalidCredentials(_("Your current password is not correct"), field="current_password")
    problem = passwords.policy_problem(new)
    if problem:
        raise DomainError(problem, field="new_password")
    person.password_hash = passwords.hash_password(new)
    session.add(person)
    end_all_sessions(session, person_id=person.id, except_token=token)


# ---- password reset (issue 14) -----------------------------------------------------------

RESET_MINUTES = 30
RESET_LINKS_PER_WINDOW = 3  # links made for one person within RESET_MINUTES; more send nothing
_RESET_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def request_password_reset(*, session: Session, email: str, link: Callable[[str], str],
                           now: dt.datetime | None = None) -> None:
    """Email a single-use reset link (valid ``RESET_MINUTES``) to the account with this email.

    Says nothing either way: the token is made and hashed whether or not the account exists (the
    same work), and nothing is raised or returned. Only the SHA-256 of the token is stored. At
    most ``RESET_LINKS_PER_WINDOW`` links per person in ``RESET_MINUTES``: further requests send
    nothing (an inbox cannot be flooded). ``link(token)`` builds the URL."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    person = session.exec(select(Person).where(Person.email == normalise_email(email))).first()
    if person is None or not person.is_active:
        return
    recent = session.exec(select(func.count()).select_from(PasswordReset).where(
        PasswordReset.person_id == person.id,
        PasswordReset.created_at > now - dt.timedelta(minutes=RESET_MINUTES))).one()
    if recent >= RESET_LINKS_PER_WINDOW:
        audit(session, actor_id=person.id, action="password.reset_throttled", subject=person.email)
        return
    session.add(PasswordReset(person_id=person.id, token_hash=digest, created_at=now,
                              expires_at=now + dt.timedelta(minutes=RESET_MINUTES)))
    audit(session, actor_id=person.id, action="password.reset_request", subject=person.email)
    until = (now + dt.timedelta(minutes=RESET_MINUTES)).astimezone(LONDON)
    with force_locale(person.language):
        mail.send(to=person.email, subject=_("Reset your Thriving Communities password"), session=session,
                  body=_("Hello %(name)s,\n\nSomeone (we hope you) asked to reset the password of "
                         "your Thriving Communities account. Choose a new password here:\n\n%(link)s\n\n"
                         "The link works once, until %(time)s (UK time) on %(date)s.\n\n"
                         "If you did not ask, ignore this email: your password stays as it is.\n",
                         name=person.first_name, link=link(token), time=f"{until:%H:%M}", date=long_date(until)))
    session.flush()


def check_password_reset(*, session: Session, token: str, now: dt.datetime | None = None) -> PasswordReset:
    """The reset link's row if it can still be used; ResetLinkInvalid saying why otherwise
    (not a link of ours, used, or expired)."""
    now = now or utcnow()
    row = None
    if _RESET_TOKEN.fullmatch(token or ""):
        row = session.exec(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))).first()
    if row is None:
        raise ResetLinkInvalid(_("This link is not a password reset link of ours. Check you copied the "
                               "whole link from the email, or ask for a new one."), reason="unknown")
    if row.used_at is not None:
        raise ResetLinkInvalid(_("This link has already been used. Each link works once: if you need to, "
                               "ask for a new one."), reason="used")
    if row.expires_at <= now:
        raise ResetLinkInvalid(_("This link has expired: links work for %(minutes)s minutes. "
                                 "Ask for a new one.", minutes=RESET_MINUTES), reason="expired")
    return row


def reset_password(*, session: Session, token: str, password: str, now: dt.datetime | None = None) -> Person:
    """Set a new password through an emailed link, once.

    The link is checked (ResetLinkInvalid), the password meets the sign-up rules (DomainError
    beside ``password``), then the link is used by one conditional UPDATE (``WHERE used_at IS
    NULL``): of two concurrent uses only one succeeds, the other gets ResetLinkInvalid. Every
    other unused link of the person stops working, every session of the person is revoked, it is
    audited ("password.reset") and the person is emailed. The second factor is untouched: staff
    still need it at their next sign-in (this signs nobody in)."""
    now = now or utcnow()
    row = check_password_reset(session=session, token=token, now=now)
    problem = passwords.policy_problem(password or "")
    if problem:
        raise DomainError(problem, field="password")
    new_hash = passwords.hash_password(password)
    used = session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == row.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(used_at=now)
    ).rowcount
    if used != 1:
        raise ResetLinkInvalid(_("This link has already been used. Each link works once: if you need to, "
                               "ask for a new one."), reason="used")
    session.execute(update(PasswordReset).where(PasswordReset.person_id == row.person_id,
                                                PasswordReset.used_at.is_(None)).values(used_at=now))
    person = session.get(Person, row.person_id)
    person.password_hash = new_hash
    session.add(person)
    # The reset link reached this mailbox: that confirms the address (issue 14, finding 8: an
    # account someone else made with your address becomes yours, with your password).
    _mark_confirmed(session, person, now)
    end_all_sessions(session, person_id=person.id)
    audit(session, actor_id=person.id, action="password.reset", subject=person.email)
    when = now.astimezone(LONDON)
    with force_locale(person.language):
        mail.send(to=person.email, subject=_("Your password was changed"), session=session,
                  body=_("Hello %(name)s,\n\nThe password of your Thriving Communities account was "
                         "changed with a reset link on %(date)s at %(time)s (UK time). You have "
                         "been signed out everywhere.\n\nIf this was not you, reset your password again at once "
                         "and contact your Connected Team or administrator.\n",
                         name=person.first_name, date=long_date(when), time=f"{when:%H:%M}"))
    session.flush()
    return person


# ---- two-factor (TOTP) ------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(*, email: str, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def _accept_code(person: Person, secret: str, code: str) -> int:
    """The time-step the code matches (±1 step of drift), or raise InvalidCode."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"[0-9]{6}", code):
        raise InvalidCode(_("Enter the 6-digit code from your authenticator app"), field="code")
    totp = pyotp.TOTP(secret)
    now = utcnow()
    step_now = totp.timecode(now)
    for drift in (0, -1, 1):
        step = step_now + drift
        if secrets.compare_digest(totp.generate_otp(step), code):
            if step <= person.totp_last_step:
                raise InvalidCode(_("That code has been used. Wait for a new one"), field="code")
            return step
    raise InvalidCode(_("The code is not correct. Check your app and try again"), field="code")


def verify_totp(session: Session, *, person: Person, code: str) -> None:
    """Accept a TOTP code once: a code, once used, never works again."""
    if not person.totp_secret:
        raise InvalidCode(_("Set up two-factor authentication first"), field="code")
    person.totp_last_step = _accept_code(person, person.totp_secret, code)
    session.add(person)


def confirm_totp_enrolment(session: Session, *, person: Person, secret: str, code: str) -> None:
    """Save the new secret once the person has typed a correct code from it.

    Only for someone with no second factor yet: enrolment never replaces an existing secret
    (Forbidden), so a password alone cannot swap in an attacker's authenticator."""
    if person.totp_secret:
        raise Forbidden(_("You already have two-factor authentication set up."), field="code")
    if not re.fullmatch(r"[A-Z2-7]{32}", secret or ""):
        raise InvalidCode(_("Start the set-up again"), field="code")
    person.totp_last_step = _accept_code(person, secret, code)
    person.totp_secret = secret
    session.add(person)
    audit(session, actor_id=person.id, action="totp.enrol", subject=person.email)


def demo_code(session: Session, *, email: str) -> str:
    """The current TOTP code of a demo account (refused for every other account)."""
    person = session.exec(select(Person).where(Person.email == normalise_email(email))).first()
    if person is None or not person.is_demo:
        raise Forbidden(_("Only demo accounts have codes printed; this is not one."))
    if not person.totp_secret:
        raise Forbidden(_("This demo account has no second factor."))
    return pyotp.TOTP(person.totp_secret).now()


# ---- admins, invitations and roles ------------------------------------------------------


def create_admin(session: Session, *, email: str, name: str, password: str) -> Person:
    """Create an admin account (from the CLI). They enrol TOTP at first sign-in."""
    problem = passwords.policy_problem(password)
    if problem:
        raise DomainError(problem, field="password")
    existing = session.exec(select(Person).where(Person.email == normalise_email(email))).first()
    if existing is not None:
        raise EmailTaken(_("An account with this email already exists."), field="email")
    person = Person(email=normalise_email(email), name=name.strip(), is_admin=True,
                    password_hash=passwords.hash_password(password))
    session.add(person)
    session.flush()
    audit(session, actor_id=None, action="admin.create", subject=person.email)
    return person


def invite_staff(
    session: Session, *, actor_id: int, email: str, role: str, team_id: int | None
) -> str:
    """Invite someone to be staff; returns the one-time token to send them (stored hashed)."""
    if role not in STAFF_ROLES:
        raise DomainError(_("Choose a role"), field="role")
    if role in (TeamRole.MEMBER.value, TeamRole.ENABLER.value) and (
        team_id is None or session.get(Team, team_id) is None
    ):
        raise DomainError(_("Choose the team"), field="team_id")
    token = secrets.token_urlsafe(32)
    session.add(Invitation(
        email=normalise_email(email), token_hash=token_hash(token),
        team_id=team_id if role in ("member", "enabler") else None, role=role,
        invited_by_id=actor_id, expires_at=utcnow() + dt.timedelta(days=INVITATION_DAYS),
    ))
    audit(session, actor_id=actor_id, action="invite", subject=f"{normalise_email(email)} as {role}")
    session.flush()
    return token


def describe_role(*, session: Session, role: str, team_id: int | None) -> str:
    """The role in words, with its team, in the active language: "a member of Shirebrook
    Connected Team", "the enabler of …", "finance staff", "an admin" (invitations and the
    remove-role confirmation)."""
    team = session.get(Team, team_id) if team_id is not None else None
    if role == TeamRole.MEMBER.value:
        return _("a member of %(team)s", team=team.name) if team else _("a team member")
    if role == TeamRole.ENABLER.value:
        return _("the enabler of %(team)s", team=team.name) if team else _("a team enabler")
    if role == "finance":
        return _("finance staff")
    return _("an admin") if role == "admin" else role


def send_invitation(*, session: Session, actor: Person, email: str, role: str, team_id: int | None,
                    link: Callable[[str], str], email_language: str | None = None) -> str:
    """Invite someone (``invite_staff``) and queue the email naming the role and its team;
    ``link(token)`` builds the address of the accept page. The email is in the recipient's
    language: their account's if they have one, else ``email_language`` (the invite form's
    choice), else the page's. Returns the role in words, in the page's language (for the admin)."""
    token = invite_staff(session, actor_id=actor.id, email=email, role=role, team_id=team_id)
    team_id = team_id if role in ("member", "enabler") else None
    team = session.get(Team, team_id) if team_id is not None else None
    existing = session.exec(select(Person.language).where(Person.email == normalise_email(email))).first()
    with force_locale(existing or (email_language if email_language in LANGUAGES else None) or language()):
        what = describe_role(session=session, role=role, team_id=team_id)
        mail.send(to=normalise_email(email), session=session,
                  subject=_("You are invited to join %(team)s", team=team.name) if team
                  else _("You are invited to Thriving Communities"),
                  body=ngettext("%(name)s has invited you to join Thriving Communities as %(what)s.\n\n"
                                "Accept within %(num)s day: %(link)s\n",
                                "%(name)s has invited you to join Thriving Communities as %(what)s.\n\n"
                                "Accept within %(num)s days: %(link)s\n",
                                INVITATION_DAYS, name=actor.name, what=what, link=link(token)))
    return describe_role(session=session, role=role, team_id=team_id)


def get_invitation(session: Session, *, token: str) -> Invitation:
    """An unused, unexpired invitation, or InvitationInvalid."""
    inv = session.exec(select(Invitation).where(Invitation.token_hash == token_hash(token))).first()
    if inv is None or inv.accepted_at is not None or inv.expires_at < utcnow():
        raise InvitationInvalid(_("This invitation link has expired or has been used. Ask for a new one."))
    return inv


def accept_invitation(session: Session, *, token: str, name: str, password: str) -> Person:
    """Create (or upgrade) the invited person's account and give them the role. Single use."""
    inv = get_invitation(session, token=token)
    problem = passwords.policy_problem(password)
    person = session.exec(select(Person).where(Person.email == inv.email)).first()
    if person is None:
        if problem:
            raise DomainError(problem, field="password")
        person = Person(email=inv.email, name=name.strip(), password_hash=passwords.hash_password(password),
                        language=language())  # the language of the page they accepted on, as at sign-up
        session.add(person)
        session.flush()
    elif not passwords.verify_password(person.password_hash, password):
        raise InvalidCredentials(_("You already have an account: enter its password"), field="password")
    inv.accepted_at = utcnow()
    session.add(inv)
    _grant(session, person=person, role=inv.role, team_id=inv.team_id)
    audit(session, actor_id=person.id, action="invite.accept", subject=f"{person.email} as {inv.role}")
    return person


def _grant(session: Session, *, person: Person, role: str, team_id: int | None) -> None:
    if role == "finance":
        person.is_finance = True
    elif role == "admin":
        person.is_admin = True
    else:
        if team_id is None or session.get(Team, team_id) is None:
            raise DomainError(_("Choose the team"), field="team_id")
        membership = session.exec(
            select(Membership).where(Membership.team_id == team_id, Membership.person_id == person.id)
        ).first()
        if membership is None:
            session.add(Membership(team_id=team_id, person_id=person.id, role=role))
        else:
            membership.role = role
            session.add(membership)
    session.add(person)
    session.flush()


def grant_role(session: Session, *, actor_id: int, person_id: int, role: str, team_id: int | None) -> None:
    """Give a person a role: member or enabler of a team, finance, or admin."""
    if role not in STAFF_ROLES:
        raise DomainError(_("Choose a role"), field="role")
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(_("There is no such person."))
    _grant(session, person=person, role=role, team_id=team_id)
    audit(session, actor_id=actor_id, action="role.grant", subject=f"{person.email}: {role} {team_id or ''}")


@dataclass(frozen=True)
class RoleRemoval:
    """A role about to be removed, for the page that asks the admin to confirm it."""

    person: Person
    role: str
    team: Team | None

    @property
    def question(self) -> str:
        if self.team:
            return _("Remove %(name)s’s %(role)s role in %(team)s?", name=self.person.name, role=self.role,
                     team=self.team.name)
        return _("Remove %(name)s’s %(role)s role?", name=self.person.name, role=self.role)

    @property
    def removed(self) -> str:
        """What the admin is told once it is removed."""
        if self.team:
            return _("Removed: %(name)s’s %(role)s role in %(team)s.", name=self.person.name, role=self.role,
                     team=self.team.name)
        return _("Removed: %(name)s’s %(role)s role.", name=self.person.name, role=self.role)


def role_removal(*, session: Session, actor_id: int, person_id: int, role: str, team_id: int | None) -> RoleRemoval:
    """Whose role (in which team) ``revoke_role`` would remove, refused as it would be:
    NotFound when the person does not have it, Forbidden for the admin's own admin role."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(_("There is no such person."))
    if role == "admin" and person_id == actor_id:
        raise Forbidden(_("You cannot remove your own admin role."))
    held = {"admin": person.is_admin, "finance": person.is_finance}.get(role)
    team = None
    if held is None and role in ("member", "enabler") and team_id is not None:
        team = session.get(Team, team_id)
        held = session.exec(select(Membership.id).where(
            Membership.team_id == team_id, Membership.person_id == person_id, Membership.role == role)).first() is not None
    if not held:
        raise NotFound(_("%(name)s does not have that role.", name=person.name))
    return RoleRemoval(person, role, team)


def revoke_role(session: Session, *, actor_id: int, person_id: int, role: str, team_id: int | None) -> None:
    """Take a role away. An admin cannot remove their own admin role (someone must remain)."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(_("There is no such person."))
    if role == "admin":
        if person_id == actor_id:
            raise Forbidden(_("You cannot remove your own admin role."))
        person.is_admin = False
    elif role == "finance":
        person.is_finance = False
    else:
        membership = session.exec(
            select(Membership).where(Membership.team_id == team_id, Membership.person_id == person_id)
        ).first()
        if membership is None:
            raise NotFound(_("They are not in that team."))
        session.delete(membership)
    session.add(person)
    audit(session, actor_id=actor_id, action="role.revoke", subject=f"{person.email}: {role} {team_id or ''}")
    session.flush()


PEOPLE_PER_PAGE = 50


@dataclass(frozen=True)
class PeoplePage:
    """One page of the admin's people list: rows of (person, [(team, role)]), and the paging."""

    rows: list[tuple[Person, list[tuple[Team, str]]]]
    query: str
    page: int
    pages: int
    total: int


def search_people(*, session: Session, query: str = "", page: int = 1, per_page: int | None = None) -> PeoplePage:
    """People whose name or email contains ``query`` (any case; ``%`` and ``_`` are plain
    characters), by name, one page at a time; everyone when the query is empty. A page past the
    last is the last page."""
    per_page = per_page or PEOPLE_PER_PAGE
    query = " ".join((query or "").split())[:100]
    matching = select(Person)
    if query:
        wanted = query.lower()
        matching = matching.where(func.lower(Person.name).contains(wanted, autoescape=True)
                                  | func.lower(Person.email).contains(wanted, autoescape=True))
    total = session.exec(select(func.count()).select_from(matching.subquery())).one()
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    people = session.exec(matching.order_by(Person.name, Person.id).offset((page - 1) * per_page).limit(per_page)).all()
    roles: dict[int, list[tuple[Team, str]]] = {}
    if people:
        for m, t in session.exec(select(Membership, Team).join(Team, Team.id == Membership.team_id)
                                 .where(Membership.person_id.in_([p.id for p in people]))):
            roles.setdefault(m.person_id, []).append((t, m.role))
    return PeoplePage([(p, roles.get(p.id, [])) for p in people], query, page, pages, total)


def count_people(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Person)).one()


# ---- re-confirming identity, replacing a second factor, recovery codes (issue 14) ---------

RECOVERY_CODES = 10
RECOVERY_FEW = 3  # at or below this many left, the person is told to make new ones
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper


def reconfirm_identity(*, session: Session, person: Person, auth_session: AuthSession, password: str,
                       code: str) -> None:
    """Password and a new TOTP code again, from someone signed in: the session counts as just
    re-confirmed from now (``reauthenticated_at``). Audited. Quick spend's large approvals and
    replacing a second factor both rest on this."""
    if not passwords.verify_password(person.password_hash, password or ""):
        raise InvalidCredentials(_("Your password is not correct."), field="password")
    verify_totp(session, person=person, code=code)
    row = session.get(AuthSession, auth_session.id)
    row.reauthenticated_at = utcnow()
    session.add(row)
    audit(session, actor_id=person.id, action="session.reauthenticate", subject=person.email)
    session.flush()


def _recovery_hash(code: str) -> str:
    return token_hash(re.sub(r"[\s-]", "", code or "").lower())


def looks_like_recovery_code(code: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9]{16}", re.sub(r"[\s-]", "", code or "").lower()))


def new_recovery_codes(*, session: Session, person: Person) -> list[str]:
    """Ten new one-time recovery codes (any older ones stop working). Returned once, to show;
    only their digests are stored."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    codes = []
    for _n in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
        session.add(RecoveryCode(person_id=person.id, code_hash=_recovery_hash(raw)))
    audit(session, actor_id=person.id, action="recovery_codes.new", subject=person.email)
    session.flush()
    return codes


def recovery_codes_left(*, session: Session, person_id: int) -> int:
    return session.exec(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.person_id == person_id, RecoveryCode.used_at.is_(None))).one()


def use_recovery_code(*, session: Session, person: Person, code: str) -> int:
    """Accept one of the person's unused recovery codes instead of a TOTP code, once (a single
    conditional UPDATE: two browsers using the same code get one success). Audited. Returns how
    many are left; InvalidCode otherwise."""
    used = session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.person_id == person.id, RecoveryCode.code_hash == _recovery_hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if used != 1:
        raise InvalidCode(_("That recovery code is not correct or has been used"), field="code")
    left = recovery_codes_left(session=session, person_id=person.id)
    audit(session, actor_id=person.id, action="recovery_code.use", subject=f"{person.email}: {left} left")
    session.flush()
    return left


def pass_second_factor(*, session: Session, person: Person, code: str) -> int | None:
    """The code step: a TOTP code (returns None) or a recovery code (returns how many are left)."""
    if looks_like_recovery_code(code):
        return use_recovery_code(session=session, person=person, code=code)
    verify_totp(session, person=person, code=code)
    return None


def enrol_second_factor(*, session: Session, person: Person, secret: str, code: str) -> list[str]:
    """First enrolment (no secret yet): save the secret and make ten recovery codes for staff and
    anyone else who enrols. Returns the codes, to show once."""
    confirm_totp_enrolment(session, person=person, secret=secret, code=code)
    return new_recovery_codes(session=session, person=person)


def replace_second_factor(*, session: Session, person: Person, auth_session: AuthSession, secret: str,
                          code: str, replace_minutes: int) -> list[str]:
    """Replace the person's TOTP secret with a new one they have typed a code from; only within
    ``replace_minutes`` of :func:`reconfirm_identity` on this session (Forbidden otherwise).
    Audited ("totp.replace"), emailed to the person, and new recovery codes replace the old."""
    row = session.get(AuthSession, auth_session.id)
    when = row.reauthenticated_at if row is not None and row.second_factor else None
    if not person.totp_secret or when is None or not (
            dt.timedelta(0) <= utcnow() - when <= dt.timedelta(minutes=replace_minutes)):
        raise Forbidden(_("Confirm your password and current code first."), field="code")
    old_secret, old_step = person.totp_secret, person.totp_last_step
    person.totp_secret, person.totp_last_step = None, 0  # the old secret's steps say nothing of the new one
    try:
        confirm_totp_enrolment(session, person=person, secret=secret, code=code)
    except DomainError:
        person.totp_secret, person.totp_last_step = old_secret, old_step
        raise
    audit(session, actor_id=person.id, action="totp.replace", subject=person.email)
    row.reauthenticated_at = None  # one replacement per re-confirmation
    session.add(row)
    when = utcnow().astimezone(LONDON)
    with force_locale(person.language):
        mail.send(to=person.email, subject=_("Your authenticator app was changed"), session=session,
                  body=_("Hello %(name)s,\n\nThe authenticator app for your Thriving Communities account was "
                         "replaced on %(date)s at %(time)s (UK time), and new recovery codes were made; the old "
                         "ones no longer work.\n\nIf this was not you, contact your administrator at once: "
                         "someone knows your password and had your phone.\n",
                         name=person.first_name, date=long_date(when), time=f"{when:%H:%M}"))
    return new_recovery_codes(session=session, person=person)


def reset_second_factor(*, session: Session, actor_id: int, person_id: int) -> Person:
    """An admin resets someone else's second factor (lost phone and recovery codes): the TOTP
    secret and every recovery code go, every session of the person ends, and at their next
    sign-in they set up a new authenticator app. Audited ("totp.admin_reset") and emailed to the
    person. An admin cannot reset their own (that is the replace flow, which needs the current
    code), and a person with no second factor has nothing to reset."""
    actor = session.get(Person, actor_id)
    person = session.get(Person, person_id)
    if actor is None or not actor.is_admin:
        raise Forbidden(_("Only an administrator can reset a second factor."))
    if person is None:
        raise NotFound(_("There is no such person."))
    if person.id == actor.id:
        raise Forbidden(_("You cannot reset your own second factor: replace it from your account page."))
    if not person.totp_secret:
        raise DomainError(_("%(name)s has no second factor to reset.", name=person.name))
    person.totp_secret, person.totp_last_step = None, 0
    session.add(person)
    session.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person.id))
    end_all_sessions(session, person_id=person.id)
    audit(session, actor_id=actor.id, action="totp.admin_reset", subject=person.email)
    when = utcnow().astimezone(LONDON)
    with force_locale(person.language):
        mail.send(to=person.email, subject=_("Your second factor was reset"), session=session,
                  body=_("Hello %(name)s,\n\n%(admin)s, an administrator, reset the second factor (authenticator "
                         "app and recovery codes) of your Thriving Communities account on %(date)s at %(time)s "
                         "(UK time). You have been signed out everywhere; when you next sign in you will set up "
                         "a new authenticator app.\n\nIf you did not ask for this, contact your administrator "
                         "at once.\n", name=person.first_name, admin=actor.name, date=long_date(when),
                         time=f"{when:%H:%M}"))
    session.flush()
    return person
