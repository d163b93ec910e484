"""The schools of a trust: one installation, each school's records kept apart (gateway.core.schools)."""
from __future__ import annotations

from sqlalchemy import select

from gateway.core.errors import Refused
from gateway.core.schools import School
from moderation import audit


def add_school(session, name: str, domains: list[str], by) -> School:
    """A new school of the trust; its staff are added with `gateway --school ID users add`."""
    if not name.strip():
        raise Refused("a school needs a name")
    school = School(name=name.strip(), domains=[d.strip().lower() for d in domains if d.strip()])
    session.add(school)
    session.flush()
    audit.record(session, by, "school_added", f"school:{school.id}", name=school.name, domains=school.domains)
    session.commit()
    return school


def all_schools(session) -> list[School]:
    return list(session.scalars(select(School).order_by(School.id)))
