"""``flask statements build`` writes team statements (PDF and CSV) for a month."""

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from community.db import get_engine, open_session
from community.models import Team
from ledger import statements

statements_cli = AppGroup("statements", help="Build monthly finance statements.")


@statements_cli.command("build")
@click.option("--month", required=True, help="The month, as YYYY-MM.")
@click.option("--team", "slug", default=None, help="One team's slug (default: every team).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
def build_command(month: str, slug: str | None, out_dir: Path) -> None:
    """Write statement-<team>-<month>.pdf and .csv for each team into OUT."""
    try:
        month_start = statements.parse_month(month)
    except ValueError:
        raise click.BadParameter("use YYYY-MM, like 2026-10", param_hint="--month") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    session = open_session(get_engine(), write=False)
    try:
        query = select(Team).order_by(Team.name)
        if slug:
            query = query.where(Team.slug == slug)
        teams = session.execute(query).scalars().all()
        if not teams:
            raise click.ClickException(f"No team {slug!r}." if slug else "No teams.")
        with click.progressbar(teams, label="Statements") as bar:
            for team in bar:
                statement = statements.build_statement(session=session, team=team, month=month_start)
                (out_dir / f"{statement.filename}.pdf").write_bytes(statements.render_pdf(statement))
                (out_dir / f"{statement.filename}.csv").write_text(
                    statements.render_csv(statement), encoding="utf-8", newline=""
                )
    finally:
        session.close()
    click.echo(f"Wrote {len(teams)} statement(s) for {month} to {out_dir}")
