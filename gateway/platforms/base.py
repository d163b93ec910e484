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
