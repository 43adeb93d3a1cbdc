"""Ideas residents can find (issue 17): one service function, :func:`find_ideas`, filters a
team's ideas by status and category, searches their words and returns one page.

Words: whatever is typed is cut into words (letters and digits only) before it reaches the
database, so quotes, ``*``, ``NEAR``, ``-``, ``:`` or unbalanced brackets are never query
syntax on either database: every word must match (AND), stemmed in English ("benches" finds
"bench"). SQLite: the FTS5 table ``vote_idea_fts`` (Porter stemmer), each word quoted as an FTS5
string. PostgreSQL: ``plainto_tsquery('english', …)`` against the expression GIN index
``ix_vote_idea_search`` (both made by migration delivery_0001).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import bindparam, func, literal_column, select, text
from sqlalchemy.engine import Row
from sqlmodel import Session

from community.errors import NotFound
from community.i18n import _
from community.models import Team
from votes.models import IDEA_CATEGORIES, Idea, IdeaStatus, IdeaSupport

PER_PAGE = 20
MAX_WORDS = 10
MAX_QUERY = 200
FILTER_STATUSES = tuple(s.value for s in IdeaStatus if s != IdeaStatus.HIDDEN)
_WORD = re.compile(r"\w+", re.UNICODE)
SEARCH_VECTOR = "to_tsvector('english', vote_idea.title || ' ' || vote_idea.description)"


def words_of(query: str | None) -> list[str]:
    """The words of what was typed (at most ``MAX_WORDS``), lower case, no syntax left."""
    return [w.lower() for w in _WORD.findall((query or "")[:MAX_QUERY]) if w.strip("_")][:MAX_WORDS]


@dataclass(frozen=True)
class IdeaPage:
    rows: list[Row]
    page: int
    pages: int
    total: int
    per_page: int


def _matching(session: Session, words: list[str]):
    """A condition on ``Idea.id`` for ideas containing every word."""
    if session.get_bind().dialect.name == "postgresql":
        return literal_column(SEARCH_VECTOR).op("@@")(
            func.plainto_tsquery(literal_column("'english'"), bindparam("search_words", " ".join(words))))
    match = " ".join('"' + w.replace('"', '""') + '"' for w in words)  # each an FTS5 string: no operators
    ids = text("SELECT rowid FROM vote_idea_fts WHERE vote_idea_fts MATCH :search_match").bindparams(
        search_match=match).columns(rowid=Idea.id.type)
    return Idea.id.in_(ids)


def find_ideas(*, session: Session, team: Team, words: str | None = None, status: str | None = None,
               category: str | None = None, page: int = 1, per_page: int = PER_PAGE) -> IdeaPage:
    """A page of the team's visible ideas (never hidden ones), newest first, as rows of id,
    title, status, category, costs and supporters. Unknown status or category: ValueError (the
    view says so and ignores it). A page past the last (page 1 always exists): NotFound."""
    if status is not None and status not in FILTER_STATUSES:
        raise ValueError("status")
    if category is not None and category not in IDEA_CATEGORIES:
        raise ValueError("category")
    conditions = [Idea.team_id == team.id, Idea.status != IdeaStatus.HIDDEN.value]
    if status:
        conditions.append(Idea.status == status)
    if category:
        conditions.append(Idea.category == category)
    found = words_of(words)
    if found:
        conditions.append(_matching(session, found))
    total = session.execute(select(func.count()).select_from(Idea).where(*conditions)).scalar_one()
    pages = max(math.ceil(total / per_page), 1)
    if page < 1 or page > pages:
        raise NotFound(_("There is no page %(page)s: the ideas found fill %(pages)s.", page=page, pages=pages)
                       if page > pages else _("There is no page %(page)s.", page=page))
    supporters = (select(func.count()).select_from(IdeaSupport)
                  .where(IdeaSupport.idea_id == Idea.id).correlate(Idea).scalar_subquery())
    rows = list(session.execute(
        select(Idea.id, Idea.title, Idea.status, Idea.category, Idea.team_cost_pence, Idea.estimated_cost_pence,
               supporters.label("supporters"))
        .where(*conditions).order_by(Idea.created_at.desc(), Idea.id.desc())
        .limit(per_page).offset((page - 1) * per_page)))
    return IdeaPage(rows, page, pages, total, per_page)


def find_ideas_page(*, session: Session, team: Team, args) -> tuple[IdeaPage, dict, list[str]]:
    """The list's GET parameters read: (the page, what was asked, sentences about what was
    ignored). An unknown status or category is ignored with a sentence; a page that is not a
    whole number, or does not exist, is NotFound (404 with a sentence)."""
    asked = {"q": (args.get("q") or "")[:MAX_QUERY], "status": args.get("status") or "",
             "category": args.get("category") or ""}
    notes = []
    if asked["status"] and asked["status"] not in FILTER_STATUSES:
        notes.append(_("There is no status called “%(value)s”: showing every status.", value=asked["status"][:40]))
        asked["status"] = ""
    if asked["category"] and asked["category"] not in IDEA_CATEGORIES:
        notes.append(_("There is no category called “%(value)s”: showing every category.",
                       value=asked["category"][:40]))
        asked["category"] = ""
    raw = args.get("page") or "1"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise NotFound(_("There is no page %(page)s.", page=raw[:20]))
    found = find_ideas(session=session, team=team, words=asked["q"], status=asked["status"] or None,
                       category=asked["category"] or None, page=int(raw))
    return found, asked, notes
