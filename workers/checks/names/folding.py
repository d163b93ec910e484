"""Folding text to the form names are compared in, remembering where each folded character came from."""
from __future__ import annotations

import bisect
import unicodedata
from typing import Callable

_SPECIAL = {
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u2010": "-", "\u2011": "-",
    "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\u00ad": "",
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i",
    "ħ": "h", "Ħ": "H", "ŀ": "l", "Ŀ": "L",
}
_FOLD_CACHE: dict[str, str] = {}


def fold_char(c: str) -> str:
    """One character folded, keeping its case; "" for the characters that are dropped."""
    f = _FOLD_CACHE.get(c)
    if f is None:
        if c in _SPECIAL:
            f = _SPECIAL[c]
        elif c.isascii():
            f = c
        else:
            f = "".join(ch for ch in unicodedata.normalize("NFKD", c) if not unicodedata.combining(ch))
        if len(_FOLD_CACHE) < 20000:
            _FOLD_CACHE[c] = f
    return f


def fold(text: str) -> str:
    """The form names are compared in: no accents, plain apostrophes and hyphens, lower case."""
    return "".join(fold_char(c) for c in text).lower()


def sentence_start(n: str, pos: int) -> bool:
    """Whether folded text n has a sentence (or line) starting at pos."""
    k = pos - 1
    while k >= 0 and n[k] in " \t\"'([*_-\u2022\u00b7\u201c\u201d\u2013\u2014":
        k -= 1
    return k < 0 or n[k] in ".!?\n\r\u2028\u2029"


class Text:
    """The original text, its folded form (cased `n` and lower-case `low`) and the way back."""

    def __init__(self, text: str):
        self.orig = text
        chars: list[str] = []
        omap: list[int] = []
        for i, c in enumerate(text):
            f = fold_char(c)
            if f:
                chars.append(f)
                omap.extend([i] * len(f))
        self.n = "".join(chars)
        low = self.n.lower()
        if len(low) != len(self.n):
            low = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in self.n)
        self.low = low
        self.omap = omap

    def ospan(self, ns: int, ne: int) -> tuple[int, int]:
        """The original span of folded span [ns, ne), with any marks that folded to nothing after it."""
        if ne <= ns:
            o = self.omap[ns] if ns < len(self.omap) else len(self.orig)
            return o, o
        os_, oe = self.omap[ns], self.omap[ne - 1] + 1
        while oe < len(self.orig) and fold_char(self.orig[oe]) == "":
            oe += 1
        return os_, oe

    def apostrophe(self, n_pos: int) -> str:
        """The apostrophe as written at folded position n_pos: a curly one stays curly."""
        c = self.orig[self.omap[n_pos]]
        return c if c in "'\u2019" else "'"

    def folded_pos(self) -> Callable[[int], int]:
        """Map an original index to the folded index of the first character at or after it."""
        omap = self.omap

        def pos(o: int) -> int:
            return bisect.bisect_left(omap, o)
        return pos
