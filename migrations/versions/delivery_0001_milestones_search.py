"""delivery: milestones of funded ideas, idea categories, photos and closing notes, and search

Revision ID: delivery_0001
Revises: babel_0001

``vote_milestone`` holds the steps of delivering a funded idea (issue 17). ``vote_idea`` gains a
category from a fixed list (votes/models.py IDEA_CATEGORIES), an optional photo and the closing
note that "done" now requires (``ck_vote_idea_done_note``; ideas already done get the text of
their last "done" update, or "Done.").

SQLite cannot add a table CHECK to a table without rebuilding it, and rebuilding ``vote_idea``
(referenced by supports, ballots' ideas and spend requests) with foreign keys on would fail on a
live database; a CHECK written in a column definition (``ALTER TABLE … ADD COLUMN … CONSTRAINT
… CHECK``) is the same rule in SQLite and needs no rebuild, so the new checks go that way there.

Search (votes.services.find_ideas): on SQLite an FTS5 table ``vote_idea_fts`` (external content
= vote_idea, Porter stemmer) kept in step by three triggers; on PostgreSQL an expression GIN index
``ix_vote_idea_search`` on ``to_tsvector('english', title || ' ' || description)``. Neither is
in the models (tests/community/test_migrations.py leaves them out of its comparison, with why).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from community.db import UTCDateTime

revision: str = "delivery_0001"
down_revision: str | Sequence[str] | None = "babel_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = ("green_spaces", "streets", "children_young_people", "older_people", "community_events",
              "sport_health", "arts_culture", "environment", "other")
PHOTO_TYPES = ("image/jpeg", "image/png")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


IDEA_CHECKS = {
    "ck_vote_idea_category": ("category", f"category IS NULL OR {_in('category', CATEGORIES)}"),
    "ck_vote_idea_photo": ("photo_ref", "(photo_ref IS NULL) = (photo_type IS NULL)"),
    "ck_vote_idea_photo_type": ("photo_type", f"photo_type IS NULL OR {_in('photo_type', PHOTO_TYPES)}"),
    "ck_vote_idea_done_note": ("closing_note", "status <> 'done' OR closing_note IS NOT NULL"),
}
IDEA_COLUMNS = (("category", "VARCHAR(30)"), ("photo_type", "VARCHAR(20)"), ("photo_ref", "VARCHAR(32)"),
                ("closing_note", "TEXT"))

SEARCH_VECTOR = "to_tsvector('english', title || ' ' || description)"
FTS_TRIGGERS = (
    """CREATE TRIGGER vote_idea_fts_ai AFTER INSERT ON vote_idea BEGIN
         INSERT INTO vote_idea_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
       END""",
    """CREATE TRIGGER vote_idea_fts_ad AFTER DELETE ON vote_idea BEGIN
         INSERT INTO vote_idea_fts(vote_idea_fts, rowid, title, description)
         VALUES ('delete', old.id, old.title, old.description);
       END""",
    """CREATE TRIGGER vote_idea_fts_au AFTER UPDATE OF title, description ON vote_idea BEGIN
         INSERT INTO vote_idea_fts(vote_idea_fts, rowid, title, description)
         VALUES ('delete', old.id, old.title, old.description);
         INSERT INTO vote_idea_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
       END""",
)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    by_column = {column: (name, rule) for name, (column, rule) in IDEA_CHECKS.items()}
    if sqlite:
        # SQLite checks a new column's CHECK against the rows already there: ideas already done
        # wait in "in_delivery" while closing_note is added, then get their note back with "done".
        op.execute("CREATE TEMP TABLE delivery_0001_done AS SELECT id FROM vote_idea WHERE status = 'done'")
        op.execute("UPDATE vote_idea SET status = 'in_delivery' WHERE id IN (SELECT id FROM delivery_0001_done)")
    for column, sql_type in IDEA_COLUMNS:
        if sqlite:
            name, rule = by_column[column]
            op.execute(f"ALTER TABLE vote_idea ADD COLUMN {column} {sql_type} CONSTRAINT {name} CHECK ({rule})")
        else:
            op.execute(f"ALTER TABLE vote_idea ADD COLUMN {column} {sql_type}")
    note = ("COALESCE((SELECT u.text FROM vote_idea_update u WHERE u.idea_id = vote_idea.id AND u.status = 'done' "
            "ORDER BY u.id DESC LIMIT 1), 'Done.')")
    if sqlite:
        op.execute(f"UPDATE vote_idea SET closing_note = {note}, status = 'done' "
                   "WHERE id IN (SELECT id FROM delivery_0001_done)")
        op.execute("DROP TABLE delivery_0001_done")
    else:
        op.execute(f"UPDATE vote_idea SET closing_note = {note} WHERE status = 'done'")
    if not sqlite:
        for name, (_column, rule) in IDEA_CHECKS.items():
            op.create_check_constraint(name, "vote_idea", rule)
    op.create_index("ix_vote_idea_team_category", "vote_idea", ["team_id", "category"])
    op.create_table(
        "vote_milestone",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("idea_id", sa.Integer(), sa.ForeignKey("vote_idea.id"), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("photo_ref", sa.String(32), nullable=True),
        sa.Column("photo_type", sa.String(20), nullable=True),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("(photo_ref IS NULL) = (photo_type IS NULL)", name="ck_vote_milestone_photo"),
        sa.CheckConstraint(f"photo_type IS NULL OR {_in('photo_type', PHOTO_TYPES)}",
                           name="ck_vote_milestone_photo_type"),
    )
    op.create_index("ix_vote_milestone_idea_id", "vote_milestone", ["idea_id"])
    if sqlite:
        op.execute("CREATE VIRTUAL TABLE vote_idea_fts USING fts5(title, description, content='vote_idea', "
                   "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')")
        for sql in FTS_TRIGGERS:
            op.execute(sql)
        op.execute("INSERT INTO vote_idea_fts(vote_idea_fts) VALUES ('rebuild')")
    else:
        op.execute(f"CREATE INDEX ix_vote_idea_search ON vote_idea USING gin ({SEARCH_VECTOR})")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in ("vote_idea_fts_ai", "vote_idea_fts_ad", "vote_idea_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS vote_idea_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_vote_idea_search")
    op.drop_index("ix_vote_milestone_idea_id", table_name="vote_milestone")
    op.drop_table("vote_milestone")
    op.drop_index("ix_vote_idea_team_category", table_name="vote_idea")
    if not sqlite:
        for name in IDEA_CHECKS:
            op.drop_constraint(name, "vote_idea", type_="check")
    # SQLite 3.35+ drops a column whose CHECK is its own column constraint, once no other
    # column's CHECK names it: photo_ref's names photo_type, so photo_ref goes first.
    for column in ("closing_note", "photo_ref", "photo_type", "category"):
        op.execute(f"ALTER TABLE vote_idea DROP COLUMN {column}")
