"""Loading what the checks need from the registry."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from consent_registry.consent import Status, photo_status
from consent_registry.faces import FaceContext, FaceSettings
from consent_registry.matching import Gallery
from consent_registry.models import Person

UNKNOWN = Status(False, "no consent on record")


def school_today(settings):
    return datetime.now(ZoneInfo(settings.timezone)).date()


def face_context(session, settings) -> FaceContext:
    """The templates (decrypted with the instance key) and today's photo consent of everyone enrolled."""
    gallery = Gallery.load(session, settings.encryption_key)
    today = school_today(settings)
    enrolled = session.scalars(select(Person).where(Person.id.in_([int(p) for p in gallery.people])))
    statuses = {p.id: photo_status(p, today) for p in enrolled}
    return FaceContext(gallery, lambda person_id: statuses.get(person_id, UNKNOWN), FaceSettings.from_settings(settings))
