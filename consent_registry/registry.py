"""Loading what the checks need from the registry."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from consent_registry.consent import Status, photo_status
from consent_registry.faces import FaceContext, FaceSettings
from consent_registry.matching import Gallery
from consent_registry.models import SOCIAL, Person

UNKNOWN = Status(False, "no consent on record")


def school_today(settings):
    return datetime.now(ZoneInfo(settings.timezone)).date()


def face_context(session, settings, channels=(SOCIAL,)) -> FaceContext:
    """The templates (decrypted with the instance key) and today's photo consent of everyone enrolled, on each
    channel the photos go to (SOCIAL, or the networks of the post's accounts)."""
    gallery = Gallery.load(session, settings.encryption_key)
    today = school_today(settings)
    enrolled = session.scalars(select(Person).where(Person.id.in_([int(p) for p in gallery.people])))
    statuses = {(p.id, c): photo_status(p, today, c) for p in enrolled for c in channels}
    return FaceContext(gallery, tuple(channels), lambda person_id, channel: statuses.get((person_id, channel), UNKNOWN),
                       FaceSettings.from_settings(settings))
