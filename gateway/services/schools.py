"""The schools of a trust: one installation, each school's records kept apart (gateway.core.schools)."""
from __future__ import annotations

from sqlalchemy import select

from gateway.core.errors import Refused
from gateway.core.schools import School
from moderation import audit
from workers.checks.links import normalise_entry


DETECTORS = ("retinaface", "hog", "centerface")  # as FACE_DETECTOR


def add_school(session, name: str, domains: list[str], by) -> School:
    """A new school of the trust; its staff are added with `gateway --school ID users add`."""
    if not name.strip():
        raise Refused("a school needs a name")
    school = School(name=name.strip(), domains=[normalise_entry(d) for d in domains if d.strip()])
    session.add(school)
    session.flush()
    audit.record(session, by, "school_added", f"school:{school.id}", name=school.name, domains=school.domains)
    session.commit()
    return school


def change_school(session, school_id: int, by, retention_days: int | None = None,
                  face_detector: str | None = None) -> School:
    """A school's own retention (days) or face detector, in place of the installation's; 0 or "" for the
    installation's again."""
    school = session.get(School, school_id)
    if school is None:
        raise Refused(f"there is no school {school_id} (see `gateway schools list`)")
    if retention_days is not None:
        if not 0 <= retention_days <= 3650:
            raise Refused("the retention is a number of days from 1 to 3650 (0: the installation's)")
        school.retention_days = retention_days or None
    if face_detector is not None:
        if face_detector and face_detector not in DETECTORS:
            raise Refused(f"the face detector is one of {', '.join(DETECTORS)}")
        school.face_detector = face_detector or None
    audit.record(session, by, "school_changed", f"school:{school.id}", retention_days=school.retention_days,
                 face_detector=school.face_detector)
    session.commit()
    return school


def all_schools(session) -> list[School]:
    return list(session.scalars(select(School).order_by(School.id)))
