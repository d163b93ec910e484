"""What a Mastodon server accepts: its limits (GET /api/v2/instance) and its way of counting a post's length.

Mastodon counts a post (StatusLengthValidator) in grapheme clusters, with every http(s) link counting as
`characters_reserved_per_url` (23) and a mention of someone on another server as just @name.  Each server sets its
own limits; `configuration` in https://docs.joinmastodon.org/methods/instance/#v2 gives them, and the defaults
below are Mastodon's own (the same documentation's example, and Mastodon's code).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # twitter_text imports the deprecated pkg_resources
    from twitter_text import extract_urls_with_indices

from gateway.platforms.graphemes import grapheme_length

MAX_TEXT = 500
URL_LENGTH = 23
MAX_PHOTOS = 4
MAX_PHOTO_BYTES = 16 * 1024 * 1024  # image_size_limit, 16 MB
MAX_ALT_TEXT = 1500  # description_limit
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}

# Mastodon counts @name@other.server as @name (Account::MENTION_RE); the same pattern Mastodon.py uses.
_REMOTE_MENTION = re.compile(r"(^|[^/\w])@(([a-z0-9_]+)@[a-z0-9.\-]+[a-z0-9]+)", re.IGNORECASE)


@dataclass(frozen=True)
class InstanceLimits:
    max_text: int = MAX_TEXT
    url_length: int = URL_LENGTH
    max_photos: int = MAX_PHOTOS
    max_photo_bytes: int = MAX_PHOTO_BYTES
    max_alt_text: int = MAX_ALT_TEXT
    mime_types: frozenset[str] | None = None  # None: the server did not say

    @classmethod
    def from_instance(cls, instance) -> InstanceLimits:
        """The limits in a /api/v2/instance answer; Mastodon's defaults for anything it leaves out."""
        config = _get(instance, "configuration") or {}
        statuses = _get(config, "statuses") or {}
        media = _get(config, "media_attachments") or {}
        types = _get(media, "supported_mime_types")
        return cls(
            max_text=_positive(_get(statuses, "max_characters"), MAX_TEXT),
            url_length=_positive(_get(statuses, "characters_reserved_per_url"), URL_LENGTH),
            max_photos=_positive(_get(statuses, "max_media_attachments"), MAX_PHOTOS),
            max_photo_bytes=_positive(_get(media, "image_size_limit"), MAX_PHOTO_BYTES),
            max_alt_text=_positive(_get(media, "description_limit"), MAX_ALT_TEXT),
            mime_types=frozenset(t for t in types if isinstance(t, str)) if isinstance(types, list) else None,
        )

    def problems(self, outgoing, host: str) -> list[str]:
        """Everything in the post this server would refuse, in plain words; [] if none."""
        problems = []
        photos = outgoing.photos or []
        text = outgoing.text or ""
        if not text.strip() and not photos:
            problems.append("The post has no text and no photos, so there is nothing to publish.")
        length = text_length(text, self.url_length)
        if length > self.max_text:
            problems.append(
                f"The text is too long for {host}: it counts as {length:,} characters and the server allows "
                f"{self.max_text:,} (each link counts as {self.url_length}).")
        if len(photos) > self.max_photos:
            problems.append(f"{host} allows at most {self.max_photos} photos in a post; this post has {len(photos)}.")
        for n, photo in enumerate(photos, 1):
            problems += self._photo_problems(n, photo, host)
        return problems

    def _photo_problems(self, n: int, photo, host: str) -> list[str]:
        problems = []
        mime = MIME_TYPES.get(photo.format)
        if mime is None or (self.mime_types is not None and mime not in self.mime_types):
            problems.append(f"Photo {n} is a {photo.format or 'unknown'} file, which {host} does not take; "
                            "only JPEG and PNG photos are sent.")
        if len(photo.data) > self.max_photo_bytes:
            problems.append(f"Photo {n} is {len(photo.data) / (1024 * 1024):.1f} MB; {host} accepts photos up to "
                            f"{self.max_photo_bytes / (1024 * 1024):.0f} MB.")
        if photo.alt and len(photo.alt) > self.max_alt_text:
            problems.append(f"The description (alt text) of photo {n} is {len(photo.alt):,} characters long; "
                            f"{host} allows {self.max_alt_text:,}.")
        return problems


def text_length(text: str, url_length: int = URL_LENGTH) -> int:
    """Mastodon's count: grapheme clusters, each http(s) link as `url_length`, @name@server as @name."""
    if not text:
        return 0
    links = sorted(extract_urls_with_indices(text, extract_urls_without_protocol=False),
                   key=lambda u: u["indices"][0], reverse=True)
    for link in links:
        start, end = link["indices"]
        text = text[:start] + "x" * url_length + text[end:]
    return grapheme_length(_REMOTE_MENTION.sub(r"\1@\3", text))


def _get(mapping, name: str):
    return mapping.get(name) if hasattr(mapping, "get") else None


def _positive(value, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
