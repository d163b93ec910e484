"""Following shortened links (only when the policy asks for it): every hop checked by the block rules
and resolved to public addresses before anything connects to it."""
from __future__ import annotations

import http.client
import socket
import ssl

from moderation.findings import BLOCK, REVIEW
from workers.checks.links.hosts import display_host
from workers.checks.links.policy import LinkPolicy
from workers.checks.links.rules import Link, block_reasons, read
from workers.checks.links.url import C0_AND_SPACE, DEFAULT_PORTS, SCHEME, ParsedURL

REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class Stopped(Exception):
    """Following the link stopped; severity and a plain reason."""

    def __init__(self, severity: str, reason: str):
        super().__init__(reason)
        self.severity, self.reason = severity, reason


def _pinned_address(url: ParsedURL, policy: LinkPolicy) -> str:
    """Resolve the name once; every address must be public, and the first is the one to connect to."""
    port = url.port or DEFAULT_PORTS[url.scheme]
    try:
        addresses = policy.resolve(url.host, port)
    except OSError:
        addresses = []
    if not addresses:
        raise Stopped(REVIEW, f"the site name {display_host(url.host)} could not be found")
    for address in addresses:
        if not policy.is_public(address, port):
            raise Stopped(BLOCK, f"the name {display_host(url.host)} points at a private or local network "
                                 f"({address}), so the gateway did not connect to it")
    return addresses[0]


def _connection_problem(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return "the site did not answer in time"
    if isinstance(exc, ssl.SSLError):
        return "the site's security certificate is not valid"
    if isinstance(exc, ConnectionRefusedError):
        return "the site refused the connection"
    return "the connection failed"


def _fetch_location(url: ParsedURL, address: str, policy: LinkPolicy) -> str:
    """One GET to the pinned address (Host header and TLS name for the site); the redirect's Location."""
    port = url.port or DEFAULT_PORTS[url.scheme]
    if port not in policy.allowed_ports:
        raise Stopped(REVIEW, f"the shortened link uses port {port}, which the gateway does not follow")
    connection = http.client.HTTPConnection(url.host, port, timeout=policy.timeout)
    try:
        connection.sock = socket.create_connection((address, port), timeout=policy.timeout)
        if url.scheme == "https":
            connection.sock = ssl.create_default_context().wrap_socket(connection.sock, server_hostname=url.host)
        connection.request("GET", url.target, headers={
            "Host": url.host_and_port, "User-Agent": "school-social-gateway link check", "Accept": "*/*"})
        response = connection.getresponse()
        status, location = response.status, response.getheader("Location")
    except (OSError, http.client.HTTPException) as exc:
        raise Stopped(REVIEW, f"the shortened link could not be followed: {_connection_problem(exc)}") from None
    finally:
        connection.close()
    if status not in REDIRECT_STATUSES or not location:
        raise Stopped(REVIEW, f"the shortened link did not lead on to another page (the site answered {status})")
    try:  # http.client reads headers as Latin-1; a UTF-8 Location reads back as what was sent
        return location.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return location


def _resolve_reference(base: ParsedURL, location: str) -> str:
    """A Location header made absolute against the page that sent it, as a browser would."""
    location = location.strip(C0_AND_SPACE)
    if SCHEME.match(location):
        return location
    if location[:2] in ("//", "\\\\", "/\\", "\\/"):
        return f"{base.scheme}:{location}"
    if location[:1] in ("/", "\\"):
        return base.origin + location
    if location.startswith("?"):
        return base.origin + base.path + location
    if location.startswith("#"):
        return base.origin + base.target + location
    return base.origin + base.path.rsplit("/", 1)[0] + "/" + location


def expand(link: Link, policy: LinkPolicy) -> tuple[Link, list[str]]:
    """Follow a shortened link's redirects while they stay on shorteners: the destination, and every
    address redirected to. Each is checked by the block rules and resolved to public addresses before
    anything connects to it. Stopped when a hop cannot or must not be followed."""
    current, redirects = link, []
    seen = {link.parsed.serialise().partition("#")[0]}
    while True:
        address = _pinned_address(current.parsed, policy)
        if not policy.is_shortener(current.parsed.host):
            return current, redirects
        if len(redirects) == policy.max_hops:
            raise Stopped(BLOCK, f"it goes through more than {policy.max_hops} redirects, so the gateway stopped following it")
        location = _fetch_location(current.parsed, address, policy)
        current = read(_resolve_reference(current.parsed, location))
        blocks = block_reasons(current, policy)
        if blocks:
            raise Stopped(BLOCK, f"it redirects to {current.text}, and {'; '.join(blocks)}")
        key = current.parsed.serialise().partition("#")[0]
        if key in seen:
            raise Stopped(BLOCK, f"it redirects in a circle (back to {current.text}), so it cannot be checked")
        seen.add(key)
        redirects.append(key)
