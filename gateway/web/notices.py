"""Each person's notices, newest first (seen once they are shown), and how they want them by e-mail."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select, update

from gateway.core.db import utcnow
from gateway.models import Notice
from gateway.services import notices
from gateway.web.util import anyone, db, requires

bp = Blueprint("notices", __name__)


def unread(session, user) -> int:
    return session.scalar(select(func.count()).select_from(Notice).where(
        Notice.user_id == user.id, Notice.read_at.is_(None))) or 0


@bp.get("/notices")
@requires(anyone)
def page():
    session = db()
    shown = session.scalars(select(Notice).where(Notice.user_id == current_user.id)
                            .order_by(Notice.id.desc()).limit(100)).all()
    new = {n.id for n in shown if n.read_at is None}
    if new:
        session.execute(update(Notice).where(Notice.id.in_(new)).values(read_at=utcnow()))
        session.commit()
    return render_template("notices.html", notices=shown, new=new)


@bp.post("/notices/how")
@requires(anyone)
def how():
    choice = request.form.get("notify", "")
    if choice not in (notices.NOW, notices.DIGEST):
        flash("Choose at once or once a day.", "error")
    else:
        notices.set_how(db(), current_user, choice)
        flash("Saved: " + ("e-mails as things happen." if choice == notices.NOW else "one e-mail a day."), "ok")
    return redirect(url_for("notices.page"))
