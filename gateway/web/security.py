"""What keeps a log-in safe on the web side: server-side sessions behind Flask-Login, throttling of sign-in
attempts per client address (Flask-Limiter on the queue's Redis), and the headers and cookies of every response."""
from __future__ import annotations

import secrets
import threading
from collections import Counter
from contextlib import contextmanager

from flask import Flask, abort, current_app, g, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, login_user, logout_user
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.core.schools import as_school
from gateway.services import sign_in
from gateway.web.util import db, settings
from workers import embedded

CSP = ("default-src 'self'; img-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; "
       "base-uri 'none'")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CSP,
}
HSTS = "max-age=31536000; includeSubDomains"
DEVICE_COOKIE, DEVICE_DAYS = "gateway_device", 180
DEVICE_LIMIT = "5 per 15 minutes"  # failed attempts from a known browser, which the address limit does not count
PENDING_SECONDS = 300  # between a right password and its second factor
# Password checks in progress from one client address at once. A flood from one address is refused at once
# beyond this, instead of filling the web server's threads with requests waiting for a turn at hashing.
IN_FLIGHT_PER_ADDRESS = 2
_in_flight: Counter = Counter()
_in_flight_lock = threading.Lock()


def configure(app: Flask, gateway_settings) -> None:
    """Cookies that end with the log-in, Secure behind TLS; forwarded headers trusted only from known proxies."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=gateway_settings.behind_tls,
        PERMANENT_SESSION_LIFETIME=gateway_settings.session_hours * 3600,
        REMEMBER_COOKIE_SECURE=gateway_settings.behind_tls,
    )
    if gateway_settings.proxies:
        n = gateway_settings.proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)


def register(app: Flask, gateway_settings, sign_in_blueprint) -> None:
    _login_manager(app)
    _limiter(app, gateway_settings).limit(
        _throttle_limit, key_func=_throttle_key, methods=["POST"],
        # failed attempts count, and every "forgot password" (it answers the same whatever happened)
        deduct_when=lambda response: response.status_code >= 400 or request.endpoint == "auth.forgot",
        error_message="Too many attempts from your network. Wait a minute and try again.",
    )(sign_in_blueprint)
    app.after_request(_headers)
    app.after_request(_remember_device)


def _login_manager(app: Flask) -> None:
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = "Please log in to continue."

    @login.user_loader
    def load_user(user_id):
        """The signed-in user; from here on the request's database session sees only their school's records."""
        user = sign_in.session_user(db(), settings(), session.get("sid"), user_id)
        if user is not None:
            g.settings = as_school(db(), settings(), None if user.trust_wide else user.school_id)  # read once
        return user


def _limiter(app: Flask, gateway_settings) -> Limiter:
    """Counters on the queue's Redis, shared by every web process; in memory while Redis is out of reach."""
    url = gateway_settings.redis_url or embedded.url(gateway_settings.queue_dir)
    if url.startswith("unix://"):
        url = "redis+" + url
    return Limiter(get_remote_address, app=app, storage_uri=url, strategy="moving-window", swallow_errors=True,
                   in_memory_fallback_enabled=True, key_prefix="gateway-limits")


def _headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"  # pages hold pupils' and staff's data: never kept
    if settings().behind_tls:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


@contextmanager
def password_check_turn():
    """A turn for this client address to have a password checked, or 429 at once."""
    address = request.remote_addr or ""
    with _in_flight_lock:
        if _in_flight[address] >= IN_FLIGHT_PER_ADDRESS:
            abort(429)
        _in_flight[address] += 1
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight[address] -= 1
            if not _in_flight[address]:
                del _in_flight[address]


def complete_login(user) -> None:
    """A fresh session for the log-in: a new token (kept on the server) and a new CSRF token."""
    session.clear()
    g.pop("csrf_token", None)
    session["sid"] = sign_in.start_session(db(), user, request.remote_addr or "")
    session.permanent = True
    login_user(user)
    g.remember_device = (user.id, user.email)


def log_out() -> None:
    sign_in.end_session(db(), session.get("sid"))
    logout_user()
    session.clear()


def set_pending(user_id: int, step: str, now: float) -> None:
    """Between a right password and the second factor: nobody is logged in yet."""
    session.clear()
    session["pending"] = [user_id, step, now]


def pending(step: str, now: float) -> tuple[int, float] | None:
    """The user id waiting for this step and when their password was right, if that is recent."""
    waiting = session.get("pending")
    if not waiting or waiting[1] != step or not 0 <= now - waiting[2] <= PENDING_SECONDS:
        return None
    return waiting[0], waiting[2]


# A browser someone logged in from before carries a signed cookie naming them. Someone else's wrong guesses
# then neither hold their account nor throttle their address for them (a pupil on the school's network must
# not lock the staff out); attempts from that browser have a limit of their own instead.

def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-device")


def _device() -> dict | None:
    try:
        return _devices().loads(request.cookies.get(DEVICE_COOKIE, ""), max_age=DEVICE_DAYS * 86400)
    except BadData:
        return None


def known_device(email: str = "") -> bool:
    """Whether this browser logged in before as the person trying now (by the e-mail typed, or the log-in
    waiting for its second factor)."""
    device, waiting = _device(), session.get("pending")
    if device is None:
        return False
    if request.endpoint == "auth.login":
        return device["e"] == (email or request.form.get("email", "")).strip().lower()
    return bool(waiting) and device["u"] == waiting[0]


def _throttle_key() -> str:
    return f"device:{_device()['n']}" if known_device() else get_remote_address()


def _throttle_limit() -> str:
    return DEVICE_LIMIT if known_device() else settings().login_limit


def _remember_device(response):
    remembered = g.pop("remember_device", None)
    if remembered is not None:
        user_id, email = remembered
        response.set_cookie(DEVICE_COOKIE, _devices().dumps({"u": user_id, "e": email, "n": secrets.token_hex(8)}),
                            max_age=DEVICE_DAYS * 86400, httponly=True, samesite="Lax",
                            secure=settings().behind_tls)
    return response
