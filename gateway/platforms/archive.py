"""The built-in archive: published posts as pages with an HTML index, for trying the gateway without a network. They
are kept in storage (archive/<handle>/), so the web app on any host shows what a worker on any other published."""
from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping

from gateway.core.db import utcnow
from gateway.core.storage import Missing, Store, StorageError
from gateway.platforms.base import Outgoing, PermanentError, Platform, Published, Reply, ReplyPage, Transient

# The archive is a web page, but it stands in for a social network while a school tries the gateway: its posts are
# held to a short network's 280 characters, so the length check shows what it does.
MAX_TEXT = 280
MAX_PHOTOS = 20
MAX_PHOTO_BYTES = 50 * 1024 * 1024
MAX_ALT_TEXT = 5_000
NO_REPLIES = "Nobody can reply to a post in the archive."


class ArchivePublisher:
    """Writes each post's page, photos and record under posts/<id>/ and keeps an HTML page listing everything
    published. A post is published once its record (post.json) is written, which is written last."""

    can_delete = True

    def __init__(self, store: Store, base_url: str = "/archive/"):
        self.store = store
        self.posts = store.within("posts")
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
        post = self.posts.within(outgoing.key)
        record = {
            "id": outgoing.key, "text": outgoing.text, "published_at": utcnow().isoformat(),
            "approved_by": outgoing.approved_by, "approved_at": outgoing.approved_at.isoformat(), "photos": [],
        }
        try:
            if self.find(outgoing):
                return self._published(outgoing.key)
            for n, photo in enumerate(outgoing.photos, 1):
                name = f"photo-{n}.{'png' if photo.format == 'PNG' else 'jpg'}"
                post.write(name, photo.data)
                record["photos"].append({"file": name, "alt": photo.alt})
            post.write("index.html", _page("Published post", _article(record, "")))
            post.write("post.json", json.dumps(record, indent=2, ensure_ascii=False).encode())  # the step that publishes
        except StorageError as exc:
            raise Transient(f"The archive could not be written yet ({exc}).", code="storage") from exc
        self._write_index()
        return self._published(outgoing.key)

    def find(self, outgoing: Outgoing) -> Published | None:
        try:
            self.posts.within(outgoing.key).read("post.json")
        except Missing:
            return None
        return self._published(outgoing.key)

    def delete(self, platform_id: str) -> None:
        """Returns only once the post is gone from the archive (or was never there)."""
        if not platform_id.isdigit():
            raise ValueError("bad archive id")
        post = self.posts.within(platform_id)
        try:
            post.remove("post.json")  # first: from here on it is not published
            for name, _written in list(post.listing()):
                post.remove(name)
            left = list(post.listing())
        except StorageError as exc:
            raise Transient(f"The archive copy of post {platform_id} could not be removed yet ({exc}).",
                            code="delete") from exc
        if left:
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
        records = []
        for name, _written in list(self.posts.listing()):
            if name.count("/") == 1 and name.endswith("/post.json"):
                try:
                    records.append(json.loads(self.posts.read(name)))
                except Missing:  # taken down meanwhile
                    continue
        return sorted(records, key=lambda r: r["published_at"], reverse=True)

    def _write_index(self) -> None:
        items = "".join(_article(r, f"posts/{r['id']}/") for r in self.entries())
        self.store.write("index.html", _page("Published posts", items or "<p>Nothing published yet.</p>"))


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


def _page(title: str, body: str) -> bytes:
    """An HTML page wearing the gateway's own style sheet (storage writes it whole: a reader never sees half)."""
    return (f'<!doctype html><html lang="en"><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/site.css"><title>{title}</title>'
            f"<main><h1>{title}</h1>{body}</main></html>").encode()


def connect(handle: str, credentials: Mapping[str, str], settings) -> ArchivePublisher:
    """Each archive account is a store of its own within the archive's (archive/<handle>/)."""
    return ArchivePublisher(settings.archive.within(handle), f"/archive/{handle}/")


PLATFORM = Platform(
    name="archive", title="Archive", max_text=MAX_TEXT, max_photos=MAX_PHOTOS, max_photo_bytes=MAX_PHOTO_BYTES,
    max_alt_text=MAX_ALT_TEXT, text_length=len, credential_fields=(), credentials_help="",
    connect=connect, hiding="nothing: nobody can reply to the archive",
)
