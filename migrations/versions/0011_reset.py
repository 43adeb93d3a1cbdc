"""reset: password-reset links, and room for encrypted TOTP secrets

Revision ID: 0011_reset
Revises: 0010_signin

``password_reset`` holds one row per emailed link: only the SHA-256 of its token, when it
expires (30 minutes) and when it was used (once). Invitations were not reused for this: they
carry a role, a team and who invited, and are accepted once per account, not once per request.

``person.totp_secret`` grows from 64 to 255 characters: it now holds a Fernet token (140
characters for a 32-character secret; community/totp.py). A migration cannot know the key, so
existing plain secrets stay readable as they are and ``flask --app wsgi users encrypt-secrets``
encrypts them (``make run`` runs it after the migrations).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import community.db

revision: str = "0011_reset"
down_revision: str | None = "0010_signin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _widen_secret(length: int, was: int) -> None:
    # On SQLite the batch mode copies ``person`` into a new table and drops the old one;
    # community/migrate.py turns foreign keys off for that and checks them all before commit.
    with op.batch_alter_table("person", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(was), type_=sa.String(length),
                              existing_nullable=True)


def upgrade() -> None:
    op.create_table(
        "password_reset",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", community.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", community.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("expires_at > created_at", name="ck_password_reset_expiry"),
        sa.CheckConstraint("used_at IS NULL OR used_at >= created_at", name="ck_password_reset_used"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_password_reset_person_id", "password_reset", ["person_id"], unique=False)
    _widen_secret(255, 64)


def downgrade() -> None:
    _widen_secret(64, 255)  # only once every secret is plain again (a Fernet token is longer)
    op.drop_index("ix_password_reset_person_id", table_name="password_reset")
    op.drop_table("password_reset")
