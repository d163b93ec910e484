"""Teachers' pages: write a post, see how it is doing, revise or withdraw it."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from gateway.core.errors import Problem, Refused
from gateway.services import held, posts
from gateway.services.queueing import QUEUE_DOWN
from gateway.web.forms import numbered, whole_number
from gateway.web.util import db, requires, reviewer, settings, staff
from moderation import lifecycle
from moderation.models import Post
from workers.checks.photos import PhotoLimits

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


def local_time(value: str) -> datetime:
    """A date and time as typed in a form, in the school's time zone; ValueError if it is not one."""
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(settings().timezone))


def _read_form() -> posts.PostForm:
    """The form as the service takes it; only a publish time that is not a date is a problem here."""
    form = request.form
    parsed = posts.PostForm(
        text=form.get("text", "").replace("\r\n", "\n").strip(),
        account_ids=form.getlist("account_id", type=whole_number), publish_at=None,
        alt_texts=numbered(form, "alt_"), removed={n for n, v in numbered(form, "remove_").items() if v})
    when = form.get("publish_at", "").strip()
    if when:
        try:
            parsed.publish_at = local_time(when)
        except ValueError:
            parsed.problems.append(Problem(
                "The publish time is not a date and time; leave it empty to publish as soon as approved.", "publish_at"))
    _read_photos(parsed)
    return parsed


def _read_photos(parsed: posts.PostForm) -> None:
    """The files in the form's photo boxes; any other file sent (a box past the limit, a field the form does not
    have, a second file in one box) is named, so that the author is told it was not added."""
    max_bytes = PhotoLimits.from_settings(settings()).max_bytes
    boxes = {f"photo_{n}": n for n in range(1, settings().max_photos + 1)}
    for n in boxes.values():  # a box left empty may hold the photo chosen at the author's last try
        token = request.form.get(f"held_{n}", "")
        kept = held.take(settings(), current_user.id, token) if token and not request.files.get(f"photo_{n}") else None
        if kept:
            parsed.photos.append(posts.NewPhoto(n, kept[0], kept[1], len(kept[1]),
                                                request.form.get(f"alt_new_{n}", "").strip(), held=token))
    for field, upload in request.files.items(multi=True):
        if not upload.filename:  # a box left empty
            continue
        n = boxes.pop(field, None)
        if n is None:
            parsed.extra_files.append(upload.filename)
            continue
        data = upload.stream.read(max_bytes + 1)  # no more than it takes to know it is too large
        upload.stream.seek(0, 2)
        parsed.photos.append(posts.NewPhoto(n, upload.filename, data, upload.stream.tell(),
                                            request.form.get(f"alt_new_{n}", "").strip()))
    parsed.photos.sort(key=lambda photo: photo.slot)  # in the order the form shows them, whatever the browser sent


def _form_page(post: Post | None, errors: list[str], kept: dict | None = None):
    return render_template("post_form.html", post=post, form=request.form, errors=errors, held=kept or {},
                           accounts=posts.confirmed_accounts(db()),
                           chosen=request.form.getlist("account_id", type=whole_number)), 400


def _save(post: Post | None):
    saved = posts.save(db(), settings(), current_user, post, _read_form(), request.form.get("action") == "submit")
    if saved.post is None:
        return _form_page(None, saved.problems, saved.held)
    if saved.problems:
        flash("Your post was saved as a draft, but it has problems to fix before it can be submitted.", "error")
        return _form_page(saved.post, saved.problems)
    if not saved.submitted:
        flash("Draft saved.", "ok")
    elif saved.queued:
        flash("Submitted. The checks run now; a senior leader reviews it after that.", "ok")
    else:
        flash(QUEUE_DOWN, "warning")
    return redirect(url_for("posts.detail", post_id=saved.post.id))


@bp.get("/posts")
@requires(staff)
def mine():
    own = db().scalars(select(Post).where(Post.author_id == current_user.id).order_by(Post.id.desc())).all()
    return render_template("my_posts.html", posts=own)


@bp.route("/posts/new", methods=["GET", "POST"])
@requires(staff)
def new():
    if request.method == "POST":
        return _save(None)
    return render_template("post_form.html", post=None, form={}, errors=[], held={}, accounts=posts.confirmed_accounts(db()),
                           chosen=[])


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
@requires(staff)
def edit(post_id):
    post = load_post(post_id)
    try:
        if request.method == "POST":
            return _save(post)
        posts.check_editable(post, current_user)
    except Refused as exc:
        flash(str(exc), "error")
        return redirect(url_for("posts.detail", post_id=post.id))
    form = {"text": post.text,
            "publish_at": post.publish_at.astimezone(ZoneInfo(settings().timezone)).strftime("%Y-%m-%dT%H:%M")
            if post.publish_at else ""}
    return render_template("post_form.html", post=post, form=form, errors=[], held={}, accounts=posts.confirmed_accounts(db()),
                           chosen=[a.id for a in post.accounts])


@bp.get("/posts/<int:post_id>")
@requires(staff)
def detail(post_id):
    post = load_post(post_id)
    return render_template("post_detail.html", post=post,
                           can_edit=lifecycle.can_edit(post, current_user))


@bp.get("/posts/<int:post_id>/progress")
@requires(staff)
def progress(post_id):
    """How far the checks have got with each photo: the fragment the post's page polls while it is checked."""
    return render_template("_progress.html", post=load_post(post_id))


@bp.route("/posts/<int:post_id>/withdraw", methods=["GET", "POST"])
@requires(staff)
def withdraw(post_id):
    post = load_post(post_id)
    if request.method == "GET":  # a second tap confirms: it cannot be undone
        return render_template("withdraw.html", post=post)
    try:
        posts.withdraw(db(), settings(), current_user, post)
    except Refused as exc:
        flash(f"Not withdrawn: {exc}.", "error")
        return redirect(url_for("posts.detail", post_id=post.id)), 303
    flash("Withdrawn. It will not be published.", "ok")
    return redirect(url_for("posts.detail", post_id=post.id))


@bp.get("/posts/<int:post_id>/photos/<int:position>/clean")
@requires(staff)
def clean_photo(post_id, position):
    """The clean rendition (as ?network= gets it, where its consent shows more), the only versions ever published."""
    post = load_post(post_id)
    image = next((i for i in post.images if i.position == position and i.clean_key), None)
    if image is None:
        abort(404)
    key, _ = image.rendition_for(request.args.get("network", ""))
    return Response(settings().media.get(key), mimetype=MIME[image.clean_format],
                    headers={"Cache-Control": "private, no-store"})


@bp.get("/posts/<int:post_id>/photos/<int:position>/original")
@requires(reviewer)
def original_photo(post_id, position):
    """The photo as uploaded, for reviewers only; it may carry location and other metadata."""
    post = load_post(post_id)
    image = next((i for i in post.images if i.position == position and i.original_key), None)
    if image is None:
        abort(404)
    return Response(settings().media.get(image.original_key), mimetype="application/octet-stream",
                    headers={"Cache-Control": "private, no-store",
                             "Content-Disposition": f'attachment; filename="post-{post.id}-photo-{position}-original"'})
