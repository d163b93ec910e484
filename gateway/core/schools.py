"""The schools of a trust, and keeping each school's records apart in one place.

A record that belongs to a school says which (SchoolOwned), or belongs through its parent (register_child). A
session for one school (for_school) sees only that school's records: every ORM query it runs gets the criteria
below, added by one event handler (SQLAlchemy's with_loader_criteria), never by hand in each query. New records it
saves are stamped with its school, and one naming another school is refused. A session with no school (a worker's
own rounds, the trust's data protection officer) sees every school. A single school is school 1 and nothing more.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column, with_loader_criteria

from gateway.core.db import Base, UTCDateTime, utcnow
from gateway.core.settings import Settings

DEFAULT_SCHOOL = 1  # the school an installation starts with, made by the migration that brought schools in
ALL_SCHOOLS = "all_schools"  # an execution option: this one query looks across schools (the sign-in's own)


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))  # None: the installation's SCHOOL_NAME
    domains: Mapped[list] = mapped_column(JSON, default=list)  # the school's own web domains, trusted in links
    retention_days: Mapped[int | None] = mapped_column(Integer)  # None: the installation's RETENTION_DAYS
    face_detector: Mapped[str | None] = mapped_column(String(20))  # None: the installation's FACE_DETECTOR
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchoolOwned:
    """A record that belongs to one school."""

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)


class OtherSchool(Exception):
    """A session for one school was asked to save a record of another: a bug, never a user's mistake."""


_CHILDREN: dict[type, Callable] = {}


def register_child(entity: type, criteria: Callable) -> None:
    """`entity` belongs to a school through its parent: criteria(school_id) is the SQL that says it is that school's."""
    _CHILDREN[entity] = criteria


def for_school(session: Session, school_id: int | None) -> Session:
    """From now on the session sees and saves only this school's records (None: every school's)."""
    session.info["school"] = school_id
    return session


def school_of(session: Session) -> int | None:
    return session.info.get("school")


def as_school(session: Session, settings: Settings, school_id: int | None) -> Settings:
    """The session becomes the school's (for_school), and the school's settings are returned (settings_for)."""
    return settings_for(for_school(session, school_id), settings)


def settings_for(session: Session, settings: Settings) -> Settings:
    """The installation's settings with the session's school's own: its name, web domains, retention and face
    detector (a session for every school keeps the installation's)."""
    school = school_of(session)
    found = session.get(School, school) if school is not None else None
    if found is None:
        return settings
    return replace(settings, school_name=found.name or settings.school_name,
                   school_domains=(*settings.school_domains, *found.domains),
                   retention_days=found.retention_days or settings.retention_days,
                   face_detector=found.face_detector or settings.face_detector)


@event.listens_for(Session, "do_orm_execute")
def _only_this_school(state) -> None:
    school = state.session.info.get("school")
    if (school is None or not state.is_select or state.is_column_load or state.is_relationship_load
            or state.execution_options.get(ALL_SCHOOLS)):
        return  # relationship and column loads carry the criteria of the query that loaded their parent
    state.statement = state.statement.options(
        with_loader_criteria(SchoolOwned, lambda cls: cls.school_id == school, include_aliases=True),
        *(with_loader_criteria(entity, criteria(school), include_aliases=True) for entity, criteria in _CHILDREN.items()))


@event.listens_for(Session, "before_flush")
def _stamp_new_records(session: Session, _context, _instances) -> None:
    school = session.info.get("school")
    for record in session.new:
        if not isinstance(record, SchoolOwned):
            continue
        if record.school_id is None and school is None and getattr(record, "trust_wide", False):
            continue  # the trust's own (its data protection officer), made by the trust
        if record.school_id is None:
            record.school_id = school if school is not None else DEFAULT_SCHOOL
        elif school is not None and record.school_id != school:
            raise OtherSchool(f"a session for school {school} tried to save a {type(record).__name__} of school "
                              f"{record.school_id}")
