"""The test registry of the consent issue: public figures standing in for enrolled pupils and staff.

Enrolling means finding the one face in each photo (HOG upsample 2 by default: seconds per photo) and encoding
it. That result depends only on the photos and the face settings, so it is computed once per session, by the
product's own enrol() on a scratch database; each test then gets its own clean database with the same people,
consents and templates, sealed with that test's instance key as enrol() seals them. Under pytest-xdist the
first worker to need them enrols, and the others read its result from a file in the run's temporary folder.
"""
from __future__ import annotations

import fcntl
import functools
import io
import hashlib
import os
import pickle
from datetime import date
from pathlib import Path

import face_recognition
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from consent_registry import importer
from consent_registry.consent import biometric_status, record_photo_consent
from consent_registry.enrolment import enrol
from consent_registry.faces import FaceSettings
from consent_registry.matching import seal, unseal
from consent_registry.models import FaceTemplate, Person
from consent_registry.registry import face_context, school_today
from gateway.core import settings as settings_module
from gateway.core.db import session_for, upgrade
from moderation import audit
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
BY = "test"

Templates = dict[str, list[tuple[str, np.ndarray]]]  # mis_id -> [(photo_sha256, face encoding)]


def _import(session, settings) -> None:
    plan = importer.plan(session, CSV)
    assert not plan.errors, plan.errors
    importer.apply(session, plan, BY, school_today(settings))


def enrol_once(instance, face_settings: FaceSettings) -> Templates:
    """Import and enrol everyone with enrol() on a scratch SQLite instance; the templates it kept, unsealed."""
    # its own SQLite file whatever DATABASE_URL or .env say: the services' databases are not ours to write
    scratch = settings_module.load({"INSTANCE_DIR": str(instance), "DATABASE_URL": f"sqlite:///{instance}/scratch.db"})
    upgrade(scratch.database_url)
    with session_for(scratch.database_url) as session:
        _import(session, scratch)
        for mis_id, names in ENROL.items():
            person = session.scalar(select(Person).where(Person.mis_id == mis_id))
            photos = [(n, fixture_path(f"faces/{n}").read_bytes()) for n in names]
            enrol(session, person, photos, scratch.encryption_key, face_settings, BY, school_today(scratch))
        session.commit()
        rows = session.execute(select(Person.mis_id, Person.id, FaceTemplate.photo_sha256, FaceTemplate.encrypted)
                               .select_from(FaceTemplate).join(FaceTemplate.person).order_by(FaceTemplate.id)).all()
    templates: Templates = {}
    for mis_id, person_id, digest, blob in rows:
        templates.setdefault(mis_id, []).append((digest, unseal(scratch.encryption_key, person_id, blob)))
    assert {m: len(t) for m, t in templates.items()} == {m: len(n) for m, n in ENROL.items()}
    return templates


def shared_templates(folder: Path, face_settings: FaceSettings, instance: Path) -> Templates:
    """enrol_once's templates, kept in `folder` for every process of the run; the others wait for the first."""
    name = hashlib.sha256(repr(face_settings).encode()).hexdigest()[:16]
    saved = folder / f"enrolled-{name}.pickle"
    with open(folder / f"enrolled-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not saved.exists():
            saved.write_bytes(pickle.dumps(enrol_once(instance, face_settings)))
    return pickle.loads(saved.read_bytes())  # written by this run's own processes


@pytest.fixture(scope="session")
def enrolled(tmp_path_factory):
    """enrolled(face_settings): enrol_once's templates, computed once per run for each face settings."""
    base = tmp_path_factory.getbasetemp()
    folder = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # xdist: the run's, above the worker's
    cache: dict[FaceSettings, Templates] = {}

    def get(face_settings: FaceSettings) -> Templates:
        if face_settings not in cache:
            cache[face_settings] = shared_templates(folder, face_settings, tmp_path_factory.mktemp("enrol"))
        return cache[face_settings]

    return get


def build(settings, templates: Templates) -> dict[str, int]:
    """Import the people and add their enrolled templates as enrol() adds them; returns {mis_id: person id}."""
    today = school_today(settings)
    with session_for(settings.database_url) as session:
        _import(session, settings)
        for mis_id, kept in templates.items():
            person = session.scalar(select(Person).where(Person.mis_id == mis_id))
            assert biometric_status(person, today).ok  # enrol() would refuse otherwise
            for digest, encoding in kept:  # sealed with this instance's key and this person's id
                person.templates.append(FaceTemplate(encrypted=seal(settings.encryption_key, person.id, encoding),
                                                     photo_sha256=digest, created_by=audit.actor_label(BY)))
            audit.record(session, BY, "enrolled", f"person:{mis_id}", photos=len(kept))
        session.commit()
        return {p.mis_id: p.id for p in session.scalars(select(Person))}


@pytest.fixture
def registry(settings, enrolled):
    return build(settings, enrolled(FaceSettings.from_settings(settings)))


def context(settings):
    with session_for(settings.database_url) as session:
        return face_context(session, settings)


@functools.cache
def _biden() -> np.ndarray:
    return face_recognition.face_encodings(face_recognition.load_image_file(fixture_path("faces/biden_1.jpg")))[0]


def biden_is_visible(data: bytes) -> bool:
    """Does the photo still show Joe Biden's face, as face_recognition (not our check) sees it?"""
    biden = _biden()
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    encodings = face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb, 2))
    return bool(encodings) and min(face_recognition.face_distance(encodings, biden)) < 0.5


def consent_for_facebook_only(settings) -> None:
    """Joe Biden (P002), who refused social media, is given consent for the school's Facebook Page."""
    with session_for(settings.database_url) as session:
        person = session.scalar(select(Person).where(Person.mis_id == "P002"))
        record_photo_consent(session, person, "granted", "test", given_by="Joe Biden", given_on=date(2026, 9, 1),
                             channel="facebook", today=school_today(settings))
        session.commit()
