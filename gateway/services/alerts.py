"""E-mail to SMT about a post's flagged replies: at most one per post every ten minutes, never the replies' words."""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from gateway.core import mail
from gateway.core.db import lock_row, session_for, utcnow
from gateway.core.schools import as_school
from gateway.models import HEAD, SMT, User
from gateway.services.queueing import commit_then_enqueue
from moderation import audit, replies
from moderation.models import Post, Publication
from moderation.replies import Reply, ReplyAlert
from workers import queues

log = logging.getLogger(__name__)


def recipients(session, school_id: int) -> list[str]:
    """The school's senior leaders' addresses (named here too: a maintenance round's session sees every school's)."""
    return list(session.scalars(select(User.email).where(User.role.in_([SMT, HEAD]), User.active,
                                                         User.school_id == school_id).order_by(User.id)))


def send_alert(settings, post_id: int) -> None:
    """Mail SMT about the post's flagged replies, unless one went less than ten minutes ago (then: later)."""
    with session_for(settings.database_url) as session:
        alert = lock_row(session, ReplyAlert, post_id)
        if alert is None or not alert.pending:
            return session.rollback()
        school = session.get(Post, post_id).school_id
        settings = as_school(session, settings, school)
        now, before, sends = utcnow(), alert.sent_at, alert.sends
        if before is not None and now < before + replies.ALERT_GAP:
            commit_then_enqueue(session, settings, lambda conn: queues.enqueue_alert(
                settings, post_id, sends, before + replies.ALERT_GAP, conn), f"the alert about post {post_id}")
            return
        to = recipients(session, school)
        waiting = session.scalar(select(func.count()).select_from(Reply).join(Publication).where(
            Publication.post_id == post_id, (Reply.state == replies.FAILED)
            | ((Reply.verdict != replies.FINE) & Reply.reviewed_at.is_(None))))
        alert.pending, alert.sent_at, alert.sends = False, now, sends + 1
        session.commit()  # claimed: a second job for the same post finds nothing pending
        if not to or not waiting:
            return
        try:
            where = mail.send(settings, _message(settings, session.get(Post, post_id), to, waiting))
        except mail.MailError as exc:
            alert = lock_row(session, ReplyAlert, post_id)
            alert.pending, alert.sent_at, alert.sends = True, before, sends
            session.commit()
            log.warning("the alert about post %s was not sent: %s; tried again", post_id, exc)
            raise  # rq retries the job
        audit.record(session, "worker", "replies_alert_sent", f"post:{post_id}", recipients=len(to), via=where)
        session.commit()


def _message(settings, post: Post, to: list[str], waiting: int):
    link = f"{settings.public_url}/comments?post={post.id}"
    what = "1 reply needs" if waiting == 1 else f"{waiting} replies need"
    body = (f"{what} a senior leader under post {post.id} of {settings.school_name}'s social media.\n\n"
            "The gateway hid what its checks found inappropriate, or held it for you to decide, as the school's "
            "social media policy (section 6) asks. What the replies say is not in this e-mail: read them, and "
            f"decide, on the Comments page:\n\n{link}\n\n"
            "You get at most one e-mail about a post every ten minutes.\n")
    return mail.message(settings, to, f"Replies need you: post {post.id}", body)
