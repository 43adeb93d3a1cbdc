"""Composition root: ``create_app()`` and the small ``register_*`` helpers. No app at import.

Run with ``flask --app wsgi …`` or ``gunicorn 'wsgi:create_app()'``.
"""

import importlib
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader

DEV_SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_LENGTH = 32


ENVIRONMENTS = ("production", "development", "testing")
EXIT_CONFIGURATION = 2  # a usage error, as click's


class ConfigurationError(RuntimeError):
    """The app refuses to start with this configuration; the message is one sentence naming the
    variable, shown as it is (no traceback) by the command line and by gunicorn.conf.py."""


class App(Flask):
    """Flask, whose web half (extensions, blueprints, templates) may be built on first use.

    Under the ``flask`` command line, :func:`create_app` configures the app and indexes the
    commands (:data:`COMMANDS`) but leaves the rest until a command runs, so ``flask --help``
    imports no view, model or extension (issue 18: start-up ≤ 0.5 s). It is built when one of
    our commands starts (:class:`LazyCommand`), in the app context of Flask's own ``shell`` and
    ``routes``, and before the first request of ``flask run``; a second thread waits for the
    first to finish. gunicorn and the tests build it at once.
    """

    _pending: Callable[[], None] | None = None
    _building = False

    def defer(self, build: Callable[[], None]) -> None:
        self._lock = threading.RLock()
        self._pending = build

    def build(self) -> None:
        """Finish a deferred set-up (once; nothing to do if it was built at once)."""
        if self._pending is None:
            return
        with self._lock:  # re-entrant: the build itself may push an app context
            if self._pending is None or self._building:
                return
            self._building = True
            try:
                self._pending()
                self._pending = None
            finally:
                self._building = False

    def app_context(self):
        # Flask's command line pushes an app context at its top level while it only lists or
        # looks up commands; that one does not build (the command, once found, does).
        ctx = click.get_current_context(silent=True)
        if ctx is None or ctx.parent is not None:
            self.build()
        return super().app_context()

    def request_context(self, environ):
        self.build()
        return super().request_context(environ)


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: defaults → instance/config.py → environment (THRIVING_*) → test_config."""
    app = App(__name__, instance_relative_config=True)
    # How another process makes this app (statements/cli.py's pool workers): a function pickles by
    # name, so the domains never import the composition root.
    app.extensions["app_factory"] = create_app
    try:
        configure(app, test_config)
    except ConfigurationError as error:
        if test_config is None:
            exit_from_command_line(error)
        raise
    register_cli(app)
    if test_config is None and os.environ.get("FLASK_RUN_FROM_CLI") == "true":
        app.defer(lambda: register_web(app, test_config))
    else:
        register_web(app, test_config)
    return app


def register_web(app: Flask, test_config: dict | None) -> None:
    """Everything but the light configuration and the command index: the checks that need
    SQLAlchemy or cryptography (the database URL parses, the TOTP keyring), extensions,
    blueprints, templates."""
    try:
        _check_database_url_parses(app)
        _choose_totp_keys(app, development=app.config["ENV_NAME"] in {"development", "testing"})
    except ConfigurationError as error:
        if test_config is None:
            exit_from_command_line(error)
        raise
    register_extensions(app)
    register_blueprints(app)
    register_personal_data(app)
    register_templates(app)
    register_next_steps(app)


def exit_from_command_line(error: ConfigurationError) -> None:
    """Under ``flask --app wsgi …`` (a click context is active): print the sentence and exit 2.
    Flask's CLI would print a traceback for any exception, even for ``--help``; SystemExit passes
    through it. Anywhere else (gunicorn, a script) the error is raised as usual."""
    import click

    if click.get_current_context(silent=True) is not None:
        click.echo(str(error), err=True)
        raise SystemExit(EXIT_CONFIGURATION)


def configure(app: Flask, test_config: dict | None) -> None:
    """Load configuration in order and refuse unsafe production settings."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    env = os.environ.get("THRIVING_ENV", "production")
    if test_config and "ENV_NAME" in test_config:
        env = test_config["ENV_NAME"]
    if env not in ENVIRONMENTS:
        raise ConfigurationError(f"THRIVING_ENV must be production, development or testing, not {env!r}.")
    development = env in {"development", "testing"}
    from spend import defaults as spend_defaults  # no imports of its own: cheap
    app.config.from_mapping(
        ENV_NAME=env,
        SECRET_KEY=None,
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'thriving.sqlite3'}",
        # "auto": the Redis at RATELIMIT_LOCAL_REDIS when it answers, else a SQLite file in
        # instance/ that every worker shares (community/limits.py); never per-worker memory.
        RATELIMIT_STORAGE_URI="auto",
        RATELIMIT_LOCAL_REDIS="redis://127.0.0.1:6379/0",
        RATELIMIT_ENABLED=True,
        # The open data API (opendata/api.py): requests per address, Flask-Limiter's notation.
        API_RATE_LIMIT="120 per minute",
        SESSION_COOKIE_NAME="thriving-session" if development else "__Host-session",
        SESSION_COOKIE_SECURE=not development,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        REMEMBER_COOKIE_DURATION=0,
        PERMANENT_SESSION_LIFETIME=60 * 60,  # idle timeout: the signed cookie expires
        STAFF_SESSION_HOURS=12,  # absolute lifetime of a staff sign-in
        RESIDENT_SESSION_HOURS=24 * 14,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
        MAIL_FROM="Thriving Communities <no-reply@thriving.derbyshire.example>",
        SMTP_HOST=None,
        SMTP_PORT=587,
        SMTP_USERNAME=None,
        SMTP_PASSWORD=None,
        OUTBOX_DIR=str(Path(app.instance_path) / "outbox"),
        # Public pages for visitors without a cookie are built at most once per this many
        # seconds per worker (community/cache.py); 0 turns it off (the tests' default).
        PUBLIC_PAGE_CACHE_SECONDS=0 if env == "testing" else 2,
        # "queue": cron runs `flask mail deliver`; "after_request": this process delivers at the
        # end of each request that queued mail (so development and tests need no cron).
        MAIL_DELIVERY="after_request" if development else "queue",
        MAIL_MAX_ATTEMPTS=8,  # then the message is kept, marked failed, and never tried again
        # Notifications (community/notify.py): the mailbox named in every List-Unsubscribe header
        # beside the one-click link, and the site's address for links in mail sent by cron (`flask
        # votes remind-closing`); inside a request the request's own host is used.
        MAIL_UNSUBSCRIBE_TO="unsubscribe@thriving.derbyshire.example",
        PUBLIC_URL="http://127.0.0.1:5000" if development else None,
        # GOV.UK Notify (community/mail.py): with an API key, the outbox sends email and text messages
        # through Notify (each with one generic template: ((subject)) and ((body))) instead of SMTP,
        # and the account page offers texts. NOTIFY_BASE_URL is the API's address (tests: a local one).
        NOTIFY_API_KEY=None,
        NOTIFY_EMAIL_TEMPLATE_ID=None,
        NOTIFY_SMS_TEMPLATE_ID=None,
        NOTIFY_BASE_URL=None,
        # Freezing a closed month's statements (~1.6 s a team) is never done inside the
        # close-month request (statements/freeze.py). "cron": `flask statements
        # freeze-pending` does it; "after_response": a background thread of the same process,
        # started once the close-month response is sent (so development and tests need no cron).
        STATEMENT_FREEZE="after_response" if development else "cron",
        # The council's default approval limits (spend/services.py LimitDefaults): a team's enabler
        # may set limits up to these alone; a raise above them waits for finance or an admin.
        SPEND_MEMBER_LIMIT_DEFAULT_PENCE=spend_defaults.MEMBER_LIMIT_PENCE,
        SPEND_ENABLER_LIMIT_DEFAULT_PENCE=spend_defaults.ENABLER_LIMIT_PENCE,
        # Approving more than this needs the password and a code again within the last
        # SPEND_FRESH_MINUTES (spend/services.py is_fresh).
        SPEND_FRESH_ABOVE_PENCE=spend_defaults.FRESH_ABOVE_PENCE,
        SPEND_FRESH_MINUTES=spend_defaults.FRESH_MINUTES,
        # `flask spend expire`: pending requests lapse after this many days; approved but unpaid
        # ones are flagged after this many.
        SPEND_EXPIRE_PENDING_DAYS=spend_defaults.EXPIRE_PENDING_DAYS,
        SPEND_FLAG_UNPAID_DAYS=spend_defaults.FLAG_UNPAID_DAYS,
        # Receipts live outside the web root: RECEIPTS_DIR, else INSTANCE_UPLOADS/receipts, else
        # instance/receipts (spend/views.py receipts_dir).
        RECEIPTS_DIR=None,
        INSTANCE_UPLOADS=None,
        # Fernet keys that encrypt TOTP secrets, newest first (community/totp.py); production
        # refuses to start without them, development makes one.
        TOTP_KEYS=None,
        # Reversing an entry that moved more than this needs a second finance person (ledger/reversals.py).
        REVERSAL_SECOND_APPROVAL_ABOVE_PENCE=100_000,
        PREFERRED_URL_SCHEME="http" if development else "https",
    )
    defaults = dict(app.config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("THRIVING")
    if test_config:
        app.config.from_mapping(test_config)
    app.config["ENV_NAME"] = env
    _check_types(app, defaults)
    if app.config["MAIL_DELIVERY"] not in {"queue", "after_request"}:
        raise ConfigurationError('THRIVING_MAIL_DELIVERY must be "queue" or "after_request".')
    if app.config["STATEMENT_FREEZE"] not in {"cron", "after_response"}:
        raise ConfigurationError('THRIVING_STATEMENT_FREEZE must be "cron" or "after_response".')
    _check_notify(app)
    _choose_secret(app, development)
    _check_database_url(app, development, default=defaults["DATABASE_URL"])
    _choose_rate_limit_storage(app)


def _check_types(app: Flask, defaults: dict) -> None:
    """A setting whose default is a number or a yes/no must still be one (``THRIVING_X=soon``
    arrives as the string "soon": from_prefixed_env falls back to a string when JSON fails)."""
    for key, default in defaults.items():
        value = app.config.get(key)
        if not isinstance(value, str):
            continue
        if isinstance(default, bool):
            raise ConfigurationError(f"THRIVING_{key} must be true or false, not {value!r}.")
        if isinstance(default, int):
            raise ConfigurationError(f"THRIVING_{key} must be a whole number, not {value!r}.")


_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _check_notify(app: Flask) -> None:
    """A GOV.UK Notify key has the form ``{name}-{service id}-{secret}`` (two UUIDs); with one,
    both template ids are needed. The key itself is never printed."""
    import re

    key = app.config.get("NOTIFY_API_KEY")
    if not key:
        return
    if not isinstance(key, str) or not re.fullmatch(rf".+-{_UUID}-{_UUID}", key):
        raise ConfigurationError("THRIVING_NOTIFY_API_KEY must be a GOV.UK Notify API key "
                                 "(its name, the service id and the secret, joined by hyphens).")
    for name in ("NOTIFY_EMAIL_TEMPLATE_ID", "NOTIFY_SMS_TEMPLATE_ID"):
        value = app.config.get(name)
        if not isinstance(value, str) or not re.fullmatch(_UUID, value):
            raise ConfigurationError(f"THRIVING_{name} must be the id of a GOV.UK Notify template (a UUID) "
                                     "when THRIVING_NOTIFY_API_KEY is set.")
    base = app.config.get("NOTIFY_BASE_URL")
    if base and not (isinstance(base, str) and re.fullmatch(r"https?://[^\s/]+(/\S*)?", base)):
        raise ConfigurationError("THRIVING_NOTIFY_BASE_URL must be an http(s) address, like "
                                 "https://api.notifications.service.gov.uk.")


def _check_database_url(app: Flask, development: bool, *, default: str) -> None:
    """Production names its database (PostgreSQL)."""
    url = app.config["DATABASE_URL"]
    if not development and (not url or url == default):
        raise ConfigurationError("Production needs THRIVING_DATABASE_URL (postgresql://…).")


def _check_database_url_parses(app: Flask) -> None:
    """Every database URL must parse (with SQLAlchemy: checked when the app is built)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = app.config["DATABASE_URL"]
    try:
        make_url(str(url))
    except ArgumentError:
        raise ConfigurationError(f"THRIVING_DATABASE_URL is not a database URL: {url!r}.") from None


def _choose_rate_limit_storage(app: Flask) -> None:
    """Resolve ``RATELIMIT_STORAGE_URI=auto`` (community/limits.py). Under gunicorn the master
    has already chosen (:func:`choose_rate_limit_storage`) and handed its choice to the workers."""
    from community import limits

    if not app.config["RATELIMIT_ENABLED"]:
        return
    configured = app.config["RATELIMIT_STORAGE_URI"]
    uri = limits.choose_storage(configured, instance_path=app.instance_path,
                                local_redis=app.config["RATELIMIT_LOCAL_REDIS"])
    app.config["RATELIMIT_STORAGE_URI"] = uri
    if uri != configured:
        app.logger.info(limits.describe_storage(uri))
    elif uri.startswith("memory:") and app.config["ENV_NAME"] != "testing":
        app.logger.warning(limits.describe_storage(uri))


def choose_rate_limit_storage() -> str:
    """Once, in the gunicorn master (gunicorn.conf.py): choose the rate-limit storage as a worker
    would, hand it to every worker through ``THRIVING_RATELIMIT_STORAGE_URI`` (so they all
    count in the same place and none probes again), and return the start-up log line."""
    from community import limits

    app = Flask(__name__, instance_relative_config=True)
    configure(app, None)
    os.environ["THRIVING_RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URI"]
    return limits.describe_storage(app.config["RATELIMIT_STORAGE_URI"], enabled=app.config["RATELIMIT_ENABLED"])


def _choose_secret(app: Flask, development: bool) -> None:
    secret_file = Path(app.instance_path) / DEV_SECRET_FILE
    if app.config["SECRET_KEY"]:
        secret = str(app.config["SECRET_KEY"])
        if not development and secret_file.exists() and secret == secret_file.read_text().strip():
            raise ConfigurationError("Production refuses the development secret in instance/.")
        if not development and len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"THRIVING_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters."
            )
        return
    if not development:
        raise ConfigurationError(
            "Production needs THRIVING_SECRET_KEY (set THRIVING_ENV=development for local use)."
        )
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(48))
        secret_file.chmod(0o600)
    app.config["SECRET_KEY"] = secret_file.read_text().strip()


def _choose_totp_keys(app: Flask, development: bool) -> None:
    """TOTP secrets are encrypted with ``TOTP_KEYS`` (community/totp.py); production needs them."""
    from community import totp

    try:
        totp.configure(app, development=development)
    except totp.TotpKeysError as error:
        raise ConfigurationError(str(error)) from None


def register_extensions(app: Flask) -> None:
    """Static files, the session cookie, the page chrome, database, sign-in, CSRF, rate limits, security headers, mail delivery, page cache."""
    from community import assets, auth, cache, chrome, db, mail, security, sessions
    from community.limits import limiter

    assets.init_app(app)
    sessions.init_app(app)
    chrome.init_app(app)
    db.init_app(app)
    auth.init_app(app)
    limiter.init_app(app)
    security.init_app(app)
    cache.init_app(app)
    mail.init_app(app)


def register_blueprints(app: Flask) -> None:
    """One blueprint per domain; ``<int:…>`` in their routes takes ASCII digits only."""
    from community.numbers import AsciiIntegerConverter

    app.url_map.converters["int"] = AsciiIntegerConverter
    from community.rights_views import bp as rights_bp
    from community.views import bp as community_bp
    from ledger.views import bp as ledger_bp
    from opendata.api import api_bp
    from opendata.views import bp as opendata_bp
    from pledges.views import bp as pledges_bp
    from spend.views import spend_bp
    from statements.views import statements_bp
    from votes.views import bp as votes_bp

    for bp in (community_bp, rights_bp, ledger_bp, statements_bp, votes_bp, pledges_bp, spend_bp, opendata_bp, api_bp):
        app.register_blueprint(bp)
    from statements import freeze

    freeze.init_app(app)  # statements freeze a month once the ledger says it closed


def register_personal_data(app: Flask) -> None:
    """Each domain's personal data, for "Download my data" and "Delete my account" (community/rights.py)."""
    from community import rights
    from ledger.rights import LEDGER
    from pledges.rights import PLEDGES
    from spend.rights import SPEND
    from votes.rights import VOTES

    for source in (rights.COMMUNITY, VOTES, PLEDGES, LEDGER, SPEND):
        rights.register(app, source)


def register_next_steps(app: Flask) -> None:
    """Each domain's part of a person's next step (community/next_steps.py): community cannot
    import the domains above it, so they are wired here, in the order the to-do list shows them."""
    from community import next_steps
    from pledges import next_steps as pledge_steps
    from spend import next_steps as spend_next_steps
    from votes import next_steps as vote_steps

    next_steps.register_nudge(app, vote_steps.vote_now)
    # Not a step, but wired the same way: votes shows the spend paid against a funded idea.
    from spend import services as quick_spend
    from votes import ports

    ports.register_idea_spend(app, quick_spend.spend_for_idea)
    ports.register_idea_waiting(app, quick_spend.waiting_for_idea)
    from community import team_sections
    from votes import delivery

    team_sections.register(app, delivery.team_section)  # where each funded idea is (issue 17)
    from votes import notifications as vote_notifications

    vote_notifications.init_app(app)  # residents are told of reviews, rounds, results (issue 16)
    next_steps.register_todo(app, spend_next_steps.staff_todo)
    next_steps.register_todo(app, vote_steps.staff_todo)
    next_steps.register_todo(app, pledge_steps.staff_todo)


# The command line's index: each group or command by name, where it lives and its one line of
# help. ``flask --help`` lists these without importing them; a command's module is imported when
# it runs or its own ``--help`` is asked (tests/community/test_cli.py keeps the index true).
COMMANDS = (
    ("db", "community.cli:db_cli", "Database schema."),
    ("users", "demo.cli:users_cli", "Accounts."),  # community's group with demo-list (demo/cli.py adds it)
    ("mail", "community.cli:mail_cli", "Outgoing email."),
    ("demo", "demo.cli:demo_cli", "Demo data."),
    ("ledger", "ledger.cli:ledger_cli", "Check and maintain the ledger."),
    ("statements", "statements.cli:statements_cli", "Build monthly finance statements."),
    ("spend", "spend.cli:spend_cli", "Quick-spend housekeeping."),
    ("pledges", "pledges.cli:pledges_cli", "Maintain pledges."),
    ("votes", "votes.cli:votes_cli",
     "Participatory-budgeting votes: count a Pabulib (.pb) file with a voting rule."),
    ("backup", "ops.backup:backup_command", "Back up the database (SQLite online backup API) and check the copy."),
    ("restore", "ops.backup:restore_command", "Replace the database with a checked backup. Stop the server first."),
)


class LazyCommand(click.Command):
    """A command known by its name and help, imported only when it is used."""

    def __init__(self, name: str, target: str, help: str | None) -> None:  # noqa: A002 - click's name
        super().__init__(name, help=help)
        self.target = target

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def make_context(self, info_name, args, parent=None, **extra):
        # The command is about to run: finish the app's set-up first (see App), unless it was
        # declared without an app context (``votes tally`` reads a file and counts it: 1.3 s of
        # building the web app would be nearly all its time); then the real command parses its
        # arguments and runs in a context of its own.
        from flask.cli import ScriptInfo

        command = self.load()
        if parent is not None and not _runs_without_app(command, args):
            app = parent.ensure_object(ScriptInfo).load_app()
            if isinstance(app, App):
                app.build()
        command.invoke = _database_errors_as_sentences(command.invoke)
        return command.make_context(info_name, args, parent=parent, **extra)


def _database_errors_as_sentences(invoke: Callable) -> Callable:
    """A command's ``invoke`` that turns "the database is not there" into one sentence and exit
    2 (a cron job run before ``db upgrade``, or a database that does not answer), not a traceback."""
    if getattr(invoke, "says_database_errors", False):
        return invoke

    def wrapped(ctx):
        try:
            return invoke(ctx)
        except Exception as error:
            sentence = database_sentence(error)
            if sentence is None:
                raise
            click.echo(sentence, err=True)
            raise SystemExit(EXIT_CONFIGURATION) from None

    wrapped.says_database_errors = True
    return wrapped


def database_sentence(error: BaseException) -> str | None:
    """The sentence for a database that has no tables yet or cannot be reached; None for any
    other error (SQLAlchemy is imported only once one was raised: ``--help`` stays light)."""
    import sys

    exc = sys.modules.get("sqlalchemy.exc")
    if exc is None or not isinstance(error, exc.OperationalError | exc.ProgrammingError):
        return None
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0] if str(error).strip() else ""
    if "no such table" in reason or ("relation" in reason and "does not exist" in reason):
        return ("The database has no tables yet: run `flask --app wsgi db upgrade` (`make run` does it for you), "
                "then try again.")
    if isinstance(error, exc.OperationalError) and any(
            words in reason for words in ("unable to open database", "could not connect", "Connection refused",
                                          "connection failed", "does not exist", "authentication failed")):
        return f"The database in THRIVING_DATABASE_URL cannot be opened ({reason.rstrip('.')})."
    return None


def _runs_without_app(command: click.Command, args: list[str]) -> bool:
    """Whether ``command`` (or, for a group, the subcommand ``args`` name) was declared with
    ``with_appcontext=False``: its callback is not wrapped by Flask's ``with_appcontext``."""
    from flask.cli import with_appcontext

    if isinstance(command, click.Group):
        name = next((arg for arg in args if not arg.startswith("-")), None)
        command = command.commands.get(name) if name else None
    if command is None or isinstance(command, click.Group) or command.callback is None:
        return False  # help, an unknown name or a nested group: build, as before
    wrapper_code = with_appcontext(lambda: None).__code__
    return getattr(command.callback, "__code__", None) is not wrapper_code


def register_cli(app: Flask) -> None:
    """``flask db …``, ``flask users …``, ``flask demo …``, ``flask mail …`` and each domain's commands."""
    for name, target, help_text in COMMANDS:
        app.cli.add_command(LazyCommand(name, target, help_text))


def register_templates(app: Flask) -> None:
    """GOV.UK Frontend macros, our templates, the money and date filters, and translations."""
    from govuk_frontend_wtf.main import WTFormsHelpers

    from community import formatting, i18n
    from votes import explanations

    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(Path(app.root_path) / "templates")),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    WTFormsHelpers(app)
    formatting.init_app(app)
    i18n.init_app(app)  # Flask-Babel: the language of each request (community/i18n.py)
    explanations.init_app(app)  # the ballot's tally explanation in the reader's language
