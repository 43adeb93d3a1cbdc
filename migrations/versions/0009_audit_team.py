"""audit team: audit events name their Connected Team in a column, not only in the subject text

Revision ID: 0009_audit_team
Revises: 0008_one_head

Statements list a team's refused overspend attempts (ledger.md §3.2 G). They used to find them
by matching the free-text ``subject`` against ``team:<id>`` or the slug, which quick spend never
wrote (it writes "<team name>: £… for spend request N"), so no real refusal was ever listed.
``team_id`` is the structured link. Existing refusals are linked here: from the spend request
the subject names (its ``team_id``), or from a ``team:<id>`` prefix; anything else stays NULL.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_audit_team"
down_revision: str | Sequence[str] | None = "0008_one_head"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SPEND_REQUEST = re.compile(r"for spend request (\d+)\s*$")
_TEAM_PREFIX = re.compile(r"^team:(\d+)(?:$|[:\s/])")
_TEAM_ACTIONS = ("ledger.overspend_refused", "spend.approve", "spend.reject", "spend.cancel", "spend.pay")
_SPEND_SUBJECT = re.compile(r": spend request (\d+), ")


def _backfill() -> None:
    bind = op.get_bind()
    events = bind.execute(
        sa.text("SELECT id, action, subject FROM audit_event WHERE team_id IS NULL AND action IN :actions")
        .bindparams(sa.bindparam("actions", expanding=True)),
        {"actions": list(_TEAM_ACTIONS)},
    ).all()
    teams = {row[0] for row in bind.execute(sa.text("SELECT id FROM team"))}
    request_team = dict(bind.execute(sa.text("SELECT id, team_id FROM spend_request")).all())
    for event_id, action, subject in events:
        subject = subject or ""
        team_id = None
        found = (_SPEND_REQUEST if action == "ledger.overspend_refused" else _SPEND_SUBJECT).search(subject)
        if found is not None:
            team_id = request_team.get(int(found.group(1)))
        elif (prefix := _TEAM_PREFIX.match(subject.strip())) is not None and int(prefix.group(1)) in teams:
            team_id = int(prefix.group(1))
        if team_id is not None:
            bind.execute(sa.text("UPDATE audit_event SET team_id = :t WHERE id = :i"), {"t": team_id, "i": event_id})


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_audit_event_team_id_team", "team", ["team_id"], ["id"])
        batch_op.create_index("ix_audit_event_team_action", ["team_id", "action", "created_at"], unique=False)
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_team_action")
        batch_op.drop_constraint("fk_audit_event_team_id_team", type_="foreignkey")
        batch_op.drop_column("team_id")
