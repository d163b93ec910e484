"""The contract every network meets: a Platform (its rules and credentials) and the Publisher it builds."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class PublishError(Exception):
    """Something went wrong; `plain` says what in words for the senior team, `detail` is the network's own message."""

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
    """The create request was sent and its answer lost: the network may or may not have the post. Call find() first."""


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


@dataclass(frozen=True)
class Reply:
    """A reply under one of the school's posts, at any depth of its conversation, as its network gives it."""

    platform_id: str   # the reply's own id: X post id, Mastodon status id, Bluesky at:// URI, Facebook comment id
    text: str          # plain text, as written (HTML of Mastodon made plain); may be huge or odd Unicode
    author: str        # the author's handle as the network shows it; "" when the account is gone
    author_id: str     # the network's id of the author (X user id, Mastodon account id, DID, Facebook id); or ""
    url: str           # where a person sees it on the network
    created_at: datetime | None = None
    hidden: bool = False  # already hidden on the network (by hand, or by an earlier run)


@dataclass
class ReplyPage:
    """What one read of a post's replies found; `cursor` is given back on the next read, so that a network that
    can tell what is new (X's since_id) is not asked for, nor charged for, what was read before."""

    replies: list[Reply]
    cursor: str | None = None


class Publisher(Protocol):
    """Publishes at most once: `find()` tells whether an earlier attempt reached the network."""

    can_delete: bool

    def validate(self, outgoing: Outgoing) -> list[str]:
        """Problems in plain words that stop the post before anything is sent; [] if none."""

    def publish(self, outgoing: Outgoing) -> Published: ...

    def find(self, outgoing: Outgoing) -> Published | None:
        """The post if it is on the network, None only when it is certainly not there."""

    def delete(self, platform_id: str) -> None:
        """Returns only once the post is gone (or was never there)."""

    # Replies (policy §6: inappropriate comments removed at once and reported to SMT). Errors as for publishing:
    # RetryLater on a rate limit (its reset time), Transient when the network is down, PermanentError otherwise
    # (code "post_gone" when the school's post itself is no longer there).

    def replies(self, post_id: str, cursor: str | None) -> ReplyPage:
        """Every reply under the post `post_id` (not the school's own), new ones at least since `cursor`."""

    def hide(self, post_id: str, reply: Reply) -> str:
        """Hide the reply as far as the network allows; says what was done in plain words. A reply already gone
        is done, not an error."""

    def restore(self, post_id: str, reply: Reply) -> str:
        """Undo hide(); says what was done (or, by PermanentError, why it cannot be undone)."""

    def block(self, reply: Reply) -> str:
        """Stop the reply's author from reaching the account, as far as the network allows; says what was done."""


@dataclass(frozen=True)
class CredentialField:
    """One value the head enters to connect an account; secret ones are never shown or echoed back."""

    name: str
    label: str
    secret: bool = True
    default: str = ""  # what a field left empty means (never for a secret one), shown filled in on the form


@dataclass(frozen=True)
class Platform:
    """A network the gateway publishes to: how it counts, what it accepts, and how to connect to it."""

    name: str
    title: str
    max_text: int
    max_photos: int
    max_photo_bytes: int
    max_alt_text: int
    text_length: Callable[[str], int]  # the length of a text as the network counts it
    credential_fields: tuple[CredentialField, ...]
    credentials_help: str  # where the head finds the keys, in plain words ("" when none are taken)
    # (handle, decrypted credentials by field name, settings) -> the account's publisher
    connect: Callable[[str, Mapping[str, str], Any], Publisher]
    # (handle, credentials) -> the username they belong to, by a harmless call; None when no keys are taken
    check: Callable[[str, Mapping[str, str]], str] | None = None
    # credentials -> the account's own text limit, where the network sets it per server; None: max_text for all
    text_limit_of: Callable[[Mapping[str, str]], int] | None = None
    # replies: the fewest minutes between two reads of an account's replies that keeps within the network's
    # rate limits (settings may ask for longer), and whether the network charges per reply read (X does)
    reply_poll_minutes: int = 5
    paid_reads: bool = False
    hiding: str = ""  # what hiding a reply does there, in plain words, for the README and the settings page
