"""The queue connection and the named queues; every enqueue states its timeout, TTLs and retries."""
from __future__ import annotations

from datetime import datetime

import redis
from rq import Queue, Retry

from moderation.models import Post
from workers import embedded

TAKEDOWNS = "takedowns"
PUBLISH = "publish"
CHECKS = "checks"
COMMENTS = "comments"
MAIL = "mail"
# the order every worker takes them in: a takedown never waits behind a check, nor a post behind a reply
ALL = (TAKEDOWNS, PUBLISH, CHECKS, COMMENTS, MAIL)
DAY = 24 * 3600
HOUR = 3600
ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)  # the queue is out of reach


def connection(settings) -> redis.Redis:
    """A Redis client for REDIS_URL, or for the embedded server (started if needed)."""
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url)
    embedded.ensure_running(settings.queue_dir)
    return redis.Redis.from_url(embedded.url(settings.queue_dir))


def where(settings) -> str:
    """Which queue, for log lines: host, port and database number only, never a password."""
    if not settings.redis_url:
        return "the embedded queue"
    kwargs = redis.connection.parse_url(settings.redis_url)
    if "path" in kwargs:
        return f"Redis at {kwargs['path']}"
    return f"Redis at {kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def queue(settings, name: str, conn: redis.Redis | None = None) -> Queue:
    return Queue(name, connection=conn or connection(settings))


def check_job_id(post_id: int, attempt: int) -> str:
    return f"check-{post_id}-{attempt}"


def publish_job_id(publication_id: int, attempt: int) -> str:
    return f"publish-{publication_id}-{attempt}"


def enqueue_checks(settings, post_id: int, attempt: int, conn=None) -> None:
    # No rq retry: a lost or crashed check is re-run by the reconciler once its lease ends.
    queue(settings, CHECKS, conn).enqueue(
        "workers.jobs.check_post", post_id, attempt,
        job_id=check_job_id(post_id, attempt),
        job_timeout=settings.check_timeout, ttl=7 * DAY, result_ttl=DAY, failure_ttl=30 * DAY, retry=None,
    )


def enqueue_rechecks(settings, session, post_ids, conn=None) -> None:
    """Queue the checks of posts sent back by a consent change (the reconciler would find them too)."""
    for post_id in post_ids:
        enqueue_checks(settings, post_id, session.get(Post, post_id).check_attempt, conn)


def enqueue_publish(settings, publication_id: int, attempt: int, at: datetime | None = None, conn=None) -> None:
    q = queue(settings, PUBLISH, conn)
    options = dict(
        job_id=publish_job_id(publication_id, attempt),
        job_timeout=settings.publish_timeout, result_ttl=DAY, failure_ttl=30 * DAY,
        # Retries are safe: the job claims the publication before publishing, so a retry
        # after a crash finds it claimed and leaves it to the reconciler.
        retry=Retry(max=3, interval=[30, 120, 600]),
    )
    if at is not None:
        q.enqueue_at(at, "workers.jobs.publish", publication_id, **options)
    else:
        q.enqueue("workers.jobs.publish", publication_id, ttl=7 * DAY, **options)


def takedown_job_id(takedown_id: int, attempt: int) -> str:
    return f"takedown-{takedown_id}-{attempt}"


def enqueue_takedown(settings, takedown_id: int, attempt: int, at: datetime | None = None, conn=None) -> None:
    q = queue(settings, TAKEDOWNS, conn)
    options = dict(job_id=takedown_job_id(takedown_id, attempt), job_timeout=settings.publish_timeout,
                   result_ttl=DAY, failure_ttl=30 * DAY, retry=Retry(max=3, interval=[30, 120, 600]))
    if at is not None:
        q.enqueue_at(at, "workers.jobs.take_down", takedown_id, **options)
    else:
        q.enqueue("workers.jobs.take_down", takedown_id, ttl=7 * DAY, **options)


def poll_job_id(account_id: int, round_: int) -> str:
    return f"replies-{account_id}-{round_}"


def enqueue_poll(settings, account_id: int, round_: int, at: datetime | None = None, conn=None) -> None:
    """Read an account's replies; no rq retry: a failed read is tried at the account's next round."""
    q = queue(settings, COMMENTS, conn)
    options = dict(job_id=poll_job_id(account_id, round_), job_timeout=settings.publish_timeout * 5,
                   result_ttl=DAY, failure_ttl=7 * DAY, retry=None)
    if at is not None:
        q.enqueue_at(at, "workers.jobs.read_replies", account_id, round_, **options)
    else:
        q.enqueue("workers.jobs.read_replies", account_id, round_, ttl=DAY, **options)


def reply_job_id(reply_id: int, attempt: int) -> str:
    return f"reply-{reply_id}-{attempt}"


def enqueue_reply_action(settings, reply_id: int, attempt: int, at: datetime | None = None, conn=None) -> None:
    """Hide, restore or block on the network; retried by re-enqueueing at the time the network gives."""
    q = queue(settings, COMMENTS, conn)
    options = dict(job_id=reply_job_id(reply_id, attempt), job_timeout=settings.publish_timeout,
                   result_ttl=DAY, failure_ttl=30 * DAY, retry=None)
    if at is not None:
        q.enqueue_at(at, "workers.jobs.act_on_reply", reply_id, **options)
    else:
        q.enqueue("workers.jobs.act_on_reply", reply_id, ttl=DAY, **options)


def alert_job_id(post_id: int, sends: int) -> str:
    return f"alert-{post_id}-{sends}"


def enqueue_alert(settings, post_id: int, sends: int, at: datetime | None = None, conn=None) -> None:
    """Tell SMT about a post's flagged replies; a mail server that does not answer is tried again."""
    q = queue(settings, MAIL, conn)
    options = dict(job_id=alert_job_id(post_id, sends), job_timeout=120, result_ttl=DAY, failure_ttl=30 * DAY,
                   retry=Retry(max=5, interval=[10, 30, 60, 300, 900]))
    if at is not None:
        q.enqueue_at(at, "workers.jobs.send_alert", post_id, **options)
    else:
        q.enqueue("workers.jobs.send_alert", post_id, ttl=DAY, **options)


def account_mail_job_id(link_id: int) -> str:
    return f"account-link-{link_id}"


def enqueue_account_mail(settings, link_id: int, conn=None) -> None:
    """E-mail a set-up or reset link; a mail server that does not answer is tried again."""
    queue(settings, MAIL, conn).enqueue(
        "workers.jobs.send_account_link", link_id, job_id=account_mail_job_id(link_id), job_timeout=120, ttl=DAY,
        result_ttl=DAY, failure_ttl=30 * DAY, retry=Retry(max=5, interval=[10, 30, 60, 120, 300]))


def enqueue_reset_mail(settings, email: str, conn=None) -> None:
    """Look up the e-mail and send a reset link if it has an account; tried again if the mail server fails."""
    queue(settings, MAIL, conn).enqueue(
        "workers.jobs.send_reset_link", email, job_timeout=120, ttl=HOUR, result_ttl=0, failure_ttl=DAY,
        description="send a password-reset link",  # rq logs a job's description: not what was typed
        retry=Retry(max=3, interval=[10, 60, 300]))
