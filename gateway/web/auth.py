"""Signing in and out: the password, the second factor (and its enrolment), forgotten passwords and one-time
links. Every POST here is throttled per client address (gateway.web.security)."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import segno
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from gateway.core.errors import Refused
from gateway.models import User
from gateway.services import sign_in, users
from gateway.users import Busy
from gateway.web import security
from gateway.web.util import anyone, db, landing, public, requires, settings

bp = Blueprint("auth", __name__)
CONTROL = dict.fromkeys(range(0x21))  # what a browser strips from or ignores around a URL


def safe_next(target: str | None) -> str:
    """A path on this site only, read as a browser would read it (tabs and newlines removed, backslashes as
    slashes), so a crafted link cannot send someone elsewhere after they log in."""
    cleaned = (target or "").translate(CONTROL).replace("\\", "/")
    parts = urlsplit(cleaned)
    if cleaned.startswith("/") and not cleaned.startswith("//") and not parts.scheme and not parts.netloc:
        return cleaned
    return landing()


def _continue(user) -> Response:
    security.complete_login(user)
    return redirect(safe_next(request.args.get("next")))


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(landing())
    form = request.form
    email, held = form.get("email", ""), bool(form.get("code"))
    if request.method == "GET":
        return render_template("login.html", email=email, held=False)
    try:
        with security.password_check_turn():
            attempt = users.log_in(db(), settings(), email, form.get("password", ""), form.get("code", ""),
                                   known_device=security.known_device(email))
    except users.LockedOut as exc:
        flash(str(exc), "error")
        return render_template("login.html", email=email, held=True), 429
    except Busy as exc:
        flash(str(exc), "error")
        return render_template("login.html", email=email, held=held), 503
    except Refused as exc:
        flash(str(exc), "error")
        return render_template("login.html", email=email, held=held), 401
    if attempt.step == users.DONE:
        return _continue(attempt.user)
    security.set_pending(attempt.user.id, attempt.step, time.time())
    return redirect(url_for("auth.code" if attempt.step == users.CODE else "auth.enrol", next=request.args.get("next")))


def _start_again() -> Response:
    flash("Your log-in took too long or was not started. Log in again.", "error")
    return redirect(url_for("auth.login"))


@bp.route("/login/code", methods=["GET", "POST"])
@public
def code():
    if current_user.is_authenticated:
        return redirect(landing())
    waiting = security.pending(users.CODE, time.time())
    if waiting is None:
        return _start_again()
    if request.method == "GET":
        return render_template("login_code.html")
    try:
        user = users.second_step(db(), settings(), *waiting, request.form.get("code", ""))
    except Refused as exc:
        flash(str(exc), "error")
        return render_template("login_code.html"), 401
    return _continue(user)


def _enrolling() -> User | None:
    """Who is setting up an app: the logged-in user, or one whose right password needs a second factor first
    (None when neither, or when that log-in no longer stands)."""
    if current_user.is_authenticated:
        return current_user
    waiting = security.pending(users.ENROL, time.time())
    try:
        return users.waiting_user(db(), *waiting) if waiting else None
    except Refused:
        return None


@bp.route("/login/enrol", methods=["GET", "POST"])
@public
def enrol():
    """Set up an authenticator app: a QR code (and its key in words), a first code, then ten recovery codes."""
    user = _enrolling()
    if user is None:
        return _start_again()
    try:
        secret, _uri = sign_in.enrolment_uri(db(), settings(), user, fresh=request.method == "GET")
    except Refused as exc:
        flash(f"{str(exc)[0].upper()}{str(exc)[1:]}.", "ok")
        return redirect(landing())
    if request.method == "GET":
        return render_template("enrol.html", secret=secret, user=user)
    try:
        codes = sign_in.confirm_enrolment(db(), settings(), user, request.form.get("code", ""))
    except Refused as exc:
        flash(f"Not set up: {exc}.", "error")
        return render_template("enrol.html", secret=secret, user=user), 400
    if not current_user.is_authenticated:
        security.complete_login(user)
    return render_template("recovery_codes.html", codes=codes, next=safe_next(request.args.get("next")))


@bp.get("/login/enrol/qr.svg")
@public
def enrol_qr():
    """The enrolment QR code, served from this site (the page's CSP allows no other images)."""
    user = _enrolling()
    if user is None:
        abort(404)
    try:
        _secret, uri = sign_in.enrolment_uri(db(), settings(), user)
    except Refused:
        abort(404)
    return Response(segno.make(uri, error="m").svg_inline(scale=5), mimetype="image/svg+xml")


@bp.post("/logout")
@public
def logout():
    security.log_out()
    flash("You are logged out.", "ok")
    return redirect(url_for("auth.login"))


@bp.get("/")
@public
def home():
    return redirect(landing() if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/login/forgot", methods=["GET", "POST"])
@public
def forgot():
    if request.method == "POST":
        sign_in.forgot_password(settings(), request.form.get("email", ""))
        return render_template("forgot.html", sent=True)
    return render_template("forgot.html", sent=False)


@bp.route("/account/<any(setup, reset):purpose>/<token>", methods=["GET", "POST"])
@public
def link(purpose, token):
    """Choose a password through a one-time link (a new account's set-up, or a forgotten password)."""
    try:
        user = sign_in.open_link(db(), purpose, token).user
    except Refused as exc:
        return render_template("link_used.html", reason=str(exc)), 410
    if request.method == "GET":
        return render_template("choose_password.html", user=user, purpose=purpose)
    try:
        users.set_password_by_link(db(), settings(), purpose, token, request.form.get("new", ""),
                                   request.form.get("again", ""))
    except Refused as exc:
        flash(f"Not saved: {exc}.", "error")
        return render_template("choose_password.html", user=user, purpose=purpose), 400
    flash("Your password is saved. Log in with it now.", "ok")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires(anyone)
def password():
    if request.method == "POST":
        try:
            users.change_password(db(), settings(), current_user, request.form.get("current", ""),
                                  request.form.get("new", ""), request.form.get("again", ""),
                                  keep=session.get("sid"))
        except Refused as exc:
            flash(f"Not changed: {exc}.", "error")
            return render_template("password.html"), 400
        flash("Your password is changed, and you are logged out everywhere else.", "ok")
        return redirect(landing())
    return render_template("password.html")
