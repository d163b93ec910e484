"""Photos held for an author between a submission that had problems and their next try: no post is created, yet
nobody has to choose their photos again. Each is kept for an hour in the instance folder under a random name, and
the form carries a token signed for that author only."""
from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from gateway.core.db import utcnow

LIFETIME = timedelta(hours=1)


def _folder(settings) -> Path:
    return settings.instance / "held"


def _signer(settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="held-photo")


def hold(settings, user_id: int, filename: str, data: bytes) -> str:
    """Keep the photo; the token that gives it back to this author."""
    folder = _folder(settings)
    folder.mkdir(mode=0o700, exist_ok=True)
    name = secrets.token_hex(16)
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return _signer(settings).dumps({"name": name, "user": user_id, "file": filename[-200:]})


def take(settings, user_id: int, token: str) -> tuple[str, bytes] | None:
    """(file name, bytes) of a photo held for this author; None for a token that is not theirs, forged or too old."""
    try:
        held = _signer(settings).loads(token, max_age=LIFETIME.total_seconds())
    except BadSignature:
        return None
    if not isinstance(held, dict) or held.get("user") != user_id or not str(held.get("name", "")).isalnum():
        return None
    try:
        return held["file"], (_folder(settings) / held["name"]).read_bytes()
    except OSError:
        return None


def forget(settings, token: str) -> None:
    """The photo is in a saved post now (or was never wanted): its held copy goes."""
    try:
        name = _signer(settings).loads(token)["name"]
    except (BadSignature, KeyError, TypeError):
        return
    if str(name).isalnum():
        (_folder(settings) / name).unlink(missing_ok=True)


def purge(settings, now: datetime | None = None) -> int:
    """Held photos older than LIFETIME are deleted (their tokens no longer work anyway); returns how many."""
    folder = _folder(settings)
    cutoff = ((now or utcnow()) - LIFETIME).timestamp()
    stale = [p for p in folder.iterdir() if p.stat().st_mtime < cutoff] if folder.exists() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
