"""``flask demo load`` and ``flask users demo-list``: the demo data and its printed sign-ins."""

import click
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import select

import demo
from community.cli import users_cli
from community.db import get_session, london_today, utcnow
from community.models import Membership, Team
from demo import people, votes

demo_cli = AppGroup("demo", help="Demo data.")


@users_cli.command("demo-list")
def demo_list():
    """Print the demo sign-ins: emails, the password and TOTP secrets."""
    session = get_session()
    roles = {}
    for m, t in session.exec(select(Membership, Team).join(Team, Team.id == Membership.team_id)):
        roles[m.person_id] = f"{m.role}, {t.name}"
    accounts = people.list_accounts(session)
    if not accounts:
        click.echo("No demo accounts (load them with: flask --app wsgi demo load).")
        return
    roles.update(votes.resident_notes(session, people=[p for p in accounts if p.id not in roles],
                                secret=current_app.config["SECRET_KEY"], now=utcnow()))
    click.echo(f"Demo sign-ins (password for all: {people.DEMO_PASSWORD})")
    for p in accounts:
        role = "admin" if p.is_admin else "finance" if p.is_finance else roles.get(p.id, "resident")
        secret = f"  TOTP secret {p.totp_secret}" if p.totp_secret else ""
        click.echo(f"  {p.email:<45} {role:<40}{secret}".rstrip())
    click.echo("Residents sign in with the password alone; staff also need a two-factor code.")
    click.echo("Current code for a staff account: flask --app wsgi users demo-code EMAIL")


@demo_cli.command("load")
def demo_load():
    """Load the demo places, teams, people, ideas, pledges, 13 months of ledger history, quick
    spend requests and Shirebrook's voting rounds (once: nothing if already loaded)."""
    session = get_session()
    if not demo.load(session, secret=current_app.config["SECRET_KEY"], today=london_today()):
        click.echo("Demo data already loaded.")
        return
    session.commit()
    click.echo("Demo data loaded.")
