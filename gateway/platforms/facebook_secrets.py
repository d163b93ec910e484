"""The Facebook Page's credentials, and keeping the Page access token out of logs and messages.

The token only ever travels in the `Authorization: Bearer` header, never in a URL, so urllib3's request lines
("GET /v26.0/... HTTP/1.1") cannot carry it.  Facebook itself still puts `access_token=` into the `paging.next`
links it returns and repeats a malformed token in its error message ("Malformed access token EAA..."), so every
text built from an answer goes through `redact`, and a logging filter blanks the token (and any `access_token=`
value) in every record of the loggers that see requests, before any handler does.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.platforms.credentials import REDACTED, Credentials, SecretRegistry

_PAGE_ID = re.compile(r"^\d{1,30}$")


@dataclass(frozen=True, repr=False)
class FacebookCredentials(Credentials):
    """The Page's id (not secret) and its long-lived Page access token (secret)."""

    SHOWN = ("page_id",)

    page_id: str
    page_access_token: str

    @classmethod
    def from_mapping(cls, data) -> "FacebookCredentials":
        """The credentials from a mapping by field name: a numeric Page id and a token, neither blank."""
        if not isinstance(data, Mapping):
            raise ValueError("Facebook credentials must be a mapping of field names to values")
        values = {n: data[n].strip() for n in cls._names() if isinstance(data.get(n), str) and data[n].strip()}
        missing = [n for n in cls._names() if n not in values]
        if missing:
            raise ValueError(f"Facebook credentials lack {', '.join(missing)}")
        if not _PAGE_ID.match(values["page_id"]):
            raise ValueError("The Facebook Page ID is a number (it is shown in the Page's settings, under "
                             "'Page transparency', and in Meta Business Suite).")
        if any(ch.isspace() for ch in values["page_access_token"]):
            raise ValueError("The Facebook Page access token has spaces in it; copy it again in one piece.")
        return cls(**values)


_SECRETS = SecretRegistry(
    "facebook",
    (re.compile(r"(access_token(?:=|%3D|\"\s*:\s*\"))[^&\"'\s]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(r"(Bearer\s+)[^\s'\",}]+", re.IGNORECASE), rf"\1{REDACTED}"),
)
redact = _SECRETS.redact

# Every logger that is handed request lines, headers or Facebook's answers.
_GUARDED_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "requests",
    "gateway.platforms.facebook",
    "gateway.platforms.facebook_graph",
    "gateway.platforms.facebook_comments",
    "gateway.platforms.facebook_errors",
)


def register_secret(credentials: FacebookCredentials) -> None:
    """Remember the token, so that `redact` blanks it wherever it turns up (as is, or URL-encoded)."""
    _SECRETS.remember(credentials.page_access_token)


_SECRETS.guard(_GUARDED_LOGGERS)
