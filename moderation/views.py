"""The SMT pages: the review queue, a post's review, decisions, published posts and the audit log."""
from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from gateway.posts import load_post
from gateway.webutil import db, queue_conn, requires, reviewer, settings
from moderation import audit, lifecycle
from moderation.models import Post, Publication
from workers import queues

log = logging.getLogger(__name__)
bp = Blueprint("review", __name__)
NEEDS_ATTENTION = [lifecycle.AWAITING_REVIEW, lifecycle.CHECK_FAILED, lifecycle.PUBLISH_FAILED]
IN_PROGRESS = [lifecycle.SUBMITTED, lifecycle.CHECKING, lifecycle.APPROVED, lifecycle.SCHEDULED, lifecycle.PUBLISHING]


@bp.get("/review")
@requires(reviewer)
def queue():
    session = db()
    waiting = session.scalars(select(Post).where(Post.state.in_(NEEDS_ATTENTION)).order_by(Post.submitted_at)).all()
    moving = session.scalars(select(Post).where(Post.state.in_(IN_PROGRESS)).order_by(Post.submitted_at)).all()
    return render_template("review_queue.html", waiting=waiting, moving=moving, names=lifecycle.STATE_NAMES)


@bp.get("/review/<int:post_id>")
@requires(reviewer)
def page(post_id):
    post = load_post(post_id)
    return render_template("review.html", post=post, names=lifecycle.STATE_NAMES,
                           own=post.author_id == current_user.id)


def _enqueue_publications(post: Post) -> None:
    for pub in post.publications:
        if pub.state == "pending":
            at = post.publish_at if post.state == lifecycle.SCHEDULED else None
            queues.enqueue_publish(settings(), pub.id, pub.attempts, at, queue_conn())


@bp.post("/review/<int:post_id>/<any(approve, reject, request_changes, retry_checks, retry_publishing):action>")
@requires(reviewer)
def decide(post_id: int, action: str):
    session = db()
    post = load_post(post_id)
    reason = request.form.get("reason", "")
    try:
        if action == "approve":
            lifecycle.approve(post, current_user)
            existing = {p.account_id for p in post.publications}
            if post.account_id not in existing:
                session.add(Publication(post=post, account_id=post.account_id, state="pending"))
            for pub in post.publications:
                if pub.state in ("failed", "cancelled"):
                    pub.state = "pending"
        elif action == "reject":
            lifecycle.reject(post, current_user, reason)
        elif action == "request_changes":
            lifecycle.request_changes(post, current_user, reason)
        elif action == "retry_checks":
            lifecycle.retry_checks(post)
        elif action == "retry_publishing":
            lifecycle.retry_publishing(post)
            for pub in post.publications:
                if pub.state == "failed":
                    pub.state = "pending"
    except lifecycle.InvalidTransition as exc:
        session.rollback()
        flash(f"Not done: {exc}.", "error")
        return redirect(url_for("review.page", post_id=post_id)), 303
    audit.record(session, current_user, action, f"post:{post.id}", **({"reason": reason.strip()} if reason.strip() else {}))
    session.commit()
    try:
        if action == "retry_checks":
            queues.enqueue_checks(settings(), post.id, post.check_attempt, queue_conn())
        elif action in ("approve", "retry_publishing"):
            _enqueue_publications(post)
    except Exception:
        log.exception("could not enqueue after %s of post %s", action, post.id)
        flash("Saved, but the queue is not answering; the work will start as soon as it is back.", "warning")
    flash({"approve": "Approved.", "reject": "Rejected; the author sees your reason.",
           "request_changes": "Sent back to the author with your note.", "retry_checks": "Checks started again.",
           "retry_publishing": "Publishing again."}[action], "ok")
    return redirect(url_for("review.queue"))


@bp.get("/published")
@requires(reviewer)
def published():
    posts = db().scalars(select(Post).where(Post.state.in_([lifecycle.PUBLISHED, lifecycle.TAKEN_DOWN]))
                         .order_by(Post.finished_at.desc())).all()
    return render_template("published.html", posts=posts, names=lifecycle.STATE_NAMES)


@bp.get("/audit")
@requires(reviewer)
def audit_log():
    session = db()
    entries = session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.seq.desc()).limit(300)).all()
    return render_template("audit.html", entries=entries, check=audit.verify(session))
