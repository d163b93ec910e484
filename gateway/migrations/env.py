from alembic import context

from gateway.core.db import Base, engine_for
import consent_registry.models  # noqa: F401  (the models register their tables)
import gateway.models  # noqa: F401
import moderation.audit  # noqa: F401
import moderation.link_rules  # noqa: F401
import moderation.models  # noqa: F401
import moderation.replies  # noqa: F401

config = context.config
url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")

with engine_for(url).connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
