"""What a person's consents allow today, and recording new decisions (appended, never overwritten)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gateway.core.errors import Problem, Refused
from consent_registry.models import (
    GRANTED, PUPIL, SOCIAL, STATUSES, WITHDRAWN, BiometricConsent, Person, PhotoConsent)
from consent_registry.withdrawal import Consequences, after_photo_consent_ended
from moderation import audit


class ConsentError(Refused):
    """A plain-words reason why a consent could not be recorded."""


@dataclass(frozen=True)
class Status:
    ok: bool
    reason: str


def current_photo_consent(person: Person, channel: str = SOCIAL) -> PhotoConsent | None:
    """The newest decision recorded for exactly this channel."""
    records = [c for c in person.photo_consents if c.channel == channel]
    return records[-1] if records else None


def own_channels(person: Person) -> list[str]:
    """The networks with a decision of their own, rather than the general social-media one."""
    return sorted({c.channel for c in person.photo_consents} - {SOCIAL})


def effective_photo_consent(person: Person, channel: str) -> PhotoConsent | None:
    """A network's own decision where one was recorded; otherwise the general social-media one."""
    return (channel != SOCIAL and current_photo_consent(person, channel)) or current_photo_consent(person, SOCIAL)


def current_biometric_consent(person: Person) -> BiometricConsent | None:
    return person.biometric_consents[-1] if person.biometric_consents else None


def in_school(person: Person, today: date) -> bool:
    return person.active and (person.leaving_date is None or person.leaving_date > today)


def photo_status(person: Person, today: date, channel: str = SOCIAL) -> Status:
    """May this person's photo be published on the channel (SOCIAL, or a network's name) today?"""
    if not in_school(person, today):
        return Status(False, "has left the school")
    record = effective_photo_consent(person, channel)
    if record is None:
        return Status(False, "no consent on record")
    if record.status != GRANTED:
        return Status(False, f"consent {record.status}")
    if record.expires_on is not None and record.expires_on < today:
        return Status(False, f"consent expired on {record.expires_on:%d %b %Y}")
    return Status(True, "written consent on record")


def biometric_status(person: Person, today: date) -> Status:
    """May face templates exist for this person? For a pupil, a parent's consent and no objection from the child."""
    if not in_school(person, today):
        return Status(False, "has left the school")
    record = current_biometric_consent(person)
    if record is None or record.status != GRANTED:
        return Status(False, "no biometric consent" if record is None else f"biometric consent {record.status}")
    if person.kind == PUPIL and record.child_objects:
        return Status(False, "the child objects")
    return Status(True, "biometric consent on record")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ConsentError(f"consent must be one of {', '.join(STATUSES)}, not {status!r}")


def record_photo_consent(session, person: Person, status: str, by, *, given_by: str = "", given_on: date | None = None,
                         expires_on: date | None = None, evidence: str = "", channel: str = SOCIAL,
                         today: date | None = None) -> Consequences:
    """Append the decision; if the person's photos may no longer be shown, their posts follow (see withdrawal)."""
    _check_status(status)
    if expires_on and given_on and expires_on < given_on:
        raise ConsentError("the expiry date is before the date consent was given")
    today = today or date.today()
    channels = {SOCIAL, channel, *own_channels(person)}  # any other network follows SOCIAL
    before = _allowed_on(person, today, channels) if person.id is not None else set()
    session.add(PhotoConsent(person=person, channel=channel, status=status, given_by=given_by, given_on=given_on,
                             expires_on=expires_on, evidence=evidence, recorded_by=audit.actor_label(by)))
    audit.record(session, by, "photo_consent_recorded", f"person:{person.mis_id}", channel=channel, status=status,
                 given_by=given_by, given_on=given_on, expires_on=expires_on, evidence=evidence)
    session.flush()
    ended = before - _allowed_on(person, today, channels)
    if ended:
        reason = photo_status(person, today, channel if channel in ended else min(ended)).reason
        return after_photo_consent_ended(session, person, by, reason, lambda c: photo_status(person, today, c).ok)
    return Consequences()


def _allowed_on(person: Person, today: date, channels) -> set[str]:
    return {c for c in channels if photo_status(person, today, c).ok}


def record_biometric_consent(session, person: Person, status: str, by, *, given_by: str = "",
                             given_on: date | None = None, child_objects: bool = False, evidence: str = "",
                             today: date | None = None) -> BiometricConsent:
    """Record it; if templates may no longer exist, they are deleted in the same transaction."""
    _check_status(status)
    record = BiometricConsent(person=person, status=status, given_by=given_by, given_on=given_on,
                              child_objects=child_objects, evidence=evidence, recorded_by=audit.actor_label(by))
    session.add(record)
    audit.record(session, by, "biometric_consent_recorded", f"person:{person.mis_id}", status=status,
                 given_by=given_by, given_on=given_on, child_objects=child_objects, evidence=evidence)
    delete_templates_unless_allowed(session, person, by, today or date.today())
    return record


def delete_templates_unless_allowed(session, person: Person, by, today: date) -> int:
    """Design §2: templates exist only while biometric consent is valid."""
    status = biometric_status(person, today)
    if status.ok or not person.templates:
        return 0
    count = len(person.templates)
    person.templates.clear()
    session.flush()
    audit.record(session, by, "face_templates_deleted", f"person:{person.mis_id}", count=count, reason=status.reason)
    return count


HOW_ASKED = ("in person", "by letter", "by e-mail", "by phone", "through the school's information system", "other")


@dataclass(frozen=True)
class Asked:
    """Who asked for a consent to be withdrawn, how, and on what day: recorded with the withdrawal."""

    by: str
    how: str
    on: date

    def problems(self, today: date) -> list[Problem]:
        found = []
        if not self.by.strip():
            found.append(Problem("say who asked for it (for example the parent's name)", "asked_by"))
        if self.how not in HOW_ASKED:
            found.append(Problem("say how they asked", "how"))
        if self.on > today:
            found.append(Problem("the day they asked cannot be in the future", "asked_on"))
        return found


def withdraw(session, person: Person, consent: str, by, asked: Asked, today: date | None = None) -> Consequences:
    """Withdraw photo consent on every social network (the general one and each network's own), or biometric; the
    record says who asked (given_by), how (evidence) and when (given_on)."""
    today = today or date.today()
    problems = asked.problems(today)
    if problems:
        raise ConsentError("; ".join(problems))
    given = dict(given_by=asked.by.strip(), given_on=asked.on, evidence=f"asked {asked.how}")
    if consent == SOCIAL:
        result = Consequences()
        for channel in [SOCIAL, *own_channels(person)]:
            record = current_photo_consent(person, channel)
            if record is None or record.status != WITHDRAWN:
                result.add(record_photo_consent(session, person, WITHDRAWN, by, channel=channel, today=today,
                                                **given))
        return result
    if consent == "biometric":
        record_biometric_consent(session, person, WITHDRAWN, by, today=today, **given)
        return Consequences()
    raise ConsentError("consent must be 'social' or 'biometric'")


def consent_changes(session, post, today: date) -> list[str]:
    """Just before publishing: why a face shown on one of the networks may no longer be shown there (empty if
    nothing changed). Every network of the post is looked at, so its accounts never get differently checked posts."""
    reasons = []
    for image in post.images:
        for face in image.faces:
            if not face.shown_on:
                continue
            person = session.get(Person, face.person_id) if face.person_id else None
            if person is None:
                reasons.append(f"a person shown in {image.label} is no longer in the registry")
                continue
            statuses = [photo_status(person, today, channel) for channel in face.shown_on]
            for status in [*statuses, biometric_status(person, today)]:
                reason = f"someone shown in {image.label}: {status.reason}"
                if not status.ok and reason not in reasons:
                    reasons.append(reason)
    return reasons
