"""The consent registry's use cases. Each commits, then sets going what a consent change calls for (posts sent
back through the checks, takedowns) through the after-commit helper, so a queue out of reach only delays it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_, select

from consent_registry import consent, importer
from consent_registry.consent import Status
from consent_registry.enrolment import enrol as enrol_templates
from consent_registry.faces import FaceSettings
from consent_registry.importer import ImportPlan
from consent_registry.models import SOCIAL, Person
from consent_registry.registry import school_today
from consent_registry.withdrawal import Consequences, posts_featuring
from gateway.core.errors import Refused
from gateway.core.storage import Missing
from gateway.platforms import PLATFORMS, title_of
from gateway.services.queueing import commit_then_enqueue
from moderation.lifecycle import STATE_NAMES
from moderation.models import Post
from workers import queues
from workers.reconcile import release_takedowns

SEARCH_LIMIT = 200


@dataclass
class FollowUp:
    """What a consent change set going: posts sent back through the checks, posts that must come down."""
    rechecked: list[int] = field(default_factory=list)
    takedowns: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)  # takedowns started now (the school lets them run without SMT)
    queued: bool = True  # False: saved, but the queue is out of reach; the reconciler starts the work later


@dataclass(frozen=True)
class Profile:
    person: Person
    photo: Status
    biometric: Status
    posts: list[Post]  # every post with a photo in which the person was recognised
    networks: list[tuple[str, str, Status]]  # (channel, title, status) where a network has a decision of its own

    @property
    def may_appear_somewhere(self) -> bool:
        return self.photo.ok or any(status.ok for _, _, status in self.networks)


@dataclass(frozen=True)
class Imported:
    plan: ImportPlan  # with errors, nothing was imported
    follow_up: FollowUp


@dataclass(frozen=True)
class Preview:
    plan: ImportPlan
    token: str | None  # confirms the import of the previewed file; None when the file has errors


def find(session, mis_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.mis_id == mis_id))


def search(session, settings, q: str) -> list[tuple[Person, Status]]:
    """People whose MIS id or name contains q (everyone when q is empty), with today's photo consent."""
    query = select(Person).order_by(Person.last_name, Person.first_name).limit(SEARCH_LIMIT)
    if q:
        like = f"%{q}%"
        query = query.where(or_(Person.mis_id.ilike(like), Person.first_name.ilike(like),
                                Person.last_name.ilike(like), Person.preferred_name.ilike(like)))
    today = school_today(settings)
    return [(p, consent.photo_status(p, today)) for p in session.scalars(query)]


def profile(session, settings, person: Person) -> Profile:
    today = school_today(settings)
    networks = [(c, title_of(c), consent.photo_status(person, today, c)) for c in consent.own_channels(person)]
    return Profile(person, consent.photo_status(person, today), consent.biometric_status(person, today),
                   posts_featuring(session, person, list(STATE_NAMES)), networks)


def record_photo(session, settings, person: Person, status: str, by, *, given_by: str = "",
                 given_on: date | None = None, expires_on: date | None = None, evidence: str = "",
                 channel: str = SOCIAL) -> FollowUp:
    """Record a photo consent decision for social media in general, or for one network (`channel`, its name);
    if the photos may no longer be shown, the posts follow."""
    if channel != SOCIAL and channel not in PLATFORMS:
        raise consent.ConsentError(f"there is no network called {channel!r}")
    consequences = consent.record_photo_consent(
        session, person, status, by, given_by=given_by, given_on=given_on, expires_on=expires_on, evidence=evidence,
        channel=channel, today=school_today(settings))
    return _commit_and_follow(session, settings, consequences)


def record_biometric(session, settings, person: Person, status: str, by, *, given_by: str = "",
                     given_on: date | None = None, child_objects: bool = False, evidence: str = "") -> None:
    """Record a biometric consent decision; templates no longer allowed are deleted with it."""
    consent.record_biometric_consent(session, person, status, by, given_by=given_by, given_on=given_on,
                                     child_objects=child_objects, evidence=evidence, today=school_today(settings))
    session.commit()


def withdraw(session, settings, person: Person, kind: str, by, asked: consent.Asked) -> FollowUp:
    """Withdraw social media photo consent ('social') or biometric consent ('biometric', deleting the templates),
    recording who asked, how and when."""
    consequences = consent.withdraw(session, person, kind, by, asked, school_today(settings))
    return _commit_and_follow(session, settings, consequences)


def enrol(session, settings, person: Person, photos: list[tuple[str, bytes]], by) -> int:
    """Enrol photos of a person (each with exactly one face); only the face templates are kept. Returns how many."""
    added = enrol_templates(session, person, photos, settings.encryption_key, FaceSettings.from_settings(settings),
                            by, school_today(settings))
    session.commit()
    return added


def import_people(session, settings, text: str, by, *, dry_run: bool = False) -> Imported:
    """Import people and consents from the MIS export; a file with any bad row, or a dry run, changes nothing."""
    plan = importer.plan(session, text, tuple(PLATFORMS))
    if plan.errors or dry_run:
        return Imported(plan, FollowUp())
    consequences = importer.apply(session, plan, by, school_today(settings))
    return Imported(plan, _commit_and_follow(session, settings, consequences))


def preview_import(session, settings, text: str) -> Preview:
    """What importing the file would change; a file without errors is kept (owner only) until it is confirmed."""
    plan = importer.plan(session, text, tuple(PLATFORMS))
    if plan.errors:
        return Preview(plan, None)
    return Preview(plan, settings.imports.put(text.encode()))  # its random key is the token


def confirm_import(session, settings, token: str, by) -> Imported:
    """Import a previewed file, once; refused when the preview is gone or the registry changed since."""
    imported = import_people(session, settings, _pending(settings, token), by)
    if imported.plan.errors:
        raise Refused("The registry changed since the preview; upload the file again.")
    settings.imports.delete(token)
    return imported


def _pending(settings, token: str) -> str:
    """The previewed file; refused when it is gone, or when the token is no key at all (nothing outside imports/)."""
    try:
        return settings.imports.get(token).decode()
    except (Missing, ValueError):
        raise Refused("That preview has expired or was already imported; upload the file again.") from None


def _commit_and_follow(session, settings, consequences: Consequences) -> FollowUp:
    """Commit, then queue the re-checks and start the takedowns the school lets run without SMT."""
    follow_up = FollowUp(list(consequences.rechecked), list(consequences.takedowns))
    if not (follow_up.rechecked or follow_up.takedowns):
        session.commit()  # nothing to queue: the queue is not even asked
        return follow_up

    def start(conn) -> None:
        queues.enqueue_rechecks(settings, session, follow_up.rechecked, conn)
        if follow_up.takedowns:
            follow_up.started = release_takedowns(settings, session, conn)

    follow_up.queued = commit_then_enqueue(session, settings, start, "a consent change's follow-up")
    return follow_up
