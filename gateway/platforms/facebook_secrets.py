"""The Facebook Page's credentials, and keeping the Page access token out of logs and messages.

The token only ever travels in the `Authorization: Bearer` header, never in a URL, so urllib3's request lines
("GET /v26.0/... HTTP/1.1") cannot carry it.  Facebook itself still puts `access_token=` into the `paging.next`
links it returns and repeats a malformed token in its error message ("Malformed access token EAA..."), so every
text built from an answer goes through `redact`, and `_TokenFilter` blanks the token (and any `access_token=`
value) in every record of the loggers that see requests, before any handler does.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

_NAMES = ("page_id", "page_access_token")
_PAGE_ID = re.compile(r"^\d{1,30}$")
_REDACTED = "[redacted]"
_TOKEN_PARAM = re.compile(r"(access_token(?:=|%3D|\"\s*:\s*\"))[^&\"'\s]+", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+", re.IGNORECASE)


@dataclass(frozen=True, repr=False)
class FacebookCredentials(Mapping):
    """The Page's id (not secret) and its long-lived Page access token (secret); a mapping by field name too."""

    page_id: str
    page_access_token: str

    def __repr__(self) -> str:
        return f"FacebookCredentials(page_id={self.page_id}, page_access_token=<hidden>)"

    __str__ = __repr__

    def __getitem__(self, name: str) -> str:
        if name not in _NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self):
        return iter(_NAMES)

    def __len__(self) -> int:
        return len(_NAMES)

    @classmethod
    def from_mapping(cls, data) -> "FacebookCredentials":
        """The credentials from a mapping by field name: a numeric Page id and a token, neither blank."""
        if not isinstance(data, Mapping):
            raise ValueError("Facebook credentials must be a mapping of field names to values")
        values = {n: data[n].strip() for n in _NAMES if isinstance(data.get(n), str) and data[n].strip()}
        missing = [n for n in _NAMES if n not in values]
        if missing:
            raise ValueError(f"Facebook credentials lack {', '.join(missing)}")
        if not _PAGE_ID.match(values["page_id"]):
            raise ValueError("The Facebook Page ID is a number (it is shown in the Page's settings, under "
                             "'Page transparency', and in Meta Business Suite).")
        if any(ch.isspace() for ch in values["page_access_token"]):
            raise ValueError("The Facebook Page access token has spaces in it; copy it again in one piece.")
        return cls(**values)


_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()

# Every logger that is handed request lines, headers or Facebook's answers.
_GUARDED_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "requests",
    "gateway.platforms.facebook",
    "gateway.platforms.facebook_graph",
    "gateway.platforms.facebook_errors",
)


def register_secret(credentials: FacebookCredentials) -> None:
    """Remember the token, so that `redact` blanks it wherever it turns up (as is, or URL-encoded)."""
    token = credentials.page_access_token
    if len(token) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.update({token, quote(token, safe=""), quote(quote(token, safe=""), safe="")})


def redact(text: str) -> str:
    """The text with every known Page access token, `access_token=` value and Bearer credential blanked."""
    text = _TOKEN_PARAM.sub(rf"\1{_REDACTED}", text)
    text = _BEARER.sub(rf"\1{_REDACTED}", text)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


class _TokenFilter(logging.Filter):
    """Rewrites a record's message with the token blanked (a logger filter runs before any handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave it
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _TokenFilter()
for _name in _GUARDED_LOGGERS:
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _TokenFilter) for f in _logger.filters):
        _logger.addFilter(_FILTER)
