"""Replies under the school's published posts (policy §6): what was read, how it was judged, what was done.

A reply is judged once, when first seen (its id is unique per publication). Its verdict says what the checks
made of it: "fine", "hide" (hidden at once) or "ask" (held for SMT, not hidden). Its state says where it is on
the network, and `action` the network call a job still has to make. Only this module moves them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.db import Base, UTCDateTime, utcnow
from gateway.core.schools import register_child
from gateway.core.errors import Refused
from gateway.models import Account, User
from moderation.models import Post, Publication

FINE, HIDE, ASK = "fine", "hide", "ask"
VERDICT_NAMES = {FINE: "fine", HIDE: "hide at once", ASK: "ask SMT"}

SHOWN = "shown"          # on the network as written; nothing to do, or SMT let it stand
HELD = "held"            # shown, and waiting for SMT to decide
HIDDEN = "hidden"        # hidden (or, on Mastodon, reported and its author blocked)
FAILED = "failed"        # a hide that could not be done after its retries: SMT must act by hand
STATE_NAMES = {SHOWN: "Shown", HELD: "Waiting for SMT", HIDDEN: "Hidden", FAILED: "Could not hide"}

# what a job still has to do on the network
DO_HIDE, DO_RESTORE, DO_BLOCK = "hide", "restore", "block"
MAX_ATTEMPTS = 5


class Reply(Base):
    __tablename__ = "replies"
    __table_args__ = (UniqueConstraint("publication_id", "platform_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id"), index=True)
    platform_id: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)  # as read, at most TEXT_KEPT characters
    author: Mapped[str] = mapped_column(String(300), default="")
    author_id: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verdict: Mapped[str] = mapped_column(String(10))
    findings: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(10), index=True)
    action: Mapped[str | None] = mapped_column(String(10), index=True)  # a network call still to make
    action_by: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[str | None] = mapped_column(Text)    # what the network last did, in its publisher's words
    error: Mapped[str | None] = mapped_column(Text)
    author_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    concern: Mapped[str | None] = mapped_column(Text)  # a safeguarding concern: why
    concern_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    concern_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    publication: Mapped[Publication] = relationship()
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    concern_by: Mapped[User | None] = relationship(foreign_keys=[concern_by_id])

    @property
    def needs_smt(self) -> bool:
        """On the Comments queue: flagged by the checks and not yet looked at, or a hide that failed."""
        return self.state == FAILED or (self.verdict != FINE and self.reviewed_at is None)


class ReplyPoll(Base):
    """When an account's replies are read next; `round` names the job for that read, so a read runs once."""

    __tablename__ = "reply_polls"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)  # the last read's trouble, in plain words
    reads: Mapped[int] = mapped_column(Integer, default=0)  # replies read over the network, ever (X charges each)

    account: Mapped[Account] = relationship()


class ReplyAlert(Base):
    """The e-mail to SMT about one post's flagged replies: at most one every ALERT_GAP."""

    __tablename__ = "reply_alerts"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), primary_key=True)
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sends: Mapped[int] = mapped_column(Integer, default=0)


TEXT_KEPT = 5_000
ALERT_GAP = timedelta(minutes=10)


def seen(publication_id: int, incoming, verdict: str, findings: list[dict]) -> Reply:
    """A reply read for the first time, judged: hidden at once, held for SMT, or left alone."""
    if verdict not in VERDICT_NAMES:
        raise ValueError(f"unknown verdict {verdict!r}")
    reply = Reply(publication_id=publication_id, platform_id=incoming.platform_id,
                  text=incoming.text[:TEXT_KEPT], author=incoming.author[:300], author_id=incoming.author_id[:300],
                  url=incoming.url[:1000], written_at=incoming.created_at, verdict=verdict, findings=findings,
                  state=HIDDEN if incoming.hidden else (HELD if verdict == ASK else SHOWN), attempts=0)
    if verdict == HIDE and not incoming.hidden:
        reply.action, reply.action_by = DO_HIDE, "worker"
    return reply


def ask(reply: Reply, action: str, actor: str) -> None:
    """SMT (or the worker) asks for a network call; a job makes it."""
    if action == DO_HIDE and reply.state == HIDDEN:
        raise Refused("That reply is already hidden.")
    if action == DO_RESTORE and reply.state not in (HIDDEN, FAILED):
        raise Refused("That reply is not hidden.")
    if action == DO_BLOCK and reply.author_blocked:
        raise Refused("Its author is already blocked.")
    if action == DO_BLOCK and not reply.author_id:
        raise Refused("The author's account is gone, so there is nobody to block.")
    reply.action, reply.action_by, reply.attempts, reply.error = action, actor, 0, None


def done(reply: Reply, action: str, words: str) -> None:
    """The network did `action`; a different call asked for meanwhile still waits for its job."""
    if action == DO_HIDE:
        reply.state = HIDDEN
    elif action == DO_RESTORE:
        reply.state = SHOWN
    elif action == DO_BLOCK:
        reply.author_blocked = True
    reply.done = words
    if reply.action == action:
        reply.action, reply.error = None, None


def failed(reply: Reply, error: str) -> None:
    """The network call cannot be made (refused, or every retry used): SMT is told and acts by hand."""
    if reply.action == DO_HIDE:
        reply.state = FAILED
        reply.reviewed_at = reply.reviewed_by_id = None  # back on the queue
    reply.action, reply.error = None, error


def review(reply: Reply, user: User, now: datetime | None = None) -> None:
    """SMT has looked at it (kept hidden, restored, or let stand)."""
    reply.reviewed_by_id, reply.reviewed_at = user.id, now or utcnow()
    if reply.state == HELD:
        reply.state = SHOWN


def raise_concern(reply: Reply, user: User, why: str, now: datetime | None = None) -> None:
    why = why.strip()
    if not why:
        raise Refused("Say why this is a safeguarding concern, so the head can follow it up.")
    reply.concern, reply.concern_by_id, reply.concern_at = why[:2000], user.id, now or utcnow()


def poll_after(poll: ReplyPoll, when: datetime, note: str | None) -> None:
    """The read is over (or cut short); the next is at `when`, under a new round."""
    poll.round += 1
    poll.next_at, poll.note = when, note


register_child(Reply, lambda school: Reply.publication_id.in_(
    select(Publication.id).join(Post).where(Post.school_id == school)))
register_child(ReplyPoll, lambda school: ReplyPoll.account_id.in_(select(Account.id).where(Account.school_id == school)))
register_child(ReplyAlert, lambda school: ReplyAlert.post_id.in_(select(Post.id).where(Post.school_id == school)))
