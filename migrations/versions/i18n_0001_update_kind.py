"""idea updates the app writes keep a kind and parameters, so they are shown in the reader's language

Revision ID: i18n_0001
Revises: gnotify_0001

``vote_idea_update`` gains ``kind`` and ``params`` (JSON). The app's own updates, "Funded in
<round>: <explanation>" (closing a round) and "Feasible; the team estimates it costs £…" (the
review), were stored in English only; a page or email now writes them again from their kind and
parameters in its reader's language (issue 16), and ``text`` stays the English record. Existing
rows are given theirs when their text is exactly what the app wrote: a funded update against its
idea's funded round (title) and that round's stored explanation, a feasible one by its amount.
Anything else (a person's own words, or text that does not match) keeps no kind and is shown as
written, as before.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i18n_0001"
down_revision: str | Sequence[str] | None = "gnotify_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FEASIBLE = re.compile(r"Feasible; the team estimates it costs £(\d{1,3}(?:,\d{3})*)\.(\d\d)\.")

_updates = sa.table(
    "vote_idea_update",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String(20)),
    sa.column("params", sa.JSON),
)


def _backfill() -> None:
    bind = op.get_bind()
    funded = bind.execute(
        sa.text(
            "SELECT u.id, u.text, r.title, ri.explanation FROM vote_idea_update u "
            "JOIN vote_idea i ON i.id = u.idea_id JOIN vote_round r ON r.id = i.funded_round_id "
            "JOIN vote_round_idea ri ON ri.round_id = r.id AND ri.idea_id = i.id "
            "WHERE u.status = 'funded' AND u.kind IS NULL"
        )
    ).all()
    for update_id, text, title, explanation in funded:
        if text == f"Funded in {title}: {explanation}":
            bind.execute(
                _updates.update()
                .where(_updates.c.id == update_id)
                .values(kind="funded", params={"round": title, "explanation": explanation})
            )
    feasible = bind.execute(
        sa.text("SELECT id, text FROM vote_idea_update WHERE status = 'feasible' AND kind IS NULL")
    ).all()
    for update_id, text in feasible:
        match = _FEASIBLE.fullmatch(text or "")
        if match:
            pence = int(match[1].replace(",", "")) * 100 + int(match[2])
            bind.execute(
                _updates.update()
                .where(_updates.c.id == update_id)
                .values(kind="feasible", params={"cost_pence": pence})
            )


def upgrade() -> None:
    op.add_column("vote_idea_update", sa.Column("kind", sa.String(length=20), nullable=True))
    op.add_column("vote_idea_update", sa.Column("params", sa.JSON(), nullable=True))
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("vote_idea_update") as batch_op:
        batch_op.drop_column("params")
        batch_op.drop_column("kind")
