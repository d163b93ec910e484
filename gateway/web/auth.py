"""Logging in and out."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from gateway.core.errors import Refused
from gateway.services import users
from gateway.web.util import anyone, db, requires, settings

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
        try:
            user = users.log_in(db(), settings(), email, request.form.get("password", ""))
        except users.LockedOut as exc:
            flash(str(exc), "error")
            return render_template("login.html", email=email), 429
        except Refused as exc:
            flash(str(exc), "error")
            return render_template("login.html", email=email), 401
        login_user(user)
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
        try:
            users.change_password(db(), settings(), current_user, request.form.get("current", ""), request.form.get("new", ""),
                                  request.form.get("again", ""))
        except Refused as exc:
            flash(f"Not changed: {exc}.", "error")
            return render_template("password.html"), 400
        flash("Your password is changed.", "ok")
        return redirect(url_for("posts.mine"))
    return render_template("password.html")
