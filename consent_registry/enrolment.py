"""Biometric enrolment: one to five photos of a person, each with exactly one face; only the templates are kept."""
from __future__ import annotations

import hashlib
from datetime import date

from gateway.core.errors import Refused
from consent_registry.dlib_models import face_recognition
from consent_registry.consent import biometric_status
from consent_registry.faces import FaceSettings, decode
from consent_registry.matching import seal
from consent_registry.models import FaceTemplate, Person
from moderation import audit
from workers.checks.photos import PhotoLimits, clean_photo

MAX_TEMPLATES = 5


class EnrolmentError(Refused):
    """A plain-words reason why nothing was enrolled."""


def enrol(session, person: Person, photos: list[tuple[str, bytes]], key: bytes, face_settings: FaceSettings, by,
          today: date) -> int:
    """Adds one template per photo; all photos are checked before any is kept. Returns the number added."""
    status = biometric_status(person, today)
    if not status.ok:
        raise EnrolmentError(f"{person.display_name} cannot be enrolled: {status.reason}.")
    if not photos or len(person.templates) + len(photos) > MAX_TEMPLATES:
        raise EnrolmentError(f"A person can have 1 to {MAX_TEMPLATES} enrolment photos; "
                             f"{person.display_name} has {len(person.templates)} and {len(photos)} were given.")
    detector = face_settings.make_detector()
    encodings = []
    for name, data in photos:
        clean = clean_photo(data, name, PhotoLimits())
        if clean.data is None:
            raise EnrolmentError(clean.findings[0].message)
        rgb = decode(clean.data)
        boxes = detector.detect(rgb)
        if len(boxes) != 1:
            raise EnrolmentError(f"{name} must show exactly one face; {len(boxes)} were found.")
        encodings.append((hashlib.sha256(data).hexdigest(), face_recognition.face_encodings(rgb, [detector.dlib_box(boxes[0])])[0]))
    label = audit.actor_label(by)
    for digest, encoding in encodings:
        person.templates.append(FaceTemplate(encrypted=seal(key, person.id, encoding), photo_sha256=digest,
                                             created_by=label))
    audit.record(session, by, "enrolled", f"person:{person.mis_id}", photos=len(encodings))
    return len(encodings)
