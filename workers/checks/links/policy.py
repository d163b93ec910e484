"""The school's link rules as one object: allow, block and shortener lists, and how far to follow links."""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from workers.checks.links.hosts import Matcher, is_private_ip, normalise_entry
from workers.checks.links.lookalike import Protected, protected

DATA = Path(__file__).parent.parent / "data"


def _read_list(name: str) -> tuple[str, ...]:
    """One entry a line; '#' starts a comment."""
    lines = (line.split("#", 1)[0].strip() for line in (DATA / name).read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line)


DEFAULT_SHORTENERS = _read_list("shorteners.txt")
DEFAULT_ALLOW = _read_list("links_default_allow.txt")


def _endpoint(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    address, _, port = text.rpartition(":")
    try:
        return ipaddress.ip_address(address.strip("[]")), int(port)
    except ValueError:
        raise ValueError(f"“{text}” is not an address and port such as 127.0.0.1:8000") from None


def _system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class LinkPolicy:
    """The school's link rules; list entries are validated and normalised when the policy is made."""

    allow: tuple[str, ...] = ()
    block: tuple[str, ...] = ()
    shorteners: tuple[str, ...] = DEFAULT_SHORTENERS
    expand_shortened: bool = False
    max_hops: int = 10
    timeout: float = 5.0
    resolver: Callable[[str, int], list[str]] | None = None  # host, port -> addresses; None: the system's
    safe_browsing_url: str | None = None  # e.g. https://safebrowsing.googleapis.com/v4/threatMatches:find
    safe_browsing_key: str | None = None
    allowed_ports: tuple[int, ...] = (80, 443)  # ports expansion may connect to
    treat_as_public: tuple[str, ...] = ()  # "address:port" endpoints counted as public: for tests on local servers
    is_allowed: Matcher = field(init=False, repr=False, compare=False)
    is_blocked: Matcher = field(init=False, repr=False, compare=False)
    is_shortener: Matcher = field(init=False, repr=False, compare=False)
    public_endpoints: frozenset = field(init=False, repr=False, compare=False)
    protected: tuple[Protected, ...] = field(init=False, repr=False, compare=False)  # allowed names to imitate

    def __post_init__(self):
        for name in ("allow", "block", "shorteners"):
            object.__setattr__(self, name, tuple(normalise_entry(e) for e in getattr(self, name)))
        object.__setattr__(self, "is_allowed", Matcher(self.allow))
        object.__setattr__(self, "is_blocked", Matcher(self.block))
        object.__setattr__(self, "is_shortener", Matcher(self.shorteners))
        object.__setattr__(self, "public_endpoints", frozenset(map(_endpoint, self.treat_as_public)))
        object.__setattr__(self, "protected", protected(self.allow))

    def is_public(self, address: str, port: int) -> bool:
        """Whether expansion may connect to this address: a global one, or one the policy treats as public."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return (ip, port) in self.public_endpoints or not is_private_ip(ip)

    def resolve(self, host: str, port: int) -> list[str]:
        return (self.resolver or _system_resolver)(host, port)
