"""People, their photo and biometric consents (full history, never overwritten) and face templates."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, column, select,
                        table)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.db import Base, UTCDateTime, utcnow
from gateway.core.schools import SchoolOwned, register_child

PUPIL, STAFF = "pupil", "staff"
GRANTED, REFUSED, WITHDRAWN = "granted", "refused", "withdrawn"
STATUSES = (GRANTED, REFUSED, WITHDRAWN)
SOCIAL = "social"  # the general social-media consent; a network's own consent is on the channel of its name


class Person(SchoolOwned, Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("school_id", "mis_id", name="uq_people_school_id_mis_id"),)  # each MIS its own

    id: Mapped[int] = mapped_column(primary_key=True)
    mis_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    year_group: Mapped[str | None] = mapped_column(String(40))
    leaving_date: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    photo_consents: Mapped[list[PhotoConsent]] = relationship(
        order_by="PhotoConsent.id", back_populates="person", cascade="all, delete-orphan")
    biometric_consents: Mapped[list[BiometricConsent]] = relationship(
        order_by="BiometricConsent.id", back_populates="person", cascade="all, delete-orphan")
    templates: Mapped[list[FaceTemplate]] = relationship(
        order_by="FaceTemplate.id", back_populates="person", cascade="all, delete-orphan")

    @property
    def display_name(self) -> str:
        return f"{self.preferred_name or self.first_name} {self.last_name}"


class Decision:
    """What every recorded consent decision holds: who gave it, when, on what evidence, and who wrote it down."""

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    given_by: Mapped[str] = mapped_column(String(200), default="")
    given_on: Mapped[date | None] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(String(200), default="")
    recorded_by: Mapped[str] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PhotoConsent(Decision, Base):
    """One recorded decision about photos on a channel; the newest one counts."""

    __tablename__ = "photo_consents"

    channel: Mapped[str] = mapped_column(String(20), default=SOCIAL)
    expires_on: Mapped[date | None] = mapped_column(Date)

    person: Mapped[Person] = relationship(back_populates="photo_consents")


class BiometricConsent(Decision, Base):
    """Consent to face recognition (Protection of Freedoms Act 2012 s.26–28); the newest one counts."""

    __tablename__ = "biometric_consents"

    child_objects: Mapped[bool] = mapped_column(Boolean, default=False)

    person: Mapped[Person] = relationship(back_populates="biometric_consents")


class FaceTemplate(Base):
    """A face encoding, encrypted with the instance key; the photo it came from is not kept."""

    __tablename__ = "face_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    photo_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(300))

    person: Mapped[Person] = relationship(back_populates="templates")


class Takedown(Base):
    """A published post that must come down (consent withdrawn, or SMT's decision)."""

    __tablename__ = "takedowns"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="required", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[str] = mapped_column(String(300))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


def _people_of(school: int):
    return select(Person.id).where(Person.school_id == school)


_posts = table("posts", column("id"), column("school_id"))  # moderation's; the registry does not import it
register_child(PhotoConsent, lambda school: PhotoConsent.person_id.in_(_people_of(school)))
register_child(BiometricConsent, lambda school: BiometricConsent.person_id.in_(_people_of(school)))
register_child(FaceTemplate, lambda school: FaceTemplate.person_id.in_(_people_of(school)))
register_child(Takedown, lambda school: Takedown.post_id.in_(select(_posts.c.id).where(_posts.c.school_id == school)))
