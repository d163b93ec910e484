"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import consent_registry.models  # noqa: F401  (every model registers its table on Base.metadata)
import gateway.models  # noqa: F401
import moderation.audit  # noqa: F401
import moderation.link_rules  # noqa: F401
import moderation.models  # noqa: F401
import moderation.replies  # noqa: F401
from gateway.core.db import Base


def test_the_migrations_and_the_models_agree(settings, school):
    engine = create_engine(settings.database_url)  # the school fixture has run every migration on it
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
