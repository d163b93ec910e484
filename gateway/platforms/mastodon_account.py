"""A Mastodon account's credentials: the server's address and an access token, and keeping the token out of words.

The address must be https, except on this machine (127.0.0.1, ::1, localhost), where a local test server may
stand in.  A bad address is a PermanentError in plain words that never repeats what was typed: a head who pasted
the token into the wrong box must not see it echoed back onto a page or into the audit log.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.platforms.base import PermanentError
from gateway.platforms.credentials import REDACTED, Credentials, SecretRegistry, https_or_loopback

_TOKEN = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: what Mastodon hands out (URL-safe base64)

BAD_ADDRESS = ("The Mastodon server address is not right: it must be just the server's web address, starting "
               "with https:// (for example https://mastodon.social), with nothing after the name.")
HTTP_ADDRESS = ("The Mastodon server address must start with https:// so that the access token is never sent "
                "unencrypted (plain http:// is only allowed for a test server on this computer).")
BAD_TOKEN = ("The Mastodon access token is not right: copy it again from the server (Preferences, Development, "
             "the gateway's application, 'Your access token'), without spaces.")


@dataclass(frozen=True, repr=False)
class MastodonCredentials(Credentials):
    """The school account's server address (not secret) and access token (secret)."""

    SHOWN = ("instance_url",)

    instance_url: str
    access_token: str

    @property
    def host(self) -> str:
        return urlsplit(self.instance_url).netloc

    @classmethod
    def from_mapping(cls, data) -> MastodonCredentials:
        """Both values present; the address made canonical (https://host[:port]) and checked; the token's shape."""
        if not isinstance(data, Mapping):
            raise PermanentError("The Mastodon account's details are missing; the headteacher must enter them.",
                                 code="credentials")
        missing = [n for n in cls._names() if not isinstance(data.get(n), str) or not data[n].strip()]
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
    return https_or_loopback(value, bad=BAD_ADDRESS, unencrypted=HTTP_ADDRESS, bare_name_means_https=True)


# Any Bearer header value, besides the tokens seen.
_SECRETS = SecretRegistry("mastodon", (re.compile(r"(Bearer\s+)\S+", re.IGNORECASE), rf"\1{REDACTED}"))
redact = _SECRETS.redact


def register_secret(token: str) -> None:
    """Remember the token, so that `redact` blanks it wherever it turns up (also URL-encoded)."""
    _SECRETS.remember(token)
