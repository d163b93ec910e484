"""A Mastodon account's credentials: the server's address and an access token, and keeping the token out of words.

The address must be https, except on this machine (127.0.0.1, ::1, localhost), where a local test server may
stand in.  A bad address is a PermanentError in plain words that never repeats what was typed: a head who pasted
the token into the wrong box must not see it echoed back onto a page or into the audit log.
"""
from __future__ import annotations

import ipaddress
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from gateway.platforms.base import PermanentError

_NAMES = ("instance_url", "access_token")
_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what Mastodon hands out (URL-safe base64)
_LOOPBACK_NAMES = {"localhost"}
_REDACTED = "[redacted]"

BAD_ADDRESS = ("The Mastodon server address is not right: it must be just the server's web address, starting "
               "with https:// (for example https://mastodon.social), with nothing after the name.")
HTTP_ADDRESS = ("The Mastodon server address must start with https:// so that the access token is never sent "
                "unencrypted (plain http:// is only allowed for a test server on this computer).")
BAD_TOKEN = ("The Mastodon access token is not right: copy it again from the server (Preferences, Development, "
             "the gateway's application, 'Your access token'), without spaces.")


@dataclass(frozen=True, repr=False)
class MastodonCredentials(Mapping):
    """The school account's server address (not secret) and access token (secret).

    Also a read-only mapping by field name, the shape the platform contract hands credentials around in.
    """

    instance_url: str
    access_token: str

    def __repr__(self) -> str:
        return f"MastodonCredentials({self.instance_url}, <token hidden>)"

    __str__ = __repr__

    def __getitem__(self, name: str) -> str:
        if name not in _NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self):
        return iter(_NAMES)

    def __len__(self) -> int:
        return len(_NAMES)

    @property
    def host(self) -> str:
        return urlsplit(self.instance_url).netloc

    def to_json(self) -> str:
        return json.dumps(dict(self), sort_keys=True)

    @classmethod
    def from_mapping(cls, data) -> MastodonCredentials:
        """Both values present; the address made canonical (https://host[:port]) and checked; the token's shape."""
        if not isinstance(data, Mapping):
            raise PermanentError("The Mastodon account's details are missing; the headteacher must enter them.",
                                 code="credentials")
        missing = [n for n in _NAMES if not isinstance(data.get(n), str) or not data[n].strip()]
        if missing:
            raise PermanentError(
                "The Mastodon account's " + " and ".join(_WORDS[n] for n in missing) + " "
                + ("is" if len(missing) == 1 else "are") + " missing; the headteacher must enter "
                + ("it" if len(missing) == 1 else "them") + ".", code="credentials")
        token = data["access_token"].strip()
        if not _TOKEN.match(token):
            raise PermanentError(BAD_TOKEN, code="credentials")
        return cls(instance_url=instance_url(data["instance_url"]), access_token=token)


_WORDS = {"instance_url": "server address", "access_token": "access token"}


def instance_url(value: str) -> str:
    """The server's base address as https://host[:port]; PermanentError in plain words for anything else.

    A bare name (mastodon.social) is taken to mean https://mastodon.social.
    """
    value = value.strip()
    if "://" not in value:
        value = "https://" + value
    try:
        parts = urlsplit(value)
        host, port = parts.hostname, parts.port  # .port raises ValueError for a port that is not a number
    except ValueError:
        raise PermanentError(BAD_ADDRESS, code="address") from None
    if (not host or parts.username is not None or parts.password is not None or parts.query or parts.fragment
            or parts.path not in ("", "/") or any(c.isspace() for c in value)):
        raise PermanentError(BAD_ADDRESS, code="address")
    scheme = parts.scheme.lower()
    if scheme == "http" and not _loopback(host):
        raise PermanentError(HTTP_ADDRESS, code="address")
    if scheme not in ("https", "http"):
        raise PermanentError(BAD_ADDRESS, code="address")
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown.lower()}" + (f":{port}" if port is not None else "")


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret(token: str) -> None:
    """Remember the token, so that `redact` blanks it wherever it turns up (also URL-encoded)."""
    if len(token) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.update({token, quote(token, safe="")})


def redact(text: str) -> str:
    """The text with every known Mastodon access token and any Bearer header value blanked."""
    text = re.sub(r"(Bearer\s+)\S+", rf"\1{_REDACTED}", text, flags=re.IGNORECASE)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return text
