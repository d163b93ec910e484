"""Finding roster names in running text (outside hashtags and mentions) and deciding what to do
with each: replace, review, block (inside a link) or leave alone."""
from __future__ import annotations

import re

from workers.checks.names.folding import sentence_start
from workers.checks.names.lexicon import (
    COMMON_WORDS, CONTEXT_NOUNS, DETERMINERS, GREETINGS, NOT_A_PUPIL_AFTER, TIME_WORDS, TITLES,
)
from workers.checks.names.replacing import add_replace
from workers.checks.names.scan import Atom, Scan


def plan_text(s: Scan) -> None:
    """Plan what to do with every name in the text outside hashtags and mentions."""
    i = 0
    while i < len(s.atoms):
        if s.in_tag(s.atoms[i]):
            i += 1
            continue
        i = _plan_at(s, i)


def _walk(s: Scan, i: int) -> list[tuple[int, tuple]]:
    """Every roster name that starts at atom i: (end atom index, entries), shortest first."""
    t, atoms = s.t, s.atoms
    node = s.roster.root.get(atoms[i].key)
    found = []
    if node is None:
        return found
    j = i + 1
    if None in node:
        found.append((j, node[None]))
    while j < len(atoms) and atoms[j].zone == atoms[i].zone:
        prev = atoms[j - 1]
        sep = t.n[prev.ne:atoms[j].ns]
        if not (sep in ("'", "-") or (sep and sep.isspace())
                or (prev.ne - prev.ns == 1 and re.fullmatch(r"\.\s*", sep))):
            break
        node = node.get(atoms[j].key)
        if node is None:
            break
        j += 1
        if None in node:
            found.append((j, node[None]))
    if len(atoms[i].key) == 1:          # an initial only in capitals, so "a Smith" is not "A. Smith"
        lower = not t.n[atoms[i].ns].isupper()
        kept = []
        for j, entries in found:
            if lower:
                entries = tuple(e for e in entries if e[2] != "initial")
            if j > i + 1 and entries:
                kept.append((j, entries))
        found = kept
    return found


def _plan_at(s: Scan, i: int) -> int:
    """Decide what to do with the name (if any) starting at atom i; return the next atom to look at."""
    t, atoms, plan = s.t, s.atoms, s.plan
    found = _walk(s, i)
    if not found:
        return i + 1
    j, entries = found[-1]
    pupils = [e for e in entries if not e[1]]
    staff = [e for e in entries if e[1]]
    first = atoms[i]

    if first.zone is not None:                      # inside a link or an e-mail address
        chosen = pupils or (staff if s.include_staff else [])
        if chosen and not _ambiguous(atoms, i, j):
            os_, oe = t.ospan(first.ns, atoms[j - 1].ne)
            zs, ze, where = s.zones[first.zone]
            plan.links.append((os_, oe, sorted({e[0] for e in chosen}), where, t.ospan(zs, ze)))
        return j

    before = _word_before(atoms, i)
    if before is not None and plan.last_replace is not None and before.ns < plan.last_replace.n_end:
        before = None                               # the word before went with a name ("Amelia-St")
    if (before is not None and re.fullmatch(r"\.?\s+", t.n[before.ne:first.ns])
            and (before.ns == 0 or not t.n[before.ns - 1].isalnum())):     # "St", not "1st"
        if before.key in NOT_A_PUPIL_AFTER:
            return j
        if before.key in TITLES:
            if staff:
                if s.include_staff:
                    add_replace(s, i, j, staff, True, start_atom=before)
                return j
            plan.add_review("title", t.n[before.ns:before.ne], pupils, t.ospan(before.ns, atoms[j - 1].ne))
            return j

    if pupils:
        chosen, is_staff = pupils, False
    elif s.include_staff:
        chosen, is_staff = staff, True
    else:
        return j                                    # a member of staff: left alone

    if not _plain_name(s, i, j, chosen):
        decision = _decide(s, i, j)
        if decision == "review" and _after_a_name(s, i):
            decision = "replace"
        if decision == "review" and all(e[2] == "last" for e in chosen):
            decision = "none"                       # an ordinary word that is only a surname
        if decision == "none":
            return j
        if decision == "review":
            plan.add_review("word", t.orig[slice(*t.ospan(first.ns, atoms[j - 1].ne))],
                            chosen, t.ospan(first.ns, atoms[j - 1].ne))
            return j
    return add_replace(s, i, j, chosen, is_staff)


def _after_a_name(s: Scan, i: int) -> bool:
    """Whether atom i directly follows a pupil's name just replaced ("Amelia Rose", "Amelia's Rose")."""
    last = s.plan.last_replace
    if last is None or not s.t.n[s.atoms[i].ns].isupper():
        return False
    gap = s.t.n[last.n_end:s.atoms[i].ns]
    return bool(gap) and gap.isspace()


def _before_a_name(s: Scan, j: int, depth: int) -> bool:
    """Whether atom j starts a pupil's name that will be replaced ("Rose Amelia", "Ruby A. Smith")."""
    found = _walk(s, j)
    if not found:
        return False
    end, entries = found[-1]
    pupils = [e for e in entries if not e[1]]
    if not pupils or _plain_name(s, j, end, pupils):
        return bool(pupils)
    return depth < 4 and _decide(s, j, end, depth + 1) == "replace"


def _plain_name(s: Scan, i: int, j: int, chosen) -> bool:
    """A name that is not an ordinary word, or a capitalised full name even if its words are."""
    if not _ambiguous(s.atoms, i, j):
        return True
    return j - i > 1 and any(e[2] in ("full", "initial") for e in chosen) and all(
        s.t.n[a.ns].isupper() for a in s.atoms[i:j])


def _word_before(atoms: list[Atom], i: int) -> Atom | None:
    """The word before atom i, unless a zone starts or ends between them."""
    if i == 0 or atoms[i - 1].zone != atoms[i].zone:
        return None
    return atoms[i - 1]


def _ambiguous(atoms: list[Atom], i: int, j: int) -> bool:
    """Whether every word of the name is also an ordinary word (or has one or two letters)."""
    return all(a.key in COMMON_WORDS or len(a.key) <= 2 for a in atoms[i:j])


def _about_time(n: str, first: Atom, last: Atom, adjacent_prv: Atom | None) -> bool:
    """Whether a month or season name is about time here: "May 12", "3rd May", "Summer 2025", "in May"."""
    if re.match(r"\s*-?\s*\d", n[last.ne:]):
        return True
    if re.search(r"\d(?:st|nd|rd|th)?\s+(?:of\s+)?$", n[max(0, first.ns - 12):first.ns], re.I):
        return True
    return adjacent_prv is not None and adjacent_prv.key in TIME_WORDS


def _decide(s: Scan, i: int, j: int, depth: int = 0) -> str:
    """For a name that is also an ordinary word: 'replace', 'review' or 'none' (see the package doc)."""
    n, atoms = s.t.n, s.atoms
    first, last = atoms[i], atoms[j - 1]
    nxt = atoms[j] if j < len(atoms) and atoms[j].zone == first.zone else None
    sep_after = n[last.ne:nxt.ns] if nxt else ""
    if nxt is not None and (sep_after.isspace() or sep_after == "-") and nxt.key in CONTEXT_NOUNS:
        return "none"
    prv = atoms[i - 1] if i > 0 and atoms[i - 1].zone == first.zone else None
    sep_before = n[prv.ne:first.ns] if prv else ""
    adjacent_prv = prv if prv is not None and sep_before.isspace() else None
    if COMMON_WORDS.get(first.key) in ("month", "season") and _about_time(n, first, last, adjacent_prv):
        return "none"
    cased = n[first.ns:first.ne]
    if not cased[0].isupper() or (len(cased) > 1 and cased.isupper()):
        return "review"
    if sentence_start(n, first.ns):
        return "review"
    if adjacent_prv is not None and adjacent_prv.key in DETERMINERS:
        return "review"
    if nxt is not None and sep_after.isspace() and n[nxt.ns].isupper():
        return "replace" if sep_after in (" ", "\u00a0") and _before_a_name(s, j, depth) else "review"
    if adjacent_prv is not None and n[adjacent_prv.ns].isupper() and adjacent_prv.key not in GREETINGS:
        return "review"
    return "replace"
