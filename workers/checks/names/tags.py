"""Names inside hashtags and @mentions: split at capitals, digits and underscores (#WellDoneAmelia,
@amelia_smith), or, where written without capitals, by looking names and ordinary words up."""
from __future__ import annotations

import re
from typing import NamedTuple

from workers.checks.names.folding import fold, sentence_start
from workers.checks.names.lexicon import (
    COMMON_WORDS, CONTEXT_NOUNS, HASHTAG_WORDS, LONGEST_HASHTAG_WORD, NOT_A_PUPIL_AFTER, TITLES,
)
from workers.checks.names.model import Action
from workers.checks.names.position import in_sentence
from workers.checks.names.roster import Roster
from workers.checks.names.scan import Scan

_TITLE_WORDS = TITLES | NOT_A_PUPIL_AFTER


class _Piece(NamedTuple):
    """A run of letters in a hashtag, between digits."""
    cased: str                   # as written, underscores dropped
    low: str                     # in lower case
    bounds: set[int]             # where it splits at capitals or underscores
    before_digits: bool          # digits follow it (#May2025)


def camel_bounds(cased: str) -> set[int]:
    """Where a hashtag piece splits at capitals: WellDoneAmelia -> {0, 4, 8, 14}; OBrien -> {0, 1, 6}."""
    bounds = {0, len(cased)}
    for k in range(1, len(cased)):
        a, b = cased[k - 1], cased[k]
        if a.islower() and b.isupper():
            bounds.add(k)
        elif a.isupper() and b.isupper() and k + 1 < len(cased) and cased[k + 1].islower():
            bounds.add(k)
    return bounds


def _pieces(n: str, body_ns: int, ne: int) -> list[_Piece]:
    """The pieces between digits; underscores are dropped but mark a split, like capitals do."""
    runs = [m.group() for m in re.finditer(r"\d+|[^\W\d]+", n[body_ns:ne])]
    pieces = []
    for pi, raw in enumerate(runs):
        if raw.isdigit():
            continue
        cased = raw.replace("_", "")
        if not cased:
            continue
        bounds = camel_bounds(cased)
        k = 0
        for ch in raw:
            if ch == "_":
                bounds.add(k)
            else:
                k += 1
        before_digits = pi + 1 < len(runs) and runs[pi + 1].isdigit()
        pieces.append(_Piece(cased, cased.lower(), bounds, before_digits))
    return pieces


def plan_tag(s: Scan, k: int) -> None:
    """Plan what to do with the hashtag or mention of zone k: replace it by words if it is only a name and a part of
    a sentence, remove it whole if it names someone otherwise, or ask for a review if it may."""
    ns, ne, mark = s.zones[k]
    t, plan = s.t, s.plan
    remove: list = []
    maybe: list = []
    partial = False
    pieces = _pieces(t.n, ns + 1, ne)
    named = 0                                   # letters of the tag that are names to remove
    for piece in pieces:
        hits, near = _hits_in(s.roster, piece.low, piece.bounds)
        partial = partial or near
        for hs, he, entries in hits:
            verdict, chosen = _judge(s, piece, hs, he, entries, t.ospan(ns, ne))
            if verdict == "remove":
                remove.extend(chosen)
                named += he - hs
            elif verdict == "maybe":
                maybe.append((chosen, piece.cased[hs:he]))
    os_, oe = t.ospan(ns, ne)
    form = "hashtag" if mark == "#" else "mention"
    if remove:
        pids, staff = sorted({e[0] for e in remove}), all(e[1] for e in remove)
        only_name = len(pieces) == 1 and named == len(pieces[0].low) and not any(c.isdigit() for c in t.n[ns:ne])
        if only_name and in_sentence(s, k):
            plan.actions.append(_as_words(s, ns, ne, staff, pids, form))
        else:
            plan.actions.append(Action(os_, oe, os_, oe, "remove", staff, pids, form))
        return
    tag = t.orig[os_:oe]
    for chosen, word in maybe:
        plan.add_review("hashtag", word, chosen, (os_, oe))
        plan.reviews[("hashtag", fold(word))].tag = tag
    if partial and not maybe:
        plan.add_review("hashtag_part", "", [], (os_, oe))


def _as_words(s: Scan, ns: int, ne: int, staff: bool, pids: list[int], form: str) -> Action:
    """A tag that is only a name, in a sentence: replaced by words as the name would be ("#AmeliaSmith's" too)."""
    t, n = s.t, s.t.n
    possessive = None
    end = ne
    if n[ne:ne + 2] in ("'s", "'S") and (ne + 2 == len(n) or not n[ne + 2].isalnum()):
        possessive, end = t.apostrophe(ne), ne + 2
    os_, oe = t.ospan(ns, end)
    letters = [c for c in t.orig[os_:oe] if c.isalpha()]
    caps = len(letters) > 1 and all(c.isupper() for c in letters)
    return Action(os_, oe, os_, oe, "replace", staff, pids, form, possessive, sentence_start(n, ns), caps, ns, end)


def _judge(s: Scan, p: _Piece, hs: int, he: int, entries, span: tuple[int, int]) -> tuple[str, list]:
    """What the name at [hs, he) of a piece calls for: ("remove" | "maybe" | "", the people)."""
    pupils = [e for e in entries if not e[1]]
    staff = [e for e in entries if e[1]]
    low = p.low
    title = next((w for w in _TITLE_WORDS if low.endswith(w, 0, hs)
                  and hs in p.bounds and (hs == len(w) or hs - len(w) in p.bounds)), None)
    if title in NOT_A_PUPIL_AFTER:
        return "", []                           # #StGeorgesDay, #KingCharles
    if title is not None:                       # #ThankYouMrsPatel: as after a title in the text
        if staff:
            return "remove", (staff if s.include_staff else [])
        if pupils:
            s.plan.add_review("title", p.cased[hs - len(title):hs], pupils, span)
        return "", []
    chosen = pupils or (staff if s.include_staff else [])
    if not chosen:
        return "", []
    key = low[hs:he]
    if not (key in COMMON_WORDS or len(key) <= 2):
        return "remove", chosen
    if all(e[2] == "last" for e in chosen):
        return "", []
    after = low[he:]
    if any(after.startswith(w) for w in CONTEXT_NOUNS) or (
            he == len(low) and p.before_digits and COMMON_WORDS.get(key) in ("month", "season")):
        return "", []
    return "maybe", chosen


def _splits(roster: Roster, s: str, bounds: set[int]) -> tuple[list[bool], list[bool]]:
    """head[i]: s[:i] splits into words; tail[j]: s[j:] does (see _hits_in)."""
    root = roster.root
    n = len(s)
    longest = max(roster.maxlen, LONGEST_HASHTAG_WORD)
    camel = len(bounds) > 2
    marks = sorted(bounds)

    def word(p: int, r: int) -> bool:
        tok = s[p:r]
        return (tok in HASHTAG_WORDS or tok in TITLES or (tok[-1:] == "s" and tok[:-1] in HASHTAG_WORDS)
                or (len(tok) >= 3 and None in root.get(tok, ())))

    head = [False] * (n + 1)
    head[0] = True
    for i in range(1, n + 1):
        head[i] = any(head[p] and word(p, i) for p in range(max(0, i - longest), i)) or (
            camel and i in bounds and any(head[p] for p in marks if p < i))
    tail = [False] * (n + 1)
    tail[n] = True
    for j in range(n - 1, -1, -1):
        tail[j] = any(tail[r] and word(j, r) for r in range(j + 1, min(n, j + longest) + 1)) or (
            camel and j in bounds and any(tail[r] for r in marks if r > j))
    return head, tail


def _hits_in(roster: Roster, s: str, bounds: set[int]) -> tuple[list[tuple[int, int, tuple]], bool]:
    """Names inside one piece of a hashtag, where the rest of the piece splits into words.

    s is the piece in lower case, bounds where it splits at capitals or underscores. A word is
    a run between two such splits, an ordinary word (data/hashtag_words.txt, also with "s"), or
    a roster name of three letters or more. Finding the splits takes time in proportion to the
    length of s times the longest word. The flag says a long name touches an end of the piece
    but the rest does not split into words: the hashtag may contain a name."""
    head, tail = _splits(roster, s, bounds)
    n = len(s)
    cands = []
    near = False
    for i in range(n):
        for j in range(i + 2, min(n, i + roster.maxlen) + 1):
            node = roster.root.get(s[i:j])
            if node is None or None not in node:
                continue
            aligned = i in bounds and j in bounds
            if not aligned and j - i < 3:
                continue
            if head[i] and tail[j]:
                cands.append((i, j, node[None]))
            elif (i == 0 or j == n) and j - i >= 5 and s[i:j] not in COMMON_WORDS:
                near = True
    cands.sort(key=lambda c: (c[0] - c[1], c[0]))
    chosen: list[tuple[int, int, tuple]] = []
    for c in cands:
        if all(c[1] <= o[0] or c[0] >= o[1] for o in chosen):
            chosen.append(c)
    return sorted(chosen), near and not chosen
