"""Sign-in sessions held on the server, the current user, and per-view permissions.

The browser's cookie holds a random token; the ``auth_session`` row behind it can be revoked,
so sign-out and password change really end a session (security.md B3). Every view declares
its permission with one of the decorators below; a test walks the URL map to make sure.
"""

import datetime as dt
import hashlib
from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import LoginManager, current_user
from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import select

from community.db import get_session, utcnow
from community.i18n import lazy_gettext
from community.models import AuthSession, Membership, Person, Team

login_manager = LoginManager()
login_manager.login_view = "community.sign_in"
login_manager.login_message = lazy_gettext("Sign in to continue.")  # flashed in the request's language
login_manager.login_message_category = "info"
login_manager.refresh_view = "community.sign_in"
login_manager.needs_refresh_message = lazy_gettext("Sign in again to confirm it is you.")
login_manager.localize_callback = str  # the flash stores the text, in the request's language
login_manager.session_protection = None  # the server-side session row is the protection


def token_hash(token: str) -> str:
    """What is stored for a session or invitation token: never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


class CurrentUser:
    """The signed-in person, their server-side session and their team roles."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, person: Person, auth_session: AuthSession, token: str, roles: dict[int, str]):
        self.person = person
        self.auth_session = auth_session
        self.token = token
        self.team_roles = roles  # team id → "member" | "enabler"

    @property
    def is_active(self) -> bool:
        return self.person.is_active

    def get_id(self) -> str:
        return self.token

    @property
    def id(self) -> int:
        return self.person.id

    @property
    def name(self) -> str:
        return self.person.name

    @property
    def is_staff(self) -> bool:
        return bool(self.person.is_admin or self.person.is_finance or self.team_roles)

    @property
    def has_second_factor(self) -> bool:
        return self.auth_session.second_factor

    def role_in(self, team_id: int) -> str | None:
        return self.team_roles.get(team_id)


def load_roles(session, person_id: int) -> dict[int, str]:
    """The person's role in each of their teams."""
    rows = session.exec(select(Membership).where(Membership.person_id == person_id)).all()
    return {m.team_id: m.role for m in rows}


_TEAM_BY_SLUG = select(Team).where(Team.slug == bindparam("slug"))  # built once: most pages start here


def team_or_404(session, slug: str) -> Team:
    """The team with this slug (the first part of every team's addresses), or 404."""
    team = session.execute(_TEAM_BY_SLUG, {"slug": slug}).scalar_one_or_none()
    if team is None:
        abort(404)
    return team


# One round trip per request: the session row, its person and their roles (a left join, one row
# per membership). Built once; SQLAlchemy caches its compiled form.
_USER_BY_TOKEN = (
    sa_select(AuthSession, Person, Membership.team_id, Membership.role)
    .join(Person, Person.id == AuthSession.person_id)
    .outerjoin(Membership, Membership.person_id == Person.id)
    .where(AuthSession.token_hash == bindparam("token_hash"))
)


@login_manager.user_loader
def _load_user(token: str) -> CurrentUser | None:
    rows = get_session().execute(_USER_BY_TOKEN, {"token_hash": token_hash(token)}).all()
    if not rows:
        return None
    auth, person = rows[0][0], rows[0][1]
    if auth.revoked_at is not None or not person.is_active:
        return None
    roles = {team_id: role for _a, _p, team_id, role in rows if team_id is not None}
    user = CurrentUser(person, auth, token, roles)
    hours = current_app.config[
        "STAFF_SESSION_HOURS" if user.is_staff else "RESIDENT_SESSION_HOURS"
    ]
    if utcnow() - auth.created_at > dt.timedelta(hours=hours):
        return None  # absolute lifetime reached
    return user


def init_app(app: Flask) -> None:
    login_manager.init_app(app)


# ---- per-view permissions -------------------------------------------------------------

PERMISSIONS = ("public", "signed_in", "staff", "team", "finance", "admin", "development")


def _declare(view: Callable, permission: str) -> None:
    view.permission = permission  # read by the URL-map test


def public(view: Callable) -> Callable:
    """Anyone, signed in or not."""
    _declare(view, "public")
    return view


def _require_signed_in():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    return None


def signed_in(view: Callable) -> Callable:
    """Any signed-in person (residents and staff)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        return _require_signed_in() or view(*args, **kwargs)

    _declare(wrapper, "signed_in")
    return wrapper


def _require_staff():
    refused = _require_signed_in()
    if refused:
        return refused
    if not current_user.is_staff:
        abort(403)
    if not current_user.has_second_factor:
        return redirect(url_for("community.two_factor_setup", next=request.path))
    return None


def staff(view: Callable) -> Callable:
    """Staff who signed in with their second factor."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        return _require_staff() or view(*args, **kwargs)

    _declare(wrapper, "staff")
    return wrapper


def team_staff(view: Callable) -> Callable:
    """Members and enablers of the team named by the ``slug`` URL argument (others: 404)."""

    @wraps(view)
    def wrapper(*args, slug: str, **kwargs):
        refused = _require_staff()
        if refused:
            return refused
        team = get_session().exec(select(Team).where(Team.slug == slug)).first()
        if team is None or current_user.role_in(team.id) is None:
            abort(404)
        return view(*args, team=team, **kwargs)

    _declare(wrapper, "team")
    return wrapper


def finance_only(view: Callable) -> Callable:
    """Finance staff (with second factor)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        refused = _require_staff()
        if refused:
            return refused
        if not current_user.person.is_finance:
            abort(403)
        return view(*args, **kwargs)

    _declare(wrapper, "finance")
    return wrapper


def admin_only(view: Callable) -> Callable:
    """Admins (with second factor)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        refused = _require_staff()
        if refused:
            return refused
        if not current_user.person.is_admin:
            abort(403)
        return view(*args, **kwargs)

    _declare(wrapper, "admin")
    return wrapper


def development_only(view: Callable) -> Callable:
    """Pages that exist only in development and testing (404 in production, for everyone), and
    there for admins with their second factor only: the mail queue holds ballot receipts and
    password-reset links (issue 14, finding 7)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_app.config["ENV_NAME"] not in {"development", "testing"}:
            abort(404)
        refused = _require_staff()
        if refused:
            return refused
        if not current_user.person.is_admin:
            abort(403)
        return view(*args, **kwargs)

    _declare(wrapper, "development")
    return wrapper
