"""The headteacher's pages: users and official accounts."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from gateway.services.accounts import add_account, confirm_account, save_credentials
from gateway.core.errors import Refused
from gateway.models import PLATFORMS, ROLE_NAMES, Account, User
from gateway.platforms.base import PublishError
from gateway.users import UserError, create_user, generate_password, set_active
from gateway.web.util import db, head, requires, settings
from moderation.link_rules import add_rule, remove_rule, rules

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _page(status=200, **extra):
    session = db()
    users = session.scalars(select(User).order_by(User.name)).all()
    accounts = session.scalars(select(Account).order_by(Account.id)).all()
    return render_template("admin.html", users=users, accounts=accounts, roles=ROLE_NAMES, platforms=PLATFORMS,
                           rules=rules(session), school_domains=settings().school_domains, form=request.form,
                           **extra), status


@bp.get("/")
@requires(head)
def index():
    return _page()


@bp.post("/users")
@requires(head)
def add_user():
    session = db()
    password = generate_password()
    try:
        user = create_user(session, request.form.get("email", ""), request.form.get("name", ""),
                           request.form.get("role", ""), password, by=current_user)
    except UserError as exc:
        session.rollback()
        return _page(400, errors=[str(exc)])
    session.commit()
    return _page(new_password=(user.email, password))


@bp.post("/users/<int:user_id>/<any(enable, disable):change>")
@requires(head)
def change_user(user_id, change):
    session = db()
    user = session.get(User, user_id) or abort(404)
    if user.id == current_user.id:
        flash("You cannot disable your own account.", "error")
        return redirect(url_for("admin.index"))
    set_active(session, user, change == "enable", by=current_user)
    session.commit()
    flash(f"{user.name} {'enabled' if change == 'enable' else 'disabled'}.", "ok")
    return redirect(url_for("admin.index"))


def _apply(change, done: str, prefix: str = ""):
    """Make a change; a plain-words refusal (a ValueError) re-shows the page with it, and nothing is saved."""
    session = db()
    try:
        change(session)
    except (Refused, PublishError) as exc:
        session.rollback()
        return _page(400, errors=[f"{prefix}{exc}"])
    session.commit()
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
    except UserError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.index"))
    session.commit()
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
    session = db()
    remove_rule(session, rule_id, current_user)
    session.commit()
    flash("Removed from the list.", "ok")
    return redirect(url_for("admin.index"))


@bp.post("/accounts/<int:account_id>/credentials")
@requires(head)
def credentials(account_id):
    """The head enters an X account's keys; they are checked with X, stored encrypted and never shown again."""
    from gateway.platforms.x import XCredentials

    account = db().get(Account, account_id) or abort(404)
    fields = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
    values = {f: request.form.get(f, "").strip() for f in fields}
    if not all(values.values()):
        return _page(400, errors=["All four keys are needed (from the X developer portal, with read and write access)."])
    return _apply(lambda session: save_credentials(session, account, XCredentials(**values),
                                                   settings().encryption_key, current_user),
                  "Keys saved and checked with X.", prefix="The keys were not saved: ")


@bp.get("/settings")
@requires(head)
def settings_page():
    """What the gateway is set to do (from the environment; secrets are never shown)."""
    from consent_registry.detection import MIN_ENCODABLE_PX
    from consent_registry.faces import SMALLEST_FOUND_PX, FaceSettings

    faces = FaceSettings.from_settings(settings())
    return render_template("settings.html", s=settings(), faces=faces, smallest=SMALLEST_FOUND_PX[faces.description],
                           min_encodable=MIN_ENCODABLE_PX)
