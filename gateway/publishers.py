"""Publishers: where approved posts go. `archive` is built in, for trying the gateway without a social network."""
from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway import storage
from gateway.db import utcnow


@dataclass
class OutgoingPhoto:
    data: bytes
    format: str
    alt: str


@dataclass
class Outgoing:
    """Exactly what goes out: the cleaned text and clean renditions, never originals."""

    key: str
    text: str
    photos: list[OutgoingPhoto]
    approved_by: str
    approved_at: datetime


@dataclass
class Published:
    platform_id: str
    url: str


def outgoing_for(publication, settings) -> Outgoing:
    post = publication.post
    photos = [OutgoingPhoto(storage.get(settings.media, i.clean_key), i.clean_format, i.clean_alt_text or "")
              for i in post.images]
    return Outgoing(
        key=f"{publication.id}", text=post.cleaned_text or "", photos=photos,
        approved_by=post.approved_by.name if post.approved_by else "", approved_at=post.approved_at,
    )


class ArchivePublisher:
    """Writes each post to a folder of its own and keeps an HTML page listing everything published."""

    def __init__(self, folder: Path, base_url: str = "/archive/"):
        self.folder = folder
        self.posts = folder / "posts"
        self.base_url = base_url

    def publish(self, outgoing: Outgoing) -> Published:
        self.posts.mkdir(parents=True, exist_ok=True)
        final = self.posts / outgoing.key
        if final.exists():
            return self._published(outgoing.key)
        work = Path(tempfile.mkdtemp(dir=self.folder, prefix=".new-"))
        record = {
            "id": outgoing.key, "text": outgoing.text, "published_at": utcnow().isoformat(),
            "approved_by": outgoing.approved_by, "approved_at": outgoing.approved_at.isoformat(), "photos": [],
        }
        for n, photo in enumerate(outgoing.photos, 1):
            name = f"photo-{n}.{'png' if photo.format == 'PNG' else 'jpg'}"
            (work / name).write_bytes(photo.data)
            record["photos"].append({"file": name, "alt": photo.alt})
        (work / "post.json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
        _write_page(work / "index.html", "Published post", _article(record, ""))
        os.chmod(work, 0o755)
        os.rename(work, final)  # the single step that publishes
        self._write_index()
        return self._published(outgoing.key)

    def find(self, outgoing: Outgoing) -> Published | None:
        return self._published(outgoing.key) if (self.posts / outgoing.key / "post.json").exists() else None

    def delete(self, platform_id: str) -> None:
        if not platform_id.isdigit():
            raise ValueError("bad archive id")
        shutil.rmtree(self.posts / platform_id, ignore_errors=True)
        self._write_index()

    def _published(self, key: str) -> Published:
        return Published(platform_id=key, url=f"{self.base_url}posts/{key}/")

    def entries(self) -> list[dict]:
        if not self.posts.exists():
            return []
        records = [json.loads(p.read_text()) for p in self.posts.glob("*/post.json")]
        return sorted(records, key=lambda r: r["published_at"], reverse=True)

    def _write_index(self) -> None:
        items = "".join(_article(r, f"posts/{r['id']}/") for r in self.entries())
        _write_page(self.folder / "index.html", "Published posts", items or "<p>Nothing published yet.</p>")


def _article(record: dict, prefix: str) -> str:
    photos = "".join(
        f'<img src="{prefix}{p["file"]}" alt="{html.escape(p["alt"])}" width="320">' for p in record["photos"]
    )
    when = html.escape(record["published_at"][:16].replace("T", " "))
    return (f'<article><p>{html.escape(record["text"])}</p>{photos}<p><small>Published {when} UTC, '
            f'approved by {html.escape(record["approved_by"])}</small></p></article>')


def _write_page(path: Path, title: str, body: str) -> None:
    """Write an HTML page atomically, so a reader never sees half of it."""
    page = (f'<!doctype html><html lang="en"><meta charset="utf-8"><title>{title}</title>'
            f"<h1>{title}</h1>{body}</html>")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".page-")
    with os.fdopen(fd, "w") as out:
        out.write(page)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def publisher_for(account, settings):
    if account.platform == "archive":
        return ArchivePublisher(settings.archive / account.handle, f"/archive/{account.handle}/")
    raise ValueError(f"no publisher for platform {account.platform!r}")
