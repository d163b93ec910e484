"""The SMT pages: the review queue, a post's review, decisions, published posts and the audit log."""
from __future__ import annotations

import logging

import io

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from consent_registry.models import Person, Takedown
from gateway.core import storage
from gateway.web.posts import load_post
from gateway.web.util import db, queue_conn, requires, reviewer, settings
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
    takedowns = session.scalars(select(Takedown).where(Takedown.state != "done").order_by(Takedown.id)).all()
    return render_template("review_queue.html", waiting=waiting, moving=moving, takedowns=takedowns,
                           names=lifecycle.STATE_NAMES)


@bp.get("/review/<int:post_id>")
@requires(reviewer)
def page(post_id):
    post = load_post(post_id)
    ids = {f.person_id for i in post.images for f in i.faces if f.person_id}
    people = {p.id: p for p in db().scalars(select(Person).where(Person.id.in_(ids)))}
    takedowns = db().scalars(select(Takedown).where(Takedown.post_id == post.id)).all()
    return render_template("review.html", post=post, names=lifecycle.STATE_NAMES, people=people, takedowns=takedowns,
                           own=post.author_id == current_user.id)


def _refused(post_id: int, message: str):
    """Back to the review page with what was wrong; nothing was changed."""
    flash(message, "error")
    return redirect(url_for("review.page", post_id=post_id)), 303


COLOURS = {"consented": (0, 140, 60), "no_consent": (200, 0, 30), "unidentified": (230, 120, 0)}


@bp.get("/review/<int:post_id>/photos/<int:position>/annotated")
@requires(reviewer)
def annotated(post_id, position):
    """The clean rendition with every face boxed by verdict and named: for reviewers only, never published."""
    post = load_post(post_id)
    image = next((i for i in post.images if i.position == position and i.clean_key), None) or abort(404)
    ids = {f.person_id for f in image.faces if f.person_id}
    names = {p.id: p.display_name for p in db().scalars(select(Person).where(Person.id.in_(ids)))}
    picture = Image.open(io.BytesIO(storage.get(settings().media, image.clean_key))).convert("RGB")
    draw = ImageDraw.Draw(picture)
    width = max(2, picture.width // 400)
    font = ImageFont.load_default(size=max(14, picture.width // 60))
    for face in image.faces:
        top, right, bottom, left = face.box
        colour = COLOURS[face.verdict]
        draw.rectangle([left, top, right, bottom], outline=colour, width=width)
        label = names.get(face.person_id, "unidentified") + (" (obscured)" if face.obscured else "")
        draw.text((left, bottom + width), label, fill=colour, font=font, stroke_width=2, stroke_fill="white")
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return Response(out.getvalue(), mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})


@bp.post("/review/<int:post_id>/photos/<int:position>/obscure")
@requires(reviewer)
def obscure_region(post_id, position):
    """A reviewer blanks out a region by hand; the photo goes through the checks again with it."""
    session = db()
    post = load_post(post_id)
    image = next((i for i in post.images if i.position == position and i.clean_key), None) or abort(404)
    try:
        left, top, width, height = (int(float(request.form.get(k, ""))) for k in ("left", "top", "width", "height"))
    except ValueError:
        return _refused(post_id, "Mark the area to obscure first (drag over the photo, or type its position and size).")
    box = [max(0, top), min(image.width, left + width), min(image.height, top + height), max(0, left)]
    if box[1] <= box[3] or box[2] <= box[0]:
        return _refused(post_id, "That area is outside the photo.")
    try:
        lifecycle.recheck(post, "A senior leader obscured part of a photo; checked again.")
    except lifecycle.InvalidTransition as exc:
        return _refused(post_id, f"Not done: {exc}.")
    image.manual_regions = [*image.manual_regions, box]
    audit.record(session, current_user, "region_obscured", f"post:{post.id}", photo=position, box=box)
    session.commit()
    try:
        queues.enqueue_checks(settings(), post.id, post.check_attempt, queue_conn())
    except Exception:
        log.exception("could not enqueue checks for post %s", post.id)
    flash("The area will be covered; the photo is being checked again.", "ok")
    return redirect(url_for("review.page", post_id=post_id))


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
        return _refused(post_id, f"Not done: {exc}.")
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


def _local_time(value: str):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(settings().timezone))


@bp.post("/review/<int:post_id>/schedule")
@requires(reviewer)
def reschedule(post_id):
    """Move a scheduled or approved post to another time (its approval stands: the content is unchanged)."""
    session, post = db(), load_post(post_id)
    try:
        lifecycle.reschedule(post, _local_time(request.form.get("publish_at", "")))
    except ValueError:
        return _refused(post_id, "Give a date and time.")
    except lifecycle.InvalidTransition as exc:
        return _refused(post_id, f"Not done: {exc}.")
    when = post.publish_at
    audit.record(session, current_user, "rescheduled", f"post:{post.id}", publish_at=when)
    session.commit()
    _enqueue_publications(post)
    flash("Rescheduled.", "ok")
    return redirect(url_for("review.page", post_id=post_id))


@bp.post("/review/<int:post_id>/cancel")
@requires(reviewer)
def cancel(post_id):
    session, post = db(), load_post(post_id)
    try:
        lifecycle.cancel_approval(post)
    except lifecycle.InvalidTransition as exc:
        return _refused(post_id, f"Not done: {exc}.")
    for pub in post.publications:
        if pub.state == "pending":
            pub.state = "cancelled"
    audit.record(session, current_user, "publishing_cancelled", f"post:{post.id}")
    session.commit()
    flash("Publishing cancelled; the post waits for a decision again.", "ok")
    return redirect(url_for("review.page", post_id=post_id))


@bp.post("/review/<int:post_id>/take-down")
@requires(reviewer)
def take_down(post_id):
    """SMT removes a published post (policy §6.4), with a reason; or confirms a takedown the registry asked for."""
    session, post = db(), load_post(post_id)
    reason = request.form.get("reason", "").strip()
    required = session.scalars(select(Takedown).where(Takedown.post_id == post.id, Takedown.state == "required")).all()
    if post.state != lifecycle.PUBLISHED:
        return _refused(post_id, "Only a published post can be taken down.")
    if not required and not reason:
        return _refused(post_id, "Say why it is being taken down.")
    takedowns = required or [Takedown(post_id=post.id, reason=reason, requested_by=audit.actor_label(current_user))]
    for takedown in takedowns:
        takedown.state = "pending"
        session.add(takedown)
    session.flush()
    audit.record(session, current_user, "takedown_requested", f"post:{post.id}",
                 reason=reason or "; ".join(t.reason for t in required))
    session.commit()
    try:
        for takedown in takedowns:
            queues.enqueue_takedown(settings(), takedown.id, takedown.attempts, None, queue_conn())
    except Exception:
        log.exception("could not enqueue takedown of post %s", post.id)
    flash("Taking it down now.", "ok")
    return redirect(url_for("review.page", post_id=post_id))
