"""Private media files in the instance folder, named by random keys, never by what users called them."""
from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path


def _path(media: Path, key: str) -> Path:
    if not key.isalnum():
        raise ValueError("bad media key")
    return media / key[:2] / key


def put(media: Path, data: bytes) -> str:
    key = secrets.token_hex(16)
    path = _path(media, key)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return key


def get(media: Path, key: str) -> bytes:
    return _path(media, key).read_bytes()


def delete(media: Path, key: str) -> None:
    _path(media, key).unlink(missing_ok=True)


def delete_older_than(folder: Path, pattern: str, cutoff: datetime) -> int:
    """Delete the files in `folder` matching `pattern` last written before `cutoff`; returns how many."""
    stale = [p for p in folder.glob(pattern) if p.stat().st_mtime < cutoff.timestamp()] if folder.exists() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)
