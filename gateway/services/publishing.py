"""Publishing a post to one account at most once, and taking it down again."""
from __future__ import annotations


import logging
from datetime import timedelta

from gateway.core.schools import as_school
from gateway.core.db import lock_row, session_for, utcnow
from gateway.platforms import outgoing_for, publisher_for
from gateway.platforms.base import PermanentError, RetryLater, Transient
from gateway.services import notices
from gateway.services.queueing import commit_then_enqueue
from moderation import audit, lifecycle
from consent_registry.consent import consent_changes
from consent_registry.models import Takedown
from consent_registry.registry import school_today
from moderation.models import Post, Publication
from workers import queues


log = logging.getLogger(__name__)
LEASE_GRACE = 5  # seconds past a job's timeout before the reconciler takes its work back
MAX_ATTEMPTS = 8


def publish(settings, publication_id: int) -> None:
    """Publish one post to one account, at most once."""
    with session_for(settings.database_url) as session:
        pub = session.get(Publication, publication_id, with_for_update=True)
        if pub is None or pub.state != lifecycle.PUB_PENDING:
            log.info("publication %s is not pending; skipped", publication_id)
            return
        post = pub.post
        settings = as_school(session, settings, post.school_id)
        if post.publish_at and post.publish_at > utcnow() + timedelta(seconds=5):
            log.info("publication %s is due at %s; skipped", publication_id, post.publish_at)
            return
        changes = consent_changes(session, post, school_today(settings))
        if changes:
            _send_back(session, settings, post, changes)
            return
        try:
            lifecycle.start_publishing(post)
        except lifecycle.InvalidTransition as exc:
            log.warning("publication %s not started: %s", publication_id, exc)
            session.rollback()
            return
        try:
            publisher = publisher_for(pub.account, settings)
            outgoing = outgoing_for(pub, settings)
            problems = publisher.validate(outgoing)
            if problems:
                raise PermanentError(" ".join(problems), code="invalid")
        except PermanentError as exc:
            _failed(session, pub, exc)
            return
        lifecycle.claim_publication(pub, timedelta(seconds=settings.publish_timeout + LEASE_GRACE))
        session.commit()  # the claim: from here a crash leaves it for the reconciler to look up
        _send(session, settings, pub, publisher, outgoing)


def _send(session, settings, pub, publisher, outgoing) -> None:
    """Send a claimed publication and record what came of it."""
    try:
        result = publisher.publish(outgoing)
    except RetryLater as exc:
        _again(session, settings, pub, exc, exc.retry_at)
    except Transient as exc:
        _again(session, settings, pub, exc, utcnow() + backoff(pub.attempts))
    except PermanentError as exc:
        _failed(session, pub, exc)
    except Exception as exc:  # Ambiguous, or anything unforeseen after the claim: look before trying again
        log.warning("publishing %s: outcome unknown (%s)", pub.id, exc)
        lifecycle.publication_unknown(pub, str(exc), timedelta(seconds=settings.publish_lookup_delay))
        audit.record(session, "worker", "publish_outcome_unknown", f"post:{pub.post_id}", account=pub.account.label,
                     error=str(exc))
        session.commit()
    else:
        pub = lock_row(session, Publication, pub.id)
        lock_row(session, Post, pub.post_id)  # read afresh too: a reconciler may have moved it meanwhile
        if pub.state == lifecycle.PUB_PUBLISHED:  # a reconciler found it first, while this job was slow
            log.info("publication %s was already recorded as published", pub.id)
            return session.rollback()
        record_published(session, pub, result)  # whatever a reconciler thought meanwhile, the platform has it
        session.commit()


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=30 * 2 ** min(attempts, 6))


def _again(session, settings, pub, exc, when) -> None:
    """Nothing was published; try again at `when` (a re-enqueued job, never a sleeping worker)."""
    if pub.attempts >= MAX_ATTEMPTS:
        give_up(session, pub, f"{exc} It has now failed {pub.attempts} times; try again later.")
        return
    lifecycle.requeue_publication(pub, str(exc))
    audit.record(session, "worker", "publish_retry", f"post:{pub.post_id}", account=pub.account.label,
                 at=when, error=str(exc))
    commit_then_enqueue(session, settings,
                        lambda conn: queues.enqueue_publish(settings, pub.id, pub.attempts, when, conn),
                        f"the retry of publication {pub.id}")


def give_up(session, pub, words: str) -> None:
    """Stop trying: SMT sees the publication failed, in words, and may retry it."""
    _failed(session, pub, PermanentError(words, code="gave_up"))


def _failed(session, pub, exc) -> None:
    lifecycle.publication_failed(pub, str(exc))
    lifecycle.fail_publishing(pub.post, f"{pub.account.label}: {exc}")
    audit.record(session, "worker", "publish_failed", f"post:{pub.post_id}", pub.post.school_id,
                 account=pub.account.label, error=str(exc))
    session.commit()


def _send_back(session, settings, post, changes) -> None:
    """Consent changed after approval: nothing is published; the photos are checked again and reviewed again."""
    lifecycle.recheck(post, "Consent changed before publishing (" + "; ".join(changes) + "); checked again.")
    audit.record(session, "worker", "consent_changed_before_publishing", f"post:{post.id}", reasons=changes)
    commit_then_enqueue(session, settings,
                        lambda conn: queues.enqueue_checks(settings, post.id, post.check_attempt, conn),
                        f"the re-check of post {post.id}")


def record_published(session, pub: Publication, result) -> None:
    """Record where the post went; the post is published once every publication is."""
    lifecycle.publication_published(pub, result.platform_id, result.url)
    audit.record(session, "worker", "published", f"post:{pub.post_id}", account=pub.account.label,
                 platform_id=result.platform_id, url=result.url)
    if pub.post.state == lifecycle.PUBLISHED:
        notices.published(session, pub.post)


def take_down(settings, takedown_id: int) -> None:
    """Remove a published post from every account it may be on; done only once each platform confirms it gone."""
    with session_for(settings.database_url) as session:
        takedown = lock_row(session, Takedown, takedown_id)
        if takedown is None or takedown.state != lifecycle.TAKEDOWN_PENDING:
            return
        takedown.attempts += 1
        post = session.get(Post, takedown.post_id)
        settings = as_school(session, settings, post.school_id)
        pub_ids = [p.id for p in post.publications if p.state in lifecycle.PUB_MAYBE_LIVE]
        session.commit()
        for pub_id in pub_ids:
            try:
                _remove(session, settings, takedown, pub_id)
            except (RetryLater, Transient) as exc:
                return _takedown_again(session, settings, takedown, exc)
            except PermanentError as exc:
                return _takedown_ends(session, takedown, lifecycle.TAKEDOWN_FAILED, str(exc))
            except _Manual as exc:
                return _takedown_ends(session, takedown, lifecycle.TAKEDOWN_MANUAL, str(exc))
        post = lock_row(session, Post, takedown.post_id)
        if post.state == lifecycle.PUBLISHED:
            lifecycle.take_down(post, takedown.reason)
            session.commit()
        _takedown_ends(session, takedown, lifecycle.TAKEDOWN_DONE, None)


class _Manual(Exception):
    """The platform cannot delete through its API: a person must remove the post by hand."""


def _remove(session, settings, takedown, pub_id: int) -> None:
    """Take one publication off its platform, or make sure it never goes there; raises to retry or stop.

    Only a published post is taken down, and nothing publishes a published post again, so a publication
    whose outcome was unsure can be looked up outside any transaction without being claimed first.
    """
    pub = lock_row(session, Publication, pub_id)
    if pub.state == lifecycle.PUB_PENDING and pub.attempts == 0:  # never sent: make sure it never is
        lifecycle.cancel_publication(pub)
        return session.commit()
    if pub.state in lifecycle.PUB_UNSURE and pub.lease_until and pub.lease_until > utcnow():
        # a publish job may be sending it right now, or the platform's timeline may not show it yet
        session.rollback()
        raise RetryLater("A publishing attempt is still under way; taking it down as soon as it ends.",
                         retry_at=pub.lease_until + timedelta(seconds=1))
    publisher = publisher_for(pub.account, settings)
    if not publisher.can_delete:
        session.rollback()
        raise _Manual(f"Remove it by hand on {pub.account.label}: {pub.platform_url}")
    platform_id = pub.platform_id if pub.state == lifecycle.PUB_PUBLISHED else None
    outgoing = None if platform_id else outgoing_for(pub, settings)
    session.rollback()
    if outgoing is not None:
        found = publisher.find(outgoing)
        platform_id = found.platform_id if found else None
    if platform_id:
        publisher.delete(platform_id)
    pub = lock_row(session, Publication, pub_id)
    if pub.state in (lifecycle.PUB_REMOVED, lifecycle.PUB_CANCELLED):  # a duplicate takedown job got here first
        return session.rollback()
    was = pub.state
    if not platform_id:
        lifecycle.cancel_publication(pub)
    else:
        lifecycle.publication_removed(pub, platform_id)
        audit.record(session, "worker", "removed", f"post:{pub.post_id}", account=pub.account.label,
                     platform_id=platform_id, requested_by=takedown.requested_by, reason=takedown.reason, was=was)
    session.commit()


def _takedown_again(session, settings, takedown, exc) -> None:
    """Nothing is certain yet: the takedown runs again (a re-enqueued job, never a sleeping worker)."""
    session.rollback()
    takedown = lock_row(session, Takedown, takedown.id)
    if takedown.attempts >= MAX_ATTEMPTS:
        return _takedown_ends(session, takedown, lifecycle.TAKEDOWN_FAILED, str(exc))
    takedown.error = str(exc)
    if takedown.attempts == 1:
        notices.takedown_retrying(session, session.get(Post, takedown.post_id))
    when = exc.retry_at if isinstance(exc, RetryLater) else utcnow() + backoff(takedown.attempts)
    attempt = takedown.attempts
    commit_then_enqueue(session, settings,
                        lambda conn: queues.enqueue_takedown(settings, takedown.id, attempt, when, conn),
                        f"the retry of takedown {takedown.id}")


def _takedown_ends(session, takedown, outcome: str, error: str | None) -> None:
    session.rollback()
    takedown = lock_row(session, Takedown, takedown.id)
    lifecycle.end_takedown(takedown, outcome, error)
    audit.record(session, "worker", f"takedown_{outcome}", f"post:{takedown.post_id}", requested_by=takedown.requested_by,
                 reason=takedown.reason, error=error)
    notices.taken_down(session, session.get(Post, takedown.post_id), takedown.reason,
                       failed=outcome != lifecycle.TAKEDOWN_DONE)
    session.commit()
