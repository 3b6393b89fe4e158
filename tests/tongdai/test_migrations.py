"""The migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from plumbing.db import Base, make_engine
from tongdai.migrate import current_heads, upgrade


def test_migrations_match_the_models(db_url):
    engine = make_engine(db_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_upgrade_is_idempotent_and_reaches_head(db_url):
    upgrade(db_url)
    heads = current_heads(db_url)
    assert len(heads) == 1 and heads[0] is not None
