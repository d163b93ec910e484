"""Host names and addresses: private names and networks, registrable domains, and the allow, block and
shortener entries that name hosts."""
from __future__ import annotations

import functools
import ipaddress
import re
import urllib.parse

import tldextract

from gateway.core.errors import Refused
from workers.checks.links.url import URLError, decode_label, parse_host

# Public suffixes whose names are only given to vetted public bodies, so "*.gov.uk" is a sensible
# entry while "*.co.uk" or "*.sch.uk" (anyone, any school) is not.
VETTED_SUFFIXES = frozenset({"gov.uk", "nhs.uk", "police.uk", "ac.uk"})
# Names that only mean something inside a private network, even where the suffix list knows them.
PRIVATE_NAME_SUFFIXES = ("localhost", "local", "internal", "arpa", "lan", "home", "corp", "localdomain", "intranet")

PSL = tldextract.TLDExtract(suffix_list_urls=(), include_psl_private_domains=True, cache_dir=None)


def ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address when a (parsed) host is numeric."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_private_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _host_key(text: str) -> str:
    """A host written anywhere (urllib's reading, a list entry) in the form parse_host gives, if it can."""
    text = f"[{text}]" if ":" in text and not text.startswith("[") else text
    try:
        return parse_host(text)
    except URLError:
        return text.lower().rstrip(".")


def other_readings(absolute: str) -> set[str]:
    """The host as urllib.parse reads it, and as a simple reader does (after the last "@" before the path)."""
    try:
        by_urllib = urllib.parse.urlsplit(absolute).hostname or ""
    except ValueError:
        by_urllib = ""
    after_scheme = absolute.split("://", 1)[1] if "://" in absolute else absolute.split(":", 1)[-1]
    simple = re.split(r"[/?]", after_scheme, maxsplit=1)[0].rpartition("@")[2]
    simple = simple[:simple.find("]") + 1] if simple.startswith("[") else simple.partition(":")[0]
    return {_host_key(by_urllib) if by_urllib else "", _host_key(simple) if simple else ""}


def display_host(host: str) -> str:
    """The host as people read it: Punycode labels shown in their own letters."""
    labels = []
    for label in host.split("."):
        try:
            labels.append(decode_label(label) if label.startswith("xn--") else label)
        except URLError:
            labels.append(label)
    return ".".join(labels)


def registrable_domain(host: str) -> str:
    """The part of a name one owner registers (Public Suffix List, private domains included); "" for a suffix."""
    return PSL(host).top_domain_under_public_suffix


def is_private_name(host: str) -> bool:
    """A name that only means something inside a private network (localhost, *.local, a bare "intranet"...)."""
    return "." not in host or any(host == s or host.endswith("." + s) for s in PRIVATE_NAME_SUFFIXES)


def has_public_suffix(host: str) -> bool:
    """Whether the name ends in an internet ending that is in use (.uk, .com...; not .example or .invalid)."""
    return bool(PSL(host).suffix)


def _shared_suffix_error(entry: str) -> Refused:
    return Refused(
        f"“{entry}” is shared by many different owners (like co.uk or sch.uk), so it cannot be listed as a whole. "
        "List a site inside it instead, such as stmarys.herts.sch.uk."
    )


@functools.lru_cache(maxsize=4096)
def normalise_entry(entry: str) -> str:
    """The canonical form of an allow, block or shortener entry: "www.example.org" (that host, and
    its www. form if it is a registered name) or "*.example.org" (that name and everything under it).
    Refused, in plain words, for an entry that cannot be used."""
    text = entry.strip()
    subtree = text.startswith("*.")
    name = text[2:] if subtree else text
    if not name or "*" in name:
        raise Refused(f"“{entry}” is not a site name: write www.example.org, or *.example.org for a site "
                         "and all its subdomains.")
    if re.search(r"[\s/:@?#\\]", name):
        raise Refused(f"“{entry}”: give just the site name, such as www.bbc.co.uk, without http://, a path or a port.")
    try:
        host = parse_host(name)
    except URLError:
        raise Refused(f"“{entry}” is not a valid site name.") from None
    if ip_of(host):
        raise Refused(f"“{entry}” is a numeric address; give the site's name instead.")
    if is_private_name(host) or not has_public_suffix(host):
        raise Refused(f"“{entry}” is not the name of a public web site.")
    owner = registrable_domain(f"a.{host}" if subtree else host)
    if not (owner and (host == owner or host.endswith("." + owner))) and host not in VETTED_SUFFIXES:
        raise _shared_suffix_error(entry)
    return f"*.{host}" if subtree else host


class Matcher:
    """Which hosts a list of entries covers."""

    def __init__(self, entries: tuple[str, ...]):
        self.exact: set[str] = set()
        self.subtrees: set[str] = set()
        for entry in map(normalise_entry, entries):
            if entry.startswith("*."):
                self.subtrees.add(entry[2:])
            else:
                self.exact.add(entry)
                if registrable_domain(f"www.{entry}") == entry:
                    self.exact.add(f"www.{entry}")

    def __call__(self, host: str) -> bool:
        if host in self.exact:
            return True
        labels = host.split(".")
        return any(".".join(labels[i:]) in self.subtrees for i in range(len(labels)))


def entry_matches(host: str, entry: str) -> bool:
    """Whether an allow/block entry covers the host; an entry that is not valid covers nothing."""
    try:
        return Matcher((entry,))(_host_key(host))
    except (ValueError, Refused):
        return False
