"""Logging in and out."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from gateway.users import (
    LOCKOUT_MINUTES, UserError, authenticate, change_password, login_subject, too_many_failures)
from gateway.web.util import anyone, db, requires
from moderation import audit

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so a crafted link cannot send someone elsewhere after logging in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("posts.mine")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("posts.mine"))
    email = request.form.get("email", "")
    if request.method == "POST":
        session = db()
        if too_many_failures(session, email):
            flash(f"Too many wrong passwords for this account. Wait {LOCKOUT_MINUTES} minutes and try again, "
                  "or ask the headteacher to check your account.", "error")
            return render_template("login.html", email=email), 429
        user = authenticate(session, email, request.form.get("password", ""))
        if user is None:
            audit.record(session, "anonymous", "login_failed", login_subject(email))
            session.commit()
            flash("That e-mail and password do not match an active account.", "error")
            return render_template("login.html", email=email), 401
        login_user(user)
        audit.record(session, user, "login", f"user:{user.id}")
        session.commit()
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", email=email)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.get("/")
def home():
    return redirect(url_for("posts.mine") if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires(anyone)
def password():
    if request.method == "POST":
        session = db()
        try:
            change_password(session, current_user, request.form.get("current", ""), request.form.get("new", ""),
                            request.form.get("again", ""))
        except UserError as exc:
            session.rollback()
            flash(f"Not changed: {exc}.", "error")
            return render_template("password.html"), 400
        session.commit()
        flash("Your password is changed.", "ok")
        return redirect(url_for("posts.mine"))
    return render_template("password.html")
