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

from gateway.core import storage
from gateway.core.db import utcnow


class PublishError(Exception):
    """Something went wrong; `plain` says what in words for the senior team, `detail` is X's own message."""

    def __init__(self, plain: str, *, code: str = "", status: int | None = None, detail: str = ""):
        super().__init__(plain)
        self.plain = plain
        self.code = code
        self.status = status
        self.detail = detail


class PermanentError(PublishError):
    """A person must fix something (credentials, account, content) before trying again: publish_failed."""


class RetryLater(PublishError):
    """Rate limited: re-enqueue at `retry_at` (UTC). Nothing was published."""

    def __init__(self, plain: str, *, retry_at: datetime, **kwargs):
        super().__init__(plain, **kwargs)
        self.retry_at = retry_at


class Ambiguous(PublishError):
    """The create request was sent and its answer lost: X may or may not have the post. Call find() first."""


class Transient(PublishError):
    """A temporary fault while nothing had been published (or while looking): safe to retry with backoff."""


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
    earlier_attempts: int = 0  # claims before this one: an earlier attempt may have reached the platform


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
        earlier_attempts=publication.attempts,
    )


class ArchivePublisher:
    """Writes each post to a folder of its own and keeps an HTML page listing everything published."""

    can_delete = True

    def __init__(self, folder: Path, base_url: str = "/archive/"):
        self.folder = folder
        self.posts = folder / "posts"
        self.base_url = base_url

    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = [] if outgoing.text.strip() or outgoing.photos else ["The post has no text and no photo."]
        problems += [f"Photo {n} is not a JPEG or PNG." for n, p in enumerate(outgoing.photos, 1)
                     if p.format not in ("JPEG", "PNG")]
        return problems

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.validate(outgoing)
        if problems:
            raise PermanentError(" ".join(problems), code="invalid")
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
        """Returns only once the post is gone from the archive (or was never there)."""
        if not platform_id.isdigit():
            raise ValueError("bad archive id")
        target = self.posts / platform_id
        try:
            shutil.rmtree(target)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise Transient(f"The archive copy of post {platform_id} could not be removed yet ({exc.strerror}).",
                            code="delete") from exc
        if target.exists():
            raise Transient(f"The archive copy of post {platform_id} is still there.", code="delete")
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
    """The publisher of an account; X's credentials are decrypted with the instance key."""
    if account.platform == "archive":
        return ArchivePublisher(settings.archive / account.handle, f"/archive/{account.handle}/")
    if account.platform == "x":
        from gateway.services.accounts import credentials_of
        from gateway.platforms.x import XPublisher

        credentials = credentials_of(account, settings.encryption_key)
        if credentials is None:
            raise PermanentError(f"No X keys are saved for {account.label}; the headteacher must add them.",
                                 code="credentials")
        return XPublisher(credentials, account.handle, timeout=max(5.0, settings.publish_timeout / 12))
    raise ValueError(f"no publisher for platform {account.platform!r}")
