"""The roster as a trie of names, each in every form a teacher may write it."""
from __future__ import annotations

import re
from typing import Callable, Iterable

from workers.checks.names.folding import fold
from workers.checks.names.lexicon import FORM_RANK, NAME_PARTICLES
from workers.checks.names.model import RosterPerson

LETTERS = re.compile(r"[^\W\d_]+")

Variants = tuple[list[tuple[str, ...]], list[str]]


def variants(name: str | None) -> Variants:
    """A name's atom sequences (as written, and glued per word, and all glued) and its main parts."""
    if not name:
        return [], []
    folded = fold(name)
    atoms = LETTERS.findall(folded)
    if not atoms:
        return [], []
    words = [tuple(LETTERS.findall(w)) for w in folded.split()]
    words = [w for w in words if w]
    found = {tuple(atoms), ("".join(atoms),), tuple("".join(w) for w in words)}
    parts = []
    if len(atoms) > 1:
        parts = [a for a in atoms if len(a) >= 3 and a not in NAME_PARTICLES]
        for w in words:                         # "Van der Berg" -> "der Berg" is not a part, "Berg" is
            joined = "".join(w)
            if len(w) > 1 and joined not in parts:
                parts.append(joined)
    return sorted(found), parts


def _person_forms(p: RosterPerson, variants_of: Callable[[str | None], Variants]) -> dict[tuple[str, ...], str]:
    """One person's names as atom sequences, each with its most specific form."""
    firsts = variants_of(p.first)
    prefs = variants_of(p.preferred)
    lasts = variants_of(p.last)
    forms: dict[tuple[str, ...], str] = {}

    def add(keys: tuple[str, ...], form: str) -> None:
        old = forms.get(keys)
        if old is None or FORM_RANK[form] < FORM_RANK[old]:
            forms[keys] = form

    given = firsts[0] + prefs[0] + [(k,) for k in firsts[1] + prefs[1]]
    surnames = lasts[0] + [(k,) for k in lasts[1]]
    for v in firsts[0]:
        add(v, "first")
    for v in prefs[0]:
        add(v, "preferred")
    for k in firsts[1] + prefs[1]:
        add((k,), "first")
    for v in surnames:
        add(v, "last")
    for g in given:
        for sn in surnames:
            add(g + sn, "full")
            add(("".join(g + sn),), "full")       # #AmeliaSmith, ameliasmith
    for ini in {v[0][0] for v in firsts[0] + prefs[0]}:
        for sn in lasts[0]:
            add((ini,) + sn, "initial")
    return forms


class Roster:
    """Every name of every person in a trie keyed by atoms; a leaf (key None) lists
    (person id, is staff, form) for each person with that name."""

    def __init__(self, people: Iterable[RosterPerson]):
        self.root: dict = {}
        self.surname_initials: dict[int, set[str]] = {}
        self.maxlen = 1                                # the longest name of one atom
        cache: dict[str | None, Variants] = {}

        def variants_of(name: str | None) -> Variants:
            v = cache.get(name)
            if v is None:
                v = cache[name] = variants(name)
            return v

        for p in people:
            staff = p.kind == "staff"
            forms = _person_forms(p, variants_of)
            self.surname_initials[p.person_id] = {v[0][0] for v in variants_of(p.last)[0]}
            for keys, form in forms.items():
                node = self.root
                for k in keys:
                    node = node.setdefault(k, {})
                node.setdefault(None, []).append((p.person_id, staff, form))
                if len(keys) == 1 and len(keys[0]) > self.maxlen:
                    self.maxlen = len(keys[0])
