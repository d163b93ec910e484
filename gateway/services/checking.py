"""Checking a post: load it by id, run the checks, save what they found, fail closed."""
from __future__ import annotations


import hashlib
import logging
from datetime import timedelta

from gateway.core import storage
from gateway.core.crypto import WrongKey
from gateway.core.db import session_for
from moderation import audit, lifecycle
from moderation.link_rules import link_policy
from moderation.findings import verdict
from consent_registry.registry import face_context, name_matcher
from moderation.models import FindingRow, ImageFace, Post
from workers.checks.run import PhotoIn, run_checks
from workers.checks.photos import PhotoLimits


log = logging.getLogger(__name__)
LEASE_GRACE = 5  # seconds past a job's timeout before the reconciler takes its work back
MAX_ATTEMPTS = 8


def check_post(settings, post_id: int, attempt: int) -> None:
    """Run the checks on one post; a stale or duplicate job does nothing."""
    with session_for(settings.database_url) as session:
        post = session.get(Post, post_id, with_for_update=True)
        if post is None or post.check_attempt != attempt or post.state != lifecycle.SUBMITTED:
            log.info("check of post %s attempt %s is stale; skipped", post_id, attempt)
            return
        lifecycle.start_checks(post, lease=timedelta(seconds=settings.check_timeout + LEASE_GRACE))
        text, limit = post.text, post.account.text_limit if post.account else None
        originals = [(i.label, i.original_key, i.alt_text, i.manual_regions) for i in post.images]
        session.commit()  # no transaction stays open while the checks run
        try:
            photos = [PhotoIn(label, storage.get(settings.media, key), alt, regions)
                      for label, key, alt, regions in originals]
            faces = face_context(session, settings) if photos else None
            names, links = name_matcher(session, settings), link_policy(session, settings)
            session.commit()
            run = run_checks(text, photos, limit, PhotoLimits.from_settings(settings), faces, names, links)
            _save(session, settings, post_id, attempt, run)
        except Exception as exc:
            log.exception("checks of post %s failed", post_id)
            session.rollback()
            _record_failure(session, post_id, attempt, exc)


def _save(session, settings, post_id, attempt, run) -> None:
    post = session.get(Post, post_id, with_for_update=True, populate_existing=True)
    if post.state != lifecycle.CHECKING or post.check_attempt != attempt:
        log.info("post %s was taken over while checking; result dropped", post_id)
        session.rollback()
        return
    post.text_changes, post.links = run.text_changes, run.links
    for n, (image, photo) in enumerate(zip(post.images, run.photos)):
        image.clean_alt_text = run.alts[n] if n < len(run.alts) else None
        image.alt_changes = run.alt_changes[n] if n < len(run.alt_changes) else []
        if image.clean_key:
            storage.delete(settings.media, image.clean_key)
        image.clean_key = storage.put(settings.media, photo.data) if photo.data else None
        image.clean_sha256 = hashlib.sha256(photo.data).hexdigest() if photo.data else None
        image.clean_format, image.width, image.height = photo.format, photo.width, photo.height
        image.faces = [ImageFace(box=f["box"], verdict=f["verdict"], person_id=f["person"], distance=f["distance"],
                                 obscured=f["obscured"]) for f in photo.faces]
    post.findings = [
        FindingRow(code=f.code, severity=f.severity, message=f.message, subject=f.subject, evidence=f.evidence)
        for f in run.findings
    ]
    lifecycle.finish_checks(post, run.cleaned_text)
    audit.record(session, "worker", "checked", f"post:{post.id}", verdict=verdict(run.findings),
                 findings=[f.code for f in run.findings])
    session.commit()


def _record_failure(session, post_id, attempt, exc) -> None:
    post = session.get(Post, post_id, with_for_update=True, populate_existing=True)
    if post.state != lifecycle.CHECKING or post.check_attempt != attempt:
        return
    cause = str(exc) if isinstance(exc, WrongKey) else type(exc).__name__
    lifecycle.fail_checks(post, f"The checks could not run ({cause}). Retry, or ask for help if it keeps happening.")
    audit.record(session, "worker", "check_failed", f"post:{post.id}", error=repr(exc))
    session.commit()
