"""Offensive language in a post's text or alt text: each word found is a `review` finding.

Policy §6: "the content of any school-sanctioned social media site should be solely professional".
A person decides (SMT review), so this flags rather than blocks.

The words are in data/offensive_words.txt. A word of the text matches a listed word when, after
normalising, it is that whole word, possibly with a usual ending (-s, -es, -ed, -ing, -in, -er,
-ers, -y). Normalising: accents removed (workers.checks.names.fold), lower case, look-alike characters
read as letters (@ and 4 as a, 3 as e, 0 as o, $ and 5 as s, 7 as t, 1 ! and | as i or l; i and l
are not told apart), and any letter may be repeated ("shiiiit"). A * inside a word stands for one
hidden letter ("f*ck", "sh*t"). Only whole words are compared, so "Scunthorpe", "class",
"assess", "Sussex", "Dickens", "cocktail" and "Penistone" never match.
"""
from __future__ import annotations

import re
from itertools import groupby
from pathlib import Path

from moderation.findings import REVIEW, Finding
from workers.checks.names import fold

__all__ = ["check_tone", "offensive_words"]

_DATA = Path(__file__).with_name("data") / "offensive_words.txt"
_ENDINGS = ("", "s", "es", "ed", "ing", "in", "er", "ers", "y")
_LOOKALIKE = str.maketrans({"@": "a", "4": "a", "3": "e", "0": "o", "$": "s", "5": "s", "7": "t",
                            "1": "i", "!": "i", "|": "i", "l": "i"})
_TOKEN = re.compile(r"[a-z0-9@$!|*]+")


def _load() -> list[str]:
    words = []
    for line in _DATA.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.append(line.split()[0])
    return words


def _runs(skeleton: str) -> tuple[str, tuple[int, ...]]:
    """'shiiit' -> ('shit', (1, 1, 3, 1)): the letters with repeats collapsed, and how often each came."""
    letters, counts = [], []
    for ch, group in groupby(skeleton):
        letters.append(ch)
        counts.append(sum(1 for _ in group))
    return "".join(letters), tuple(counts)


def offensive_words() -> list[str]:
    return list(_WORDS)


_WORDS = _load()
_BY_RUNS: dict[str, list[tuple[tuple[int, ...], str]]] = {}   # collapsed skeleton -> (minimum counts, word)
_FORMS: list[tuple[str, str]] = []                             # (skeleton of each form, word)
for _word in _WORDS:
    for _ending in _ENDINGS:
        _skeleton = (_word + _ending).translate(_LOOKALIKE)
        _letters, _counts = _runs(_skeleton)
        _BY_RUNS.setdefault(_letters, []).append((_counts, _word))
        _FORMS.append((_skeleton, _word))


def _match(token: str) -> str | None:
    """The listed word that token is a form of, or None."""
    token = token.strip("*!|")
    if not token or not any(c.isalpha() for c in token) or token.isdigit():
        return None
    skeleton = token.translate(_LOOKALIKE)
    if "*" in skeleton:
        if not skeleton[0].isalpha() or sum(c.isalpha() for c in skeleton) < 2:
            return None
        pattern = re.compile(re.escape(skeleton).replace(r"\*", "[a-z]"))
        for form, word in _FORMS:
            if len(form) == len(skeleton) and pattern.fullmatch(form):
                return word
        return None
    letters, counts = _runs(skeleton)
    for minimum, word in _BY_RUNS.get(letters, ()):
        if all(c >= m for c, m in zip(counts, minimum)):
            return word
    return None


def check_tone(text: str, subject: str) -> list[Finding]:
    """A review finding for each offensive word, with the word masked ("f***") and where it is."""
    findings = []
    folded = fold(text)
    if len(folded) != len(text):          # folding changed lengths: map spans back by position
        positions = []
        for i, c in enumerate(text):
            positions.extend([i] * len(fold(c)))
        positions.append(len(text))
    else:
        positions = None
    for m in _TOKEN.finditer(folded):
        word = _match(m.group())
        if word is None:
            continue
        start, end = m.start(), m.end()
        if positions is not None:
            start, end = positions[start], positions[end - 1] + 1
        written = text[start:end].strip("*!|")
        masked = written[:1] + "*" * (len(written) - 1)
        findings.append(Finding(
            "offensive_language", REVIEW,
            f"The {subject} has a word that many people find offensive (\"{masked}\"). "
            f"School accounts must stay professional: please reword it.",
            subject, {"start": start, "end": end, "masked": masked, "listed_as": word[:1] + "*" * (len(word) - 1)},
        ))
    return findings
