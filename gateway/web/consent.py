"""The consent officer's pages: people, consents, enrolment and imports from the MIS."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from consent_registry.consent import HOW_ASKED, Asked, ConsentError
from consent_registry.models import SOCIAL, STATUSES, Person
from consent_registry.registry import school_today
from gateway.core.errors import Problem, Refused
from gateway.platforms import PLATFORMS
from gateway.services import consent
from gateway.services.queueing import QUEUE_DOWN
from gateway.web.util import db, registry_keeper, requires, settings
from moderation.lifecycle import STATE_NAMES

# A person's pages name them in the query string (/people/person?mis_id=2024%2F0042), not the path: an MIS id may
# hold any character, and in a path "/" splits it, an id like "import" or "x/withdraw/social" reads as another
# page, and browsers rewrite "." and ".." segments before the request is sent.
bp = Blueprint("people", __name__, url_prefix="/people")


def _person() -> Person:
    """The person the request names, as ?mis_id=."""
    return consent.find(db(), request.args.get("mis_id", "")) or abort(404)


def _date(field: str) -> date | None:
    value = request.form.get(field, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConsentError(f"{value!r} is not a date") from None


def _show(follow_up: consent.FollowUp) -> None:
    """Say what a consent change set going."""
    if follow_up.rechecked:
        flash(f"{len(follow_up.rechecked)} post(s) waiting to be published were sent back through the checks.",
              "warning")
    if follow_up.takedowns:
        flash(f"{len(follow_up.takedowns)} published post(s) feature this person and must be taken down; "
              + ("they are being taken down now and the senior leaders can see it." if settings().takedown_auto
                 else "the senior leaders have been asked to take them down."), "warning")
    if not follow_up.queued:
        flash(QUEUE_DOWN, "warning")


def _to_person():
    return redirect(url_for("people.person", mis_id=request.args.get("mis_id", "")))


@bp.get("/")
@requires(registry_keeper)
def search():
    q = request.args.get("q", "").strip()
    return render_template("people.html", people=consent.search(db(), settings(), q), q=q)


@bp.get("/person")
@requires(registry_keeper)
def person():
    shown = consent.profile(db(), settings(), _person())
    return render_template("person.html", person=shown.person, photo=shown.photo, biometric=shown.biometric,
                           statuses=STATUSES, posts=shown.posts, names=STATE_NAMES, profile=shown,
                           titles={name: platform.title for name, platform in PLATFORMS.items()})


@bp.post("/person/<any(photo, biometric):kind>")
@requires(registry_keeper)
def record(kind):
    p, form = _person(), request.form
    fields = dict(given_by=form.get("given_by", "").strip(), evidence=form.get("evidence", "").strip())
    try:
        if kind == "photo":
            follow_up = consent.record_photo(db(), settings(), p, form.get("status", ""), current_user,
                                             given_on=_date("given_on"), expires_on=_date("expires_on"),
                                             channel=form.get("channel", SOCIAL), **fields)
        else:
            consent.record_biometric(db(), settings(), p, form.get("status", ""), current_user,
                                     given_on=_date("given_on"), child_objects=bool(form.get("child_objects")),
                                     **fields)
            follow_up = consent.FollowUp()
    except Refused as exc:
        flash(f"Not recorded: {exc}.", "error")
        return _to_person(), 303
    flash("Recorded.", "ok")
    _show(follow_up)
    return _to_person()


@bp.route("/person/withdraw/<any(social, biometric):kind>", methods=["GET", "POST"])
@requires(registry_keeper)
def withdraw_consent(kind):
    """Asks once more, and for who asked, how and when, before withdrawing."""
    p = _person()
    if request.method == "GET":
        return _confirm_withdrawal(p, kind, [])
    try:
        asked_on = date.fromisoformat(request.form.get("asked_on", "")) if request.form.get("asked_on") else None
    except ValueError:
        return _confirm_withdrawal(p, kind, [Problem("Give the day they asked as a date.", "asked_on")])
    asked = Asked(request.form.get("asked_by", ""), request.form.get("how", ""), asked_on or school_today(settings()))
    problems = asked.problems(school_today(settings()))
    if problems:
        return _confirm_withdrawal(p, kind, [Problem(f"{r[0].upper()}{r[1:]}.", r.field) for r in problems])
    try:
        follow_up = consent.withdraw(db(), settings(), p, kind, current_user, asked)
    except Refused as exc:
        db().rollback()
        return _confirm_withdrawal(p, kind, [f"Not withdrawn: {exc}."])
    flash(f"{'Social media photo' if kind == 'social' else 'Biometric'} consent withdrawn"
          f"{'; face templates deleted' if kind == 'biometric' else ''}.", "ok")
    _show(follow_up)
    return _to_person()


def _confirm_withdrawal(person, kind: str, errors: list[str]):
    return render_template("withdraw_consent.html", person=person, kind=kind, errors=errors, form=request.form,
                           ways=HOW_ASKED, today=school_today(settings())), 400 if errors else 200


@bp.post("/person/enrol")
@requires(registry_keeper)
def enrol_photos():
    p = _person()
    photos = [(f.filename or "photo", f.read()) for f in request.files.getlist("photos") if f.filename]
    try:
        added = consent.enrol(db(), settings(), p, photos, current_user)
    except Refused as exc:
        flash(f"Nothing enrolled: {exc}", "error")
        return _to_person(), 303
    flash(f"{added} photo(s) enrolled. The photos themselves were not kept.", "ok")
    return _to_person()


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
    preview = consent.preview_import(db(), settings(), text)
    return (render_template("people_import.html", plan=preview.plan, token=preview.token),
            400 if preview.plan.errors else 200)


@bp.post("/import/<token>")
@requires(registry_keeper)
def confirm_import(token):
    if not token.isalnum():
        abort(404)
    try:
        imported = consent.confirm_import(db(), settings(), token, current_user)
    except Refused as exc:
        flash(str(exc), "error")
        return redirect(url_for("people.import_csv")), 303
    flash(f"Imported: {len(imported.plan.changes)} change(s).", "ok")
    _show(imported.follow_up)
    return redirect(url_for("people.search"))
