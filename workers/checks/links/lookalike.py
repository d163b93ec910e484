"""Sites dressed up as one on the school's allow list: the allowed name inside another one (bbc.co.uk.evil.com,
www.nhs.uk-login.com), written with dashes for dots or with the dots left out (bbc-co-uk.com), or one edit away
(bbcc.co.uk; g0v.uk, with a digit or a letter of another alphabet for a letter)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from confusable_homoglyphs import confusables

from workers.checks.links.hosts import display_host, registrable_domain

# digits written for the letters they look like
DIGITS = str.maketrans("013457", "oleast")
# pairs of letters that read as one at a glance
PAIRS = (("rn", "m"), ("vv", "w"))
# below this many letters an allowed name's own part differs from ordinary words by one letter (bbc, abc, nbc), so
# only a digit or a foreign letter, a doubled letter, a swap or a change in its ending makes a look-alike
SHORT = 4


@functools.lru_cache(maxsize=4096)
def ascii_lookalike(char: str) -> str | None:
    """The ordinary letter or digit a non-ASCII character can pass for, if any."""
    for entry in confusables.is_confusable(char, greedy=True, preferred_aliases=[]) or []:
        for glyph in entry["homoglyphs"]:
            if glyph["c"].isascii() and glyph["c"].isalnum():
                return glyph["c"]
    return None


def skeleton(name: str) -> str:
    """The name as it reads at a glance: letters of other alphabets and digits as the letters they imitate."""
    text = "".join(c if c.isascii() else ascii_lookalike(c) or c for c in name.lower()).translate(DIGITS)
    for pair, letter in PAIRS:
        text = text.replace(pair, letter)
    return text


@dataclass(frozen=True)
class Protected:
    """An allow entry as a name to protect: `shown` as people know it, `domain` what it covers."""

    shown: str
    domain: str

    @property
    def label(self) -> str:
        """The part its owner chose: bbc of bbc.co.uk; gov of gov.uk."""
        suffix = registrable_domain(self.domain)
        return (suffix or self.domain).split(".", 1)[0]


def protected(allow: tuple[str, ...]) -> tuple[Protected, ...]:
    """The names to protect, from normalised allow entries: *.bbc.co.uk protects bbc.co.uk (shown as www.bbc.co.uk),
    www.example.org protects example.org, news.example.org that name."""
    found = {}
    for entry in allow:
        subtree = entry.startswith("*.")
        host = entry[2:] if subtree else entry
        domain = host[4:] if host.startswith("www.") and host.count(".") > 1 else host
        found.setdefault(domain, Protected(f"www.{domain}" if subtree else host, domain))
    return tuple(found.values())


def _bounded(host: str, name: str) -> bool:
    """Whether name stands in host between dots, dashes or the ends."""
    start = host.find(name)
    while start >= 0:
        end = start + len(name)
        if (start == 0 or host[start - 1] in ".-") and (end == len(host) or host[end] in ".-"):
            return True
        start = host.find(name, start + 1)
    return False


def _one_edit(a: str, b: str) -> tuple[str, int] | None:
    """How a differs from b by one edit ("added", "dropped", "swapped" or "changed") and where, in the longer of the
    two; None when it differs by more, or not at all."""
    if a == b or abs(len(a) - len(b)) > 1:
        return None
    if len(a) != len(b):
        longer, shorter = (a, b) if len(a) > len(b) else (b, a)
        k = next((i for i in range(len(shorter)) if longer[i] != shorter[i]), len(shorter))
        if longer[k + 1:] != shorter[k:]:
            return None
        return ("added" if longer is a else "dropped"), k
    diffs = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diffs) == 1:
        return "changed", diffs[0]
    if len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]:
        return "swapped", diffs[0]
    return None


def _near(owner: str, name: Protected) -> bool:
    """One edit from the allowed name, reading digits and foreign letters as the letters they imitate."""
    ours, theirs = skeleton(owner), skeleton(name.domain)
    if ours == theirs:
        return True  # g0v.uk, or gov.uk in Cyrillic letters
    found = _one_edit(ours, theirs)
    if found is None:
        return False
    edit, k = found
    if len(name.label) >= SHORT or edit == "swapped" or owner.split(".", 1)[0] == name.label:
        return True  # a long name; or a short one swapped, or with another ending (bbc.co.um)
    longer = max(ours, theirs, key=len)
    return edit in ("added", "dropped") and k > 0 and longer[k] == longer[k - 1]  # a doubled letter: bbcc, bc


def imitates(host: str, names: tuple[Protected, ...]) -> Protected | None:
    """The allowed name this host is dressed up as, if any. A real part of an allowed site imitates nothing."""
    shown = display_host(host)
    owner = registrable_domain(shown) or shown
    label = owner.split(".", 1)[0]
    squashed = label.replace("-", "")
    for name in names:
        if shown == name.domain or shown.endswith("." + name.domain):
            continue
        dashed = name.domain.replace(".", "-")
        if (_bounded(shown, name.domain) or _bounded(label, dashed)
                or squashed in (name.domain.replace(".", ""), "www" + name.domain.replace(".", ""))
                or _near(owner, name)):
            return name
    return None


def owner_of(host: str) -> str:
    """Who really holds a host, as people read it: its registrable domain, or its last two labels."""
    shown = display_host(host)
    return registrable_domain(shown) or ".".join(shown.split(".")[-2:])
