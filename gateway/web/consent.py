"""The consent officer's pages: people, consents, enrolment and imports from the MIS."""
from __future__ import annotations

import logging
import secrets
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from consent_registry import importer
from consent_registry.consent import (
    ConsentError, biometric_status, photo_status, record_biometric_consent, record_photo_consent, withdraw)
from consent_registry.enrolment import EnrolmentError, enrol
from consent_registry.faces import FaceSettings
from consent_registry.models import STATUSES, Person
from consent_registry.registry import school_today
from consent_registry.withdrawal import posts_featuring
from gateway.web.util import db, queue_conn, registry_keeper, requires, settings
from moderation.lifecycle import STATE_NAMES
from workers import queues
from workers.reconcile import release_takedowns

log = logging.getLogger(__name__)
bp = Blueprint("people", __name__, url_prefix="/people")


def _person(mis_id: str) -> Person:
    return db().scalar(select(Person).where(Person.mis_id == mis_id)) or abort(404)


def _date(field: str) -> date | None:
    value = request.form.get(field, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConsentError(f"{value!r} is not a date") from None


def _follow_up(consequences) -> None:
    if consequences.rechecked:
        flash(f"{len(consequences.rechecked)} post(s) waiting to be published were sent back through the checks.", "warning")
        try:
            queues.enqueue_rechecks(settings(), db(), consequences.rechecked, queue_conn())
        except Exception:
            log.exception("could not enqueue rechecks")
    if consequences.takedowns:
        automatic = settings().takedown_auto
        flash(f"{len(consequences.takedowns)} published post(s) feature this person and must be taken down; "
              + ("they are being taken down now and the senior leaders can see it." if automatic else
                 "the senior leaders have been asked to take them down."), "warning")
        try:
            release_takedowns(settings(), db(), queue_conn())
        except Exception:
            log.exception("could not start takedowns; the reconciler will")


@bp.get("/")
@requires(registry_keeper)
def search():
    q = request.args.get("q", "").strip()
    query = select(Person).order_by(Person.last_name, Person.first_name).limit(200)
    if q:
        like = f"%{q}%"
        query = query.where(or_(Person.mis_id.ilike(like), Person.first_name.ilike(like),
                                Person.last_name.ilike(like), Person.preferred_name.ilike(like)))
    today = school_today(settings())
    people = [(p, photo_status(p, today)) for p in db().scalars(query)]
    return render_template("people.html", people=people, q=q)


@bp.get("/<mis_id>")
@requires(registry_keeper)
def person(mis_id):
    p = _person(mis_id)
    today = school_today(settings())
    return render_template("person.html", person=p, photo=photo_status(p, today), biometric=biometric_status(p, today),
                           statuses=STATUSES, posts=posts_featuring(db(), p, list(STATE_NAMES)), names=STATE_NAMES)


@bp.post("/<mis_id>/<any(photo, biometric):kind>")
@requires(registry_keeper)
def record(mis_id, kind):
    session, p = db(), _person(mis_id)
    form = request.form
    try:
        if kind == "photo":
            consequences = record_photo_consent(
                session, p, form.get("status", ""), current_user, given_by=form.get("given_by", "").strip(),
                given_on=_date("given_on"), expires_on=_date("expires_on"), evidence=form.get("evidence", "").strip(),
                today=school_today(settings()))
        else:
            record_biometric_consent(
                session, p, form.get("status", ""), current_user, given_by=form.get("given_by", "").strip(),
                given_on=_date("given_on"), child_objects=bool(form.get("child_objects")),
                evidence=form.get("evidence", "").strip(), today=school_today(settings()))
            consequences = None
    except ConsentError as exc:
        session.rollback()
        flash(f"Not recorded: {exc}.", "error")
        return redirect(url_for("people.person", mis_id=mis_id)), 303
    session.commit()
    flash("Recorded.", "ok")
    if consequences:
        _follow_up(consequences)
    return redirect(url_for("people.person", mis_id=mis_id))


@bp.post("/<mis_id>/withdraw/<any(social, biometric):kind>")
@requires(registry_keeper)
def withdraw_consent(mis_id, kind):
    session, p = db(), _person(mis_id)
    consequences = withdraw(session, p, kind, current_user, school_today(settings()))
    session.commit()
    flash(f"{'Social media photo' if kind == 'social' else 'Biometric'} consent withdrawn"
          f"{'; face templates deleted' if kind == 'biometric' else ''}.", "ok")
    _follow_up(consequences)
    return redirect(url_for("people.person", mis_id=mis_id))


@bp.post("/<mis_id>/enrol")
@requires(registry_keeper)
def enrol_photos(mis_id):
    session, p = db(), _person(mis_id)
    photos = [(f.filename or "photo", f.read()) for f in request.files.getlist("photos") if f.filename]
    try:
        added = enrol(session, p, photos, settings().encryption_key, FaceSettings.from_settings(settings()),
                      current_user, school_today(settings()))
    except EnrolmentError as exc:
        session.rollback()
        flash(f"Nothing enrolled: {exc}", "error")
        return redirect(url_for("people.person", mis_id=mis_id)), 303
    session.commit()
    flash(f"{added} photo(s) enrolled. The photos themselves were not kept.", "ok")
    return redirect(url_for("people.person", mis_id=mis_id))


def _pending(token: str):
    if not token.isalnum():
        abort(404)
    return settings().instance / "imports" / f"{token}.csv"


@bp.route("/import", methods=["GET", "POST"])
@requires(registry_keeper)
def import_csv():
    if request.method == "GET":
        return render_template("people_import.html", plan=None, token=None)
    upload = request.files.get("file")
    raw = upload.read() if upload and upload.filename else b""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        flash("The file is not a CSV saved as UTF-8 text. In Excel choose 'CSV UTF-8' when saving.", "error")
        return render_template("people_import.html", plan=None, token=None), 400
    if not text.strip():
        flash("Choose the CSV file exported from the MIS.", "error")
        return render_template("people_import.html", plan=None, token=None), 400
    plan = importer.plan(db(), text)
    token = None
    if not plan.errors:
        token = secrets.token_hex(16)
        folder = settings().instance / "imports"
        folder.mkdir(mode=0o700, exist_ok=True)
        _pending(token).write_text(text)
        _pending(token).chmod(0o600)
    return render_template("people_import.html", plan=plan, token=token), 400 if plan.errors else 200


@bp.post("/import/<token>")
@requires(registry_keeper)
def confirm_import(token):
    path = _pending(token)
    if not path.exists():
        flash("That preview has expired or was already imported; upload the file again.", "error")
        return redirect(url_for("people.import_csv")), 303
    session = db()
    plan = importer.plan(session, path.read_text())
    if plan.errors:
        flash("The registry changed since the preview; upload the file again.", "error")
        return redirect(url_for("people.import_csv")), 303
    consequences = importer.apply(session, plan, current_user, school_today(settings()))
    session.commit()
    path.unlink()
    flash(f"Imported: {len(plan.changes)} change(s).", "ok")
    _follow_up(consequences)
    return redirect(url_for("people.search"))
