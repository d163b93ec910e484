"""The Flask app factory: settings, extensions, blueprints, error pages and headers, each registered in turn."""
from __future__ import annotations

import logging
import time
from zoneinfo import ZoneInfo

from flask import Flask, g, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from gateway.web import (admin, archive, auth, calendar, comments, consent, health, notices, posts, review,
                         security)
from gateway.services.notices import unread as unread_notices
from gateway.web.util import db, settings
from moderation import lifecycle
from moderation.diff import marked
from moderation.findings import grouped

log = logging.getLogger(__name__)
http_log = logging.getLogger("gateway.http")

BLUEPRINTS = (auth.bp, posts.bp, review.bp, calendar.bp, notices.bp, comments.bp, admin.bp, consent.bp, health.bp,
              archive.bp)
ERROR_WORDS = {
    400: ("Something in that request was not right", "Go back, check the form and try again. Nothing was changed."),
    403: ("You do not have permission for that", "Your role does not allow this page or action. Ask a headteacher if you think it should."),
    404: ("Not found", "There is nothing here: the link may be wrong, or the post was removed."),
    405: ("That cannot be done from here", "Use the buttons on the page instead of typing the address."),
    413: ("The upload is too large", "The photos together are over the size the gateway accepts. Nothing was saved: go back and choose smaller or fewer photos."),
    429: ("Too many attempts", "Too many tries came from your network in a short time. Wait a minute and try again."),
    500: ("Something went wrong on our side", "Nothing you sent was lost that was already saved. Try again in a minute; if it keeps happening, tell the office."),
}
def create_app(gateway_settings) -> Flask:
    app = Flask("gateway", template_folder="templates", static_folder="static")
    configure(app, gateway_settings)
    register_blueprints(app)
    register_extensions(app, gateway_settings)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_template_helpers(app, gateway_settings)
    return app


class Id(IntegerConverter):
    """Ids in paths stop at the databases' 64-bit integers: a longer number is simply not found (404)."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, *args, max=2**63 - 1, **kwargs)


def configure(app: Flask, gateway_settings) -> None:
    app.url_map.converters["int"] = Id
    app.config.update(
        GATEWAY_SETTINGS=gateway_settings,
        SECRET_KEY=gateway_settings.secret_key,
        MAX_CONTENT_LENGTH=(gateway_settings.max_photos * gateway_settings.max_photo_mb + 50) * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the log-in, which is itself limited
    )
    security.configure(app, gateway_settings)


def register_extensions(app: Flask, gateway_settings) -> None:
    """CSRF protection on every form; sessions kept on the server; sign-in throttling; the security headers."""
    CSRFProtect(app)
    security.register(app, gateway_settings, auth.bp)


def register_blueprints(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    """Plain-words error pages (JSON for the health check); an unexpected error is logged in full."""

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
        # the route's pattern, not the path: a path can hold a one-time link's token
        log.exception("unexpected error on %s %s", request.method, request.url_rule.rule if request.url_rule else "?")
        title, words = ERROR_WORDS[500]
        return render_template("error.html", title=title, words=words), 500


SECRET_PARTS = {"token"}  # path variables never written to the log


def logged_path() -> str:
    """The request's path with any secret part of it (a one-time link's token) replaced; never the query string."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if name in SECRET_PARTS and value:
            path = path.replace(str(value), f"<{name}>")
    return path


def register_request_hooks(app: Flask) -> None:
    """One log line per request (method, path, status, milliseconds); the request's database session is closed at
    its end."""

    @app.before_request
    def start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response):
        if request.endpoint != "static":
            took = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            http_log.info("%s %s %s %.0f ms", request.method, logged_path(), response.status_code, took)
        return response

    @app.teardown_appcontext
    def close_db(_exc):
        session = g.pop("db", None)
        if session is not None:
            session.close()


def register_template_helpers(app: Flask, gateway_settings) -> None:
    zone = ZoneInfo(gateway_settings.timezone)
    app.add_template_filter(lambda when: when.astimezone(zone).strftime("%a %d %b %Y, %H:%M"), "local")
    app.add_template_global(marked)
    app.add_template_global(grouped, "grouped_findings")
    app.add_template_global(lifecycle.shown_state, "shown_state")
    app.add_template_global(lifecycle.SHOWN_NAMES, "shown_names")
    app.add_template_global(lifecycle.STATE_SENTENCES, "state_sentences")
    app.add_template_global(lambda: unread_notices(db(), current_user), "unread_notices")
    app.add_template_global(lambda: settings().school_name, "school_name")
