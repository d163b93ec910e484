"""Each person's notices, newest first (seen once they are shown), and how they want them by e-mail."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from gateway.core.errors import Refused
from gateway.services import notices
from gateway.web.util import anyone, db, requires

bp = Blueprint("notices", __name__)


@bp.get("/notices")
@requires(anyone)
def page():
    shown, new = notices.shown(db(), current_user)
    return render_template("notices.html", notices=shown, new=new)


@bp.post("/notices/how")
@requires(anyone)
def how():
    choice = request.form.get("notify", "")
    try:
        notices.set_how(db(), current_user, choice)
    except Refused as exc:
        flash(f"Not saved: {exc}.", "error")
    else:
        flash("Saved: " + ("e-mails as things happen." if choice == notices.NOW else "one e-mail a day."), "ok")
    return redirect(url_for("notices.page"))
