"""The Comments queue (SMT): replies the checks hid or held, what was done, and SMT's buttons."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from gateway.models import Account
from gateway.core.errors import Refused
from gateway.services import comments
from gateway.services.queueing import QUEUE_DOWN
from gateway.web.forms import whole_number
from gateway.web.util import db, requires, reviewer, settings
from moderation import replies
from moderation.models import Publication
from moderation.replies import Reply

bp = Blueprint("comments", __name__)
DONE = {
    "keep": "Kept hidden.",
    "stand": "Left as it is on the network.",
    "restore": "It will be shown again on the network in a moment.",
    "hide": "It will be hidden on the network in a moment.",
    "block": "Its author will be blocked in a moment.",
}


@bp.get("/comments")
@requires(reviewer)
def queue():
    session = db()
    post_id = request.args.get("post", type=whole_number)
    query = select(Reply).join(Publication).order_by(Reply.id.desc())
    if post_id:
        query = query.where(Publication.post_id == post_id)
    shown = session.scalars(query.limit(500)).all()
    comments.watch_accounts(session, settings())  # an account's schedule shows from its first published post
    waiting = [r for r in shown if r.needs_smt]
    handled = [r for r in shown if not r.needs_smt and (r.verdict != replies.FINE or r.reviewed_at or r.concern)]
    concerns = [r for r in shown if r.concern]
    return render_template("comments.html", waiting=waiting, handled=handled[:100], concerns=concerns,
                           post_id=post_id, schedules=comments.schedules(session, settings()),
                           states=replies.STATE_NAMES, verdicts=replies.VERDICT_NAMES)


@bp.post("/comments/<int:reply_id>/<any(keep, stand, restore, hide, block):what>")
@requires(reviewer)
def decide(reply_id: int, what: str):
    reply = db().get(Reply, reply_id) or abort(404)
    try:
        queued = comments.decide(db(), settings(), current_user, reply, what)
    except Refused as exc:
        return _refused(str(exc))
    flash(DONE[what], "ok")
    if not queued:
        flash(QUEUE_DOWN, "warning")
    return redirect(url_for("comments.queue"))


@bp.post("/comments/<int:reply_id>/concern")
@requires(reviewer)
def concern(reply_id: int):
    reply = db().get(Reply, reply_id) or abort(404)
    try:
        comments.concern(db(), current_user, reply, request.form.get("why", ""))
    except Refused as exc:
        return _refused(str(exc))
    flash("The safeguarding concern is recorded and shown to the head.", "ok")
    return redirect(url_for("comments.queue"))


@bp.post("/comments/accounts/<int:account_id>/read")
@requires(reviewer)
def read_now(account_id: int):
    if db().get(Account, account_id) is None:  # none, or another school's
        abort(404)
    try:
        queued = comments.read_now(db(), settings(), current_user, account_id)
    except Refused as exc:
        return _refused(str(exc))
    flash("The replies will be read in a moment.", "ok")
    if not queued:
        flash(QUEUE_DOWN, "warning")
    return redirect(url_for("comments.queue"))


def _refused(message: str):
    db().rollback()
    flash(message, "error")
    return redirect(url_for("comments.queue")), 303
