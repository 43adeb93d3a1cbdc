"""Closed months' statements kept for ever: the one write is :func:`store_frozen`, which keeps a
closed month's bytes (PDF and CSV with their SHA-256) in ``statement_frozen``.

Open month: built on request, DRAFT watermark. Closed month: built once (soon after closing,
outside the request: statements/freeze.py; or on the first request, whichever comes first),
stored, and every later download serves the stored bytes, byte-identical.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from community.db import open_session, utcnow
from community.i18n import in_english
from community.models import Team
from ledger import services
from statements.county import CountyPack, build_county_pack
from statements.figures import Statement, build_statement, is_closed
from statements.models import COUNTY_SCOPE, FrozenStatement, team_scope
from statements.render import render_csv, render_pack_csv, render_pack_pdf, render_pdf, sha256

# Test seam: called after a statement is built and before it is stored, so a race test can
# make two first requests both build before either stores.
_BEFORE_STORE: Callable[[], None] | None = None


class FrozenStatementCorrupt(RuntimeError):
    """Stored bytes no longer match their stored SHA-256."""





@dataclass(frozen=True)
class Files:
    """A statement's two files as served: PDF and CSV bytes with their SHA-256."""

    statement_id: str
    filename: str
    pdf: bytes
    csv: bytes
    pdf_sha256: str
    csv_sha256: str
    generated_at: dt.datetime
    frozen: bool = False  # served from the frozen store
    frozen_at_close: bool = False


def _files(document, csv_text: str, render) -> Files:
    """CSV first, so the PDF (``render(document)``) can print the CSV's SHA-256."""
    csv_bytes = csv_text.encode("utf-8")
    document.csv_sha256 = sha256(csv_bytes)
    pdf = render(document)
    return Files(
        statement_id=document.statement_id,
        filename=document.filename,
        pdf=pdf,
        csv=csv_bytes,
        pdf_sha256=sha256(pdf),
        csv_sha256=document.csv_sha256,
        generated_at=document.generated_at,
    )


@in_english
def team_files(statement: Statement) -> Files:
    """Render a built team statement (PDF and CSV)."""
    return _files(statement, render_csv(statement), render_pdf)


@in_english
def pack_files(pack: CountyPack) -> Files:
    """Render a built county pack (PDF and CSV)."""
    return _files(pack, render_pack_csv(pack), render_pack_pdf)


def files_of(row: FrozenStatement, filename: str) -> Files:
    pdf, csv_bytes = bytes(row.pdf), bytes(row.csv)
    if sha256(pdf) != row.pdf_sha256 or sha256(csv_bytes) != row.csv_sha256:
        raise FrozenStatementCorrupt(f"frozen statement {row.statement_id} does not match its SHA-256")
    return Files(
        statement_id=row.statement_id,
        filename=filename,
        pdf=pdf,
        csv=csv_bytes,
        pdf_sha256=row.pdf_sha256,
        csv_sha256=row.csv_sha256,
        generated_at=row.generated_at,
        frozen=True,
        frozen_at_close=row.frozen_at_close,
    )


def frozen_row(session: Session, month: dt.date, scope: str) -> FrozenStatement | None:
    return session.execute(
        select(FrozenStatement).where(FrozenStatement.month_start == month.replace(day=1), FrozenStatement.scope == scope)
    ).scalar_one_or_none()


def frozen_hashes(session: Session, month: dt.date) -> dict[str, tuple[str, str, str]]:
    """scope → (statement id, PDF SHA-256, CSV SHA-256) of the month's frozen statements."""
    return {
        scope: (sid, pdf_hash, csv_hash)
        for scope, sid, pdf_hash, csv_hash in session.execute(
            select(
                FrozenStatement.scope,
                FrozenStatement.statement_id,
                FrozenStatement.pdf_sha256,
                FrozenStatement.csv_sha256,
            ).where(FrozenStatement.month_start == month.replace(day=1))
        ).all()
    }


def store_frozen(
    engine: Engine, *, month: dt.date, scope: str, team_id: int | None, files: Files, at_close: bool
) -> Files:
    """Store a closed month's files once; returns what is stored (the first writer's bytes).

    Race-safe: the UNIQUE(month, scope) constraint lets one writer win; a loser rolls back and
    serves the winner's row.
    """
    if _BEFORE_STORE is not None:
        _BEFORE_STORE()
    start = month.replace(day=1)
    with open_session(engine, write=True) as s:
        existing = frozen_row(s, start, scope)
        if existing is None:
            s.add(
                FrozenStatement(
                    month_start=start,
                    scope=scope,
                    team_id=team_id,
                    statement_id=files.statement_id,
                    pdf=files.pdf,
                    pdf_sha256=files.pdf_sha256,
                    pdf_size=len(files.pdf),
                    csv=files.csv,
                    csv_sha256=files.csv_sha256,
                    csv_size=len(files.csv),
                    frozen_at_close=at_close,
                    generated_at=files.generated_at,
                )
            )
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
            else:
                return files_of(frozen_row(s, start, scope), files.filename)
            existing = frozen_row(s, start, scope)
        return files_of(existing, files.filename)


@in_english
def get_team_files(engine: Engine, session: Session, team: Team, month: dt.date) -> Files:
    """What a download serves: an open month built now (DRAFT); a closed month's stored bytes,
    frozen now if the month was closed before freezing existed."""
    start = month.replace(day=1)
    if not is_closed(session, start):
        return team_files(build_statement(session=session, team=team, month=start))
    row = frozen_row(session, start, team_scope(team.id))
    filename = f"statement-{team.slug}-{start:%Y-%m}"
    if row is not None:
        return files_of(row, filename)
    files = team_files(build_statement(session=session, team=team, month=start))
    return store_frozen(engine, month=start, scope=team_scope(team.id), team_id=team.id, files=files, at_close=False)


def _all_teams(session: Session) -> list[Team]:
    return list(session.execute(select(Team).order_by(Team.name, Team.slug)).scalars())


@in_english
def get_pack_files(engine: Engine, session: Session, month: dt.date) -> Files:
    """The county pack: built now for an open month; stored bytes for a closed one (frozen now,
    with every team's statement, if not yet frozen)."""
    start = month.replace(day=1)
    if not is_closed(session, start):
        now = utcnow()
        report = services.verify(session=session)
        statements = [
            build_statement(session=session, team=t, month=start, now=now, verify_report=report)
            for t in _all_teams(session)
        ]
        for st in statements:
            st.csv_sha256 = sha256(render_csv(st).encode("utf-8"))
        return pack_files(build_county_pack(statements, month=start, closed=False, now=now))
    row = frozen_row(session, start, COUNTY_SCOPE)
    if row is not None:
        return files_of(row, f"county-pack-{start:%Y-%m}")
    return freeze_month(engine, month=start, at_close=False, session=session)


@in_english
def freeze_month(
    engine: Engine,
    *,
    month: dt.date,
    at_close: bool,
    session: Session | None = None,
    progress: Callable[[str], None] | None = None,
) -> Files:
    """Build and store every team's statement and the county pack for a closed month (those
    not yet stored); returns the stored county pack. Team statements are stored first and the
    pack is built from the same figures, so the pack's rows match the team files."""
    start = month.replace(day=1)
    own = session is None
    session = session or open_session(engine, write=False)
    try:
        if not is_closed(session, start):
            raise ValueError(f"{start:%B %Y} is not closed")
        now = utcnow()
        report = services.verify(session=session)
        statements = []
        for team in _all_teams(session):
            st = build_statement(session=session, team=team, month=start, now=now, verify_report=report)
            scope = team_scope(team.id)
            row = frozen_row(session, start, scope)
            if row is None:
                row = store_frozen(
                    engine, month=start, scope=scope, team_id=team.id, files=team_files(st), at_close=at_close
                )
            # The pack names the hash of the team's stored CSV, the one its statement prints.
            st.csv_sha256 = row.csv_sha256
            statements.append(st)
            if progress:
                progress(team.slug)
        existing = frozen_row(session, start, COUNTY_SCOPE)
        if existing is not None:
            return files_of(existing, f"county-pack-{start:%Y-%m}")
        files = pack_files(build_county_pack(statements, month=start, closed=True, now=now))
        return store_frozen(engine, month=start, scope=COUNTY_SCOPE, team_id=None, files=files, at_close=at_close)
    finally:
        if own:
            session.close()


