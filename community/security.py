"""CSRF everywhere, security headers, and error pages that never leak internals."""

from flask import Flask, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from community.errors import NotFound
from community.i18n import _, lazy_gettext

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    csrf.init_app(app)

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(self), geolocation=(), microphone=()"
        if request.endpoint != "static" and current_user and current_user.is_authenticated:
            # A signed-in page may show names, amounts and team detail: never keep it in a
            # shared or back-button cache (security.md G2, ASVS 14.3.2).
            response.headers["Cache-Control"] = "no-store"
        if app.config["ENV_NAME"] == "production":
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response

    @app.errorhandler(NotFound)
    def _not_found(error):
        # Every domain's NotFound is this one class: a service that cannot find (or may not reveal)
        # an object answers 404 here, so views need not catch it.
        return render_template("errors/error.html", code=404, title=_("Page not found"), message=error.message), 404

    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        return render_template("errors/error.html", code=400, title=_("Your form expired"),
                               message=_("Go back, reload the page and try again.")), 400

    for code, title, message in (
        (403, lazy_gettext("You cannot do that"), lazy_gettext("Your account does not have permission for this page.")),
        (404, lazy_gettext("Page not found"), lazy_gettext("If you typed the web address, check it is correct.")),
        (405, lazy_gettext("Page not found"), lazy_gettext("That page cannot be used this way.")),
        (413, lazy_gettext("File too large"), lazy_gettext("The file must be smaller than 10 MB.")),
        (429, lazy_gettext("Too many attempts"), lazy_gettext("Wait a few minutes and try again.")),
        (500, lazy_gettext("Sorry, there is a problem"), lazy_gettext("Try again later. Nothing you entered was saved.")),
    ):
        app.register_error_handler(
            code, lambda error, c=code, t=title, m=message: (
                render_template("errors/error.html", code=c, title=str(t), message=str(m)), c
            )
        )
