"""Finding links in a post's text as X and other readers would, and judging each one: the check's entry points."""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

from moderation.findings import BLOCK, INFO, REVIEW, Finding
from workers.checks.links.expand import Stopped, expand
from workers.checks.links.hosts import PSL
from workers.checks.links.policy import LinkPolicy
from workers.checks.links.rules import assess, read
from workers.checks.links.safe_browsing import safe_browsing_reason
from workers.checks.links.url import URLError, parse_host

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # twitter_text imports the deprecated pkg_resources
    from twitter_text import extract_urls_with_indices

SEVERITY_ORDER = {BLOCK: 0, REVIEW: 1, INFO: 2}


@dataclass
class LinkResult:
    url: str  # as written
    normalised: str
    host: str
    verdict: str  # "pass" | "review" | "block"
    reasons: list[str]  # plain words


def check_link(url: str, policy: LinkPolicy) -> LinkResult:
    """Read one link as a browser would and apply the school's rules; fetches nothing unless the policy says so."""
    link = read(url)
    reasons = assess(link, policy)
    looked_up = [link.parsed.serialise()] if link.parsed else []
    if policy.expand_shortened and link.parsed and link.parsed.host and policy.is_shortener(link.parsed.host) \
            and not any(severity == BLOCK for severity, _ in reasons):
        try:
            destination, redirects = expand(link, policy)
        except Stopped as stop:
            reasons.append((stop.severity, stop.reason))
        else:
            final = destination.parsed.serialise()
            reasons = [(INFO, f"it is a shortened link that leads to {final}")] + assess(destination, policy)
            looked_up += redirects + [final]
    if policy.safe_browsing_url and policy.safe_browsing_key and looked_up \
            and not any(severity == BLOCK for severity, _ in reasons):
        listed = safe_browsing_reason(list(dict.fromkeys(looked_up)), policy)
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
        return bool(PSL(parse_host(host)).suffix)
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
