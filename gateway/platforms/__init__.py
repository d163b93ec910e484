"""The networks the gateway publishes to: one module each, behind one contract (base.Platform, base.Publisher).

A new network is one module here, one line in PLATFORMS and one parameter of tests/unit/test_publisher_contract.py.
"""
from __future__ import annotations

import json

from gateway.core.crypto import decrypt
from gateway.platforms import archive, bluesky, facebook, mastodon, x
from gateway.platforms.base import Outgoing, OutgoingPhoto, PermanentError, Platform, Publisher

PLATFORMS: dict[str, Platform] = {
    "archive": archive.PLATFORM,
    "x": x.PLATFORM,
    "mastodon": mastodon.PLATFORM,
    "bluesky": bluesky.PLATFORM,
    "facebook": facebook.PLATFORM,
}


def title_of(channel: str) -> str:
    """A consent channel as people say it: a network's title, or "social media" for the general consent."""
    return PLATFORMS[channel].title if channel in PLATFORMS else "social media"


def credentials_aad(account_id: int) -> str:
    """What an account's encrypted credentials are bound to, so they cannot be moved to another account."""
    return f"account-credentials:{account_id}"


def publisher_for(account, settings) -> Publisher:
    """The publisher of an account; its saved credentials are decrypted with the instance key."""
    platform = PLATFORMS.get(account.platform)
    if platform is None:
        raise ValueError(f"no publisher for platform {account.platform!r}")
    credentials: dict[str, str] = {}
    if platform.credential_fields:
        if account.credentials is None:
            raise PermanentError(f"No {platform.title} keys are saved for {account.label}; the headteacher must "
                                 "add them.", code="credentials")
        credentials = json.loads(decrypt(settings.encryption_key, account.credentials, credentials_aad(account.id)))
    return platform.connect(account.handle, credentials, settings)


def outgoing_for(publication, settings) -> Outgoing:
    """Exactly what goes out for a publication: its post's cleaned text and each photo as its network gets it."""
    post, channel = publication.post, publication.account.platform
    photos = [OutgoingPhoto(settings.media.get(i.rendition_for(channel)[0]), i.clean_format,
                            i.clean_alt_text or "") for i in post.images]
    return Outgoing(
        key=f"{publication.id}", text=post.cleaned_text or "", photos=photos,
        approved_by=post.approved_by.name if post.approved_by else "", approved_at=post.approved_at,
        earlier_attempts=publication.attempts,
    )
