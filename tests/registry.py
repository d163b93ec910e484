"""The test registry of the consent issue: public figures standing in for enrolled pupils and staff."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from consent_registry import importer
from consent_registry.enrolment import enrol
from consent_registry.faces import FaceSettings
from consent_registry.models import Person
from consent_registry.registry import face_context, school_today
from gateway.db import session_for
from tests.shared_fixtures import fixture_path

HEADER = ",".join(importer.COLUMNS)
ROWS = [
    # mis_id, kind, first, last, preferred, year, social, by, date, expires, biometric, by, date, child_objects
    "P001,staff,Barack,Obama,,,granted,Barack Obama,2026-09-01,,granted,Barack Obama,2026-09-01,no",
    "P002,staff,Joe,Biden,,,refused,Joe Biden,2026-09-01,,granted,Joe Biden,2026-09-01,no",
    "P003,staff,Alex,Lacamoire,,,granted,Alex Lacamoire,2026-09-01,,granted,Alex Lacamoire,2026-09-01,no",
    "P004,pupil,Rose,Leslie,,Year 5,granted,Ann Leslie (mother),2026-09-01,,granted,Ann Leslie (mother),2026-09-01,no",
    "P005,staff,Kit,Harington,,,granted,Kit Harington,2026-09-01,,,,,",
]
CSV = "\n".join([HEADER, *ROWS]) + "\n"
ENROL = {"P001": ["obama_1.jpg", "obama_2.jpg"], "P002": ["biden_1.jpg", "biden_2.jpg"],
         "P003": ["alex_lacamoire_1.jpg"], "P004": ["rose_leslie_1.jpg", "rose_leslie_2.jpg"]}


def build(settings) -> dict[str, int]:
    """Import the people, enrol their photos; returns {mis_id: person id}."""
    with session_for(settings.database_url) as session:
        plan = importer.plan(session, CSV)
        assert not plan.errors, plan.errors
        importer.apply(session, plan, "test", school_today(settings))
        for mis_id, names in ENROL.items():
            person = session.scalar(select(Person).where(Person.mis_id == mis_id))
            photos = [(n, fixture_path(f"faces/{n}").read_bytes()) for n in names]
            enrol(session, person, photos, settings.encryption_key, FaceSettings.from_settings(settings), "test",
                  school_today(settings))
        session.commit()
        return {p.mis_id: p.id for p in session.scalars(select(Person))}


@pytest.fixture
def registry(settings):
    return build(settings)


def context(settings):
    with session_for(settings.database_url) as session:
        return face_context(session, settings)
