"""What every blueprint needs: the request's database session, settings, queue and role checks."""
from __future__ import annotations

from functools import wraps

from flask import abort, current_app, g, url_for
from flask_login import current_user, login_required

from gateway.core.db import session_for
from workers import queues


def settings():
    """The signed-in user's school's settings (gateway.core.schools.settings_for), else the installation's."""
    return g.get("settings") or current_app.config["GATEWAY_SETTINGS"]


def db():
    if "db" not in g:
        g.db = session_for(settings().database_url)
    return g.db


def queue_conn():
    if "queue_conn" not in g:
        g.queue_conn = queues.connection(settings())
    return g.queue_conn


def requires(check):
    """Log-in required, and `check(user)` must hold, else 403. Checked on the server for every request; the rule is
    recorded on the view (`access`, `check`) for the roles × routes table (gateway.web.access)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not check(current_user):
                abort(403)
            return view(*args, **kwargs)

        wrapped.access, wrapped.check = check.__name__, check
        return wrapped

    return decorator


def public(view):
    """Marks a view as open to anyone, logged in or not, on purpose."""
    view.access = "public"
    return view


def reviewer(user) -> bool:
    return user.can_review


def head(user) -> bool:
    return user.can_admin


def registry_keeper(user) -> bool:
    return user.can_keep_registry


def auditor(user) -> bool:
    return user.can_audit


def staff(user) -> bool:
    """Any of a school's own staff (posts are a school's; the trust's officer writes none)."""
    return not user.trust_wide


def anyone(user) -> bool:
    return True


def landing() -> str:
    """Where the signed-in user's own work is: the review queue for senior leaders and the head, the people pages
    for the consent officer, the audit log for the trust's data protection officer, their posts for a teacher."""
    if current_user.can_review:
        return url_for("review.queue")
    if current_user.can_keep_registry:
        return url_for("people.search")
    if current_user.can_audit:
        return url_for("review.audit_log")
    return url_for("posts.mine")
