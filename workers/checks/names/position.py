"""Where a hashtag or mention stands: inside a sentence ("Well done to #AmeliaHartley!"), where taking it out would
break the sentence, or in a block of tags after it ("What a day! #AmeliaHartley #SportsDay"), where it can go."""
from __future__ import annotations

import re

from workers.checks.names.scan import Scan

# words after which a tag that ends its sentence is what the sentence is about, not a tag added after it
CONNECTORS = frozenset({"to", "from", "with", "and", "&", "of", "for", "by", "congratulations", "congrats"})
_SENTENCE_END = re.compile(r"[.!?\u2026\r\n]")
_LAST_WORD = re.compile(r"(?:\w+|&)$")


def _is_tag(zone) -> bool:
    return zone[2] in ("#", "@")


def _run(s: Scan, k: int) -> tuple[int, int]:
    """The first and last zone of the run of tags (one after another, spaces between) that zone k is in."""
    zones, n = s.zones, s.t.n
    first = last = k
    while first > 0 and _is_tag(zones[first - 1]) and n[zones[first - 1][1]:zones[first][0]].isspace():
        first -= 1
    while last + 1 < len(zones) and _is_tag(zones[last + 1]) and n[zones[last][1]:zones[last + 1][0]].isspace():
        last += 1
    return first, last


def in_sentence(s: Scan, k: int) -> bool:
    """Whether the tag of zone k is a part of a sentence: words follow it in its sentence, or it alone ends the
    sentence after a word such as "to" or "and"."""
    n = s.t.n
    first, last = _run(s, k)
    after = n[s.zones[last][1]:]
    stop = _SENTENCE_END.search(after)
    if any(c.isalnum() for c in after[:stop.start() if stop else len(after)]):
        return True
    before = n[:s.zones[first][0]].rstrip()
    word = _LAST_WORD.search(before)
    return first == last and word is not None and word.group().lower() in CONNECTORS
