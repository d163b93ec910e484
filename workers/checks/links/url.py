"""Reading a URL the way a browser does (WHATWG URL standard, for the parts the checks need)."""
from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

import idna

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


class URLError(ValueError):
    """The address cannot be read as a web address; the message says why, in plain words."""


C0_AND_SPACE = "".join(map(chr, range(0x21)))
_REMOVED_BY_BROWSERS = str.maketrans("", "", "\t\n\r")
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(?!\d)")
ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_AUTHORITY_END = re.compile(r"[/\\?#]")
_FORBIDDEN_IN_HOST = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
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

    return ESCAPE.sub(tidy, encoded)


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


def decode_label(label: str) -> str:
    """A Punycode ("xn--") label in its own letters; URLError for one that only spells plain letters or is broken."""
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
            decode_label(label)
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


def has_scheme(text: str) -> bool:
    """Whether the text starts with a scheme ("https:", "javascript:"...) once browsers' tidying is applied."""
    return bool(SCHEME.match(text.strip(C0_AND_SPACE).translate(_REMOVED_BY_BROWSERS)))


def parse_url(text: str) -> ParsedURL:
    """Read an absolute URL as a browser would (WHATWG URL standard); URLError if a browser would refuse it."""
    s = text.strip(C0_AND_SPACE).translate(_REMOVED_BY_BROWSERS)
    m = SCHEME.match(s)
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
