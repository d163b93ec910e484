"""X's credentials, and keeping them out of logs.

requests_oauthlib and oauthlib log the Authorization header, the oauthlib client (with the consumer key and
access token) and the signature base string at DEBUG.  A filter attached to those loggers blanks every credential
value and OAuth parameter before any handler sees the record.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.platforms.credentials import REDACTED, Credentials, SecretRegistry


@dataclass(frozen=True, repr=False)
class XCredentials(Credentials):
    """OAuth 1.0a user-context keys of the school's X developer app and account (all four are secret)."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @classmethod
    def from_json(cls, s: str | bytes) -> "XCredentials":
        try:
            data = json.loads(s)
        except ValueError:
            raise ValueError("X credentials are not valid JSON") from None
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data) -> "XCredentials":
        """The keys from a mapping by field name; every one present and not blank."""
        if not isinstance(data, Mapping):
            raise ValueError("X credentials must be a JSON object")
        missing = [n for n in cls._names() if not isinstance(data.get(n), str) or not data[n].strip()]
        if missing:
            raise ValueError(f"X credentials lack {', '.join(missing)}")
        return cls(**{n: data[n].strip() for n in cls._names()})


MAX_BODY_LOG = 500  # requests_oauthlib logs whole request bodies: photos of pupils must not end up in logs
_BODY_LINE = re.compile(r"^Updated body: ")
_SECRETS = SecretRegistry(
    "x",
    (re.compile(r"('Authorization':\s*b?)(['\"])(.*?)\2", re.IGNORECASE), rf"\1\2{REDACTED}\2"),
    (re.compile(r"(oauth_(?:consumer_key|token|signature|nonce)(?:=|%3D)\"?)(?:(?!%26)[^\",&\s'])+", re.IGNORECASE),
     rf"\1{REDACTED}"),
    (re.compile(r"((?:client_key|resource_owner_key|client_secret|resource_owner_secret)=)[^,>\s]+"),
     rf"\1{REDACTED}"),
    (re.compile(r"^(Signature: ).*$", re.MULTILINE), rf"\1{REDACTED}"),
)
redact = _SECRETS.redact

# Every logger that is handed the Authorization header or the signing key material.
_GUARDED_LOGGERS = (
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth1_session",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "oauthlib.oauth1.rfc5849.utils",
    "tweepy.client",
    "urllib3.connectionpool",
    "gateway.platforms.x",
    "gateway.platforms.x_replies",
)


def register_secrets(credentials: XCredentials) -> None:
    """Remember the values, so that `redact` blanks them wherever they turn up."""
    _SECRETS.remember(*credentials.values())


def _clean(message: str) -> str:
    """The message redacted, and a long request body left out altogether."""
    cleaned = redact(message)
    if _BODY_LINE.match(cleaned) and len(cleaned) > MAX_BODY_LOG:
        return f"Updated body: [{len(message)} characters not logged]"
    return cleaned


_SECRETS.guard(_GUARDED_LOGGERS, _clean)
