"""``flask db upgrade``, ``flask users create-admin|demo-code|demo-list|encrypt-secrets``, ``flask demo load`` and
``flask mail deliver``."""

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import select

from community import demo, mail, migrate, services, totp
from community.db import get_engine, get_session, london_today, utcnow
from community.errors import DomainError
from community.models import Membership, Team

db_cli = AppGroup("db", help="Database schema.")
users_cli = AppGroup("users", help="Accounts.")
demo_cli = AppGroup("demo", help="Demo data.")
mail_cli = AppGroup("mail", help="Outgoing email.")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply every migration (safe to run again)."""
    migrate.upgrade(get_engine())
    click.echo("Database is up to date.")


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--name", prompt="Full name")
@click.password_option("--password", prompt="Password", confirmation_prompt=True)
def create_admin(email: str, name: str, password: str):
    """Create the first admin (they set up two-factor at first sign-in)."""
    session = get_session()
    try:
        services.create_admin(session, email=email, name=name, password=password)
        session.commit()
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Admin {email} created. Sign in at /sign-in and set up two-factor authentication.")


@users_cli.command("demo-code")
@click.argument("email")
def demo_code(email: str):
    """Print a demo account's current two-factor code (refused for real accounts)."""
    try:
        click.echo(services.demo_code(get_session(), email=email))
    except DomainError as error:
        raise click.ClickException(error.message) from error


@users_cli.command("encrypt-secrets")
def encrypt_secrets():
    """Encrypt TOTP secrets stored in plain and re-encrypt all under the first key (safe to rerun)."""
    session = get_session()
    try:
        encrypted, rotated = totp.reseal_all(session)
    except totp.InvalidToken as error:
        raise click.ClickException(
            "A stored TOTP secret opens with none of THRIVING_TOTP_KEYS: add the old key back and "
            "run this again (nothing was changed)."
        ) from error
    session.commit()
    click.echo(f"TOTP secrets: {encrypted} encrypted, {rotated} re-encrypted under the first key.")


@users_cli.command("demo-list")
def demo_list():
    """Print the demo sign-ins: emails, the password and TOTP secrets."""
    session = get_session()
    roles = {}
    for m, t in session.exec(select(Membership, Team).join(Team, Team.id == Membership.team_id)):
        roles[m.person_id] = f"{m.role}, {t.name}"
    accounts = demo.list_accounts(session)
    if not accounts:
        click.echo("No demo accounts (load them with: flask --app wsgi demo load).")
        return
    from votes.demo import resident_notes

    roles.update(resident_notes(session, people=[p for p in accounts if p.id not in roles],
                                secret=current_app.config["SECRET_KEY"], now=utcnow()))
    click.echo(f"Demo sign-ins (password for all: {demo.DEMO_PASSWORD})")
    for p in accounts:
        role = "admin" if p.is_admin else "finance" if p.is_finance else roles.get(p.id, "resident")
        secret = f"  TOTP secret {p.totp_secret}" if p.totp_secret else ""
        click.echo(f"  {p.email:<45} {role:<40}{secret}".rstrip())
    click.echo("Residents sign in with the password alone; staff also need a two-factor code.")
    click.echo("Current code for a staff account: flask --app wsgi users demo-code EMAIL")


@demo_cli.command("load")
def demo_load():
    """Load the demo places, teams, people (and, once the ledger exists, 13 months of history)."""
    session = get_session()
    result = demo.load(session)
    if not result["created"]:
        click.echo("Demo data already loaded.")
        return
    try:
        from ledger.demo import load_demo_history
    except ImportError:
        load_demo_history = None
    if load_demo_history is not None:
        load_demo_history(session, teams=result["teams"], finance=result["finance"],
                          members=result["members"], today=london_today())
        from ledger.spend_demo import load_spend_demo

        load_spend_demo(session, teams=result["teams"], members=result["members"], today=london_today())
        from votes.demo import load_rounds

        load_rounds(session, secret=current_app.config["SECRET_KEY"], now=utcnow())
    session.commit()
    click.echo("Demo data loaded.")


@mail_cli.command("deliver")
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True,
              help="Send at most this many messages in this run.")
def mail_deliver(limit: int):
    """Send queued email (cron, every minute; safe to run while another run is going)."""
    report = mail.deliver_pending(limit=limit)
    for error in report.errors:
        click.echo(error, err=True)
    click.echo(f"{report.sent} sent, {report.failed} failed (will retry), {report.gave_up} given up.")
