"""Alembic environment: the URL comes from the caller (tongdai.migrate), never from a file."""

from alembic import context
from sqlalchemy import pool

import api.models  # noqa: F401 - registers every table on Base.metadata
import intake.models  # noqa: F401
import ivr.models  # noqa: F401
import onestop.models  # noqa: F401
import plumbing.heartbeat  # noqa: F401
import scheduler.models  # noqa: F401
import sms.models  # noqa: F401
from plumbing.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
        with engine.connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    # Batch mode lets ALTER TABLE migrations work on SQLite too (it rebuilds the table).
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
