"""X's credentials, and keeping them out of logs.

requests_oauthlib and oauthlib log the Authorization header, the oauthlib client (with the consumer key and
access token) and the signature base string at DEBUG.  `_SecretFilter` is attached to those loggers and blanks
every credential value and OAuth parameter before any handler sees the record.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True, repr=False)
class XCredentials(Mapping):
    """OAuth 1.0a user-context keys of the school's X developer app and account (all four are secret).

    Also a read-only mapping by field name, the shape the platform contract hands credentials around in.
    """

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def __repr__(self) -> str:
        return "XCredentials(<hidden>)"

    __str__ = __repr__

    def __getitem__(self, name: str) -> str:
        if name not in _NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self):
        return iter(_NAMES)

    def __len__(self) -> int:
        return len(_NAMES)

    def to_json(self) -> str:
        return json.dumps(dict(self), sort_keys=True)

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
        missing = [n for n in _NAMES if not isinstance(data.get(n), str) or not data[n].strip()]
        if missing:
            raise ValueError(f"X credentials lack {', '.join(missing)}")
        return cls(**{n: data[n].strip() for n in _NAMES})


_NAMES = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_OAUTH_PARAM = re.compile(
    r"(oauth_(?:consumer_key|token|signature|nonce)(?:=|%3D)\"?)(?:(?!%26)[^\",&\s'])+", re.IGNORECASE
)
_BODY_LINE = re.compile(r"^Updated body: ")
MAX_BODY_LOG = 500  # requests_oauthlib logs whole request bodies: photos of pupils must not end up in logs
_CLIENT_REPR = re.compile(r"((?:client_key|resource_owner_key|client_secret|resource_owner_secret)=)[^,>\s]+")
_AUTH_HEADER = re.compile(r"('Authorization':\s*b?)(['\"])(.*?)\2", re.IGNORECASE)
_SIGNATURE_LINE = re.compile(r"^(Signature: ).*$", re.MULTILINE)
_REDACTED = "[redacted]"

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
)


def register_secrets(credentials: XCredentials) -> None:
    """Remember the values, so that `redact` blanks them wherever they turn up."""
    with _SECRETS_LOCK:
        for value in credentials.values():
            if len(value) >= 4:
                _SECRETS.update({value, quote(value, safe=""), quote(quote(value, safe=""), safe="")})


def redact(text: str) -> str:
    """The text with every known X credential and every OAuth header parameter blanked."""
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}{m.group(2)}", text)
    text = _OAUTH_PARAM.sub(rf"\1{_REDACTED}", text)
    text = _CLIENT_REPR.sub(rf"\1{_REDACTED}", text)
    text = _SIGNATURE_LINE.sub(rf"\1{_REDACTED}", text)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


class _SecretFilter(logging.Filter):
    """Rewrites a record's message with the credentials blanked (a logger filter runs before any handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave it
            return True
        cleaned = redact(message)
        if _BODY_LINE.match(cleaned) and len(cleaned) > MAX_BODY_LOG:
            cleaned = f"Updated body: [{len(message)} characters not logged]"
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _SecretFilter()
for _name in _GUARDED_LOGGERS:
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _SecretFilter) for f in _logger.filters):
        _logger.addFilter(_FILTER)
