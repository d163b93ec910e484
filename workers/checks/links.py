"""Links in a post (policy §6: links "appropriate and safe"): found as X and other readers would
find them, read the way a browser reads them, and checked against the school's rules."""
from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import re
import socket
import ssl
import unicodedata
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import idna
import tldextract
from confusable_homoglyphs import confusables

from gateway.core.errors import Refused
from moderation.findings import BLOCK, INFO, REVIEW, Finding

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # twitter_text imports the deprecated pkg_resources
    from twitter_text import extract_urls_with_indices

DATA = Path(__file__).with_name("data")


def _read_list(name: str) -> tuple[str, ...]:
    """One entry a line; '#' starts a comment."""
    lines = (line.split("#", 1)[0].strip() for line in (DATA / name).read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line)


DEFAULT_SHORTENERS = _read_list("shorteners.txt")
DEFAULT_ALLOW = _read_list("links_default_allow.txt")

# Public suffixes whose names are only given to vetted public bodies, so "*.gov.uk" is a sensible
# entry while "*.co.uk" or "*.sch.uk" (anyone, any school) is not.
VETTED_SUFFIXES = frozenset({"gov.uk", "nhs.uk", "police.uk", "ac.uk"})
# Names that only mean something inside a private network, even where the suffix list knows them.
PRIVATE_NAME_SUFFIXES = ("localhost", "local", "internal", "arpa")
WEB_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
EXECUTABLE_EXTENSIONS = frozenset({
    "exe", "msi", "msix", "appx", "apk", "scr", "pif", "bat", "cmd", "com", "js", "jse", "jar", "vbs", "vbe",
    "wsf", "hta", "ps1", "reg", "lnk", "cpl", "dmg", "pkg", "deb", "rpm", "iso",
})
LONG_QUERY = 200  # characters after "?"
MANY_ESCAPES = 10  # %xx sequences after "?"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
SEVERITY_ORDER = {BLOCK: 0, REVIEW: 1, INFO: 2}

_PSL = tldextract.TLDExtract(suffix_list_urls=(), include_psl_private_domains=True, cache_dir=None)


# --- Reading a URL the way a browser does (WHATWG URL standard, for the parts the checks need) ---

class URLError(ValueError):
    """The address cannot be read as a web address; the message says why, in plain words."""


C0_AND_SPACE = "".join(map(chr, range(0x21)))
_REMOVED_BY_BROWSERS = str.maketrans("", "", "\t\n\r")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(?!\d)")
_AUTHORITY_END = re.compile(r"[/\\?#]")
_FORBIDDEN_IN_HOST = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_QUERY_SET = frozenset(' "#<>\'')
_FRAGMENT_SET = frozenset(' "<>`')
_PATH_SET = frozenset(' "#<>?`{}')
_USERINFO_SET = _PATH_SET | frozenset("/:;=@[\\]^|")
_IPV4_PART = {10: re.compile(r"[0-9]+"), 8: re.compile(r"[0-7]+"), 16: re.compile(r"[0-9A-Fa-f]+")}


@dataclass(frozen=True)
class ParsedURL:
    scheme: str
    userinfo: str | None  # None when there is no "@" before the host
    host: str  # ASCII, lower case, without a trailing dot; "" for javascript:, data: and the like
    port: int | None  # None for the scheme's default port
    path: str
    query: str | None
    fragment: str | None

    @property
    def host_and_port(self) -> str:
        return self.host + (f":{self.port}" if self.port is not None else "")

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host_and_port}"

    @property
    def target(self) -> str:
        """What an HTTP request asks for: the path and query."""
        return self.path + (f"?{self.query}" if self.query is not None else "")

    def serialise(self) -> str:
        if not self.host:
            return f"{self.scheme}:{self.path}"
        userinfo = f"{self.userinfo}@" if self.userinfo else ""
        fragment = f"#{self.fragment}" if self.fragment is not None else ""
        return f"{self.scheme}://{userinfo}{self.host_and_port}{self.target}{fragment}"


def _encode(text: str, extra: frozenset) -> str:
    """Percent-encode controls, non-ASCII and `extra`, then tidy existing escapes (upper-case hex,
    unreserved characters decoded) so equal addresses are written the same way."""
    encoded = "".join(
        "".join(f"%{b:02X}" for b in c.encode("utf-8")) if c < "!" or c > "~" or c in extra else c
        for c in text
    )

    def tidy(m: re.Match) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED else m.group(0).upper()

    return _ESCAPE.sub(tidy, encoded)


def _encode_userinfo(userinfo: str) -> str:
    username, colon, password = userinfo.partition(":")
    return _encode(username, _USERINFO_SET) + colon + _encode(password, _USERINFO_SET)


def _ipv4_number(part: str) -> int:
    radix = 10
    if part[:2].lower() == "0x":
        part, radix = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        part, radix = part[1:], 8
    if part == "":
        return 0
    if not _IPV4_PART[radix].fullmatch(part):
        raise URLError("its numeric address is not valid")
    return int(part, radix)


def _ends_in_number(host: str) -> bool:
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    return bool(re.fullmatch(r"[0-9]+|0[xX][0-9A-Fa-f]*", last))


def parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """IPv4 the way browsers and resolvers accept it: 127.1, 0x7f000001, 2130706433, 0177.0.0.1."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4 or "" in parts:
        raise URLError("its numeric address is not valid")
    numbers = [_ipv4_number(p) for p in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise URLError("its numeric address is not valid")
    return ipaddress.IPv4Address(numbers[-1] + sum(n * 256 ** (3 - i) for i, n in enumerate(numbers[:-1])))


def _decode_label(label: str) -> str:
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        decoded = ""
    if decoded.isascii():  # also a Punycode label that only spells plain letters
        raise URLError("its site name is not valid")
    return decoded


def _domain_to_ascii(domain: str) -> str:
    """UTS 46 mapping as browsers apply it (case, full-width forms, ignorable characters), then Punycode."""
    try:
        mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
    except idna.IDNAError:
        raise URLError("its site name contains characters that are not allowed") from None
    labels = []
    for label in mapped.split("."):
        if not label.isascii():
            label = "xn--" + label.encode("punycode").decode("ascii")
        elif label.startswith("xn--"):
            _decode_label(label)
        labels.append(label)
    result = ".".join(labels)
    if not result.strip(".") or _FORBIDDEN_IN_HOST.search(result):
        raise URLError("its site name contains characters that are not allowed")
    return result


def parse_host(text: str) -> str:
    """The host a browser connects to: lower-case ASCII, numeric forms decoded, trailing dots removed."""
    if text.startswith("["):
        try:
            if not text.endswith("]") or "%" in text:
                raise ValueError
            return f"[{ipaddress.IPv6Address(text[1:-1]).compressed}]"
        except ValueError:
            raise URLError("its numeric address is not valid") from None
    try:
        domain = urllib.parse.unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise URLError("its site name is not valid text") from None
    host = _domain_to_ascii(domain)
    if _ends_in_number(host):
        return str(parse_ipv4(host))
    return host.rstrip(".")


def _parse_port(text: str, scheme: str) -> int | None:
    if text == "":
        return None
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise URLError(f"its port “{text}” is not valid")
    port = int(text)
    return None if port == DEFAULT_PORTS.get(scheme) else port


def _split_host_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        close = hostport.find("]")
        rest = hostport[close + 1:] if close >= 0 else ""
        if close < 0 or (rest and not rest.startswith(":")):
            raise URLError("its numeric address is not valid")
        return hostport[:close + 1], rest[1:]
    host, _, port = hostport.partition(":")
    return host, port


def _parse_path(raw: str) -> str:
    """Backslashes read as slashes, "." and ".." segments resolved (also when percent-encoded)."""
    segments = raw.replace("\\", "/").split("/")[1:] if raw else [""]
    out: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        dots = segment.lower().replace("%2e", ".")
        if dots == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        elif dots == ".":
            if last:
                out.append("")
        else:
            out.append(_encode(segment, _PATH_SET))
    return "/" + "/".join(out)


def parse_url(text: str) -> ParsedURL:
    """Read an absolute URL as a browser would (WHATWG URL standard); URLError if a browser would refuse it."""
    s = text.strip(C0_AND_SPACE).translate(_REMOVED_BY_BROWSERS)
    m = _SCHEME.match(s)
    if not m:
        raise URLError("it does not start with http:// or https://")
    scheme, rest = m.group(1).lower(), s[m.end():]
    if scheme not in DEFAULT_PORTS:  # javascript:, data:, mailto:, file: ...: no host to read
        return ParsedURL(scheme, None, "", None, _encode(rest, frozenset()), None, None)
    rest = rest.lstrip("/\\")
    end = _AUTHORITY_END.search(rest)
    authority, tail = (rest[:end.start()], rest[end.start():]) if end else (rest, "")
    userinfo, at, hostport = authority.rpartition("@")
    host_text, port_text = _split_host_port(hostport)
    if not host_text:
        raise URLError("it has no site name")
    host = parse_host(host_text)
    port = _parse_port(port_text, scheme)
    tail, hash_, fragment = tail.partition("#")
    path, question, query = tail.partition("?")
    return ParsedURL(
        scheme=scheme,
        userinfo=_encode_userinfo(userinfo) if at else None,
        host=host,
        port=port,
        path=_parse_path(path),
        query=_encode(query, _QUERY_SET) if question else None,
        fragment=_encode(fragment, _FRAGMENT_SET) if hash_ else None,
    )


def ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address when a (parsed) host is numeric."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_private_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
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


def _other_readings(absolute: str) -> set[str]:
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
            labels.append(_decode_label(label) if label.startswith("xn--") else label)
        except URLError:
            labels.append(label)
    return ".".join(labels)


# --- The public suffix list, allow and block entries ---

def registrable_domain(host: str) -> str:
    """The part of a name one owner registers (Public Suffix List, private domains included); "" for a suffix."""
    return _PSL(host).top_domain_under_public_suffix


def is_private_name(host: str) -> bool:
    """A name that only means something inside a private network (localhost, *.local, a bare "intranet"...)."""
    return not _PSL(host).suffix or any(host == s or host.endswith("." + s) for s in PRIVATE_NAME_SUFFIXES)


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
    if is_private_name(host):
        raise Refused(f"“{entry}” is not the name of a public web site.")
    owner = registrable_domain(f"a.{host}" if subtree else host)
    if not (owner and (host == owner or host.endswith("." + owner))) and host not in VETTED_SUFFIXES:
        raise _shared_suffix_error(entry)
    return f"*.{host}" if subtree else host


class _Matcher:
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
        return _Matcher((entry,))(_host_key(host))
    except (ValueError, Refused):
        return False


# --- The policy and the result ---

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
    is_allowed: _Matcher = field(init=False, repr=False, compare=False)
    is_blocked: _Matcher = field(init=False, repr=False, compare=False)
    is_shortener: _Matcher = field(init=False, repr=False, compare=False)
    public_endpoints: frozenset = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        for name in ("allow", "block", "shorteners"):
            object.__setattr__(self, name, tuple(normalise_entry(e) for e in getattr(self, name)))
        object.__setattr__(self, "is_allowed", _Matcher(self.allow))
        object.__setattr__(self, "is_blocked", _Matcher(self.block))
        object.__setattr__(self, "is_shortener", _Matcher(self.shorteners))
        object.__setattr__(self, "public_endpoints", frozenset(map(_endpoint, self.treat_as_public)))

    def is_public(self, address: str, port: int) -> bool:
        """Whether expansion may connect to this address: a global one, or one the policy treats as public."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return (ip, port) in self.public_endpoints or not _is_private_ip(ip)

    def resolve(self, host: str, port: int) -> list[str]:
        return (self.resolver or _system_resolver)(host, port)


@dataclass
class LinkResult:
    url: str  # as written
    normalised: str
    host: str
    verdict: str  # "pass" | "review" | "block"
    reasons: list[str]  # plain words


# --- The rules ---

@dataclass(frozen=True)
class _Link:
    """A link as written and as read: `parsed` is None when it cannot be read, and `error` says why."""

    text: str
    absolute: str  # with https:// put in front of a link written without a scheme
    parsed: ParsedURL | None
    error: str | None


def _read(text: str) -> _Link:
    has_scheme = _SCHEME.match(text.strip(C0_AND_SPACE).translate(_REMOVED_BY_BROWSERS))
    absolute = text if has_scheme else f"https://{text}"
    try:
        return _Link(text, absolute, parse_url(absolute), None)
    except URLError as exc:
        return _Link(text, absolute, None, str(exc))


def _has_hidden_characters(text: str) -> bool:
    return any(c < " " or "\x7f" <= c <= "\x9f" or unicodedata.category(c) == "Cf" for c in text)


def _scheme_reason(scheme: str) -> str:
    if scheme in ("javascript", "vbscript"):
        return f"it starts with “{scheme}:”, which runs code instead of opening a web page"
    if scheme == "data":
        return "it starts with “data:”, which carries hidden content inside the link instead of opening a web page"
    return f"it starts with “{scheme}:”, but only web page links (https://) are allowed"


@functools.lru_cache(maxsize=4096)
def _ascii_lookalike(char: str) -> str | None:
    """The ordinary letter or digit a non-ASCII character can pass for, if any."""
    for entry in confusables.is_confusable(char, greedy=True, preferred_aliases=[]) or []:
        for glyph in entry["homoglyphs"]:
            if glyph["c"].isascii() and glyph["c"].isalnum():
                return glyph["c"]
    return None


def _lookalike_reason(host: str) -> str | None:
    shown = display_host(host)
    if shown == host:
        return None
    imitated = "".join(c if c.isascii() else _ascii_lookalike(c) or c for c in shown)
    target = f"“{imitated}”" if imitated.isascii() and imitated != shown else "another site"
    for label in shown.split("."):
        if label.isascii():
            continue
        if confusables.is_mixed_script(label):
            return f"the site name {shown} mixes letters from different alphabets, so it may be pretending to be {target}"
        fakes = [(c, _ascii_lookalike(c)) for c in label if not c.isascii() and _ascii_lookalike(c)]
        if fakes:
            char, looks_like = fakes[0]
            name = unicodedata.name(char, "a foreign letter").lower()
            return (f"the site name {shown} uses letters that look like English ones but are not (“{char}”, {name}, "
                    f"looks like “{looks_like}”), so it may be pretending to be {target}")
    return None


def _executable(path: str) -> str | None:
    name = urllib.parse.unquote(path.rsplit("/", 1)[-1]).lower().rstrip(". ")
    extension = name.rpartition(".")[2] if "." in name else ""
    return extension if extension in EXECUTABLE_EXTENSIONS else None


def _query_reasons(query: str) -> list[str]:
    reasons = []
    if len(query) > LONG_QUERY:
        reasons.append("the part after “?” is very long, which can hide tracking or other content")
    if len(_ESCAPE.findall(query)) >= MANY_ESCAPES:
        reasons.append("the part after “?” is heavily encoded, which can hide where the link leads")
    if re.search(r"(?i)https?:|www\.", urllib.parse.unquote(query)):
        reasons.append("it carries another web address after “?”, which may send readers on to that site")
    return reasons


def _block_reasons(link: _Link, policy: LinkPolicy) -> list[str]:
    """Reasons the link cannot be posted at all."""
    reasons = []
    if _has_hidden_characters(link.text):
        reasons.append("it contains hidden characters (such as invisible spaces or text-direction marks)")
    url = link.parsed
    if url is None:
        return reasons + [f"it is not a valid web address: {link.error}"]
    if url.scheme not in WEB_SCHEMES:
        return reasons + [_scheme_reason(url.scheme)]
    if "\\" in link.text:
        reasons.append("it contains a backslash (\\), which browsers and other programs read differently")
    readings = _other_readings(link.absolute) - {url.host}
    if readings:
        others = ", ".join(sorted(display_host(r) if r else "no site at all" for r in readings))
        reasons.append(f"browsers open {display_host(url.host)} but other programs read it as {others}")
    if url.userinfo is not None:
        reasons.append("it has a user name or password before the site name (the part before “@”), "
                       "which can disguise where it goes")
    ip = ip_of(url.host)
    if ip:
        reasons.append(f"it uses a numeric internet address ({ip}) instead of a site name")
        if _is_private_ip(ip):
            reasons.append(f"it points at a private or local network ({ip}), not a public web site")
    elif is_private_name(url.host):
        reasons.append(f"{url.host} is the name of a computer on a private network, not a public web site")
    else:
        lookalike = _lookalike_reason(url.host)
        if lookalike:
            reasons.append(lookalike)
    if policy.is_blocked(url.host):
        reasons.append(f"{display_host(url.host)} is on the school's list of blocked sites")
    extension = _executable(url.path)
    if extension:
        reasons.append(f"it downloads a program or installer (a .{extension} file), which could harm computers")
    return reasons


def _review_reasons(link: _Link, policy: LinkPolicy) -> list[str]:
    """Reasons someone should look at the link before it is posted (for a link with no block reasons)."""
    url = link.parsed
    reasons = []
    if url.scheme == "http":
        reasons.append("it uses http, not https, so the page can be read or changed on the way")
    if url.port is not None:
        reasons.append(f"it uses an unusual port (:{url.port})")
    shown = display_host(url.host)
    if policy.is_shortener(url.host):
        reasons.append(f"it is a shortened link ({shown}), which hides where it really goes")
    elif not policy.is_allowed(url.host):
        reasons.append(f"{shown} is not on the school's list of approved sites, so check the page is suitable")
    if url.query:
        reasons += _query_reasons(url.query)
    return reasons


def _assess(link: _Link, policy: LinkPolicy) -> list[tuple[str, str]]:
    """(severity, reason) for every rule the link breaks."""
    blocks = _block_reasons(link, policy)
    if blocks:
        return [(BLOCK, r) for r in blocks]
    return [(REVIEW, r) for r in _review_reasons(link, policy)]


# --- Expanding shortened links (only when the policy asks for it) ---

class _Stop(Exception):
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
        raise _Stop(REVIEW, f"the site name {display_host(url.host)} could not be found")
    for address in addresses:
        if not policy.is_public(address, port):
            raise _Stop(BLOCK, f"the name {display_host(url.host)} points at a private or local network "
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
        raise _Stop(REVIEW, f"the shortened link uses port {port}, which the gateway does not follow")
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
        raise _Stop(REVIEW, f"the shortened link could not be followed: {_connection_problem(exc)}") from None
    finally:
        connection.close()
    if status not in REDIRECT_STATUSES or not location:
        raise _Stop(REVIEW, f"the shortened link did not lead on to another page (the site answered {status})")
    try:  # http.client reads headers as Latin-1; a UTF-8 Location reads back as what was sent
        return location.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return location


def _resolve_reference(base: ParsedURL, location: str) -> str:
    """A Location header made absolute against the page that sent it, as a browser would."""
    location = location.strip(C0_AND_SPACE)
    if _SCHEME.match(location):
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


def _expand(link: _Link, policy: LinkPolicy) -> tuple[_Link, list[str]]:
    """Follow a shortened link's redirects while they stay on shorteners: the destination, and every
    address redirected to. Each is checked by the block rules and resolved to public addresses before
    anything connects to it."""
    current, redirects = link, []
    seen = {link.parsed.serialise().partition("#")[0]}
    while True:
        address = _pinned_address(current.parsed, policy)
        if not policy.is_shortener(current.parsed.host):
            return current, redirects
        if len(redirects) == policy.max_hops:
            raise _Stop(BLOCK, f"it goes through more than {policy.max_hops} redirects, so the gateway stopped following it")
        location = _fetch_location(current.parsed, address, policy)
        current = _read(_resolve_reference(current.parsed, location))
        blocks = _block_reasons(current, policy)
        if blocks:
            raise _Stop(BLOCK, f"it redirects to {current.text}, and {'; '.join(blocks)}")
        key = current.parsed.serialise().partition("#")[0]
        if key in seen:
            raise _Stop(BLOCK, f"it redirects in a circle (back to {current.text}), so it cannot be checked")
        seen.add(key)
        redirects.append(key)


# --- An optional safe-browsing lookup (Google Safe Browsing v4 / Web Risk lookup format) ---

THREAT_WORDS = {
    "MALWARE": "harmful software",
    "SOCIAL_ENGINEERING": "a trick or phishing site",
    "UNWANTED_SOFTWARE": "unwanted software",
    "POTENTIALLY_HARMFUL_APPLICATION": "a harmful app",
}


def _safe_browsing_reason(urls: list[str], policy: LinkPolicy) -> tuple[str, str] | None:
    """POST the addresses to the configured lookup service; a block reason if it lists any, a review one if it fails."""
    endpoint = urllib.parse.urlsplit(policy.safe_browsing_url)
    body = json.dumps({
        "client": {"clientId": "school-social-gateway", "clientVersion": "1"},
        "threatInfo": {
            "threatTypes": sorted(THREAT_WORDS), "platformTypes": ["ANY_PLATFORM"],
            "threatEntryTypes": ["URL"], "threatEntries": [{"url": u} for u in urls],
        },
    })
    connection_class = http.client.HTTPSConnection if endpoint.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(endpoint.netloc, timeout=policy.timeout)
    target = f"{endpoint.path or '/'}?key={urllib.parse.quote(policy.safe_browsing_key, safe='')}"
    try:
        connection.request("POST", target, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read(1_000_000) or b"{}") if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        answer = None
    finally:
        connection.close()
    matches = answer.get("matches", []) if isinstance(answer, dict) else None
    if not isinstance(matches, list):
        return REVIEW, "the safe-browsing check could not be done, so check the link by hand"
    if not matches:
        return None
    kinds = sorted({THREAT_WORDS.get(m.get("threatType"), "dangerous") if isinstance(m, dict) else "dangerous"
                    for m in matches})
    return BLOCK, f"a safe-browsing service lists it as {' and '.join(kinds)}"


# --- The public entry points ---

def check_link(url: str, policy: LinkPolicy) -> LinkResult:
    """Read one link as a browser would and apply the school's rules; fetches nothing unless the policy says so."""
    link = _read(url)
    reasons = _assess(link, policy)
    looked_up = [link.parsed.serialise()] if link.parsed else []
    if policy.expand_shortened and link.parsed and link.parsed.host and policy.is_shortener(link.parsed.host) \
            and not any(severity == BLOCK for severity, _ in reasons):
        try:
            destination, redirects = _expand(link, policy)
        except _Stop as stop:
            reasons.append((stop.severity, stop.reason))
        else:
            final = destination.parsed.serialise()
            reasons = [(INFO, f"it is a shortened link that leads to {final}")] + _assess(destination, policy)
            looked_up += redirects + [final]
    if policy.safe_browsing_url and policy.safe_browsing_key and looked_up \
            and not any(severity == BLOCK for severity, _ in reasons):
        listed = _safe_browsing_reason(list(dict.fromkeys(looked_up)), policy)
        if listed:
            reasons.append(listed)
    reasons.sort(key=lambda r: SEVERITY_ORDER[r[0]])
    severities = {severity for severity, _ in reasons}
    verdict = BLOCK if BLOCK in severities else REVIEW if REVIEW in severities else "pass"
    return LinkResult(
        url=url,
        normalised=link.parsed.serialise() if link.parsed else url,
        host=link.parsed.host if link.parsed else "",
        verdict=verdict,
        reasons=[reason for _, reason in reasons],
    )


def check_links(texts: list[tuple[str, str]], policy: LinkPolicy) -> tuple[list[dict], list[Finding]]:
    """Check every distinct link in (subject, text) pairs once; one finding per link that does not pass."""
    normalised: dict[str, str] = {}  # as written -> normalised
    results: dict[str, tuple[LinkResult, list[str]]] = {}  # normalised -> result, where it was found
    for subject, text in texts:
        for url in find_links(text):
            if url not in normalised:
                result = check_link(url, policy)
                normalised[url] = result.normalised
                results.setdefault(result.normalised, (result, []))
            found_in = results[normalised[url]][1]
            if subject not in found_in:
                found_in.append(subject)
    rows, findings = [], []
    for result, found_in in results.values():
        rows.append({"url": result.url, "host": result.host, "verdict": result.verdict, "reasons": result.reasons})
        if result.verdict == "pass":
            continue
        because = "; ".join(result.reasons)
        message = (f"Remove or change the link {result.url}: {because}." if result.verdict == BLOCK
                   else f"Check the link {result.url} before it is posted: {because}.")
        findings.append(Finding(
            f"link_{result.verdict}", result.verdict, message, found_in[0],
            {"url": result.url, "normalised": result.normalised, "host": result.host,
             "reasons": result.reasons, "found_in": found_in},
        ))
    return rows, findings


# --- Finding links in text ---

_SCHEME_URL = re.compile(
    r"(?i)(?<![a-z0-9+.\-])(?:[a-z][a-z0-9+.\-]*:[/\\]{2}|(?:https?|javascript|vbscript|file|blob):|data:[^\s,]*,)[^\s<>\"]*"
)
_TOKEN = re.compile(r"[^\s<>\"]+")
_WORD = re.compile(r"\S+")
# X's URL pattern slows down with the square of a long name's length and dots (seconds for one
# 2,000-character word), so it is only asked about words whose name part could be a host name:
# at most 253 characters in DNS, with room for a user name and port, and no more than 20 dots.
X_NAME_LIMIT = 300
X_DOT_LIMIT = 20
_DOT = "[.\u3002\uff0e\uff61]"  # browsers read the ideographic and full-width full stops as dots
_BARE_IP_HOST = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]")
_BARE_NAME = re.compile(rf"(?:[^\W_][\w\-]*{_DOT})+[^\W\d_][\w\-]*{_DOT}?")
_LEADING = "([{'‘“«"
_TRAILING = ".,;:!?'\"’”»…"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def _trim(text: str, start: int, end: int) -> int:
    """The end of a link without the punctuation that ends the sentence around it."""
    while end > start:
        char = text[end - 1]
        if char in _TRAILING or (char in _CLOSERS and text.count(char, start, end) > text.count(_CLOSERS[char], start, end)):
            end -= 1
        else:
            break
    return end


def _is_bare_link(token: str) -> bool:
    """A link X does not make but a reader might: a numeric host, or a name in non-English letters or Punycode."""
    host = re.split(r"[/?#\\]", token, maxsplit=1)[0]
    if host.startswith("["):
        host = host[:host.find("]") + 1]
    else:
        host = host.rsplit(":", 1)[0] if re.search(r":\d+$", host) else host
    if _BARE_IP_HOST.fullmatch(host):
        return True
    if not _BARE_NAME.fullmatch(host) or (host.isascii() and "xn--" not in host.lower()):
        return False
    try:
        return bool(_PSL(parse_host(host)).suffix)
    except URLError:
        return False


def _x_spans(text: str):
    """X's own links, asked word by word (a link never spans whitespace) and only where a host name can be."""
    for word in _WORD.finditer(text):
        name = re.split(r"[/?#]", word.group().split("://", 1)[-1], maxsplit=1)[0]
        if "." in name and len(name) <= X_NAME_LIMIT and name.count(".") <= X_DOT_LIMIT:
            for found in extract_urls_with_indices(word.group()):
                start, end = found["indices"]
                yield word.start() + start, word.start() + end


def _spans(text: str):
    """(start, end) of every candidate: X's links, anything with a scheme, bare numeric hosts and look-alikes."""
    yield from _x_spans(text)
    for m in _SCHEME_URL.finditer(text):
        end = _trim(text, m.start(), m.end())
        if not re.fullmatch(r"[^:]+:[/\\]*", text[m.start():end]):
            yield m.start(), end
    for m in _TOKEN.finditer(text):
        unwrapped = m.start()
        while unwrapped < m.end() and text[unwrapped] in _LEADING:
            unwrapped += 1
        for start in dict.fromkeys((m.start(), unwrapped)):  # "[::1]" keeps its bracket, "(example)" loses it
            end = _trim(text, start, m.end())
            if end > start and _is_bare_link(text[start:end]):
                yield start, end
                break


def find_links(text: str) -> list[str]:
    """Every URL-like string in the text, in order, each once: what X links (with or without a scheme),
    plus anything with a scheme, numeric hosts and names in other alphabets that X leaves as text."""
    kept: list[tuple[int, int]] = []
    for start, end in sorted(set(_spans(text)), key=lambda s: (s[0], -s[1])):
        if kept and start < kept[-1][1]:  # overlaps the last one kept: keep the longer
            if end - start > kept[-1][1] - kept[-1][0]:
                kept[-1] = (start, end)
            continue
        kept.append((start, end))
    return list(dict.fromkeys(text[s:e] for s, e in kept))
