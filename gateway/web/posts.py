"""Teachers' pages: write a post, see how it is doing, revise or withdraw it."""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from gateway.core import storage
from gateway.models import Account
from gateway.web.util import anyone, db, queue_conn, requires, settings
from moderation import audit, lifecycle
from moderation.models import Post, PostImage
from workers import queues
from workers.checks.photos import PhotoLimits, screen
from workers.checks.text import weighted_length

log = logging.getLogger(__name__)
bp = Blueprint("posts", __name__)
MIME = {"JPEG": "image/jpeg", "PNG": "image/png"}


def load_post(post_id: int) -> Post:
    """The post, if this user may see it: its author, or a reviewer."""
    post = db().get(Post, post_id)
    if post is None:
        abort(404)
    if post.author_id != current_user.id and not current_user.can_review:
        abort(403)
    return post


def confirmed_accounts():
    return db().scalars(select(Account).where(Account.confirmed_at.is_not(None)).order_by(Account.handle)).all()


def _local_zone():
    return ZoneInfo(settings().timezone)


def _read_upload(label: str, upload, errors: list[str]) -> bytes | None:
    """The upload's bytes if they pass the photo screen; otherwise its problem, in the check's own words."""
    limits = PhotoLimits.from_settings(settings())
    data = upload.stream.read(limits.max_bytes + 1)
    upload.stream.seek(0, 2)
    problems = screen(data, label, limits, size=upload.stream.tell())
    errors += [p.message[0].upper() + p.message[1:] for p in problems]
    return None if problems else data


def _apply_form(post: Post) -> list[str]:
    """Copy the form into the post; keep every valid part even when other parts have problems."""
    errors: list[str] = []
    form = request.form
    post.text = form.get("text", "").replace("\r\n", "\n").strip()
    accounts = {a.id: a for a in confirmed_accounts()}
    account_id = form.get("account_id", type=int)
    post.account_id = account_id if account_id in accounts else None
    if post.account_id is None:
        errors.append("Choose the account to publish to." if accounts else
                      "There is no confirmed account to publish to yet; ask the headteacher to confirm one.")
    when = form.get("publish_at", "").strip()
    post.publish_at = None
    if when:
        try:
            post.publish_at = datetime.fromisoformat(when).replace(tzinfo=_local_zone())
        except ValueError:
            errors.append("The publish time is not a date and time; leave it empty to publish as soon as approved.")
        else:
            problem = lifecycle.publish_time_problem(post.publish_at)
            if problem:
                errors.append(problem)
                post.publish_at = None
    keep = []
    for image in post.images:
        if form.get(f"remove_{image.id}"):
            storage.delete(settings().media, image.original_key)
            continue
        image.alt_text = form.get(f"alt_{image.id}", image.alt_text).strip()
        keep.append(image)
    post.images = keep
    max_photos, kept = settings().max_photos, len(post.images)
    for n in range(1, max_photos + 1):
        upload = request.files.get(f"photo_{n}")
        if upload is None or not upload.filename:
            continue
        if len(post.images) >= max_photos:
            errors.append(f"A post can have at most {max_photos} photos; {upload.filename} was not added.")
            continue
        name = upload.filename[-80:]
        data = _read_upload(f"photo {kept + n} ({name})", upload, errors)  # numbered as the form shows it
        if data is None:
            continue
        post.images.append(PostImage(
            position=len(post.images) + 1, label=f"photo {len(post.images) + 1} ({name})", alt_text=form.get(f"alt_new_{n}", "").strip(),
            original_key=storage.put(settings().media, data), original_sha256=hashlib.sha256(data).hexdigest(),
        ))
    for position, image in enumerate(post.images, 1):
        image.position = position
    if not post.text and not post.images:
        errors.append("Write some text or add a photo: the post is empty.")
    if post.account_id:
        count, limit = weighted_length(post.text), accounts[post.account_id].text_limit
        if count > limit:
            errors.append(f"The text is {count} characters as {accounts[post.account_id].label} counts them; "
                          f"the limit is {limit}. Shorten it by {count - limit}.")
    return errors


def _save_and_maybe_submit(post: Post, is_new: bool):
    session = db()
    errors = _apply_form(post)
    wants_submit = request.form.get("action") == "submit"
    if is_new and not post.text and not post.images:
        return render_template("post_form.html", post=None, form=request.form, errors=errors,
                               accounts=confirmed_accounts()), 400
    if is_new:
        post.author_id, post.state = current_user.id, lifecycle.DRAFT
        session.add(post)
    session.flush()
    audit.record(session, current_user, "post_saved", f"post:{post.id}", photos=len(post.images))
    if errors or not wants_submit:
        session.commit()
        if errors:
            flash("Your post was saved as a draft, but it has problems to fix before it can be submitted.", "error")
            return render_template("post_form.html", post=post, form=request.form, errors=errors,
                                   accounts=confirmed_accounts()), 400
        flash("Draft saved.", "ok")
        return redirect(url_for("posts.detail", post_id=post.id))
    was_checked = post.state == lifecycle.AWAITING_REVIEW
    lifecycle.submit(post, current_user)
    post.check_attempt += 1
    audit.record(session, current_user, "resubmitted" if was_checked else "submitted", f"post:{post.id}")
    session.commit()
    try:
        queues.enqueue_checks(settings(), post.id, post.check_attempt, queue_conn())
        flash("Submitted. The checks run now; a senior leader reviews it after that.", "ok")
    except Exception:
        log.exception("could not enqueue checks for post %s", post.id)
        flash("Submitted and saved. The checking service is not answering right now; "
              "your post will be checked as soon as it is back.", "warning")
    return redirect(url_for("posts.detail", post_id=post.id))


@bp.get("/posts")
@requires(anyone)
def mine():
    posts = db().scalars(select(Post).where(Post.author_id == current_user.id).order_by(Post.id.desc())).all()
    return render_template("my_posts.html", posts=posts, names=lifecycle.STATE_NAMES)


@bp.route("/posts/new", methods=["GET", "POST"])
@requires(anyone)
def new():
    if request.method == "POST":
        return _save_and_maybe_submit(Post(images=[]), is_new=True)
    return render_template("post_form.html", post=None, form={}, errors=[], accounts=confirmed_accounts())


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
@requires(anyone)
def edit(post_id):
    post = load_post(post_id)
    if not lifecycle.can_edit(post, current_user):
        flash(f"This post cannot be changed now: it is {lifecycle.STATE_NAMES[post.state].lower()}.", "error")
        return redirect(url_for("posts.detail", post_id=post.id))
    if request.method == "POST":
        return _save_and_maybe_submit(post, is_new=False)
    form = {"text": post.text, "account_id": str(post.account_id or ""),
            "publish_at": post.publish_at.astimezone(_local_zone()).strftime("%Y-%m-%dT%H:%M") if post.publish_at else ""}
    return render_template("post_form.html", post=post, form=form, errors=[], accounts=confirmed_accounts())


@bp.get("/posts/<int:post_id>")
@requires(anyone)
def detail(post_id):
    post = load_post(post_id)
    return render_template("post_detail.html", post=post, names=lifecycle.STATE_NAMES,
                           can_edit=lifecycle.can_edit(post, current_user))


@bp.route("/posts/<int:post_id>/withdraw", methods=["GET", "POST"])
@requires(anyone)
def withdraw(post_id):
    post = load_post(post_id)
    if request.method == "GET":  # a second tap confirms: it cannot be undone
        return render_template("withdraw.html", post=post)
    try:
        lifecycle.withdraw(post, current_user)
    except lifecycle.InvalidTransition as exc:
        flash(f"Not withdrawn: {exc}.", "error")
        return redirect(url_for("posts.detail", post_id=post.id)), 303
    audit.record(db(), current_user, "withdrawn", f"post:{post.id}")
    db().commit()
    flash("Withdrawn. It will not be published.", "ok")
    return redirect(url_for("posts.detail", post_id=post.id))


@bp.get("/posts/<int:post_id>/photos/<int:position>/clean")
@requires(anyone)
def clean_photo(post_id, position):
    """The clean rendition, the only version ever published."""
    post = load_post(post_id)
    image = next((i for i in post.images if i.position == position and i.clean_key), None)
    if image is None:
        abort(404)
    return Response(storage.get(settings().media, image.clean_key), mimetype=MIME[image.clean_format],
                    headers={"Cache-Control": "private, no-store"})


@bp.get("/posts/<int:post_id>/photos/<int:position>/original")
@requires(lambda user: user.can_review)
def original_photo(post_id, position):
    """The photo as uploaded, for reviewers only; it may carry location and other metadata."""
    post = load_post(post_id)
    image = next((i for i in post.images if i.position == position and i.original_key), None)
    if image is None:
        abort(404)
    return Response(storage.get(settings().media, image.original_key), mimetype="application/octet-stream",
                    headers={"Cache-Control": "private, no-store",
                             "Content-Disposition": f'attachment; filename="post-{post.id}-photo-{position}-original"'})
