"""Replies under the school's posts (policy §6): read each account's on its schedule, judge each new one once with
the text checks, hide at once what must be hidden, and tell SMT by e-mail; SMT's decisions on the Comments queue.

Network calls are made outside any transaction; every change is made on a row locked and read afresh.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway.core.db import lock_row, session_for, utcnow
from gateway.core.schools import as_school
from gateway.core.errors import Refused
from gateway.models import Account
from gateway.platforms import PLATFORMS, publisher_for
from gateway.platforms.base import PermanentError, Reply as Incoming, RetryLater, Transient
from gateway.services.checking import check_context
from gateway.services.queueing import commit_then_enqueue
from moderation import audit, lifecycle, replies
from moderation.models import Publication
from moderation.replies import Reply, ReplyAlert, ReplyPoll
from workers import queues
from workers.checks.replies import judge

log = logging.getLogger(__name__)


def interval(settings, platform_name: str) -> timedelta:
    """Between two reads of an account's replies: the school's choice, never under its network's minimum."""
    return timedelta(minutes=max(settings.comments_poll_minutes, PLATFORMS[platform_name].reply_poll_minutes))


def watched(session, settings, account_id: int, now: datetime | None = None) -> list[Publication]:
    """The account's posts whose replies are read: published, and within the school's window."""
    since = (now or utcnow()) - timedelta(days=settings.comments_days)
    return list(session.scalars(select(Publication).where(
        Publication.account_id == account_id, Publication.state == lifecycle.PUB_PUBLISHED,
        Publication.published_at >= since).order_by(Publication.id)))


def watch_accounts(session, settings, now: datetime | None = None) -> list[ReplyPoll]:
    """A schedule for every account with a post in the window (its first read one interval after it appears)."""
    now = now or utcnow()
    since = now - timedelta(days=settings.comments_days)
    accounts = session.scalars(select(Account).join(Publication, Publication.account_id == Account.id).where(
        Publication.state == lifecycle.PUB_PUBLISHED, Publication.published_at >= since).distinct()).all()
    polls = {p.account_id: p for p in session.scalars(select(ReplyPoll))}
    for account in accounts:
        if account.id not in polls and PLATFORMS[account.platform].credential_fields:
            polls[account.id] = ReplyPoll(account_id=account.id, round=0,
                                          next_at=now + interval(settings, account.platform))
            session.add(polls[account.id])
    session.commit()
    return [p for p in polls.values() if p.account_id in {a.id for a in accounts}]


def read_now(session, settings, actor, account_id: int) -> bool:
    """SMT asks for an account's replies to be read at once rather than at its next turn."""
    poll = lock_row(session, ReplyPoll, account_id)
    if poll is None:
        session.rollback()
        watch_accounts(session, settings)
        poll = lock_row(session, ReplyPoll, account_id)
    if poll is None:
        session.rollback()
        raise Refused("That account has no published post whose replies are read.")
    replies.poll_after(poll, utcnow(), poll.note)
    audit.record(session, actor, "replies_read_now", f"account:{account_id}")
    round_ = poll.round
    return commit_then_enqueue(session, settings, lambda conn: queues.enqueue_poll(settings, account_id, round_,
                                                                                   conn=conn),
                               f"the reading of account {account_id}'s replies")


def read_replies(settings, account_id: int, round_: int) -> None:
    """One read of an account's replies; a stale or duplicate job does nothing."""
    with session_for(settings.database_url) as session:
        poll = lock_row(session, ReplyPoll, account_id)
        if poll is None or poll.round != round_:
            log.info("the read of account %s's replies, round %s, is stale; skipped", account_id, round_)
            return
        account = poll.account
        settings = as_school(session, settings, account.school_id)  # its school's roster, link lists and staff
        every = interval(settings, account.platform)
        posts = [(p.id, p.platform_id, p.reply_cursor) for p in watched(session, settings, account_id)]
        poll.last_at = utcnow()
        session.commit()
        read = _Read(next_at=utcnow() + every)
        try:
            publisher = publisher_for(account, settings)
            context = check_context(session, settings, photos=False)
            session.commit()
        except PermanentError as exc:
            read.notes.append(exc.plain)
        except Exception as exc:  # fail closed: nothing is judged without the roster and the link lists
            log.exception("replies of account %s: the checks could not be prepared", account_id)
            read.notes.append(f"The replies could not be judged ({type(exc).__name__}); tried again next time.")
        else:
            for pub_id, platform_id, cursor in posts:
                if not _read_one(session, settings, publisher, context, read, pub_id, platform_id, cursor):
                    break
            for reply_id in read.to_hide:
                read.wait_until(_act(session, settings, reply_id))
        _finish(session, settings, account_id, read)


@dataclass
class _Read:
    """What one read of an account came to."""

    next_at: datetime
    notes: list[str] = field(default_factory=list)
    to_hide: list[int] = field(default_factory=list)
    posts_flagged: set[int] = field(default_factory=set)

    def wait_until(self, when: datetime | None) -> None:
        """A rate limit: the account's next read waits for its reset."""
        if when is not None and when > self.next_at:
            self.next_at = when


def _read_one(session, settings, publisher, context, read: _Read, pub_id, platform_id, cursor) -> bool:
    """Read and judge one post's replies; False when the network said to wait (the rest wait with it)."""
    try:
        page = publisher.replies(platform_id, cursor)
    except RetryLater as exc:
        read.notes.append(f"{exc.plain} Reading again after {exc.retry_at:%H:%M} UTC.")
        read.wait_until(exc.retry_at)
        return False
    except (Transient, PermanentError) as exc:
        read.notes.append(exc.plain)
        return True
    except Exception as exc:  # an answer we could not make sense of: the next read tries again
        log.exception("replies of publication %s could not be read", pub_id)
        read.notes.append(f"The replies of one post could not be read ({type(exc).__name__}); tried again next time.")
        return True
    pub = lock_row(session, Publication, pub_id)
    known = set(session.scalars(select(Reply.platform_id).where(Reply.publication_id == pub_id)))
    new = [r for r in page.replies if r.platform_id not in known]
    for incoming in new:
        verdict, findings = judge(incoming.text, context)
        reply = replies.seen(pub_id, incoming, verdict, [f.as_dict() for f in findings])
        session.add(reply)
        session.flush()
        if reply.action == replies.DO_HIDE:
            read.to_hide.append(reply.id)
        if verdict != replies.FINE:
            read.posts_flagged.add(pub.post_id)
            audit.record(session, "worker", f"reply_{verdict}", f"reply:{reply.id}", post=pub.post_id,
                         account=pub.account.label, findings=[f.code for f in findings])
    pub.reply_cursor = page.cursor or pub.reply_cursor
    poll = session.get(ReplyPoll, pub.account_id)
    poll.reads += len(page.replies)
    try:
        session.commit()
    except IntegrityError:  # another read of the same post got there first: its judgement stands
        session.rollback()
        read.to_hide = [i for i in read.to_hide if session.get(Reply, i) is not None]
    return True


def _finish(session, settings, account_id: int, read: _Read) -> None:
    poll = lock_row(session, ReplyPoll, account_id)
    replies.poll_after(poll, read.next_at, " ".join(read.notes) or None)
    round_, when = poll.round, read.next_at
    for note in read.notes:
        log.warning("replies of account %s: %s", account_id, note)
    alerts = [(post_id, _alert_pending(session, post_id)) for post_id in sorted(read.posts_flagged)]

    def enqueue(conn):
        queues.enqueue_poll(settings, account_id, round_, when, conn)
        for post_id, sends in alerts:
            queues.enqueue_alert(settings, post_id, sends, conn=conn)

    commit_then_enqueue(session, settings, enqueue, f"the next reading of account {account_id}'s replies")


def _alert_pending(session, post_id: int) -> int:
    """SMT is to be told about the post's replies; how many mails were sent about it before (names the job)."""
    alert = lock_row(session, ReplyAlert, post_id)
    if alert is None:
        alert = ReplyAlert(post_id=post_id, pending=True, sends=0)
        session.add(alert)
    alert.pending = True
    return alert.sends


def act_on_reply(settings, reply_id: int) -> None:
    """Make the network call a reply waits for (hide, restore, block)."""
    with session_for(settings.database_url) as session:
        _act(session, settings, reply_id)


def _act(session, settings, reply_id: int) -> datetime | None:
    """The call, outside any transaction; then what came of it. The reset time when the network said to wait."""
    reply = lock_row(session, Reply, reply_id)
    if reply is None or reply.action is None:
        session.rollback()
        return None
    reply.attempts += 1
    action, attempts, pub = reply.action, reply.attempts, reply.publication
    settings = as_school(session, settings, pub.post.school_id)
    incoming = Incoming(reply.platform_id, reply.text, reply.author, reply.author_id, reply.url, reply.written_at)
    account, post_platform_id, post_id = pub.account, pub.platform_id, pub.post_id
    session.commit()
    try:
        publisher = publisher_for(account, settings)
        words = {replies.DO_HIDE: lambda: publisher.hide(post_platform_id, incoming),
                 replies.DO_RESTORE: lambda: publisher.restore(post_platform_id, incoming),
                 replies.DO_BLOCK: lambda: publisher.block(incoming)}[action]()
    except RetryLater as exc:
        return _again(session, settings, reply_id, attempts, exc.plain, exc.retry_at)
    except PermanentError as exc:
        _failed(session, settings, reply_id, exc.plain)
    except Exception as exc:  # Transient, or anything unforeseen: nothing is known to be done, so try again
        log.warning("reply %s: %s did not go through (%s)", reply_id, action, type(exc).__name__)
        plain = getattr(exc, "plain", f"{account.label} did not answer as expected.")
        _again(session, settings, reply_id, attempts, plain, utcnow() + timedelta(seconds=30 * 2 ** attempts))
    else:
        reply = lock_row(session, Reply, reply_id)
        audit.record(session, reply.action_by or "worker", f"reply_{action}_done", f"reply:{reply_id}",
                     post=post_id, account=account.label, done=words)
        replies.done(reply, action, words)
        session.commit()
    return None


def _again(session, settings, reply_id: int, attempts: int, error: str, when: datetime) -> datetime:
    if attempts >= replies.MAX_ATTEMPTS:
        _failed(session, settings, reply_id, f"{error} It failed {attempts} times.")
        return when
    reply = lock_row(session, Reply, reply_id)
    reply.error = error
    commit_then_enqueue(session, settings,
                        lambda conn: queues.enqueue_reply_action(settings, reply_id, attempts, when, conn),
                        f"the retry of reply {reply_id}")
    return when


def _failed(session, settings, reply_id: int, error: str) -> None:
    """Given up: SMT is told ("could not hide") and acts by hand on the network."""
    reply = lock_row(session, Reply, reply_id)
    action, post_id = reply.action, reply.publication.post_id
    audit.record(session, "worker", f"reply_{action}_failed", f"reply:{reply_id}", post=post_id, error=error)
    replies.failed(reply, error)
    if action == replies.DO_HIDE:
        sends = _alert_pending(session, post_id)
        commit_then_enqueue(session, settings, lambda conn: queues.enqueue_alert(settings, post_id, sends, conn=conn),
                            f"the alert about reply {reply_id}")
    else:
        session.commit()


def flagged_count(session) -> int:
    """How many replies wait for SMT (for the navigation)."""
    return session.scalar(select(func.count()).select_from(Reply).where(
        (Reply.state == replies.FAILED) | ((Reply.verdict != replies.FINE) & Reply.reviewed_at.is_(None))))


DECISIONS = {
    # what SMT may do from the Comments queue: (the network call it needs, or None; the audit action)
    "keep": (None, "reply_kept_hidden"),
    "stand": (None, "reply_let_stand"),
    "restore": (replies.DO_RESTORE, "reply_restore_asked"),
    "hide": (replies.DO_HIDE, "reply_hide_asked"),
    "block": (replies.DO_BLOCK, "reply_block_asked"),
}


def decide(session, settings, actor, reply: Reply, what: str) -> bool:
    """One of SMT's buttons; False when the network call is saved but the queue is out of reach."""
    if what not in DECISIONS:
        raise Refused("That is not something the Comments queue can do.")
    action, audited = DECISIONS[what]
    if what == "keep" and reply.state != replies.HIDDEN:
        raise Refused("That reply is not hidden; hide it instead.")
    if action is not None:
        replies.ask(reply, action, audit.actor_label(actor))
    if what != "block":
        replies.review(reply, actor)
    audit.record(session, actor, audited, f"reply:{reply.id}", post=reply.publication.post_id)
    if action is None:
        session.commit()
        return True
    reply_id = reply.id
    return commit_then_enqueue(session, settings, lambda conn: queues.enqueue_reply_action(settings, reply_id, 0,
                                                                                           conn=conn),
                               f"the {action} of reply {reply_id}")


def concern(session, actor, reply: Reply, why: str) -> None:
    """A safeguarding concern: who, when and why are kept with the reply, shown to the head, and audited."""
    replies.raise_concern(reply, actor, why)
    audit.record(session, actor, "safeguarding_concern", f"reply:{reply.id}", post=reply.publication.post_id,
                 why=reply.concern)
    session.commit()


@dataclass(frozen=True)
class Schedule:
    """How one account's replies are read, for the Comments page and the head's settings page."""

    poll: ReplyPoll
    network: str
    every: timedelta
    posts: int                   # its posts whose replies are read now
    requests_a_month: int        # reads at this schedule, one per post, if it kept this many posts
    replies_30_days: int         # replies read in the last 30 days (each once: X is not asked again)
    cost_30_days: float | None   # in US dollars, where the network charges per reply read


def schedules(session, settings, now: datetime | None = None) -> list[Schedule]:
    now = now or utcnow()
    out = []
    for poll in session.scalars(select(ReplyPoll).order_by(ReplyPoll.account_id)):
        platform = PLATFORMS[poll.account.platform]
        every = interval(settings, platform.name)
        posts = len(watched(session, settings, poll.account_id, now))
        read = session.scalar(select(func.count()).select_from(Reply).join(Publication).where(
            Publication.account_id == poll.account_id, Reply.seen_at >= now - timedelta(days=30)))
        out.append(Schedule(poll, platform.title, every, posts, int(posts * timedelta(days=30) / every), read,
                            read * settings.x_read_cost if platform.paid_reads else None))
    return out
