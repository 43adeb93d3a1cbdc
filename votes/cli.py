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
