"""Checking a post: load it by id, run the checks, save what they found, fail closed."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import inspect, select, update

from consent_registry.consent import in_school
from consent_registry.models import SOCIAL, Person
from consent_registry.registry import face_context, school_today
from gateway.core.crypto import WrongKey
from gateway.core.db import session_for
from gateway.core.schools import School, as_school
from gateway.services import notices
from gateway.platforms import PLATFORMS
from moderation import audit, lifecycle
from moderation.link_rules import link_policy
from moderation.models import FindingRow, ImageFace, ImageRendition, Post, PostImage
from workers.checks.names import NameMatcher, RosterPerson
from workers.checks.base import CheckContext, Draft, Memo, Photo, Target
from workers.checks.photos import PhotoLimits
from workers.checks.run import Outcome, run_checks


log = logging.getLogger(__name__)
LEASE_GRACE = 5  # seconds past a job's timeout before the reconciler takes its work back
MAX_ATTEMPTS = 8


def target(label: str, platform_name: str, text_limit: int) -> Target:
    """Where a post goes: its text limit, counted as its network counts text, and its network's photo limits."""
    platform = PLATFORMS[platform_name]
    return Target(label, platform_name, platform.title, text_limit, platform.text_length, platform.max_photos,
                  platform.max_photo_bytes, platform.max_alt_text)


_MATCHERS: dict[tuple, NameMatcher] = {}


def name_matcher(session, settings) -> NameMatcher:
    """The roster's matcher, built once per roster version (and per process; a worker builds it before forking)."""
    today = school_today(settings)
    people = tuple(
        RosterPerson(p.id, p.first_name, p.last_name, p.preferred_name, p.kind)
        for p in session.scalars(select(Person).order_by(Person.id)) if in_school(p, today)
    )
    key = (people, settings.names_include_staff)
    if key not in _MATCHERS:
        _MATCHERS.clear()
        _MATCHERS[key] = NameMatcher(people, include_staff=settings.names_include_staff)
    return _MATCHERS[key]


def prebuild_matcher(settings) -> None:
    """A worker's maintenance round builds the school's matcher before forking, so every check finds it ready: for
    a single school only. In a trust each check builds its own school's (tens of milliseconds), where building every
    school's would load every roster each round (seconds for 200 schools; `make bench`, bench_trust)."""
    with session_for(settings.database_url) as session:
        schools = session.scalars(select(School.id).limit(2)).all()
        if len(schools) == 1:
            name_matcher(session, as_school(session, settings, schools[0]))


def check_context(session, settings, photos: bool, targets=()) -> CheckContext:
    """Everything the checks read, loaded once: the registry's faces (only for photos) with consent on each of the
    targets' networks (the general social-media consent when there are none), the roster, the link lists."""
    channels = sorted({t.channel for t in targets}) or [SOCIAL]
    faces = face_context(session, settings, channels) if photos else None
    return CheckContext(PhotoLimits.from_settings(settings), faces, name_matcher(session, settings),
                        link_policy(session, settings), tuple(targets))


def check_draft(settings, draft: Draft, targets=()) -> Outcome:
    """The checks on a draft that is not a post (the command line's files): nothing is saved."""
    with session_for(settings.database_url) as session:
        context = check_context(session, settings, bool(draft.photos), targets)
    return run_checks(draft, context)


def check_post(settings, post_id: int, attempt: int) -> None:
    """Run the checks on one post; a stale or duplicate job does nothing."""
    with session_for(settings.database_url) as session:
        post = session.get(Post, post_id, with_for_update=True)
        if post is None or post.check_attempt != attempt or post.state != lifecycle.SUBMITTED:
            log.info("check of post %s attempt %s is stale; skipped", post_id, attempt)
            return
        settings = as_school(session, settings, post.school_id)  # its roster, faces, consents and settings only
        lifecycle.start_checks(post, lease=timedelta(seconds=settings.check_timeout + LEASE_GRACE))
        text, limits = post.text, [target(a.label, a.platform, a.text_limit) for a in post.accounts]
        originals = [(i.label, i.original_key, i.alt_text, i.manual_regions, dict(i.memos or {})) for i in post.images]
        image_ids = [i.id for i in post.images]
        for image in post.images:
            image.progress = "waiting to be checked"
        session.commit()  # no transaction stays open while the checks run
        try:
            photos = tuple(Photo.given(label, settings.media.get(key), alt, regions, _memos(settings, memos))
                           for label, key, alt, regions, memos in originals)
            context = replace(check_context(session, settings, bool(photos), limits),
                              progress=_progress(settings, image_ids))
            session.commit()
            _save(session, settings, post_id, attempt, run_checks(Draft(text, photos), context))
        except Exception as exc:
            log.exception("checks of post %s failed", post_id)
            session.rollback()
            _record_failure(session, post_id, attempt, exc)


def _memos(settings, kept: dict) -> dict[str, Memo]:
    """What the photo's last check kept (PostImage.memos); a memo whose rendition cannot be read is left out, and
    its work is done again."""
    memos = {}
    for stage, memo in kept.items():
        data = _stored(settings, memo["key"], memo.get("sha256")) if memo.get("key") else None
        if memo.get("key") and data is None:
            log.warning("the %s memo's rendition is missing or changed; the work is done again", stage)
            continue
        memos[stage] = Memo(memo["source"], memo.get("value"), data)
    return memos


def _keep_memos(settings, image: PostImage, memos) -> None:
    """The check's memos on the image; a rendition already stored for the same inputs is not stored again, and one
    no memo names any more is deleted."""
    old, kept = image.memos or {}, {}
    for stage, memo in memos.items():
        entry = {"source": memo.source, "value": memo.value}
        if memo.data is not None:
            same, digest = old.get(stage, {}), hashlib.sha256(memo.data).hexdigest()
            entry["sha256"] = digest
            reuse = same.get("sha256") == digest and same.get("key") and _stored(settings, same["key"], digest)
            entry["key"] = same["key"] if reuse else settings.media.put(memo.data)
        kept[stage] = entry
    for key in set(image.memo_keys()) - {entry.get("key") for entry in kept.values()}:
        settings.media.delete(key)
    image.memos = kept


def _stored(settings, key: str, digest: str | None) -> bytes | None:
    """A kept rendition, if it is still there and still has the SHA-256 recorded for it."""
    try:
        data = settings.media.get(key)
    except (OSError, ValueError):
        return None
    return data if hashlib.sha256(data).hexdigest() == digest else None


def _progress(settings, image_ids: list[int]):
    """Each stage a photo reaches, written at once in a short transaction of its own: the teacher's page polls it."""
    def report(index: int, stage: str) -> None:
        with session_for(settings.database_url) as session:
            session.execute(update(PostImage).where(PostImage.id == image_ids[index]).values(progress=stage[:80]))
            session.commit()

    return report


def _keep(row, records: dict) -> None:
    """Each check's records into the column named after it."""
    columns = inspect(row).mapper.column_attrs
    for name, value in records.items():
        if name not in columns:
            raise KeyError(f"no column {type(row).__name__}.{name} keeps the {name} records")
        setattr(row, name, value)


def _save(session, settings, post_id, attempt, outcome: Outcome) -> None:
    post = session.get(Post, post_id, with_for_update=True, populate_existing=True)
    if post.state != lifecycle.CHECKING or post.check_attempt != attempt:
        log.info("post %s was taken over while checking; result dropped", post_id)
        session.rollback()
        return
    _keep(post, outcome.records)
    for image, photo, records in zip(post.images, outcome.draft.photos, outcome.photo_records):
        _keep(image, records)
        image.clean_alt_text = photo.alt
        if image.clean_key:
            settings.media.delete(image.clean_key)
        image.clean_key = settings.media.put(photo.data) if photo.data else None
        image.clean_sha256 = hashlib.sha256(photo.data).hexdigest() if photo.data else None
        image.clean_format, image.width, image.height = photo.format, photo.width, photo.height
        for rendition in image.renditions:
            settings.media.delete(rendition.key)
        image.renditions = [ImageRendition(channel=channel, key=settings.media.put(data),
                                           sha256=hashlib.sha256(data).hexdigest()) for channel, data in photo.renditions]
        _keep_memos(settings, image, photo.memos)
        image.faces = [ImageFace(box=f["box"], verdict=f["verdict"], person_id=f["person"], distance=f["distance"],
                                 obscured=f["obscured"], shown_on=f["shown_on"]) for f in photo.faces]
    post.findings = [
        FindingRow(code=f.code, severity=f.severity, message=f.message, subject=f.subject, evidence=f.evidence)
        for f in outcome.findings
    ]
    lifecycle.finish_checks(post, outcome.draft.text)
    notices.checked(session, post)
    audit.record(session, "worker", "checked", f"post:{post.id}", verdict=outcome.verdict,
                 findings=[f.code for f in outcome.findings])
    session.commit()


def _record_failure(session, post_id, attempt, exc) -> None:
    post = session.get(Post, post_id, with_for_update=True, populate_existing=True)
    if post.state != lifecycle.CHECKING or post.check_attempt != attempt:
        return
    cause = str(exc) if isinstance(exc, WrongKey) else type(exc).__name__
    lifecycle.fail_checks(post, f"The checks could not run ({cause}). Retry, or ask for help if it keeps happening.")
    audit.record(session, "worker", "check_failed", f"post:{post.id}", error=repr(exc))
    session.commit()
