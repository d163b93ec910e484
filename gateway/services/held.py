"""Photos held for an author between a submission that had problems and their next try: no post is created, yet
nobody has to choose their photos again. Each is kept for an hour in storage (held/) under a random key, and the
form carries a token signed for that author only."""
from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer

from gateway.core.db import utcnow

LIFETIME = timedelta(hours=1)


def _signer(settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="held-photo")


def hold(settings, user_id: int, filename: str, data: bytes) -> str:
    """Keep the photo; the token that gives it back to this author."""
    name = settings.held.put(data)
    return _signer(settings).dumps({"name": name, "user": user_id, "file": filename[-200:]})


def take(settings, user_id: int, token: str) -> tuple[str, bytes] | None:
    """(file name, bytes) of a photo held for this author; None for a token that is not theirs, forged or too old."""
    try:
        held = _signer(settings).loads(token, max_age=LIFETIME.total_seconds())
    except BadSignature:
        return None
    if not isinstance(held, dict) or held.get("user") != user_id:
        return None
    try:
        return held["file"], settings.held.get(str(held["name"]))
    except (OSError, ValueError, KeyError):
        return None


def forget(settings, token: str) -> None:
    """The photo is in a saved post now (or was never wanted): its held copy goes."""
    try:
        settings.held.delete(str(_signer(settings).loads(token)["name"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return


def purge(settings, now: datetime | None = None) -> int:
    """Held photos older than LIFETIME are deleted (their tokens no longer work anyway); returns how many."""
    return settings.held.delete_older_than((now or utcnow()) - LIFETIME)
