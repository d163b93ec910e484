"""The Flask app factory, error pages, health and the archive's published pages."""
from __future__ import annotations

import json
import logging
from zoneinfo import ZoneInfo

from flask import Flask, abort, g, jsonify, render_template, request, send_from_directory
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from gateway.models import Account, User
from moderation.diff import marked
from gateway.web.util import anyone, db, queue_conn, requires, settings

log = logging.getLogger(__name__)

ERROR_WORDS = {
    400: ("Something in that request was not right", "Go back, check the form and try again. Nothing was changed."),
    403: ("You do not have permission for that", "Your role does not allow this page or action. Ask a headteacher if you think it should."),
    404: ("Not found", "There is nothing here: the link may be wrong, or the post was removed."),
    405: ("That cannot be done from here", "Use the buttons on the page instead of typing the address."),
    413: ("The upload is too large", "The photos together are over the size the gateway accepts. Nothing was saved: go back and choose smaller or fewer photos."),
    500: ("Something went wrong on our side", "Nothing you sent was lost that was already saved. Try again in a minute; if it keeps happening, tell the office."),
}


def workers_report(conn) -> dict:
    """Workers by queue, and what is down: a queue no live worker takes, or a supervised process not running."""
    from rq import Worker

    from workers.supervisor import STATUS_KEY
    from workers import queues

    workers = Worker.all(connection=conn)
    by_queue = {name: sum(name in w.queue_names() for w in workers) for name in queues.ALL}
    down = [f"no worker takes the {name} queue" for name, count in by_queue.items() if not count]
    supervised = {}
    for key in conn.scan_iter(f"{STATUS_KEY}*"):
        for name, unit in json.loads(conn.get(key) or "{}").items():
            supervised[name] = unit
            if not unit["running"]:
                down.append(f"{name} is down ({unit['last_exit']}); being restarted")
    return {"workers": len(workers), "queues": by_queue, "supervised": supervised, "down": down}


def create_app(gateway_settings) -> Flask:
    app = Flask("gateway", template_folder="templates", static_folder="static")
    app.config.update(
        GATEWAY_SETTINGS=gateway_settings,
        SECRET_KEY=gateway_settings.secret_key,
        MAX_CONTENT_LENGTH=(gateway_settings.max_photos * gateway_settings.max_photo_mb + 50) * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
    )
    zone = ZoneInfo(gateway_settings.timezone)
    app.add_template_filter(lambda when: when.astimezone(zone).strftime("%a %d %b %Y, %H:%M"), "local")
    app.add_template_global(marked)
    CSRFProtect(app)
    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = "Please log in to continue."

    @login.user_loader
    def load_user(user_id):
        user = db().get(User, int(user_id))
        return user if user and user.active else None

    from gateway.web.consent import bp as people_bp
    from gateway.web.admin import bp as admin_bp
    from gateway.web.auth import bp as auth_bp
    from gateway.web.posts import bp as posts_bp
    from gateway.web.review import bp as review_bp

    for bp in (auth_bp, posts_bp, review_bp, admin_bp, people_bp):
        app.register_blueprint(bp)

    @app.teardown_appcontext
    def close_db(_exc):
        session = g.pop("db", None)
        if session is not None:
            session.close()

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self'; object-src 'none'")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_template(
            "error.html", title="This form has expired or did not come from this site",
            words="For your safety it was not accepted and nothing was changed. Go back, reload the page and send it again.",
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(exc):
        title, words = ERROR_WORDS.get(exc.code, (exc.name, exc.description))
        if request.path.startswith("/healthz"):
            return jsonify(error=title), exc.code
        return render_template("error.html", title=title, words=words), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc):
        log.exception("unexpected error on %s %s", request.method, request.path)
        title, words = ERROR_WORDS[500]
        return render_template("error.html", title=title, words=words), 500

    @app.get("/healthz")
    def healthz():
        report, ok = {}, True
        try:
            db().execute(text("select 1"))
            report["database"] = "ok"
        except Exception as exc:
            report["database"], ok = f"unavailable: {type(exc).__name__}", False
        try:
            conn = queue_conn()
            conn.ping()
            report["queue"] = "ok"
            report.update(workers_report(conn))
        except Exception as exc:
            report["queue"], report["workers"], ok = f"unavailable: {type(exc).__name__}", 0, False
        down = report.get("down", [])
        report["status"] = "ok" if ok and report["workers"] and not down else "degraded"
        return jsonify(report), 200 if ok else 503

    @app.get("/archive/<handle>/")
    @app.get("/archive/<handle>/<path:path>")
    @requires(anyone)
    def archive(handle, path="index.html"):
        if not db().query(Account).filter_by(platform="archive", handle=handle).first():
            abort(404)
        folder = settings().archive / handle
        if path.endswith("/"):
            path += "index.html"
        return send_from_directory(folder, path)

    return app
