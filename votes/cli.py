"""The ``flask votes ...`` command group.

This module owns the command-line face of the tally: ``flask votes tally FILE
--rule RULE [--explain]`` reads a Pabulib ``.pb`` file and prints the funded
project ids, one per line, in the order the rule funded them (with
``--explain``, a blank line and then one reason per project).  It needs
neither the app's database nor its configuration.  Register it with
``app.cli.add_command(votes_cli)``; other commands (import/export) belong in
this group too, below the marked spot.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from votes.pabulib import PabulibError, read_pb
from votes.tally import RULE_METHODS, RULES, RuleError, method_for, tally

votes_cli = AppGroup(
    "votes",
    help="Participatory-budgeting votes: count a Pabulib (.pb) file with a voting rule.",
)

_RULE_HELP = "Voting rule. " + "; ".join(
    f"{column}: {', '.join(rules)}" for column, rules in RULE_METHODS.items()
)


@votes_cli.command("tally", with_appcontext=False)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rule", "rule", required=True, metavar="RULE", help=_RULE_HELP)
@click.option("--explain", is_flag=True, help="Also print why each project was or was not funded.")
def tally_command(file: Path, rule: str, explain: bool) -> None:
    """Print the projects RULE funds in FILE, one id per line."""
    if rule not in RULES:
        raise click.BadParameter(
            f"unknown rule {rule!r}; choose one of: {', '.join(RULES)}", param_hint="--rule"
        )
    try:
        election = read_pb(file)
    except (OSError, UnicodeDecodeError, PabulibError) as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from exc
    try:
        method_for(election.vote_type, rule)
        result = tally(election, rule)
    except RuleError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:
        raise click.ClickException(f"cannot count {file}: {exc}") from exc
    for pid in result.selected:
        click.echo(pid)
    if explain:
        click.echo()
        for pid, reason in result.explanations.items():
            click.echo(f"{pid}: {reason}")


# --- More ``flask votes`` commands (import, export, ...) go below this line. ---


@votes_cli.command("close-due")
def close_due_command() -> None:
    """Close and tally every round whose closing time has passed (cron, on every host: each
    round is claimed and closed in a transaction of its own)."""
    from community import jobs
    from community.db import get_engine, open_session, utcnow
    from votes import services

    engine = get_engine()
    with open_session(engine, write=False) as session:
        actor_id = services.system_actor_id(session)
    now = utcnow()
    closed = []
    for session, round_id in jobs.claimed(engine, services.due_rounds(now)):
        services.close_round(session=session, round_id=round_id, actor_id=actor_id, now=now)
        session.commit()
        closed.append(round_id)
        click.echo(f"closed round {round_id}")
    if not closed:
        click.echo("no round was due")


@votes_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--team", "slug", required=True, help="The team (slug) that gets the round.")
@click.option("--rule", default="greedy", type=click.Choice(["greedy", "mes-add1-greedy"]), show_default=True)
def import_command(file: Path, slug: str, rule: str) -> None:
    """Load a Pabulib approval election as a closed round with anonymous ballots (for demos)."""
    from community.db import get_session
    from votes import transfer

    session = get_session()
    try:
        election = read_pb(file)
        rnd = transfer.import_election(session=session, election=election, team_slug=slug, rule=rule,
                                       source=file.name)
        session.commit()
    except (OSError, UnicodeDecodeError, PabulibError, transfer.TransferError) as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"imported round {rnd.id}: {rnd.title} ({rnd.online_ballots} ballots)")


@votes_cli.command("export")
@click.argument("round_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_command(round_id: int, out: Path) -> None:
    """Write a round in Pabulib format; voters are keyed by ballot reference, never by person."""
    from community.db import get_session
    from votes import transfer

    session = get_session()
    try:
        election = transfer.export_election(session=session, round_id=round_id)
    except transfer.TransferError as exc:
        raise click.ClickException(str(exc)) from exc
    with out.open("w", encoding="utf-8", newline="") as handle:
        from votes.pabulib import write_pb

        write_pb(election, handle)
    click.echo(f"wrote {out} ({len(election.ballots)} ballots, {len(election.projects)} ideas)")


@votes_cli.command("remind-closing")
def remind_closing_command() -> None:
    """Remind residents who have not voted in a round closing within 48 hours (run it from cron;
    each person is reminded once per round, however often it runs)."""
    from community import notify
    from community.db import get_session
    from votes import notifications

    if not notify.can_send():
        raise click.ClickException("Set THRIVING_PUBLIC_URL (the site's address, for the links in the emails).")
    session = get_session()
    queued = notifications.remind_closing(session=session)
    session.commit()
    click.echo(f"{queued} reminders queued")
