"""The rules one link is judged by, without fetching anything: what blocks it, and what needs a person to look."""
from __future__ import annotations

import re
import unicodedata
import urllib.parse
from dataclasses import dataclass

from confusable_homoglyphs import confusables

from moderation.findings import BLOCK, REVIEW
from workers.checks.links.hosts import (
    display_host, has_public_suffix, ip_of, is_private_ip, is_private_name, other_readings,
)
from workers.checks.links.lookalike import ascii_lookalike, imitates, owner_of
from workers.checks.links.policy import LinkPolicy
from workers.checks.links.url import ESCAPE, ParsedURL, URLError, has_scheme, parse_url

WEB_SCHEMES = ("http", "https")
EXECUTABLE_EXTENSIONS = frozenset({
    "exe", "msi", "msix", "appx", "apk", "scr", "pif", "bat", "cmd", "com", "js", "jse", "jar", "vbs", "vbe",
    "wsf", "hta", "ps1", "reg", "lnk", "cpl", "dmg", "pkg", "deb", "rpm", "iso",
})
LONG_QUERY = 200  # characters after "?"
MANY_ESCAPES = 10  # %xx sequences after "?"


@dataclass(frozen=True)
class Link:
    """A link as written and as read: `parsed` is None when it cannot be read, and `error` says why."""

    text: str
    absolute: str  # with https:// put in front of a link written without a scheme
    parsed: ParsedURL | None
    error: str | None


def read(text: str) -> Link:
    absolute = text if has_scheme(text) else f"https://{text}"
    try:
        return Link(text, absolute, parse_url(absolute), None)
    except URLError as exc:
        return Link(text, absolute, None, str(exc))


def _has_hidden_characters(text: str) -> bool:
    return any(c < " " or "\x7f" <= c <= "\x9f" or unicodedata.category(c) == "Cf" for c in text)


def _scheme_reason(scheme: str) -> str:
    if scheme in ("javascript", "vbscript"):
        return f"it starts with “{scheme}:”, which runs code instead of opening a web page"
    if scheme == "data":
        return "it starts with “data:”, which carries hidden content inside the link instead of opening a web page"
    return f"it starts with “{scheme}:”, but only web page links (https://) are allowed"


def _lookalike_reason(host: str) -> str | None:
    shown = display_host(host)
    if shown == host:
        return None
    imitated = "".join(c if c.isascii() else ascii_lookalike(c) or c for c in shown)
    target = f"“{imitated}”" if imitated.isascii() and imitated != shown else "another site"
    for label in shown.split("."):
        if label.isascii():
            continue
        if confusables.is_mixed_script(label):
            return f"the site name {shown} mixes letters from different alphabets, so it may be pretending to be {target}"
        fakes = [(c, ascii_lookalike(c)) for c in label if not c.isascii() and ascii_lookalike(c)]
        if fakes:
            char, looks_like = fakes[0]
            name = unicodedata.name(char, "a foreign letter").lower()
            return (f"the site name {shown} uses letters that look like English ones but are not (“{char}”, {name}, "
                    f"looks like “{looks_like}”), so it may be pretending to be {target}")
    return None


def _name_reasons(host: str, policy: LinkPolicy) -> list[str]:
    """What is wrong with a site name: private, with no real internet ending, or dressed up as another site."""
    reasons = []
    if is_private_name(host):
        reasons.append(f"{host} is the name of a computer on a private network, not a public web site")
    elif not has_public_suffix(host):
        ending = display_host(host).rsplit(".", 1)[-1]
        reasons.append(f"{display_host(host)} does not end in a real internet ending (“.{ending}” is not one), so it "
                       "cannot be a public web site")
    copied = None if policy.is_allowed(host) else imitates(host, policy.protected)
    if copied:
        reasons.append(f"it looks like {copied.shown} but is {owner_of(host)}, a different site made to be mistaken "
                       "for it")
    lookalike = _lookalike_reason(host)
    if lookalike:
        reasons.append(lookalike)
    return reasons


def _executable(path: str) -> str | None:
    name = urllib.parse.unquote(path.rsplit("/", 1)[-1]).lower().rstrip(". ")
    extension = name.rpartition(".")[2] if "." in name else ""
    return extension if extension in EXECUTABLE_EXTENSIONS else None


def _query_reasons(query: str) -> list[str]:
    reasons = []
    if len(query) > LONG_QUERY:
        reasons.append("the part after “?” is very long, which can hide tracking or other content")
    if len(ESCAPE.findall(query)) >= MANY_ESCAPES:
        reasons.append("the part after “?” is heavily encoded, which can hide where the link leads")
    if re.search(r"(?i)https?:|www\.", urllib.parse.unquote(query)):
        reasons.append("it carries another web address after “?”, which may send readers on to that site")
    return reasons


def block_reasons(link: Link, policy: LinkPolicy) -> list[str]:
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
    readings = other_readings(link.absolute) - {url.host}
    if readings:
        others = ", ".join(sorted(display_host(r) if r else "no site at all" for r in readings))
        reasons.append(f"browsers open {display_host(url.host)} but other programs read it as {others}")
    if url.userinfo is not None:
        reasons.append("it has a user name or password before the site name (the part before “@”), "
                       "which can disguise where it goes")
    ip = ip_of(url.host)
    if ip:
        reasons.append(f"it uses a numeric internet address ({ip}) instead of a site name")
        if is_private_ip(ip):
            reasons.append(f"it points at a private or local network ({ip}), not a public web site")
    else:
        reasons += _name_reasons(url.host, policy)
    if policy.is_blocked(url.host):
        reasons.append(f"{display_host(url.host)} is on the school's list of blocked sites")
    extension = _executable(url.path)
    if extension:
        reasons.append(f"it downloads a program or installer (a .{extension} file), which could harm computers")
    return reasons


def _review_reasons(link: Link, policy: LinkPolicy) -> list[str]:
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


def assess(link: Link, policy: LinkPolicy) -> list[tuple[str, str]]:
    """(severity, reason) for every rule the link breaks."""
    blocks = block_reasons(link, policy)
    if blocks:
        return [(BLOCK, r) for r in blocks]
    return [(REVIEW, r) for r in _review_reasons(link, policy)]
