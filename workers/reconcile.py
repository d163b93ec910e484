"""Finds work whose job was lost (Redis flushed, worker killed) and sets it going again.

The database is the source of truth; this makes the queue agree with it. One reconciler runs at a time (a
Redis lock shared by the command and every worker's maintenance round), and because that lock can be lost
(Redis flushed or restarted, a round longer than the lock), every row is also locked and re-read before it
is changed, and changed only if it is still as it was read. Each row is handled on its own: one that fails
is logged with its id, counted, and tried again next round.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select

from consent_registry.models import Takedown
from gateway.core.db import lock_row, session_for, utcnow
from gateway.models import AccountLink
from gateway.platforms import outgoing_for, publisher_for
from gateway.platforms.base import PublishError
from moderation import audit, lifecycle
from moderation.models import Post, Publication
from gateway.services import comments, notices, publishing
from moderation.replies import Reply, ReplyPoll
from workers import queues

log = logging.getLogger(__name__)
LOCK_NAME = "gateway:reconcile"
LOCK_SECONDS = 30  # renewed before every row; a reconciler that dies holds the others back this long at most
WAITING = (lifecycle.APPROVED, lifecycle.SCHEDULED)
TRANSIT_KEY = "gateway:in-transit"
IN_TRANSIT_SECONDS = 5  # a worker starts what it popped within milliseconds; this is for a busy machine
TRANSIT_KEY_SECONDS = 86400


class Busy(Exception):
    """Another reconciler held the lock for longer than we were willing to wait."""


@dataclass
class Report:
    checks_requeued: list[int] = field(default_factory=list)
    publications_requeued: list[int] = field(default_factory=list)
    publications_found: list[int] = field(default_factory=list)
    approvals_expired: list[int] = field(default_factory=list)
    takedowns_started: list[int] = field(default_factory=list)
    reply_reads_queued: list[int] = field(default_factory=list)
    reply_actions_queued: list[int] = field(default_factory=list)
    account_mails_queued: list[int] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __str__(self):
        return (f"checks re-queued: {len(self.checks_requeued)}, publications re-queued: "
                f"{len(self.publications_requeued)}, found already published: {len(self.publications_found)}, "
                f"approvals expired: {len(self.approvals_expired)}, takedowns started: {len(self.takedowns_started)}, "
                f"reply reads queued: {len(self.reply_reads_queued)}, reply actions queued: "
                f"{len(self.reply_actions_queued)}, account links queued for e-mail: {len(self.account_mails_queued)}, "
                f"rows that failed (tried again next round): {len(self.failed)}")


class _Held:
    """The reconcilers' lock while a round holds it; `renew()` before each row keeps it for LOCK_SECONDS more."""

    def __init__(self, lock):
        self.lock, self.lost = lock, False

    def renew(self) -> None:
        if not self.lost:
            try:
                self.lock.reacquire()
            except redis.exceptions.LockError:
                self.lost = True


@contextmanager
def exclusive(conn, wait: float = 0):
    """Hold the reconcilers' lock for a round; raises Busy if another holds it after `wait` seconds.

    Losing the lock mid-round (FLUSHDB, a Redis restart) is logged, never raised: the row checks keep a
    second reconciler from undoing this one's work.
    """
    lock = conn.lock(LOCK_NAME, timeout=LOCK_SECONDS, blocking=wait > 0, blocking_timeout=wait or None)
    if not lock.acquire():
        raise Busy("another reconciler is running")
    held = _Held(lock)
    try:
        yield held
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            held.lost = True
        if held.lost:
            log.warning("the reconcilers' lock was lost during the round (the queue was flushed or restarted); "
                        "the round finished row by row as usual")


def reconcile(settings, wait: float = 60) -> Report:
    """One round under the reconcilers' lock (the command's and the tests'; workers hold it for more)."""
    conn = queues.connection(settings)
    with exclusive(conn, wait) as held:
        return round_(settings, conn, held)


def round_(settings, conn, held: _Held) -> Report:
    """One reconcile round; the caller holds the lock."""
    report = Report()
    with session_for(settings.database_url) as session:
        now = utcnow()

        def each(kind: str, ident: int, handle) -> None:
            held.renew()
            _each(session, report, kind, ident, handle)

        for post_id in _ids(session, select(Post.id).where(Post.state.in_([lifecycle.SUBMITTED, lifecycle.CHECKING]))):
            each("post", post_id, lambda: _checks(session, settings, conn, post_id, report))
        for post_id in _ids(session, select(Post.id).where(Post.state.in_(WAITING))):
            each("post", post_id, lambda: _expire(session, settings, post_id, now, report))
        publications = select(Publication.id).join(Post).where(
            Publication.state.in_([lifecycle.PUB_PENDING, *lifecycle.PUB_UNSURE]),
            Post.state.in_([*WAITING, lifecycle.PUBLISHING]))
        for pub_id in _ids(session, publications):
            each("publication", pub_id, lambda: _publication(session, settings, conn, pub_id, report))
        held.renew()
        report.takedowns_started = release_takedowns(settings, session, conn, report)
        held.renew()
        for poll in comments.watch_accounts(session, settings, now):
            each("account", poll.account_id, lambda: _reply_read(session, settings, conn, poll.account_id, report))
        for reply_id in _ids(session, select(Reply.id).where(Reply.action.is_not(None))):
            each("reply", reply_id, lambda: _reply_action(session, settings, conn, reply_id, report))
        unsent = select(AccountLink.id).where(AccountLink.sealed_token.is_not(None), AccountLink.used_at.is_(None),
                                              AccountLink.expires_at > now)
        for link_id in _ids(session, unsent):
            each("account link", link_id, lambda: _account_mail(conn, settings, link_id, report))
    return report


def _account_mail(conn, settings, link_id: int, report: Report) -> None:
    """A set-up or reset link not yet e-mailed, whose job was lost (or never queued), is queued again."""
    if not _job_alive(conn, queues.account_mail_job_id(link_id)):
        queues.enqueue_account_mail(settings, link_id, conn)
        report.account_mails_queued.append(link_id)


def _reply_read(session, settings, conn, account_id: int, report: Report) -> None:
    """Every watched account has its next read queued (at its time): the first one, or one whose job was lost."""
    poll = lock_row(session, ReplyPoll, account_id)
    round_, when = poll.round, poll.next_at
    session.rollback()
    if not _job_alive(conn, queues.poll_job_id(account_id, round_)):
        queues.enqueue_poll(settings, account_id, round_, when if when > utcnow() else None, conn)
        report.reply_reads_queued.append(account_id)


def _reply_action(session, settings, conn, reply_id: int, report: Report) -> None:
    """A hide, restore or block whose job was lost is queued again."""
    reply = lock_row(session, Reply, reply_id)
    action, attempts = reply.action, reply.attempts
    session.rollback()
    if action is not None and not _job_alive(conn, queues.reply_job_id(reply_id, attempts)):
        queues.enqueue_reply_action(settings, reply_id, attempts, None, conn)
        report.reply_actions_queued.append(reply_id)


def _ids(session, query) -> list[int]:
    """Ids to visit, read in a short transaction of their own (each row is then read again, locked)."""
    ids = list(session.scalars(query.order_by(query.selected_columns[0])))
    session.rollback()
    return ids


def _each(session, report: Report, kind: str, ident: int, handle) -> None:
    """Handle one row; a failure is logged and counted, and the round goes on. A queue outage ends the round."""
    try:
        handle()
    except queues.ERRORS:
        session.rollback()
        raise
    except Exception:  # one bad row must not stop the takedowns and re-queues of every other row
        session.rollback()
        log.exception("reconciling %s %s failed; it is tried again next round", kind, ident)
        report.failed.append(f"{kind} {ident}")


def _job_alive(conn, job_id: str) -> bool:
    """Whether the job will still run: waiting in its queue, scheduled, or running under a live worker.

    A job's own status is not enough: one popped by a worker that died before starting it says "queued"
    for ever, while it is in no queue.
    """
    try:
        job = Job.fetch(job_id, connection=conn)
    except NoSuchJobError:
        return False
    queue = Queue(job.origin, connection=conn)
    status = job.get_status()
    if status == JobStatus.QUEUED:
        return (conn.lpos(queue.key, job_id) is not None or job_id in queue.started_job_registry
                or _in_transit(conn, job))
    if status == JobStatus.SCHEDULED:
        return job_id in queue.scheduled_job_registry
    if status == JobStatus.STARTED:
        return job_id in queue.started_job_registry  # rq's own clean-up takes out those of dead workers
    return False


def _in_transit(conn, job: Job) -> bool:
    """A worker pops a job from its queue and records it as started a moment later; in between it is in neither.
    Re-queued then, it would run twice (seen with two workers under load). It is lost with a worker that died
    only if a round still finds it so IN_TRANSIT_SECONDS after a round first did (rq's own rule for its
    intermediate list, which rq does not use for a worker of several queues, as ours are)."""
    key = f"{TRANSIT_KEY}:{job.id}:{job.enqueued_at.timestamp() if job.enqueued_at else ''}"
    now = utcnow().timestamp()
    if conn.set(key, now, nx=True, ex=TRANSIT_KEY_SECONDS):
        return True
    first_seen = conn.get(key)
    return first_seen is None or now - float(first_seen) < IN_TRANSIT_SECONDS


def _checks(session, settings, conn, post_id: int, report: Report) -> None:
    post = lock_row(session, Post, post_id)
    if post.state == lifecycle.CHECKING:
        if post.check_lease_until and post.check_lease_until > utcnow():
            return session.rollback()
        lifecycle.requeue_checks(post)
        audit.record(session, "reconciler", "checks_requeued", f"post:{post.id}", post.school_id,
                     reason="check lease ended")
    elif post.state != lifecycle.SUBMITTED or _job_alive(conn, queues.check_job_id(post.id, post.check_attempt)):
        return session.rollback()
    attempt = post.check_attempt
    session.commit()
    queues.enqueue_checks(settings, post_id, attempt, conn)
    report.checks_requeued.append(post_id)


def _expire(session, settings, post_id: int, now, report: Report) -> None:
    post = lock_row(session, Post, post_id)
    going = any(p.state in lifecycle.PUB_GOING for p in post.publications)
    valid_for = timedelta(hours=settings.approval_hours)
    if post.state not in WAITING or going or not lifecycle.approval_expired(post, valid_for, now):
        if post.state in WAITING and not going and notices.expiring(session, post, valid_for, now):
            return session.commit()
        return session.rollback()
    lifecycle.expire_approval(post)
    audit.record(session, "reconciler", "approval_expired", f"post:{post.id}", post.school_id)
    session.commit()
    report.approvals_expired.append(post_id)


def _publication(session, settings, conn, pub_id: int, report: Report) -> None:
    pub = lock_row(session, Publication, pub_id)
    now = utcnow()
    if pub.state == lifecycle.PUB_PENDING:
        due = pub.post.publish_at if pub.post.publish_at and pub.post.publish_at > now else None
        attempt = pub.attempts
        session.rollback()
        if not _job_alive(conn, queues.publish_job_id(pub_id, attempt)):
            queues.enqueue_publish(settings, pub_id, attempt, due, conn)
            report.publications_requeued.append(pub_id)
    elif pub.state in lifecycle.PUB_UNSURE and (pub.lease_until is None or pub.lease_until < now):
        _resolve_unknown(session, settings, conn, pub, report)
    else:
        session.rollback()


def _resolve_unknown(session, settings, conn, pub, report: Report) -> None:
    """A publish job died after claiming, or lost the platform's answer: look before publishing again.

    The look-up can be slow (X's timeline lags), so it runs outside any transaction; what it found is
    applied only if the publication is still as it was read.
    """
    seen = (pub.state, pub.attempts, pub.lease_until)
    publisher, outgoing = publisher_for(pub.account, settings), outgoing_for(pub, settings)
    session.rollback()
    try:
        found, problem = publisher.find(outgoing), None
    except PublishError as exc:  # not certain either way: look again next round
        found, problem = None, exc
    pub = lock_row(session, Publication, pub.id)
    if (pub.state, pub.attempts, pub.lease_until) != seen:
        log.info("publication %s changed while it was looked up; left as it is now (%s)", pub.id, pub.state)
        return session.rollback()
    if problem is not None:
        log.warning("could not look for publication %s: %s", pub.id, problem)
        lifecycle.publication_unknown(pub, str(problem), timedelta(seconds=60))
        return session.commit()
    if found:
        publishing.record_published(session, pub, found)
        session.commit()
        return report.publications_found.append(pub.id)
    if pub.attempts >= publishing.MAX_ATTEMPTS:
        publishing.give_up(session, pub, f"It was tried {pub.attempts} times and cannot be found on {pub.account.label}.")
        return
    lifecycle.requeue_publication(pub)
    audit.record(session, "reconciler", "publish_requeued", f"post:{pub.post_id}", pub.post.school_id,
                 account=pub.account.label)
    session.commit()
    queues.enqueue_publish(settings, pub.id, pub.attempts, None, conn)
    report.publications_requeued.append(pub.id)


def release_takedowns(settings, session, conn=None, report: Report | None = None) -> list[int]:
    """Start required takedowns when the school lets them run without SMT, and any pending one whose job is lost."""
    conn = conn or queues.connection(settings)
    report = report or Report()
    started: list[int] = []
    query = select(Takedown.id).where(Takedown.state.in_([lifecycle.TAKEDOWN_REQUIRED, lifecycle.TAKEDOWN_PENDING]))
    for takedown_id in _ids(session, query):
        _each(session, report, "takedown", takedown_id,
              lambda: _takedown(session, settings, conn, takedown_id, started))
    return started


def _takedown(session, settings, conn, takedown_id: int, started: list[int]) -> None:
    takedown = lock_row(session, Takedown, takedown_id)
    if takedown.state == lifecycle.TAKEDOWN_REQUIRED and settings.takedown_auto:
        lifecycle.start_takedown(takedown)
    elif (takedown.state != lifecycle.TAKEDOWN_PENDING
          or _job_alive(conn, queues.takedown_job_id(takedown.id, takedown.attempts))):
        return session.rollback()
    attempt = takedown.attempts
    session.commit()
    queues.enqueue_takedown(settings, takedown_id, attempt, None, conn)
    started.append(takedown_id)
