"""Sign-in as an explicit state machine, and the one ``safe_next`` of the app.

States (security.md B1, issue 14)::

    ANONYMOUS ──password ok, has a TOTP secret──────────→ PENDING_CODE ──code or recovery code──→ SIGNED_IN
        │      ──password ok, staff without a secret──→ ENROLLING ────code from the new secret─→ SIGNED_IN
        └───── ──password ok, resident without one───────────────────────────────────────────→ SIGNED_IN
    SIGNED_IN (second factor) ──password + current code again──→ REPLACING (REPLACE_MINUTES) ──new secret──→ SIGNED_IN

The pending states (PENDING_CODE, ENROLLING) live only in the signed cookie, under the keys this
module owns; they last ``PENDING_SECONDS`` and are cleared when a sign-in completes or starts
again, and when the person's password changes (a reset: ``pending_person`` compares a
fingerprint of the password hash). Everywhere except the sign-in step pages a pending state is anonymous: Flask-Login knows
nothing of it. REPLACING is a signed-in session whose ``reauthenticated_at`` (written by
``services.reconfirm_identity``) is within ``REPLACE_MINUTES``.
"""

import datetime as dt
import enum
import hashlib
import re
import time
from urllib.parse import urlsplit

from flask import session as cookie
from flask_login import current_user

from community.db import get_session, utcnow
from community.models import Person

PENDING_SECONDS = 600
REPLACE_MINUTES = 5

_PERSON, _AT, _NEXT, _SECRET = "pending_person_id", "pending_at", "pending_next", "enrol_secret"
_STEP = "pending_step"
_PW_MARK = "pending_pw_mark"  # which password the pending sign-in passed (a fingerprint)


class State(enum.Enum):
    ANONYMOUS = "anonymous"
    PENDING_CODE = "pending code"  # password ok; the person has a TOTP secret
    ENROLLING = "enrolling"  # password ok; no second factor yet (first sign-in of staff)
    SIGNED_IN = "signed in"
    REPLACING = "replacing"  # signed in with second factor, password + code just confirmed again


# ---- next= ------------------------------------------------------------------------------

_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))


def safe_next(value: str | None, default: str) -> str:
    """``value`` if it is a path on this site, else ``default``.

    Normalised the way browsers read a URL (WHATWG URL parser): leading and trailing C0 controls
    and spaces stripped, tab/CR/LF removed anywhere, backslashes read as slashes; then
    ``urlsplit``: only a value with no scheme and no host whose path starts with one "/" is kept.
    Percent-encoded characters stay encoded: ``/%2F%2Fevil`` is a path on this site."""
    if not value:
        return default
    normal = re.sub(r"[\t\r\n]", "", value.strip(_C0_AND_SPACE)).replace("\\", "/")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in normal):
        return default  # other control characters have no place in a path of ours
    try:
        parts = urlsplit(normal)
    except ValueError:
        return default
    if normal.startswith("//") or parts.scheme or parts.netloc or not parts.path.startswith("/") \
            or parts.path.startswith("//"):
        return default
    return normal


# ---- the state ---------------------------------------------------------------------------


def _expired() -> bool:
    return time.time() - cookie.get(_AT, 0) > PENDING_SECONDS


def clear() -> None:
    """Forget any half-finished sign-in (the signed-in session, if any, is not touched)."""
    for key in (_PERSON, _AT, _NEXT, _SECRET, _STEP, _PW_MARK):
        cookie.pop(key, None)


def pending_person(step: State) -> Person | None:
    """The person whose sign-in waits at ``step`` (PENDING_CODE or ENROLLING), if it has not
    expired; an expired pending sign-in is forgotten."""
    person_id = cookie.get(_PERSON)
    if not person_id:
        return None
    if _expired():
        clear()
        return None
    if cookie.get(_STEP) != step.value:
        return None
    person = get_session().get(Person, person_id)
    if person is None or cookie.get(_PW_MARK) != _fingerprint(person):
        clear()  # the password changed (a reset) since this sign-in passed it: start again
        return None
    return person


def _fingerprint(person: Person) -> str:
    """A short digest of the stored password hash: a pending sign-in dies with its password."""
    return hashlib.sha256((person.password_hash or "").encode()).hexdigest()[:16]


def state() -> State:
    """Where this browser is in the sign-in."""
    if current_user.is_authenticated:
        return State.REPLACING if may_replace() else State.SIGNED_IN
    for step in (State.PENDING_CODE, State.ENROLLING):
        if pending_person(step) is not None:
            return step
    return State.ANONYMOUS


def begin(person: Person, *, next_url: str | None = None) -> State:
    """Password accepted and a second step is needed: start a pending sign-in (anything from
    before is forgotten). Returns PENDING_CODE or ENROLLING."""
    step = State.PENDING_CODE if person.totp_secret else State.ENROLLING
    cookie.clear()
    cookie[_PERSON] = person.id
    cookie[_AT] = int(time.time())
    cookie[_STEP] = step.value
    cookie[_PW_MARK] = _fingerprint(person)
    if next_url:
        cookie[_NEXT] = safe_next(next_url, "")
    return step


def next_url(default: str) -> str:
    """Where the pending sign-in was going (checked again: the cookie is only signed)."""
    return safe_next(cookie.get(_NEXT), default)


def enrol_secret(make) -> str:
    """The secret being enrolled in this browser (made once by ``make()``)."""
    secret = cookie.get(_SECRET) or make()
    cookie[_SECRET] = secret
    return secret


def forget_enrol_secret() -> None:
    cookie.pop(_SECRET, None)


def may_replace(*, now: dt.datetime | None = None) -> bool:
    """Signed in with a second factor, and password + current code confirmed again within
    ``REPLACE_MINUTES``: only then may a new secret replace the old one."""
    if not current_user.is_authenticated or not current_user.has_second_factor:
        return False
    if not current_user.person.totp_secret:
        return False
    when = current_user.auth_session.reauthenticated_at
    now = now or utcnow()
    return when is not None and dt.timedelta(0) <= now - when <= dt.timedelta(minutes=REPLACE_MINUTES)


def enrolment_person() -> tuple[Person | None, State]:
    """Who may enrol a secret in this browser, and from which state: ENROLLING (pending, no
    secret), SIGNED_IN without a secret, or REPLACING. (None, state) for every other state."""
    if current_user.is_authenticated:
        if not current_user.person.totp_secret:
            return current_user.person, State.SIGNED_IN
        if may_replace():
            return current_user.person, State.REPLACING
        return None, State.SIGNED_IN
    person = pending_person(State.ENROLLING)
    if person is not None and not person.totp_secret:
        return person, State.ENROLLING
    return None, state()
