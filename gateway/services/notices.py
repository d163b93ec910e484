"""Telling staff what needs them or what happened to their posts: a notice on their Notices page, and an e-mail at
once or in a daily digest, as each chooses. Notices name posts by number and link to them: an e-mail never holds a
photo, a post's words or a senior leader's reason (free text that may name a pupil), only where to read them."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from gateway.core import mail
from gateway.core.db import session_for, utcnow
from gateway.core.errors import Refused
from gateway.models import HEAD, SMT, Notice, User
from moderation import lifecycle

log = logging.getLogger(__name__)
NOW, DIGEST = "now", "digest"
DIGEST_EVERY = timedelta(hours=24)


def _tell(session, users, post, event: str, text: str, mailed: str | None = None) -> None:
    for user in {u.id: u for u in users if u is not None and u.active}.values():
        session.add(Notice(user_id=user.id, post_id=post.id, event=event, text=text, mailed=mailed or text,
                           link=f"/review/{post.id}" if user.can_review and event != "needs_changes"
                           else f"/posts/{post.id}"))


def _leaders(session, post) -> list[User]:
    """The post's school's senior leaders (named here too: a maintenance round's session sees every school's)."""
    return list(session.scalars(select(User).where(User.role.in_([SMT, HEAD]), User.active,
                                                   User.school_id == post.school_id)))


def checked(session, post) -> None:
    """The checks are done: a post ready for review is senior leaders' to decide; a blocked one is its author's."""
    if lifecycle.shown_state(post) == lifecycle.NEEDS_CHANGES:
        _tell(session, [post.author], post, "needs_changes",
              f"Post {post.id} needs your changes: the checks found problems that stop it being published.")
    else:
        _tell(session, [u for u in _leaders(session, post) if u.id != post.author_id], post, "ready_for_review",
              f"Post {post.id} by {post.author.name} is ready for your review.")


def decided(session, post, actor) -> None:
    """A senior leader approved, rejected or sent back the post: its author is told (the reason only on the page)."""
    words = {lifecycle.APPROVED: "was approved", lifecycle.SCHEDULED: "was approved and is scheduled",
             lifecycle.REJECTED: "was rejected", lifecycle.CHANGES_REQUESTED: "was sent back for changes"}
    done = f"Post {post.id} {words[post.state]} by {actor.name}."
    reason = f" Their reason: {post.reason}" if post.state in (lifecycle.REJECTED, lifecycle.CHANGES_REQUESTED) else ""
    mailed = done + (" Read why on the post's page." if reason else "")
    _tell(session, [post.author], post, post.state, done + reason, mailed)


def edited(session, post, actor) -> None:
    """A senior leader changed the words of the author's post."""
    _tell(session, [post.author], post, "edited", f"{actor.name} changed the words of post {post.id}; it is being "
          "checked again and another senior leader will review it.")


def published(session, post) -> None:
    links = "; ".join(f"{p.account.label}: {p.platform_url}" for p in post.publications if p.platform_url)
    _tell(session, [post.author], post, "published", f"Post {post.id} is published. {links}".strip())


def taken_down(session, post, reason: str, failed: bool) -> None:
    """A takedown ended: the author is told it is gone; if it failed, senior leaders and the head are told at once."""
    if failed:
        _tell(session, _leaders(session, post), post, "takedown_failed",
              f"Taking down post {post.id} failed: it may still be online. Look at it now.")
    else:
        _tell(session, [post.author], post, "taken_down",
              f"Post {post.id} was taken down. Why: {reason}", f"Post {post.id} was taken down; the post's "
              "page says why.")


def takedown_retrying(session, post) -> None:
    """A takedown's first try failed: senior leaders and the head hear at once, not after every retry is spent."""
    _tell(session, _leaders(session, post), post, "takedown_retrying",
          f"Taking down post {post.id} did not work at the first try: it may still be online. The gateway keeps "
          "trying; look at it now, and remove it by hand on the network if you can.")


EXPIRY_WARNING = timedelta(hours=12)


def expiring(session, post, valid_for: timedelta, now: datetime) -> bool:
    """Tell the approver, once, that their approval lapses within EXPIRY_WARNING unless the post goes out; returns
    whether they were told now."""
    if not lifecycle.approval_expired(post, valid_for - EXPIRY_WARNING, now) or post.approved_by_id is None:
        return False
    told = session.scalar(select(Notice.id).where(Notice.post_id == post.id, Notice.event == "approval_expiring",
                                                  Notice.created_at >= post.approved_at))
    if told:
        return False
    _tell(session, [session.get(User, post.approved_by_id)], post, "approval_expiring",
          f"Your approval of post {post.id} lapses within {EXPIRY_WARNING.seconds // 3600} hours unless it is "
          "published first; then it waits for review again.")
    return True


def set_how(session, user: User, how: str) -> None:
    if how not in (NOW, DIGEST):
        raise Refused("choose as they happen, or once a day")
    user.notify = how
    session.commit()


def unread(session, user) -> int:
    return session.scalar(select(func.count()).select_from(Notice).where(
        Notice.user_id == user.id, Notice.read_at.is_(None))) or 0


def shown(session, user, limit: int = 100) -> tuple[list[Notice], set[int]]:
    """The person's newest notices, and which of them are new; being shown, they are read."""
    notices = session.scalars(select(Notice).where(Notice.user_id == user.id)
                              .order_by(Notice.id.desc()).limit(limit)).all()
    new = {n.id for n in notices if n.read_at is None}
    if new:
        session.execute(update(Notice).where(Notice.id.in_(new)).values(read_at=utcnow()))
        session.commit()
    return list(notices), new


def send_due(settings, now: datetime | None = None) -> int:
    """E-mail each person their notices not yet mailed: at once, or in one digest a day; returns how many mails went.
    Run by one worker at a time (the maintenance round, under the reconcilers' lock)."""
    now, sent = now or utcnow(), 0
    with session_for(settings.database_url) as session:
        waiting = session.scalars(select(Notice).where(Notice.mailed_at.is_(None)).order_by(Notice.id)).all()
        by_user: dict[int, list[Notice]] = {}
        for notice in waiting:
            by_user.setdefault(notice.user_id, []).append(notice)
        for user_id, notices in by_user.items():
            user = session.get(User, user_id)
            if user.notify == DIGEST and user.digest_sent_at and now - user.digest_sent_at < DIGEST_EVERY:
                continue
            try:
                mail.send(settings, _mail(settings, user, notices))
            except mail.MailError as exc:
                log.warning("notices for user %s not sent (%s); tried again next round", user_id, exc)
                continue
            for notice in notices:
                notice.mailed_at = now
            if user.notify == DIGEST:
                user.digest_sent_at = now
            session.commit()
            sent += 1
    return sent


def _mail(settings, user: User, notices: list[Notice]):
    lines = [f"- {n.mailed}\n  {settings.public_url}{n.link}" for n in notices]
    subject = notices[0].mailed if len(notices) == 1 else f"{len(notices)} things from the social media gateway"
    body = (f"Dear {user.name},\n\n" + "\n\n".join(lines) + "\n\n"
            f"You get these {'once a day' if user.notify == DIGEST else 'as they happen'}; change that on your "
            f"Notices page: {settings.public_url}/notices\n")
    return mail.message(settings, [user.email], subject[:120], body)
