"""Grapheme clusters: what a reader sees as one character (an emoji family, a flag, a letter with its accents), the
unit Bluesky and Mastodon count a post's length in.

The `regex` module (whose \\X matches a grapheme cluster) is not in the gateway's environment, so `grapheme_length`
implements the extended grapheme cluster rules of Unicode's UAX #29 (GB3-GB13) itself, on Python's own Unicode data
plus the few properties `unicodedata` lacks (the tables below: Unicode 14, Python 3.11's version, except U+11A3A,
no longer Prepend since Unicode 15).  It was checked against Perl's \\X (Unicode 14: the same count for every
sample) and a recent regex module's (newer Unicode: never fewer).  It leaves out rule GB9c (Indic conjuncts,
Unicode 15.1), by which a Devanagari conjunct is one cluster where this counts two: it can over-count, never let
through a text a network would refuse.
"""
from __future__ import annotations

import unicodedata
from bisect import bisect_right
from functools import lru_cache


def _ranges(spec: str) -> tuple[list[int], list[int]]:
    """('A9 2194-2199 ...') -> (starts, ends) for bisecting."""
    pairs = [item.partition("-") for item in spec.split()]
    return [int(a, 16) for a, _, _ in pairs], [int(b or a, 16) for a, _, b in pairs]


def _within(cp: int, table: tuple[list[int], list[int]]) -> bool:
    i = bisect_right(table[0], cp) - 1
    return i >= 0 and cp <= table[1][i]


_PICTOGRAPHIC = _ranges(
    "A9 AE 203C 2049 2122 2139 2194-2199 21A9-21AA 231A-231B 2328 2388 23CF 23E9-23F3 23F8-23FA 24C2 25AA-25AB 25B6 "
    "25C0 25FB-25FE 2600-2605 2607-2612 2614-2685 2690-2705 2708-2712 2714 2716 271D 2721 2728 2733-2734 2744 2747 "
    "274C 274E 2753-2755 2757 2763-2767 2795-2797 27A1 27B0 27BF 2934-2935 2B05-2B07 2B1B-2B1C 2B50 2B55 3030 303D "
    "3297 3299 1F000-1F0FF 1F10D-1F10F 1F12F 1F16C-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AD-1F1E5 1F201-1F20F 1F21A "
    "1F22F 1F232-1F23A 1F23C-1F23F 1F249-1F3FA 1F400-1F53D 1F546-1F64F 1F680-1F6FF 1F774-1F77F 1F7D5-1F7FF "
    "1F80C-1F80F 1F848-1F84F 1F85A-1F85F 1F888-1F88F 1F8AE-1F8FF 1F90C-1F93A 1F93C-1F945 1F947-1FAFF 1FC00-1FFFD")
_PREPEND = _ranges("600-605 6DD 70F 890-891 8E2 D4E 110BD 110CD 111C2-111C3 1193F 11941 11A84-11A89 11D46")
# Where the Grapheme_Cluster_Break property differs from what the general category suggests.
_EXTEND_EXTRA = _ranges("9BE 9D7 B3E B57 BBE BD7 CC2 CD5-CD6 D3E D57 DCF DDF 1B35 200C 302E-302F FF9E-FF9F 1133E "
                        "11357 114B0 114BD 115AF 11930 1D165 1D16E-1D172 1F3FB-1F3FF E0020-E007F")
_SPACING_EXTRA = _ranges("E33 EB3")
_MARK_NOT_SPACING = _ranges("102B-102C 1038 1062-1064 1067-106D 1083 1087-108C 108F 109A-109C 1A61 1A63-1A64 AA7B "
                            "AA7D 11720-11721")
_CONTROL_EXTRA = _ranges("2065 FFF0-FFF8 E0000 E0002-E001F E0080-E00FF E01F0-E0FFF")


@lru_cache(maxsize=4096)
def _kind(cp: int) -> str:
    """The character's Grapheme_Cluster_Break value (UAX #29, table 2)."""
    if cp in (0x0D, 0x0A):
        return "CR" if cp == 0x0D else "LF"
    if cp == 0x200D:
        return "ZWJ"
    if 0x1F1E6 <= cp <= 0x1F1FF:
        return "RI"
    if _within(cp, _PREPEND):
        return "Prepend"
    if _within(cp, _EXTEND_EXTRA):
        return "Extend"
    category = unicodedata.category(chr(cp))
    if category in ("Mn", "Me"):
        return "Extend"
    if (category == "Mc" and not _within(cp, _MARK_NOT_SPACING)) or _within(cp, _SPACING_EXTRA):
        return "SpacingMark"
    if category in ("Cc", "Cf", "Zl", "Zp") or _within(cp, _CONTROL_EXTRA):
        return "Control"
    if 0xAC00 <= cp <= 0xD7A3:  # precomposed Hangul syllables: LV when there is no final consonant
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    for kind, low, high in _JAMO:
        if low <= cp <= high:
            return kind
    return "Other"


_JAMO = (("L", 0x1100, 0x115F), ("L", 0xA960, 0xA97C), ("V", 0x1160, 0x11A7), ("V", 0xD7B0, 0xD7C6),
         ("T", 0x11A8, 0x11FF), ("T", 0xD7CB, 0xD7FB))
_HANGUL_JOINS = {("L", "L"), ("L", "V"), ("L", "LV"), ("L", "LVT"), ("LV", "V"), ("LV", "T"), ("V", "V"),
                 ("V", "T"), ("LVT", "T"), ("T", "T")}


def grapheme_length(text: str) -> int:
    """The number of extended grapheme clusters: the length Bluesky holds a post's text to."""
    count = 0
    before = None
    emoji_then_zwj = False  # GB11: the text so far ends in Extended_Pictographic Extend* ZWJ
    in_emoji = False  # ... ends in Extended_Pictographic Extend*
    odd_flags = False  # GB12/13: an odd number of regional indicators ends the text so far
    for ch in text:
        cp = ord(ch)
        kind = _kind(cp)
        pictographic = _within(cp, _PICTOGRAPHIC)
        if before is None or _breaks(before, kind, pictographic and emoji_then_zwj, odd_flags):
            count += 1
        emoji_then_zwj = kind == "ZWJ" and in_emoji
        in_emoji = pictographic or (in_emoji and kind == "Extend")
        odd_flags = kind == "RI" and not odd_flags
        before = kind
    return count


def _breaks(before: str, kind: str, joined_emoji: bool, odd_flags: bool) -> bool:
    """Whether a cluster boundary falls between a character of kind `before` and one of kind `kind`."""
    if before == "CR" and kind == "LF":
        return False  # GB3
    if before in ("Control", "CR", "LF") or kind in ("Control", "CR", "LF"):
        return True  # GB4, GB5
    if (before, kind) in _HANGUL_JOINS:
        return False  # GB6-GB8
    if kind in ("Extend", "ZWJ", "SpacingMark") or before == "Prepend":
        return False  # GB9, GB9a, GB9b
    if before == "ZWJ" and joined_emoji:
        return False  # GB11
    return not (before == "RI" and kind == "RI" and odd_flags)  # GB12, GB13, else GB999
