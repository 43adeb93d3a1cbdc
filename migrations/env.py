"""Alembic environment: runs against the connection the app's CLI hands over.

``flask --app wsgi db upgrade`` passes a connection in ``config.attributes["connection"]``;
running ``alembic`` directly uses ``THRIVING_DATABASE_URL``.
"""

import os

from alembic import context
from sqlmodel import SQLModel

import community.models  # noqa: F401  (registers tables on the metadata)
import ledger.models  # noqa: F401
import pledges.models  # noqa: F401
import spend.models  # noqa: F401
import statements.models  # noqa: F401
import votes.models  # noqa: F401
from community.db import make_null_pool_engine

target_metadata = SQLModel.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_null_pool_engine(os.environ["THRIVING_DATABASE_URL"])
    with engine.connect() as conn:
        _run(conn)
