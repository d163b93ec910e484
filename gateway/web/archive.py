"""The archive platform's published pages, shown to staff who are logged in."""
from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

from gateway.models import Account
from gateway.web.util import anyone, db, requires, settings

bp = Blueprint("archive", __name__, url_prefix="/archive")


@bp.get("/<handle>/")
@bp.get("/<handle>/<path:path>")
@requires(anyone)
def page(handle, path="index.html"):
    if not db().query(Account).filter_by(platform="archive", handle=handle).first():
        abort(404)
    if path.endswith("/"):
        path += "index.html"
    return send_from_directory(settings().archive / handle, path)
