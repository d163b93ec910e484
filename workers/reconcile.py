"""Finds work whose job was lost (Redis flushed, worker killed) and sets it going again.

The database is the source of truth; this makes the queue agree with it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from consent_registry.models import Takedown
from gateway.db import session_for, utcnow
from gateway.publishers import PublishError, outgoing_for, publisher_for
from moderation import audit, lifecycle
from moderation.models import Post, Publication
from workers import jobs, queues

log = logging.getLogger(__name__)
ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@dataclass
class Report:
    checks_requeued: list[int] = field(default_factory=list)
    publications_requeued: list[int] = field(default_factory=list)
    publications_found: list[int] = field(default_factory=list)
    approvals_expired: list[int] = field(default_factory=list)
    takedowns_started: list[int] = field(default_factory=list)

    def __str__(self):
        return (f"checks re-queued: {len(self.checks_requeued)}, publications re-queued: "
                f"{len(self.publications_requeued)}, found already published: {len(self.publications_found)}, "
                f"approvals expired: {len(self.approvals_expired)}, takedowns started: {len(self.takedowns_started)}")


def _job_alive(conn, job_id: str) -> bool:
    try:
        return Job.fetch(job_id, connection=conn).get_status() in ALIVE
    except NoSuchJobError:
        return False


def reconcile(settings) -> Report:
    conn = queues.connection(settings)
    report = Report()
    now = utcnow()
    with session_for(settings.database_url) as session:
        for post in session.scalars(select(Post).where(Post.state.in_([lifecycle.SUBMITTED, lifecycle.CHECKING]))):
            if post.state == lifecycle.CHECKING:
                if post.check_lease_until and post.check_lease_until > now:
                    continue
                lifecycle.requeue_checks(post)
                audit.record(session, "reconciler", "checks_requeued", f"post:{post.id}", reason="check lease ended")
            elif _job_alive(conn, queues.check_job_id(post.id, post.check_attempt)):
                continue
            session.commit()
            queues.enqueue_checks(settings, post.id, post.check_attempt, conn)
            report.checks_requeued.append(post.id)

        valid_for = timedelta(hours=settings.approval_hours)
        waiting = [lifecycle.APPROVED, lifecycle.SCHEDULED]
        for post in session.scalars(select(Post).where(Post.state.in_(waiting))):
            if lifecycle.approval_deadline(post, valid_for) < now and not any(
                p.state in ("publishing", "published") for p in post.publications
            ):
                lifecycle.expire_approval(post)
                for pub in post.publications:
                    pub.state = "cancelled"
                audit.record(session, "reconciler", "approval_expired", f"post:{post.id}")
                session.commit()
                report.approvals_expired.append(post.id)

        publications = select(Publication).join(Post).where(
            Publication.state.in_(["pending", "publishing", "unknown"]), Post.state.in_(waiting + [lifecycle.PUBLISHING])
        )
        for pub in session.scalars(publications):
            if pub.state == "pending":
                if not _job_alive(conn, queues.publish_job_id(pub.id, pub.attempts)):
                    at = pub.post.publish_at if pub.post.publish_at and pub.post.publish_at > now else None
                    queues.enqueue_publish(settings, pub.id, pub.attempts, at, conn)
                    report.publications_requeued.append(pub.id)
            elif pub.lease_until is None or pub.lease_until < now:
                _resolve_unknown(session, settings, pub, report, conn)
        report.takedowns_started = release_takedowns(settings, session, conn)
    return report


def release_takedowns(settings, session, conn=None) -> list[int]:
    """Start required takedowns when the school lets them run without SMT, and any pending one whose job is lost."""
    conn = conn or queues.connection(settings)
    started = []
    for takedown in session.scalars(select(Takedown).where(Takedown.state.in_(["required", "pending"]))):
        if takedown.state == "required":
            if not settings.takedown_auto:
                continue
            takedown.state = "pending"
            session.commit()
        elif _job_alive(conn, f"takedown-{takedown.id}-{takedown.attempts}"):
            continue
        queues.enqueue_takedown(settings, takedown.id, takedown.attempts, None, conn)
        started.append(takedown.id)
    return started


def _resolve_unknown(session, settings, pub, report, conn) -> None:
    """A publish job died after claiming, or lost X's answer: look before publishing again."""
    try:
        found = publisher_for(pub.account, settings).find(outgoing_for(pub, settings))
    except PublishError as exc:  # not certain either way: look again next round
        log.warning("could not look for publication %s: %s", pub.id, exc)
        pub.state, pub.error = "unknown", str(exc)
        pub.lease_until = utcnow() + timedelta(seconds=60)
        session.commit()
        return
    if found:
        jobs.record_published(session, pub, found)
        report.publications_found.append(pub.id)
        session.commit()
        return
    pub.state, pub.lease_until = "pending", None
    audit.record(session, "reconciler", "publish_requeued", f"post:{pub.post_id}", account=pub.account.label)
    session.commit()
    queues.enqueue_publish(settings, pub.id, pub.attempts, None, conn)
    report.publications_requeued.append(pub.id)
