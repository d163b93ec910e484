"""One text being checked: folded, cut into atoms (runs of letters), with its links, e-mail
addresses, hashtags and mentions marked as zones, and the plan being made for it."""
from __future__ import annotations

import re
import warnings

from workers.checks.names.folding import Text
from workers.checks.names.model import Plan
from workers.checks.names.roster import LETTERS, Roster

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # twitter_text imports the deprecated pkg_resources
    from twitter_text import extract_urls_with_indices

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_TAG = re.compile(r"(?<![\w@#&/.'])([#@])\w+(?:[#@]\w+)*")     # "#a#b" is taken as one

Zone = tuple[int, int, str]          # folded span and "link" | "e-mail" | "#" | "@"


class Atom:
    """A run of letters in the folded text, `key` in lower case; zone is its zone's index or None."""
    __slots__ = ("ns", "ne", "key", "zone")

    def __init__(self, ns: int, ne: int, key: str, zone):
        self.ns, self.ne, self.key, self.zone = ns, ne, key, zone


def _zones(t: Text) -> list[Zone]:
    """Folded spans of links, e-mail addresses, hashtags and mentions, in order."""
    spans = []
    opos = t.folded_pos()
    for u in extract_urls_with_indices(t.orig):
        s, e = u["indices"]
        spans.append((opos(s), opos(e), "link"))
    for m in _EMAIL.finditer(t.orig):
        spans.append((opos(m.start()), opos(m.end()), "e-mail"))
    spans.sort()
    for m in _TAG.finditer(t.n):
        if not any(s <= m.start() < e for s, e, _ in spans):
            spans.append((m.start(), m.end(), m.group(1)))
    spans.sort()
    merged: list[Zone] = []
    for s, e, w in spans:
        if merged and s < merged[-1][1]:
            continue
        merged.append((s, e, w))
    return merged


def _atoms(t: Text, zones: list[Zone]) -> list[Atom]:
    """The runs of letters of the lower-case folded text, each with the zone it lies in."""
    atoms = []
    zi = 0
    for m in LETTERS.finditer(t.low):
        zone = None
        while zi < len(zones) and zones[zi][1] <= m.start():
            zi += 1
        if zi < len(zones) and zones[zi][0] <= m.start() < zones[zi][1]:
            zone = zi
        atoms.append(Atom(m.start(), m.end(), m.group(), zone))
    return atoms


class Scan:
    """The text, its zones and atoms, the roster and the plan made so far."""

    def __init__(self, text: str, roster: Roster, include_staff: bool):
        self.t = Text(text)
        self.roster = roster
        self.include_staff = include_staff
        self.plan = Plan()
        self.zones = _zones(self.t)
        self.atoms = _atoms(self.t, self.zones)

    def in_tag(self, atom: Atom) -> bool:
        """Whether the atom is part of a hashtag or a mention."""
        return atom.zone is not None and self.zones[atom.zone][2] in ("#", "@")
