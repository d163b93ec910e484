"""Database engine, sessions, the declarative base and migrations."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS = Path(__file__).parent.parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    pass


_ENGINES: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """One engine per database URL and process."""
    if url not in _ENGINES:
        _ENGINES[url] = _create(url)
    return _ENGINES[url]


def _create(url: str) -> Engine:
    if not url.startswith("sqlite:"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the begin hook below opens transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        # Writers queue up for the lock instead of failing on a stale snapshot.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _forget_parent_connections():
    """A forked worker must not reuse its parent's pooled connections."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


def session_for(url: str) -> Session:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)()


def upgrade(url: str) -> None:
    """Bring the database to the newest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    command.upgrade(config, "head")


def lock_row(session: Session, model, ident):
    """The row as it is now, locked until the transaction ends (on SQLite the transaction itself is the lock).

    Code that read a row, then did something slow outside any transaction, calls this before changing it and
    compares: another process may have moved the row on meanwhile.
    """
    return session.get(model, ident, with_for_update=True, populate_existing=True)
