"""What every network does with its credentials: hand them around, keep them out of words, and send them safely.

* `Credentials`: a network's keys as a frozen dataclass that is also a read-only mapping by field name (the shape
  the platform contract hands credentials around in), whose repr shows only the fields that are not secret.
* `SecretRegistry`: the secret values seen so far, blanked wherever they turn up (as they are, or URL-encoded), after
  the network's own patterns; `guard` attaches a logging filter built on it to the loggers that see requests.
* `https_or_loopback`: a server address the credentials may be sent to: https, or plain http to this machine only.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import fields
from typing import ClassVar
from urllib.parse import quote, urlsplit

from gateway.platforms.base import PermanentError

REDACTED = "[redacted]"
_LOOPBACK_NAMES = frozenset({"localhost"})


class Credentials(Mapping):
    """Base of a network's `@dataclass(frozen=True, repr=False)` credentials; `SHOWN` names the fields not secret."""

    SHOWN: ClassVar[tuple[str, ...]] = ()

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n) if n in self.SHOWN else '<hidden>'}" for n in self)
        return f"{type(self).__name__}({shown})"

    __str__ = __repr__

    def __getitem__(self, name: str) -> str:
        if name not in self._names():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def to_json(self) -> str:
        return json.dumps(dict(self), sort_keys=True)

    @classmethod
    def _names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


class SecretRegistry:
    """Known secret values and a network's own patterns (regex, replacement template), blanked by `redact`."""

    def __init__(self, name: str, *patterns: tuple[re.Pattern[str], str]):
        self.name = name
        self._patterns = patterns
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def remember(self, *values: str) -> None:
        """Blank these values from now on wherever they turn up, as they are or URL-encoded once or twice."""
        with self._lock:
            for value in values:
                if len(value) >= 4:  # a shorter value would blank ordinary words and numbers
                    once = quote(value, safe="")
                    self._known.update({value, once, quote(once, safe="")})

    def redact(self, text: str) -> str:
        """The text with the network's patterns and every known secret blanked."""
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        with self._lock:
            known = sorted(self._known, key=len, reverse=True)  # longest first: a secret inside another goes whole
        for secret in known:
            text = text.replace(secret, REDACTED)
        return text

    def guard(self, logger_names: tuple[str, ...], clean: Callable[[str], str] | None = None) -> None:
        """Rewrite every record of these loggers with `clean` (default: `redact`) before any handler sees it."""
        redacting = RedactingFilter(self.name, clean or self.redact)
        for name in logger_names:
            logger = logging.getLogger(name)
            if not any(getattr(f, "owner", None) == self.name for f in logger.filters):
                logger.addFilter(redacting)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with `clean` (a logger's filter runs before any of its handlers)."""

    def __init__(self, owner: str, clean: Callable[[str], str]):
        super().__init__()
        self.owner = owner
        self._clean = clean

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave it
            return True
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def address_refused(message: str) -> PermanentError:
    return PermanentError(message, code="address")


def https_or_loopback(value: str, *, bad: str, unencrypted: str, bare_name_means_https: bool = False,
                      path_allowed: bool = False, error: Callable[[str], Exception] = address_refused) -> str:
    """The address as scheme://host[:port] in lower case (and its path, if allowed), if credentials may be sent to
    it: https, or plain http to this machine (127.0.0.0/8, ::1, localhost), where a test server may stand in.

    Anything else raises `error(bad)`, or `error(unencrypted)` for plain http elsewhere; neither repeats what was
    typed, since a secret pasted into the wrong box must not be echoed back onto a page or into a log.
    """
    value = value.strip()
    if bare_name_means_https and "://" not in value:
        value = "https://" + value
    try:
        parts = urlsplit(value)
        host, port = parts.hostname or "", parts.port  # .port raises ValueError for a port that is not a number
    except ValueError:
        raise error(bad) from None
    if (not ("." in host or _loopback(host)) or port == 0 or parts.username is not None or parts.password is not None
            or parts.query or parts.fragment or not (path_allowed or parts.path in ("", "/"))
            or any(c.isspace() for c in value)):
        raise error(bad)
    scheme = parts.scheme.lower()
    if scheme == "http" and not _loopback(host):
        raise error(unencrypted)
    if scheme not in ("https", "http"):
        raise error(bad)
    shown = f"[{host}]" if ":" in host else host
    path = parts.path.rstrip("/") if path_allowed else ""
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else "") + path


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
