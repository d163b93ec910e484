"""The SMT pages: the review queue, a post's review, decisions, published posts and the audit log."""
from __future__ import annotations

import csv
import io
from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from consent_registry.models import Person, Takedown
from gateway.core.db import utcnow
from gateway.core.schools import School
from gateway.core.errors import Problem, Refused
from gateway.models import User
from gateway.platforms import title_of
from gateway.services import comments, review
from gateway.services.queueing import QUEUE_DOWN
from gateway.web.forms import finite_number, numbered
from gateway.web.posts import load_post, local_time
from gateway.web.util import auditor, db, requires, reviewer, settings
from moderation import audit, lifecycle
from moderation.models import Post

bp = Blueprint("review", __name__)
NEEDS_ATTENTION = [lifecycle.AWAITING_REVIEW, lifecycle.CHECK_FAILED, lifecycle.PUBLISH_FAILED]
IN_PROGRESS = [lifecycle.SUBMITTED, lifecycle.CHECKING, lifecycle.APPROVED, lifecycle.SCHEDULED, lifecycle.PUBLISHING]
PER_PAGE = 50  # posts on one page of the queue: a page a phone shows at once, however long the queue
# what each card shows, loaded in one query per relationship rather than one per post
CARD_PARTS = (selectinload(Post.images), selectinload(Post.accounts), selectinload(Post.author),
              selectinload(Post.findings))


@bp.get("/review")
@requires(reviewer)
def queue():
    """What needs a decision; a post the checks blocked waits for its author, so it is in the blocked view
    (?view=blocked) instead, which senior leaders can look at."""
    session = db()
    attention = session.scalars(select(Post).where(Post.state.in_(NEEDS_ATTENTION)).order_by(Post.submitted_at)
                                .options(*CARD_PARTS)).all()
    blocked = [p for p in attention if lifecycle.shown_state(p) == lifecycle.NEEDS_CHANGES]
    waiting = [p for p in attention if p not in blocked]
    moving = session.scalars(select(Post).where(Post.state.in_(IN_PROGRESS)).order_by(Post.submitted_at)).all()
    takedowns = session.scalars(select(Takedown).where(Takedown.state != lifecycle.TAKEDOWN_DONE)
                                .order_by(Takedown.id)).all()
    view = "blocked" if request.args.get("view") == "blocked" else "waiting"
    counts = {"waiting": len(waiting), "blocked": len(blocked),
              "scheduled": sum(p.state == lifecycle.SCHEDULED for p in moving),
              "comments": comments.flagged_count(session)}
    narrowed, account, newest = _narrowed(blocked if view == "blocked" else waiting)
    pages = max(1, -(-len(narrowed) // PER_PAGE))
    page = min(max(1, request.args.get("page", 1, type=int)), pages)
    return render_template("review_queue.html", view=view, posts=narrowed[(page - 1) * PER_PAGE:page * PER_PAGE],
                           total=len(narrowed), page=page, pages=pages, first=(page - 1) * PER_PAGE + 1,
                           moving=moving, takedowns=takedowns, counts=counts, account=account, newest=newest,
                           accounts=sorted({a for p in attention for a in p.accounts}, key=lambda a: a.id), now=utcnow())


def _narrowed(posts: list[Post]) -> tuple[list[Post], int | None, bool]:
    """The queue for one account (?account=ID) and oldest first, or newest first with ?sort=newest."""
    account = request.args.get("account", type=int)
    if account is not None:
        posts = [p for p in posts if any(a.id == account for a in p.accounts)]
    newest = request.args.get("sort") == "newest"
    return sorted(posts, key=lambda p: p.submitted_at or p.created_at, reverse=newest), account, newest


@bp.get("/review/<int:post_id>")
@requires(reviewer)
def page(post_id):
    post = load_post(post_id)
    ids = {f.person_id for i in post.images for f in i.faces if f.person_id}
    people = {p.id: p for p in db().scalars(select(Person).where(Person.id.in_(ids)))}
    takedowns = db().scalars(select(Takedown).where(Takedown.post_id == post.id)).all()
    previews = review.previews(post, {i: p.display_name for i, p in people.items()})
    return render_template("review.html", post=post, people=people, takedowns=takedowns,
                           own=post.author_id == current_user.id, previews=previews, networks=Networks)


class Networks:
    """How the review page names the networks a photo goes to."""

    title = staticmethod(title_of)

    @staticmethod
    def titles(channels) -> str:
        return ", ".join(map(title_of, channels))

    @staticmethod
    def everywhere_else(post: Post, image) -> list[str]:
        """The networks of the post that get the clean rendition rather than one of their own."""
        own = {r.channel for r in image.renditions}
        return sorted({title_of(a.platform) for a in post.accounts if a.platform not in own})


def _refused(post_id: int, message: str):
    """Back to the review page with what was wrong; nothing was changed."""
    db().rollback()
    flash(message, "error")
    return redirect(url_for("review.page", post_id=post_id)), 303


def _done(post_id: int, message: str, queued: bool = True, to_queue: bool = False):
    """Say what was done, and that the work waits for the queue if it is out of reach."""
    flash(message, "ok")
    if not queued:
        flash(QUEUE_DOWN, "warning")
    return redirect(url_for("review.queue") if to_queue else url_for("review.page", post_id=post_id))


COLOURS = {"consented": (0, 140, 60), "no_consent": (200, 0, 30), "unidentified": (230, 120, 0)}


@bp.get("/review/<int:post_id>/photos/<int:position>/annotated")
@requires(reviewer)
def annotated(post_id, position):
    """The clean rendition with every face boxed by verdict and named: for reviewers only, never published."""
    post = load_post(post_id)
    image = next((i for i in post.images if i.position == position and i.clean_key), None) or abort(404)
    ids = {f.person_id for f in image.faces if f.person_id}
    names = {p.id: p.display_name for p in db().scalars(select(Person).where(Person.id.in_(ids)))}
    picture = Image.open(io.BytesIO(settings().media.get(image.clean_key))).convert("RGB")
    draw = ImageDraw.Draw(picture)
    width = max(2, picture.width // 400)
    font = ImageFont.load_default(size=max(14, picture.width // 60))
    for face in image.faces:
        top, right, bottom, left = face.box
        colour = COLOURS[face.verdict]
        draw.rectangle([left, top, right, bottom], outline=colour, width=width)
        label = names.get(face.person_id, "unidentified") + _where(face)
        draw.text((left, bottom + width), label, fill=colour, font=font, stroke_width=2, stroke_fill="white")
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=85)
    return Response(out.getvalue(), mimetype="image/jpeg", headers={"Cache-Control": "private, no-store"})


def _where(face) -> str:
    if not face.obscured:
        return ""
    if face.shown_on:
        return f" (shown on {Networks.titles(face.shown_on)} only)"
    return " (obscured)"


@bp.post("/review/<int:post_id>/photos/<int:position>/obscure")
@requires(reviewer)
def obscure_region(post_id, position):
    """A reviewer blanks out a region by hand; the photo goes through the checks again with it."""
    post = load_post(post_id)
    image = next((i for i in post.images if i.position == position and i.clean_key), None) or abort(404)
    try:
        left, top, width, height = (int(finite_number(request.form.get(k, "")))
                                    for k in ("left", "top", "width", "height"))
    except ValueError:
        return _refused(post_id, "Mark the area to obscure first (drag over the photo, or type its position and size).")
    try:
        queued = review.obscure_region(db(), settings(), current_user, post, image, left, top, width, height)
    except Refused as exc:
        return _refused(post_id, f"Not done: {exc}.")
    return _done(post_id, "The area will be covered; the photo is being checked again.", queued)


@bp.post("/review/<int:post_id>/edit")
@requires(reviewer)
def edit(post_id):
    """A senior leader corrects the words themselves; the post is checked again and someone else approves it."""
    post = load_post(post_id)
    try:
        queued = review.edit(db(), settings(), current_user, post, request.form.get("text", ""),
                             numbered(request.form, "alt_"))
    except Refused as exc:
        return _refused(post_id, f"Not changed: {exc}.")
    return _done(post_id, "Changed. It is being checked again; another senior leader or the head must approve it.",
                 queued)


DECISIONS = {"approve": "Approved.", "reject": "Rejected; the author sees your reason.",
             "request_changes": "Sent back to the author with your note.", "retry_checks": "Checks started again.",
             "retry_publishing": "Publishing again."}


@bp.post("/review/<int:post_id>/<any(approve, reject, request_changes, retry_checks, retry_publishing):action>")
@requires(reviewer)
def decide(post_id: int, action: str):
    session, post, queued = db(), load_post(post_id), True
    reason = request.form.get("reason", "")
    try:
        if action == "reject":
            review.reject(session, settings(), current_user, post, reason)
        elif action == "request_changes":
            review.request_changes(session, settings(), current_user, post, reason)
        else:
            use_case = {"approve": review.approve, "retry_checks": review.retry_checks,
                        "retry_publishing": review.retry_publishing}[action]
            queued = use_case(session, settings(), current_user, post)
    except Refused as exc:
        return _refused(post_id, f"Not done: {exc}.")
    return _done(post_id, DECISIONS[action], queued, to_queue=True)


@bp.get("/published")
@requires(reviewer)
def published():
    posts = db().scalars(select(Post).where(Post.state.in_([lifecycle.PUBLISHED, lifecycle.TAKEN_DOWN]))
                         .order_by(Post.finished_at.desc())).all()
    return render_template("published.html", posts=posts)


@bp.get("/audit")
@requires(auditor)
def audit_log():
    session = db()
    filters, problems = _audit_filters()
    names, schools = _staff_names(), _school_names()
    entries = audit.search(session, filters, names) if not problems else []
    return render_template("audit.html", entries=[_audit_row(e, names, schools) for e in entries],
                           check=audit.verify(session), filters=filters, problems=problems, actions=audit.actions(session), args=request.args)


@bp.get("/audit.csv")
@requires(auditor)
def audit_csv():
    """Every entry the filters match, as a spreadsheet (cells that a spreadsheet would run as formulas are quoted)."""
    filters, problems = _audit_filters()
    if problems:
        abort(400)
    names, columns = _staff_names(), ["seq", "at", "who", "what", "about", "details"]
    columns += ["school"] if current_user.trust_wide else []  # the trust's officer reads every school's
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["#", "when (UTC)", "who", "what", "about", "details", "school"][:len(columns)])
    schools = _school_names()
    for row in (_audit_row(e, names, schools) for e in audit.search(db(), filters, names, limit=None)):
        writer.writerow([_cell(row[c]) for c in columns])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit-log.csv"})


def _audit_filters() -> tuple[audit.Filters, list[str]]:
    args, problems = request.args, []

    def day(name: str):
        try:
            return date.fromisoformat(args[name]) if args.get(name) else None
        except ValueError:
            problems.append(Problem(f"“{args[name]}” is not a date: use the date picker, or write it as 2026-12-31.",
                                    name))

    post = args.get("post", "").strip().lstrip("#")
    if post and not post.isdigit():
        problems.append(Problem("A post is given by its number, such as 12.", "post"))
    return audit.Filters(who=args.get("who", ""), what=args.get("what", ""),
                         post=int(post) if post.isdigit() and len(post) < 19 else None,
                         person=args.get("person", ""), since=day("since"), until=day("until")), problems


def _staff_names() -> dict[int, str]:
    return {u.id: u.name for u in db().scalars(select(User))}


def _school_names() -> dict[int | None, str]:
    names = {s.id: s.name or settings().school_name for s in db().scalars(select(School))}
    return {**names, None: "the trust"}


def _audit_row(entry, names: dict[int, str], schools: dict[int | None, str]) -> dict:
    """An entry as people read it: who by name, the details as words rather than JSON."""
    who = entry.actor
    if who.startswith("user:"):
        uid, _, email = who[5:].partition(" ")
        who = f"{names.get(int(uid), 'a former user')} ({email})" if uid.isdigit() else who
    details = "; ".join(f"{k.replace('_', ' ')}: {v if not isinstance(v, (list, dict)) else ', '.join(map(str, v))}"
                        for k, v in entry.details.items())
    return {"seq": entry.seq, "at": entry.at.strftime("%Y-%m-%d %H:%M:%S"), "who": who,
            "what": entry.action.replace("_", " "), "about": entry.subject, "details": details,
            "school": schools.get(entry.school_id, "")}


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.post("/review/<int:post_id>/schedule")
@requires(reviewer)
def reschedule(post_id):
    """Move a scheduled or approved post to another time (its approval stands: the content is unchanged)."""
    post = load_post(post_id)
    try:
        when = local_time(request.form.get("publish_at", ""))
    except ValueError:
        return _refused(post_id, "Give a date and time.")
    try:
        queued = review.reschedule(db(), settings(), current_user, post, when)
    except Refused as exc:
        return _refused(post_id, f"Not done: {exc}.")
    return _done(post_id, "Rescheduled.", queued)


@bp.post("/review/<int:post_id>/cancel")
@requires(reviewer)
def cancel(post_id):
    post = load_post(post_id)
    try:
        review.cancel(db(), settings(), current_user, post)
    except Refused as exc:
        return _refused(post_id, f"Not done: {exc}.")
    return _done(post_id, "Publishing cancelled; the post waits for a decision again.")


@bp.post("/review/<int:post_id>/take-down")
@requires(reviewer)
def take_down(post_id):
    """SMT removes a published post (policy §6.4), with a reason; or confirms a takedown the registry asked for."""
    post = load_post(post_id)
    try:
        queued = review.take_down(db(), settings(), current_user, post, request.form.get("reason", ""))
    except Refused as exc:
        return _refused(post_id, f"Not done: {exc}.")
    return _done(post_id, "Taking it down now.", queued)
