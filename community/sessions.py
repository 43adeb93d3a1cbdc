"""The signed session cookie, re-signed at most once a minute instead of on every request.

The cookie is the idle timeout: it expires ``PERMANENT_SESSION_LIFETIME`` (an hour) after it was
last signed, and a cookie signed longer ago than that is refused even if a browser keeps sending
it (itsdangerous checks the signed time). Flask re-signs it on every request to slide that hour
along, which costs each signed-in page a JSON dump, a compression and an HMAC, and sends a
``Set-Cookie`` with every response. Here an unchanged session is re-signed only once its
signature is ``REFRESH_AFTER`` seconds old, so the idle timeout is between 59 and 60 minutes
of no requests, and a session that changed (sign-in, a CSRF token, a flash) is always saved.
"""

import datetime as dt

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

REFRESH_AFTER = dt.timedelta(seconds=60)


class SignedSession(SecureCookieSession):
    """A session that knows when its cookie was signed (None: no cookie yet)."""

    signed_at: dt.datetime | None = None


class SlidingSessionInterface(SecureCookieSessionInterface):
    session_class = SignedSession

    def open_session(self, app: Flask, request: Request) -> SignedSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data, signed_at = serializer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()),
                                               return_timestamp=True)
        except BadSignature:  # forged, or older than the idle timeout (SignatureExpired)
            return self.session_class()
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app: Flask, session: SecureCookieSession) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or dt.datetime.now(dt.UTC) - signed_at >= REFRESH_AFTER


def init_app(app: Flask) -> None:
    app.session_interface = SlidingSessionInterface()
