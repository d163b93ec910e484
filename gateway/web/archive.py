"""The archive platform's published pages, shown to staff who are logged in, read from storage (wherever a worker
published them)."""
from __future__ import annotations

import mimetypes

from flask import Blueprint, Response, abort

from gateway.core.storage import Missing
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
    try:
        data = settings().archive.within(handle).read(path)
    except (Missing, ValueError):  # ValueError: a path no object could have (.., hidden names)
        abort(404)
    return Response(data, mimetype=mimetypes.guess_type(path)[0] or "application/octet-stream")
