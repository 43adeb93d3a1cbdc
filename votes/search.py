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

import functools
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


def _matching(dialect: str):
    """A condition on ``Idea.id`` for ideas containing every word (bound at execution: on
    PostgreSQL ``search_words``, the words; on SQLite ``search_match``, an FTS5 query)."""
    if dialect == "postgresql":
        return literal_column(SEARCH_VECTOR).op("@@")(
            func.plainto_tsquery(literal_column("'english'"), bindparam("search_words")))
    ids = text("SELECT rowid FROM vote_idea_fts WHERE vote_idea_fts MATCH :search_match").columns(
        rowid=Idea.id.type)
    return Idea.id.in_(ids)


def _fts5_match(words: list[str]) -> str:
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)  # each an FTS5 string: no operators


_SUPPORTERS = (select(func.count()).select_from(IdeaSupport)
               .where(IdeaSupport.idea_id == Idea.id).correlate(Idea).scalar_subquery())
_LISTED = (Idea.id, Idea.title, Idea.status, Idea.category, Idea.team_cost_pence, Idea.estimated_cost_pence,
           _SUPPORTERS.label("supporters"), func.count().over().label("total"))


@functools.cache
def _statements(by_status: bool, by_category: bool, words_on: str | None):
    """The page query (its rows with the count of all matches beside each, a window: one round
    trip) and the bare count, for one shape of filters; built once per shape, every value bound
    at execution (building a statement costs more than running it on a page of 20)."""
    conditions = [Idea.team_id == bindparam("team_id"), Idea.status != IdeaStatus.HIDDEN.value]
    if by_status:
        conditions.append(Idea.status == bindparam("status"))
    if by_category:
        conditions.append(Idea.category == bindparam("category"))
    if words_on:
        conditions.append(_matching(words_on))
    page = (select(*_LISTED).where(*conditions).order_by(Idea.created_at.desc(), Idea.id.desc())
            .limit(bindparam("page_size")).offset(bindparam("skip")))
    return page, select(func.count()).select_from(Idea).where(*conditions)


def find_ideas(*, session: Session, team: Team, words: str | None = None, status: str | None = None,
               category: str | None = None, page: int = 1, per_page: int = PER_PAGE) -> IdeaPage:
    """A page of the team's visible ideas (never hidden ones), newest first, as rows of id,
    title, status, category, costs and supporters. Unknown status or category: ValueError (the
    view says so and ignores it). A page past the last (page 1 always exists): NotFound."""
    if status is not None and status not in FILTER_STATUSES:
        raise ValueError("status")
    if category is not None and category not in IDEA_CATEGORIES:
        raise ValueError("category")
    if page < 1:
        raise NotFound(_("There is no page %(page)s.", page=page))
    found = words_of(words)
    dialect = session.get_bind().dialect.name
    values = {"team_id": team.id, "status": status, "category": category, "page_size": per_page,
              "skip": (page - 1) * per_page, "search_words": " ".join(found), "search_match": _fts5_match(found)}
    listing, count = _statements(bool(status), bool(category), dialect if found else None)
    # A read of columns only: Core's execution path (the ORM's adds nothing here but time).
    connection = session.connection()
    rows = list(connection.execute(listing, values))
    total = rows[0].total if rows else (0 if page == 1 else connection.execute(count, values).scalar_one())
    pages = max(math.ceil(total / per_page), 1)
    if page > pages:
        raise NotFound(_("There is no page %(page)s: the ideas found fill %(pages)s.", page=page, pages=pages))
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
