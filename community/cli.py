"""``flask db upgrade``, ``flask users create-admin|demo-code|demo-list|encrypt-secrets``, ``flask demo load`` and
``flask mail deliver``."""

import click
from flask.cli import AppGroup

from community import mail, services, totp
from community.db import get_engine, get_session
from community.errors import DomainError

db_cli = AppGroup("db", help="Database schema.")
users_cli = AppGroup("users", help="Accounts.")
mail_cli = AppGroup("mail", help="Outgoing email.")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply every migration (safe to run again)."""
    from community import migrate  # Alembic: only this command needs it (start-up, issue 18)

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


@mail_cli.command("deliver")
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True,
              help="Send at most this many messages in this run.")
def mail_deliver(limit: int):
    """Send queued email (cron, every minute; safe to run while another run is going)."""
    report = mail.deliver_pending(limit=limit)
    for error in report.errors:
        click.echo(error, err=True)
    click.echo(f"{report.sent} sent, {report.failed} failed (will retry), {report.gave_up} given up.")
