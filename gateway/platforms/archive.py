"""The built-in archive: a folder of published posts with an HTML index, for trying the gateway without a network."""
from __future__ import annotations

import html
import re
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from gateway.core.db import utcnow
from gateway.platforms.base import Outgoing, PermanentError, Platform, Published, Reply, ReplyPage, Transient

# The archive is a web page, but it stands in for a social network while a school tries the gateway: its posts are
# held to a short network's 280 characters, so the length check shows what it does.
MAX_TEXT = 280
MAX_PHOTOS = 20
MAX_PHOTO_BYTES = 50 * 1024 * 1024
MAX_ALT_TEXT = 5_000
NO_REPLIES = "Nobody can reply to a post in the archive."


class ArchivePublisher:
    """Writes each post to a folder of its own and keeps an HTML page listing everything published."""

    can_delete = True

    def __init__(self, folder: Path, base_url: str = "/archive/"):
        self.folder = folder
        self.posts = folder / "posts"
        self.base_url = base_url

    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = [] if outgoing.text.strip() or outgoing.photos else ["The post has no text and no photo."]
        if len(outgoing.text) > MAX_TEXT:
            problems.append(f"The text is {len(outgoing.text):,} characters; the archive keeps at most {MAX_TEXT:,}.")
        if len(outgoing.photos) > MAX_PHOTOS:
            problems.append(f"The archive keeps at most {MAX_PHOTOS} photos in a post; this post has "
                            f"{len(outgoing.photos)}.")
        for n, photo in enumerate(outgoing.photos, 1):
            if photo.format not in ("JPEG", "PNG"):
                problems.append(f"Photo {n} is not a JPEG or PNG.")
            if len(photo.data) > MAX_PHOTO_BYTES:
                problems.append(f"Photo {n} is larger than the archive's {MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
            if len(photo.alt) > MAX_ALT_TEXT:
                problems.append(f"The description of photo {n} is longer than {MAX_ALT_TEXT:,} characters.")
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

    def replies(self, post_id: str, cursor: str | None) -> ReplyPage:
        """Nobody can reply to the archive."""
        return ReplyPage([])

    def hide(self, post_id: str, reply: Reply) -> str:
        raise PermanentError(NO_REPLIES, code="no_replies")

    restore = hide

    def block(self, reply: Reply) -> str:
        raise PermanentError(NO_REPLIES, code="no_replies")

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


_LINK = re.compile(r"https?://[^\s<>\"']+")


def _linked(text: str) -> str:
    """The text escaped, with its web addresses made links (the checks have judged every one of them)."""
    return _LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', html.escape(text, quote=False))


def _article(record: dict, prefix: str) -> str:
    photos = "".join(
        f'<img src="{prefix}{p["file"]}" alt="{html.escape(p["alt"])}" width="320">' for p in record["photos"]
    )
    when = html.escape(record["published_at"][:16].replace("T", " "))
    own = f' · <a href="{prefix}">this post on its own</a>' if prefix else ""
    return (f'<article class="card"><p class="text">{_linked(record["text"])}</p>{photos}<p><small>Published {when} '
            f'UTC, approved by {html.escape(record["approved_by"])}{own}</small></p></article>')


def _write_page(path: Path, title: str, body: str) -> None:
    """Write an HTML page atomically, so a reader never sees half of it. It wears the gateway's own style sheet."""
    page = (f'<!doctype html><html lang="en"><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/site.css"><title>{title}</title>'
            f"<main><h1>{title}</h1>{body}</main></html>")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".page-")
    with os.fdopen(fd, "w") as out:
        out.write(page)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def connect(handle: str, credentials: Mapping[str, str], settings) -> ArchivePublisher:
    """Each archive account is a folder of its own under the instance's archive."""
    return ArchivePublisher(settings.archive / handle, f"/archive/{handle}/")


PLATFORM = Platform(
    name="archive", title="Archive", max_text=MAX_TEXT, max_photos=MAX_PHOTOS, max_photo_bytes=MAX_PHOTO_BYTES,
    max_alt_text=MAX_ALT_TEXT, text_length=len, credential_fields=(), credentials_help="",
    connect=connect, hiding="nothing: nobody can reply to the archive",
)
