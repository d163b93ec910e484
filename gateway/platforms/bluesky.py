"""Publisher for the school's Bluesky account: at most once, never sleeping, in plain words.

How one post goes out (`BlueskyPublisher.publish`), through the official AT Protocol SDK (`atproto`, on httpx):

1. `validate()`: problems in plain words stop it before anything is sent (PermanentError).
2. Sign in with the app password, or reuse the session kept from an earlier call (bluesky_session.py).
3. `com.atproto.repo.getRecord` under the post's own record key: if an earlier attempt made the post, that post is
   the answer and nothing is sent again.
4. @mentions are resolved to accounts (`com.atproto.identity.resolveHandle`); the text and its facets (clickable
   links, tags and mentions) are built with the SDK's TextBuilder (bluesky_text.py).
5. Each photo, in order, goes up as a blob (`com.atproto.repo.uploadBlob`, sent with its own Content-Type) and is
   attached with its alt text (`app.bsky.embed.images`).  Nothing is public yet: failures are safe to retry.
6. One `com.atproto.repo.createRecord` of an `app.bsky.feed.post` under the post's record key.  From the moment it is
   sent Bluesky may have the post, so a lost answer (timeout, broken connection, 5xx) raises `Ambiguous`; `find()`
   then looks under the same key, and Bluesky never holds two records under one key, so a retry cannot post twice.

Record keys.  A post's key must be a TID (the lexicon's `"key": "tid"`, checked by the PDS): 13 characters of
base32-sortable for a 64-bit number, a 53-bit microsecond timestamp and a 10-bit clock id.  Ours is derived from the
publication key alone, so every attempt for a publication uses the same one: HMAC-SHA256 of
"app.bsky.feed.post:<publication key>" under a key of this gateway (itself an HMAC of the instance's encryption key,
so a reinstalled gateway whose publication ids start again does not take its old posts for new ones); 40 bits of it
are microseconds after 2023-01-01 and 10 are the clock id (50 bits: for 100,000 publications, a collision chance of
about 1 in 200,000).  Bluesky's AppView orders posts by their createdAt, not their key; only tools that list a
repository by key see these posts in that order.

Images: at most 4, each blob at most 1,000,000 bytes (the limit Bluesky kept for years; newer servers take 2 MB).
Photos are made small enough when the post is checked: here an oversized photo is refused, never shrunk, so that
what goes out is the photo that was checked.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timezone

from PIL import Image

from gateway.platforms.base import CredentialField, Outgoing, PermanentError, Platform, Published, Reply, ReplyPage
from gateway.platforms.bluesky_errors import (
    APP_PASSWORDS, SDK_ERRORS, ambiguous, is_not_found, needs_new_session, xrpc_error,
)
from gateway.platforms.bluesky_replies import BlueskyReplies
from gateway.platforms.bluesky_session import BlueskyAccount, Connection, as_registered
from gateway.platforms.bluesky_text import MAX_GRAPHEMES, MAX_TEXT_BYTES, rich_text
from gateway.platforms.graphemes import grapheme_length

log = logging.getLogger(__name__)

COLLECTION = "app.bsky.feed.post"
MAX_PHOTOS = 4
MAX_PHOTO_BYTES = 1_000_000
MAX_ALT_TEXT = 2000  # graphemes: what Bluesky's app allows for a description
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
RKEY_EPOCH_MICROS = int(datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp()) * 1_000_000
RKEY_TIME_BITS = 40
_TID = r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}"
_POST_URI = re.compile(rf"^at://(did:[a-z]+:[A-Za-z0-9._:%-]+)/{re.escape(COLLECTION)}/({_TID})$")


def namespace_for(settings) -> bytes:
    """This gateway's key for record keys, from its encryption key (which lives as long as its publications)."""
    return hmac.new(settings.encryption_key, b"bluesky record keys", hashlib.sha256).digest()


def record_key(namespace: bytes, key: str) -> str:
    """The TID a publication's post is created under: the same for every attempt (see the module's docstring)."""
    bits = int.from_bytes(hmac.new(namespace, f"{COLLECTION}:{key}".encode(), hashlib.sha256).digest()[:8], "big")
    micros = RKEY_EPOCH_MICROS + (bits >> (64 - RKEY_TIME_BITS))
    value = (micros << 10) | (bits & 0x3FF)
    return "".join(TID_ALPHABET[(value >> shift) & 31] for shift in range(60, -1, -5))


class BlueskyPublisher:
    can_delete = True

    def __init__(self, account: BlueskyAccount, namespace: bytes, timeout: float = 30):
        self.account = account
        self.namespace = namespace
        self.connection = Connection(account, timeout)
        self._replies = BlueskyReplies(self.connection)

    def __repr__(self) -> str:
        return f"BlueskyPublisher({self.account!r})"

    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = []
        text, photos = outgoing.text or "", outgoing.photos or []
        if not text.strip() and not photos:
            problems.append("The post has no text and no photos, so there is nothing to publish.")
        length, size = grapheme_length(text), len(text.encode("utf-8"))
        if length > MAX_GRAPHEMES:
            problems.append(f"The text is too long for Bluesky: it counts as {length} characters and Bluesky allows "
                            f"{MAX_GRAPHEMES} (an emoji, or a letter with its accents, counts as one).")
        elif size > MAX_TEXT_BYTES:
            problems.append(f"The text is too long for Bluesky: it takes {size:,} bytes and Bluesky allows "
                            f"{MAX_TEXT_BYTES:,} (accented and non-Latin letters take two or more each).")
        if len(photos) > MAX_PHOTOS:
            problems.append(f"Bluesky allows at most {MAX_PHOTOS} photos in a post; this post has {len(photos)}.")
        for n, photo in enumerate(photos, 1):
            if photo.format not in MIME_TYPES:
                problems.append(f"Photo {n} is a {photo.format or 'unknown'} file; only JPEG and PNG photos are sent "
                                "to Bluesky.")
            if len(photo.data) > MAX_PHOTO_BYTES:
                problems.append(f"Photo {n} is {len(photo.data):,} bytes; Bluesky takes photos of at most "
                                f"{MAX_PHOTO_BYTES:,} bytes (1 MB). It must be made smaller, and the post checked "
                                "again, before it can go to Bluesky.")
            alt = grapheme_length(photo.alt or "")
            if alt > MAX_ALT_TEXT:
                problems.append(f"The description (alt text) of photo {n} is {alt:,} characters long; Bluesky allows "
                                f"{MAX_ALT_TEXT:,}.")
        return problems

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.validate(outgoing)
        if problems:
            raise PermanentError("This post cannot go to Bluesky as it is: " + " ".join(problems), code="invalid")
        rkey = record_key(self.namespace, outgoing.key)
        found = self._lookup(rkey, "prepare")
        if found:
            log.info("Bluesky post for %s already existed as %s", outgoing.key, found.platform_id)
            return found
        record = self._record(outgoing)
        did = self.connection.session("create").did
        log.info("creating Bluesky post for %s on %s as %s with %d photo(s)", outgoing.key, self.account.who, rkey,
                 len(outgoing.photos or []))
        response = self.connection.call("create", lambda client: client.app.bsky.feed.post.create(did, record, rkey))
        match = _POST_URI.match(str(getattr(response, "uri", "")))
        if not match:
            raise ambiguous(self.account.who, "unexpected post address in Bluesky's answer")
        log.info("published %s to Bluesky as %s", outgoing.key, response.uri)
        return self._published(match.group(1), match.group(2))

    def find(self, outgoing: Outgoing) -> Published | None:
        """The post under the publication's record key; None only when Bluesky says it is not there."""
        return self._lookup(record_key(self.namespace, outgoing.key), "lookup")

    def delete(self, platform_id: str) -> None:
        """Deletes the record; Bluesky answers a delete of a record that is not there as done."""
        match = _POST_URI.match(str(platform_id))
        if not match:
            raise ValueError("bad Bluesky post id")
        did, rkey = match.groups()
        if did != self.connection.session("delete").did:
            raise PermanentError(f"This post is on another Bluesky account, not {self.account.who}, so it cannot be "
                                 "deleted with this account's app password.", code="other_account")
        self.connection.call("delete", lambda client: client.app.bsky.feed.post.delete(did, rkey))
        log.info("deleted Bluesky post %s", platform_id)

    # -- replies (bluesky_replies.py) ---------------------------------------------------------------------------

    def replies(self, post_id: str, cursor: str | None) -> ReplyPage:
        return self._replies.read(post_id, cursor)

    def hide(self, post_id: str, reply: Reply) -> str:
        return self._replies.hide(post_id, reply)

    def restore(self, post_id: str, reply: Reply) -> str:
        return self._replies.restore(post_id, reply)

    def block(self, reply: Reply) -> str:
        return self._replies.block(reply)

    # -- the steps ---------------------------------------------------------------------------------------------

    def _lookup(self, rkey: str, stage: str) -> Published | None:
        did = self.connection.session(stage).did

        def get(client):
            try:
                return client.app.bsky.feed.post.get(did, rkey)
            except SDK_ERRORS as exc:
                if is_not_found(exc):
                    return None
                raise

        return None if self.connection.call(stage, get) is None else self._published(did, rkey)

    def _record(self, outgoing: Outgoing):
        """The app.bsky.feed.post record: text with facets, and the photos uploaded and described."""
        from atproto_client import models  # atproto is slow to import: see bluesky_text

        handles: dict[str, str | None] = {}

        def resolve(handle: str) -> str | None:
            if handle not in handles:
                handles[handle] = self.connection.call("prepare", lambda client: _did_of(client, handle))
            return handles[handle]

        text, facets = rich_text(outgoing.text or "", resolve)
        images = [models.AppBskyEmbedImages.Image(alt=photo.alt or "", image=self._upload(photo, n),
                                                  aspect_ratio=_aspect_ratio(photo.data))
                  for n, photo in enumerate(outgoing.photos or [], 1)]
        created_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return models.AppBskyFeedPost.Record(
            text=text, facets=facets or None, created_at=created_at,
            embed=models.AppBskyEmbedImages.Main(images=images) if images else None)

    def _upload(self, photo, n: int):
        mime = MIME_TYPES[photo.format]
        response = self.connection.call(
            "upload", lambda client: client.com.atproto.repo.upload_blob(photo.data, headers={"Content-Type": mime}),
            photo=n)
        log.info("uploaded photo %d to Bluesky (%d bytes)", n, len(photo.data))
        return response.blob

    def _published(self, did: str, rkey: str) -> Published:
        handle = self.connection.session("lookup").handle
        if not handle or handle.endswith(".invalid"):  # Bluesky's mark for a handle that no longer checks out
            handle = did
        return Published(platform_id=f"at://{did}/{COLLECTION}/{rkey}",
                         url=f"https://bsky.app/profile/{handle}/post/{rkey}")


def _did_of(client, handle: str) -> str | None:
    """The account a mentioned handle belongs to; None (left as plain text) when Bluesky cannot resolve it."""
    try:
        return client.resolve_handle(handle).did
    except SDK_ERRORS as exc:
        if xrpc_error(exc)[0] == 400 and not needs_new_session(exc):
            return None
        raise


def _aspect_ratio(data: bytes):
    """Width and height, so that Bluesky lays the photo out before it loads; None when they cannot be read."""
    from atproto_client import models

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return models.AppBskyEmbedDefs.AspectRatio(width=width, height=height) if width and height else None


def connect(handle: str, credentials: Mapping[str, str], settings) -> BlueskyPublisher:
    """One call to Bluesky gets a twelfth of the publish job's time, so a slow Bluesky cannot use it all up."""
    return BlueskyPublisher(BlueskyAccount.from_credentials(handle, credentials), namespace_for(settings),
                            timeout=max(5.0, settings.publish_timeout / 12))


def check(handle: str, credentials: Mapping[str, str]) -> str:
    """The handle of the account the app password belongs to, by signing in, written as the gateway's account is."""
    session = Connection(BlueskyAccount.from_credentials(handle, credentials), timeout=15).sign_in()
    return as_registered(session.handle, handle)


PLATFORM = Platform(
    name="bluesky", title="Bluesky", max_text=MAX_GRAPHEMES, max_photos=MAX_PHOTOS, max_photo_bytes=MAX_PHOTO_BYTES,
    max_alt_text=MAX_ALT_TEXT, text_length=grapheme_length,
    credential_fields=(
        CredentialField("app_password", "App password"),
        CredentialField("service", "Server address (https://bsky.social unless the school runs its own)",
                        secret=False, default="https://bsky.social"),
    ),
    credentials_help=f"an app password made for the gateway in {APP_PASSWORDS} (never the account's own password); "
                     "the server address is https://bsky.social unless the school runs its own Bluesky server",
    connect=connect, check=check,
    # One read is one getPostThread per post, and a PDS allows 3,000 requests per 5 minutes from one address
    # (https://docs.bsky.app/docs/advanced-guides/rate-limits): reading each post once per 5-minute window keeps
    # the whole gateway inside it with thousands of posts watched; a shorter wait would gain little.
    reply_poll_minutes=5,
    hiding="hides the reply under the post (the post's reply settings): it moves behind \"hidden replies\", "
           "where anyone can still open it, and stays on its author's profile",
)
