"""The headteacher's pages: users and official accounts."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from gateway.services import comments, sign_in, users
from gateway.services.accounts import add_account, confirm_account, save_credentials
from gateway.services.links import add_rule, remove_rule
from gateway.core.errors import Refused
from gateway.models import ROLE_NAMES, SCHOOL_ROLES, Account, User
from gateway.platforms import PLATFORMS
from gateway.platforms.base import PublishError
from consent_registry.detection import MIN_ENCODABLE_PX
from consent_registry.faces import SMALLEST_FOUND_PX, FaceSettings
from gateway.web.util import db, head, requires, settings
from moderation.link_rules import LinkRule, rules, school_domains, several_schools

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(status=200, **extra):
    session = db()
    users = session.scalars(select(User).order_by(User.name)).all()
    accounts = session.scalars(select(Account).order_by(Account.id)).all()
    return render_template("admin.html", users=users, accounts=accounts, roles={r: ROLE_NAMES[r] for r in SCHOOL_ROLES}, platforms=PLATFORMS,
                           rules=rules(session), several_schools=several_schools(session),
                           school_domains=school_domains(settings()), form=request.form,
                           **extra), status


@bp.get("/")
@requires(head)
def index():
    return _page()


@bp.post("/users")
@requires(head)
def add_user():
    form = request.form
    try:
        user = users.add_user(db(), settings(), form.get("email", ""), form.get("name", ""), form.get("role", ""),
                              by=current_user)
    except Refused as exc:
        db().rollback()
        return _page(400, errors=[str(exc)])
    flash(f"Added {user.name}. A link to choose their password was e-mailed to {user.email}; it works once, within "
          "72 hours.", "ok")
    return redirect(url_for("admin.index"))


@bp.post("/users/<int:user_id>/<any(enable, disable):change>")
@requires(head)
def change_user(user_id, change):
    user = db().get(User, user_id) or abort(404)
    try:
        users.set_active(db(), user, change == "enable", by=current_user)
    except Refused as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.index"))
    flash(f"{user.name} {'enabled' if change == 'enable' else 'disabled'}.", "ok")
    return redirect(url_for("admin.index"))


SIGN_IN_ACTIONS = {
    "setup": (lambda s, user, by: users.resend_setup(s, settings(), user, by), "A new set-up link was e-mailed to {}."),
    "end_sessions": (lambda s, user, by: sign_in.end_sessions(s, user, "ended by the head", by=by),
                     "{} is logged out everywhere."),
    "reset_second_factor": (lambda s, user, by: sign_in.reset_second_factor(s, user, by),
                            "{}'s second factor is reset: they set up their app again at their next log-in."),
}


@bp.post("/users/<int:user_id>/<any(setup, end_sessions, reset_second_factor):action>")
@requires(head)
def sign_in_action(user_id, action):
    """The head's help with signing in: a new set-up link, logging someone out everywhere, a lost phone."""
    user = db().get(User, user_id) or abort(404)
    change, done = SIGN_IN_ACTIONS[action]
    return _apply(lambda session: change(session, user, current_user), done.format(user.name))


def _apply(change, done: str, prefix: str = ""):
    """Make a change through a service; a refusal re-shows the page with its reasons, and nothing is saved."""
    session = db()
    try:
        change(session)
    except (Refused, PublishError) as exc:
        session.rollback()
        return _page(400, errors=[f"{prefix}{exc}"])
    flash(done, "ok")
    return redirect(url_for("admin.index"))


@bp.post("/accounts")
@requires(head)
def add_account_view():
    form = request.form
    return _apply(lambda session: add_account(session, form.get("platform", ""), form.get("handle", ""),
                                              form.get("url", ""), by=current_user),
                  "Account added. Confirm it when you have checked it is the school's official account.")


@bp.post("/accounts/<int:account_id>/confirm")
@requires(head)
def confirm(account_id):
    session = db()
    account = session.get(Account, account_id) or abort(404)
    try:
        confirm_account(session, account, current_user)
    except Refused as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.index"))
    flash(f"{account.label} confirmed: posts can now be published to it.", "ok")
    return redirect(url_for("admin.index"))


@bp.post("/links")
@requires(head)
def add_link_rule():
    form = request.form
    return _apply(lambda session: add_rule(session, form.get("kind", ""), form.get("entry", ""), current_user),
                  "Link list updated. It applies to posts checked from now on.")


@bp.post("/links/<int:rule_id>/remove")
@requires(head)
def remove_link_rule(rule_id):
    db().get(LinkRule, rule_id) or abort(404)  # another school's is not found, as it is not on this school's lists
    return _apply(lambda session: remove_rule(session, rule_id, current_user), "Removed from the list.")


@bp.post("/accounts/<int:account_id>/credentials")
@requires(head)
def credentials(account_id):
    """The head enters an account's keys; they are checked with the network, stored encrypted and never shown again."""
    account = db().get(Account, account_id) or abort(404)
    platform = PLATFORMS[account.platform]
    values = {f.name: request.form.get(f.name, "") for f in platform.credential_fields}
    return _apply(lambda session: save_credentials(session, account, values, settings().encryption_key, current_user),
                  f"Keys saved and checked with {platform.title}.", prefix="The keys were not saved: ")


@bp.get("/settings")
@requires(head)
def settings_page():
    """What the gateway is set to do (from the environment; secrets are never shown)."""
    faces = FaceSettings.from_settings(settings())
    return render_template("settings.html", s=settings(), faces=faces, smallest=SMALLEST_FOUND_PX[faces.description],
                           min_encodable=MIN_ENCODABLE_PX, schedules=comments.schedules(db(), settings()))
