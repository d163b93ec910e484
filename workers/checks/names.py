"""Pupils' names from the roster, found in any form a teacher writes them, and replaced.

Policy §6: staff must not "identify by name any children featured in photographs". This module
finds roster names in a post's text or alt text and replaces them with a neutral phrase.

How a name is found (one code path, used by both `NameMatcher.clean` and `NameMatcher.remaining`):
- Text and names are compared after folding: Unicode NFKD with combining marks removed (Zoë,
  Zoe and "Zoe" + U+0308 are the same), a few letters NFKD leaves alone (ł, ø, æ, ß...), curly
  apostrophes and Unicode hyphens made plain, zero-width characters dropped, lower case. Every
  folded character remembers its place in the original text, so the replacement is made on
  the original characters.
- The folded text is cut into runs of letters ("atoms"). Names are stored in a trie keyed by
  atoms, built once per roster: every pupil's first name, preferred name, surname, full name
  (first or preferred + surname), initial + surname ("A. Smith", "A Smith"), and for names of
  several parts ("O'Brien", "Smith-Jones", "Van der Berg", "Amelia-Rose") the parts written
  apart or glued together ("OBrien", "Smith Jones") and the main parts alone. Atoms of a name
  may be joined by spaces or line breaks, an apostrophe or a hyphen, or, after an initial, a
  dot. A post is checked by walking the trie from each atom: its cost depends on the post,
  not on the size of the roster.
- Hashtags and @mentions are split at capitals, digits and underscores (#WellDoneAmelia,
  @amelia_smith); a piece written without capitals (#welldoneamelia, #ameliasmith) is split by
  looking names and ordinary words (data/hashtag_words.txt) up in dictionaries.

What happens to a name found:
- Full names, surnames and first names are replaced by "one of our pupils" ("One of our
  pupils" at the start of a sentence; "one of our pupils'" for a possessive: Amelia's, James').
  Names listed together ("Amelia, Jacob and Zoë", "Amelia and Jacob") become "three of our
  pupils", "two of our pupils". A hyphenated name of which one part is on the roster is
  replaced whole; "Amelia S." loses the initial too.
- A hashtag or mention containing a pupil's name is removed whole, with the space before it
  (and a list word such as "and" that would be left hanging before a full stop).
- Each replaced or removed name gives an `info` finding `name_removed` that says what kind of
  name went where, without the name; the person id is in the evidence.
- Staff are left alone ("Mrs Patel's class", #ThankYouMrsPatel) unless include_staff=True; then
  they are treated like pupils and replaced by "a member of staff" (with the title). A name that
  both a pupil and a member of staff have is a pupil's, except straight after a title (Mr, Mrs,
  Miss, Dr...); a pupil's name after a title that no member of staff has gives a review finding:
  it may be a parent. After "St"/"Saint" or a royal title (King, Queen, Prince...) a name is
  left alone.
- A name inside a link or an e-mail address cannot be cut out without breaking it: it gives a
  `block` finding `name_in_link`.

Names that are also ordinary words (data/common_word_names.txt: Grace, Hope, May, Will, Rose,
Summer, Bill, Faith...; also every name of one or two letters) are replaced only where they are
clearly used as a name:
- never when the next word is one of data/name_context_nouns.txt ("the May fair", "Rose
  Class", "Summer term", "Will power"); for month and season names also not next to a number
  ("May 12", "3rd May", "Summer 2025") or after "in", "by", "this", "next", "of"...: these are
  not names and give no finding;
- otherwise only when written with a capital, not at the start of a sentence, not after a
  determiner ("the", "a", "this"...), not followed by another capitalised word and not after a
  capitalised word ("Amazing Grace", "Grace Darling"), except greetings such as "Happy Birthday
  Grace", "Well Done Grace", and except next to another name being replaced ("Amelia Rose",
  "Rose A. Smith": one person); in a hashtag only when written with the surname (#GraceSmith);
- followed by the pupil's surname, or with capitals as a whole full name ("Grace Hall"), they
  are an ordinary full name and always replaced;
- where a listed FIRST name is not replaced it gives a `review` finding `name_maybe` (one per
  word and subject: "We hope you enjoy..." with a pupil called Hope); a listed SURNAME alone
  (Hall, Green, Day...) is then left alone without a finding, so "the school hall" or
  "#SportsDay" do not raise a review for every post.

`remaining(text)` returns every name that `clean` would replace, remove or block on (the
review-only words are not included), so after cleaning it returns [] unless a name sits in a
link; the caller turns each hit into a block finding. (One odd case: with no space after a full
stop, "Mrs Zoë.Smith" becomes "Mrs Zoë.One of our pupils", which X reads as a link to the .one
domain with a pupil's name in it; remaining() reports it, so the post blocks: fail closed.)

Not done: a possessive written without the apostrophe ("Amelias"), look-alike letters from other
scripts (Cyrillic "а" in "Аmelia"), names spelt with spaces between letters.
"""
from __future__ import annotations

import bisect
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from moderation.findings import BLOCK, INFO, REVIEW, Finding

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # twitter_text imports the deprecated pkg_resources
    from twitter_text import extract_urls_with_indices

__all__ = ["RosterPerson", "Change", "NameResult", "NameMatcher", "fold"]

DATA = Path(__file__).with_name("data")


def _read_list(name: str) -> list[list[str]]:
    rows = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split())
    return rows


def _load_common() -> dict[str, str]:
    words: dict[str, str] = {}
    for row in _read_list("common_word_names.txt"):
        tag = row[1] if len(row) > 1 else ""
        words[row[0]] = words.get(row[0]) or tag
    return words


COMMON_WORDS: dict[str, str] = _load_common()          # word -> "" | "month" | "season"
CONTEXT_NOUNS: frozenset[str] = frozenset(r[0] for r in _read_list("name_context_nouns.txt"))
HASHTAG_WORDS: frozenset[str] = frozenset(r[0] for r in _read_list("hashtag_words.txt"))
_LONGEST_HASHTAG_WORD = max(map(len, HASHTAG_WORDS)) + 1

TITLES = frozenset("mr mrs ms miss mx dr prof sir dame lord lady rev revd madam mme mister".split())
NOT_A_PUPIL_AFTER = frozenset("st saint king queen prince princess pope emperor empress".split())
DETERMINERS = frozenset("the a an this that these those every each no".split())
TIME_WORDS = frozenset(
    "in during since until till before after by from through throughout early late mid next last "
    "this every each of end start beginning middle".split())
GREETINGS = frozenset(
    "happy birthday well done congratulations congrats thanks thank you dear hello hi hey welcome "
    "bravo go goodbye bye love from".split())
NAME_PARTICLES = frozenset("van von der den de la le du da di del della dos das al el bin ben ap mac mc st".split())

PUPIL_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
               9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}
FORM_WORDS = {
    "full": "full name", "first": "first name", "preferred": "preferred name", "last": "surname",
    "initial": "initial and surname", "first+initial": "first name and initial", "name": "name",
}
_FORM_RANK = {"full": 0, "initial": 1, "first": 2, "preferred": 3, "last": 4}

# --- folding -----------------------------------------------------------------------------------

_SPECIAL = {
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u2010": "-", "\u2011": "-",
    "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\u00ad": "",
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i",
    "ħ": "h", "Ħ": "H", "ŀ": "l", "Ŀ": "L",
}
_FOLD_CACHE: dict[str, str] = {}


def _fold_char(c: str) -> str:
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
    return "".join(_fold_char(c) for c in text).lower()


_LETTERS = re.compile(r"[^\W\d_]+")
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_TAG = re.compile(r"(?<![\w@#&/.'])([#@])\w+(?:[#@]\w+)*")     # "#a#b" is taken as one


def _sentence_start(n: str, pos: int) -> bool:
    """Whether folded text n has a sentence (or line) starting at pos."""
    k = pos - 1
    while k >= 0 and n[k] in " \t\"'([*_-\u2022\u00b7\u201c\u201d\u2013\u2014":
        k -= 1
    return k < 0 or n[k] in ".!?\n\r\u2028\u2029"


class _Atom:
    __slots__ = ("ns", "ne", "key", "zone")

    def __init__(self, ns: int, ne: int, key: str, zone):
        self.ns, self.ne, self.key, self.zone = ns, ne, key, zone


class _Text:
    """The original text, its folded form (cased `n` and lower-case `low`) and the way back."""

    def __init__(self, text: str):
        self.orig = text
        chars: list[str] = []
        omap: list[int] = []
        for i, c in enumerate(text):
            f = _fold_char(c)
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
        while oe < len(self.orig) and _fold_char(self.orig[oe]) == "":
            oe += 1
        return os_, oe


# --- public types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterPerson:
    person_id: int
    first: str
    last: str
    preferred: str | None = None
    kind: str = "pupil"          # "pupil" or "staff"


@dataclass(frozen=True)
class Change:
    start: int
    end: int                     # span in the ORIGINAL text
    original: str
    replacement: str             # "" when removed whole (hashtag/mention)
    person_id: int


@dataclass
class NameResult:
    cleaned: str
    changes: list[Change]
    findings: list[Finding]


# --- the plan of what to do with one text ----------------------------------------------------------


@dataclass
class _Action:
    os: int                      # original span, grown by the spaces a removal takes with it
    oe: int
    core_os: int                 # original span of the name (or the hashtag) itself
    core_oe: int
    kind: str                    # "replace" | "remove"
    staff: bool
    pids: list[int]
    form: str
    possessive: str | None = None   # the apostrophe, when the name was possessive
    sentence_start: bool = False
    caps: bool = False
    n_start: int = 0             # the name's span in the folded text
    n_end: int = 0


@dataclass
class _Review:
    what: str                    # "word" | "title" | "hashtag" | "hashtag_part"
    word: str                    # the word or title as written (never a full name)
    pids: set[int]
    spans: list[tuple[int, int]]
    tag: str = ""                # the hashtag, for what == "hashtag"


@dataclass
class _Plan:
    actions: list[_Action] = field(default_factory=list)
    reviews: dict[tuple, _Review] = field(default_factory=dict)
    # names inside links and e-mail addresses: (os, oe, pids, "link" | "e-mail", (zone os, zone oe))
    links: list[tuple[int, int, list[int], str, tuple[int, int]]] = field(default_factory=list)
    last_replace: _Action | None = None     # the latest name replaced while walking the text


class NameMatcher:
    """Finds roster names in text. Build once per roster version; `clean` and `remaining` are cheap."""

    def __init__(self, people: Iterable[RosterPerson], include_staff: bool = False):
        self.include_staff = include_staff
        self._root: dict = {}
        self._surname_initials: dict[int, set[str]] = {}
        self._maxlen = 1
        cache: dict[str | None, tuple] = {}

        def variants(name: str | None) -> tuple:
            v = cache.get(name)
            if v is None:
                v = cache[name] = _variants(name)
            return v

        for p in people:
            staff = p.kind == "staff"
            firsts = variants(p.first)
            prefs = variants(p.preferred)
            lasts = variants(p.last)
            forms: dict[tuple[str, ...], str] = {}      # this person's names, most specific form kept

            def add(keys: tuple[str, ...], form: str) -> None:
                old = forms.get(keys)
                if old is None or _FORM_RANK[form] < _FORM_RANK[old]:
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
            self._surname_initials[p.person_id] = {v[0][0] for v in lasts[0]}
            for keys, form in forms.items():
                node = self._root
                for k in keys:
                    node = node.setdefault(k, {})
                node.setdefault(None, []).append((p.person_id, staff, form))
                if len(keys) == 1 and len(keys[0]) > self._maxlen:
                    self._maxlen = len(keys[0])

    # --- public ------------------------------------------------------------------------------

    def clean(self, text: str, subject: str) -> NameResult:
        """Replace or remove every roster name in text; findings say what kind of name went where."""
        plan = self._plan(text)
        changes, phrases = self._changes(text, plan.actions)
        cleaned = _apply(text, changes)
        findings = []
        for a in plan.actions:
            findings.append(self._removed_finding(a, phrases[id(a)], subject))
        by_zone: dict[tuple[int, int], tuple[str, set[int]]] = {}
        for _, _, pids, where, zone in plan.links:
            by_zone.setdefault(zone, (where, set()))[1].update(pids)
        for (zs, ze), (where, pids) in by_zone.items():
            article = "A link" if where == "link" else "An e-mail address"
            ids = sorted(pids)
            findings.append(Finding(
                "name_in_link", BLOCK,
                f"{article} in the {subject} contains a pupil's name. "
                f"Use one that does not name the pupil, or take it out.",
                subject, {"person_id": ids[0], "person_ids": ids[:20], "start": zs, "end": ze},
            ))
        for r in plan.reviews.values():
            findings.append(_review_finding(r, subject))
        return NameResult(cleaned, changes, findings)

    def remaining(self, text: str) -> list[str]:
        """Roster names still findable in text: whatever clean() would replace, remove or block on."""
        plan = self._plan(text)
        hits = [(a.core_os, text[a.core_os:a.core_oe]) for a in plan.actions]
        hits += [(os_, text[os_:oe]) for os_, oe, _, _, _ in plan.links]
        return [s for _, s in sorted(hits)]

    # --- finding names -------------------------------------------------------------------------

    def _plan(self, text: str) -> _Plan:
        t = _Text(text)
        plan = _Plan()
        zones = self._zones(t)
        atoms = []
        zi = 0
        for m in _LETTERS.finditer(t.low):
            zone = None
            while zi < len(zones) and zones[zi][1] <= m.start():
                zi += 1
            if zi < len(zones) and zones[zi][0] <= m.start() < zones[zi][1]:
                zone = zi
            atoms.append(_Atom(m.start(), m.end(), m.group(), zone))
        for ns, ne, what in zones:
            if what in ("#", "@"):
                self._plan_tag(t, ns, ne, what, plan)
        i = 0
        while i < len(atoms):
            a = atoms[i]
            if a.zone is not None and zones[a.zone][2] in ("#", "@"):
                i += 1
                continue
            i = self._plan_at(t, atoms, i, zones, plan)
        plan.actions.sort(key=lambda x: x.core_os)
        plan.links.sort()
        return plan

    def _zones(self, t: _Text) -> list[tuple[int, int, str]]:
        """Folded spans of links, e-mail addresses, hashtags and mentions, in order."""
        spans = []
        opos = _orig_to_folded(t)
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
        merged: list[tuple[int, int, str]] = []
        for s, e, w in spans:
            if merged and s < merged[-1][1]:
                continue
            merged.append((s, e, w))
        return merged

    def _walk(self, t: _Text, atoms: list[_Atom], i: int) -> list[tuple[int, tuple]]:
        """Every roster name that starts at atom i: (end atom index, entries), shortest first."""
        node = self._root.get(atoms[i].key)
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

    def _plan_at(self, t: _Text, atoms: list[_Atom], i: int, zones, plan: _Plan) -> int:
        """Decide what to do with the name (if any) starting at atom i; return the next atom to look at."""
        found = self._walk(t, atoms, i)
        if not found:
            return i + 1
        j, entries = found[-1]
        pupils = [e for e in entries if not e[1]]
        staff = [e for e in entries if e[1]]
        first = atoms[i]

        if first.zone is not None:                      # inside a link or an e-mail address
            chosen = pupils or (staff if self.include_staff else [])
            if chosen and not self._ambiguous(atoms, i, j):
                os_, oe = t.ospan(first.ns, atoms[j - 1].ne)
                zs, ze, where = zones[first.zone]
                plan.links.append((os_, oe, sorted({e[0] for e in chosen}), where, t.ospan(zs, ze)))
            return j

        before = self._word_before(t, atoms, i)
        if before is not None and plan.last_replace is not None and before.ns < plan.last_replace.n_end:
            before = None                               # the word before went with a name ("Amelia-St")
        if (before is not None and re.fullmatch(r"\.?\s+", t.n[before.ne:first.ns])
                and (before.ns == 0 or not t.n[before.ns - 1].isalnum())):     # "St", not "1st"
            if before.key in NOT_A_PUPIL_AFTER:
                return j
            if before.key in TITLES:
                if staff:
                    if self.include_staff:
                        self._add_replace(t, atoms, i, j, staff, True, plan, start_atom=before)
                    return j
                self._add_review(plan, "title", t.n[before.ns:before.ne], pupils, t.ospan(before.ns, atoms[j - 1].ne))
                return j

        if pupils:
            chosen, is_staff = pupils, False
        elif self.include_staff:
            chosen, is_staff = staff, True
        else:
            return j                                    # a member of staff: left alone

        if not self._plain_name(t, atoms, i, j, chosen):
            decision = self._decide(t, atoms, i, j)
            if decision == "review" and self._after_a_name(t, atoms, i, plan):
                decision = "replace"
            if decision == "review" and all(e[2] == "last" for e in chosen):
                decision = "none"                       # an ordinary word that is only a surname
            if decision == "none":
                return j
            if decision == "review":
                self._add_review(plan, "word", t.orig[slice(*t.ospan(first.ns, atoms[j - 1].ne))],
                                 chosen, t.ospan(first.ns, atoms[j - 1].ne))
                return j
        return self._add_replace(t, atoms, i, j, chosen, is_staff, plan)

    def _add_replace(self, t: _Text, atoms, i: int, j: int, chosen, is_staff: bool, plan: _Plan,
                     start_atom: _Atom | None = None) -> int:
        form = _form_of(chosen)
        pids = sorted({e[0] for e in chosen})
        n = t.n
        # a hyphenated name of which this is one part ("Amelia-Rose" with only Amelia on the roster)
        start_i = i
        prev_end = plan.last_replace.n_end if plan.last_replace else 0
        while (start_atom is None and start_i > 0 and n[atoms[start_i - 1].ne:atoms[start_i].ns] == "-"
               and atoms[start_i - 1].zone is None and n[atoms[start_i - 1].ns].isupper()
               and atoms[start_i - 1].ns >= prev_end):
            start_i -= 1
        while (j < len(atoms) and atoms[j].zone is None and n[atoms[j - 1].ne:atoms[j].ns] == "-"
               and n[atoms[j].ns].isupper()):
            j += 1
        # "Amelia S." : the first name and the initial of the pupil's surname
        end_extra = 0
        if (form in ("first", "preferred") and j < len(atoms) and atoms[j].zone is None
                and atoms[j].ne - atoms[j].ns == 1 and n[atoms[j].ns].isupper()
                and n[atoms[j - 1].ne:atoms[j].ns] in (" ", "\u00a0")
                and any(atoms[j].key in self._surname_initials.get(p, ()) for p in pids)
                and (atoms[j].ne == len(n) or not n[atoms[j].ne].isalnum())):
            j += 1
            form = "first+initial"
            dot = atoms[j - 1].ne
            if n[dot:dot + 1] == "." and not re.match(r"\.(?:$|\s*[\r\n]|\s+[A-Z])", n[dot:dot + 3]):
                end_extra = 1                       # "Amelia S. won", "Amelia S., Jacob J.": the dot goes too
        end = atoms[j - 1].ne + end_extra
        possessive = None
        if (j < len(atoms) and n[end:atoms[j].ns] == "'" and atoms[j].key == "s"
                and (atoms[j].ne == len(n) or not n[atoms[j].ne].isalnum())):
            possessive = _apostrophe(t, end)
            end = atoms[j].ne
            j += 1
        elif (n[end:end + 1] == "'" and atoms[j - 1].key.endswith("s")
              and (end + 1 == len(n) or not n[end + 1].isalnum())):
            possessive = _apostrophe(t, end)
            end += 1
        s_atom = start_atom if start_atom is not None else atoms[start_i]
        os_, oe = t.ospan(s_atom.ns, end)
        letters = [c for c in t.orig[os_:oe] if c.isalpha()]
        plan.last_replace = _Action(
            os_, oe, os_, oe, "replace", is_staff, pids, form, possessive,
            _sentence_start(n, s_atom.ns), len(letters) > 1 and all(c.isupper() for c in letters),
            s_atom.ns, end,
        )
        plan.actions.append(plan.last_replace)
        return j

    def _after_a_name(self, t: _Text, atoms, i: int, plan: _Plan) -> bool:
        """Whether atom i directly follows a pupil's name just replaced ("Amelia Rose", "Amelia's Rose")."""
        last = plan.last_replace
        if last is None or not t.n[atoms[i].ns].isupper():
            return False
        gap = t.n[last.n_end:atoms[i].ns]
        return bool(gap) and gap.isspace()

    def _before_a_name(self, t: _Text, atoms, j: int, depth: int) -> bool:
        """Whether atom j starts a pupil's name that will be replaced ("Rose Amelia", "Ruby A. Smith")."""
        found = self._walk(t, atoms, j)
        if not found:
            return False
        end, entries = found[-1]
        pupils = [e for e in entries if not e[1]]
        if not pupils or self._plain_name(t, atoms, j, end, pupils):
            return bool(pupils)
        return depth < 4 and self._decide(t, atoms, j, end, depth + 1) == "replace"

    def _plain_name(self, t: _Text, atoms, i: int, j: int, chosen) -> bool:
        """A name that is not an ordinary word, or a capitalised full name even if its words are."""
        if not self._ambiguous(atoms, i, j):
            return True
        return j - i > 1 and any(e[2] in ("full", "initial") for e in chosen) and all(
            t.n[a.ns].isupper() for a in atoms[i:j])

    def _word_before(self, t: _Text, atoms, i: int) -> _Atom | None:
        if i == 0 or atoms[i - 1].zone != atoms[i].zone:
            return None
        return atoms[i - 1]

    def _ambiguous(self, atoms, i: int, j: int) -> bool:
        return all(a.key in COMMON_WORDS or len(a.key) <= 2 for a in atoms[i:j])

    def _decide(self, t: _Text, atoms, i: int, j: int, depth: int = 0) -> str:
        """For a name that is also an ordinary word: 'replace', 'review' or 'none' (see module doc)."""
        n = t.n
        first, last = atoms[i], atoms[j - 1]
        nxt = atoms[j] if j < len(atoms) and atoms[j].zone == first.zone else None
        sep_after = n[last.ne:nxt.ns] if nxt else ""
        if nxt is not None and (sep_after.isspace() or sep_after == "-") and nxt.key in CONTEXT_NOUNS:
            return "none"
        prv = atoms[i - 1] if i > 0 and atoms[i - 1].zone == first.zone else None
        sep_before = n[prv.ne:first.ns] if prv else ""
        adjacent_prv = prv if prv is not None and sep_before.isspace() else None
        if COMMON_WORDS.get(first.key) in ("month", "season"):
            if re.match(r"\s*-?\s*\d", n[last.ne:]):
                return "none"
            if re.search(r"\d(?:st|nd|rd|th)?\s+(?:of\s+)?$", n[max(0, first.ns - 12):first.ns], re.I):
                return "none"
            if adjacent_prv is not None and adjacent_prv.key in TIME_WORDS:
                return "none"
        cased = n[first.ns:first.ne]
        if not cased[0].isupper() or (len(cased) > 1 and cased.isupper()):
            return "review"
        if _sentence_start(n, first.ns):
            return "review"
        if adjacent_prv is not None and adjacent_prv.key in DETERMINERS:
            return "review"
        if nxt is not None and sep_after.isspace() and n[nxt.ns].isupper():
            return "replace" if sep_after in (" ", "\u00a0") and self._before_a_name(t, atoms, j, depth) else "review"
        if adjacent_prv is not None and n[adjacent_prv.ns].isupper() and adjacent_prv.key not in GREETINGS:
            return "review"
        return "replace"

    def _add_review(self, plan: _Plan, what: str, word: str, entries, span) -> None:
        key = (what, fold(word))
        r = plan.reviews.get(key)
        if r is None:
            r = plan.reviews[key] = _Review(what, word, set(), [])
        r.pids.update(e[0] for e in entries)
        r.spans.append(span)

    # --- hashtags and mentions -------------------------------------------------------------------

    def _plan_tag(self, t: _Text, ns: int, ne: int, mark: str, plan: _Plan) -> None:
        body_ns = ns + 1
        # pieces between digits; underscores are dropped but mark a split, like capitals do
        pieces = [(m.start() + body_ns, m.group()) for m in re.finditer(r"\d+|[^\W\d]+", t.n[body_ns:ne])]
        remove: list = []
        maybe: list = []
        partial = False
        for pi, (p_ns, raw) in enumerate(pieces):
            if raw.isdigit():
                continue
            cased = raw.replace("_", "")
            if not cased:
                continue
            bounds = _camel_bounds(cased)
            k = 0
            for ch in raw:
                if ch == "_":
                    bounds.add(k)
                else:
                    k += 1
            s = cased.lower()
            nxt_digits = pi + 1 < len(pieces) and pieces[pi + 1][1].isdigit()
            hits, near = self._hits_in(s, bounds)
            partial = partial or near
            for hs, he, entries in hits:
                pupils = [e for e in entries if not e[1]]
                staff = [e for e in entries if e[1]]
                title = next((w for w in TITLES | NOT_A_PUPIL_AFTER if s.endswith(w, 0, hs)
                              and hs in bounds and (hs == len(w) or hs - len(w) in bounds)), None)
                if title in NOT_A_PUPIL_AFTER:
                    continue                            # #StGeorgesDay, #KingCharles
                if title is not None:                   # #ThankYouMrsPatel: as after a title in the text
                    if staff:
                        remove.extend(staff if self.include_staff else [])
                    elif pupils:
                        self._add_review(plan, "title", cased[hs - len(title):hs], pupils, t.ospan(ns, ne))
                    continue
                chosen = pupils or (staff if self.include_staff else [])
                if not chosen:
                    continue
                key = s[hs:he]
                if not (key in COMMON_WORDS or len(key) <= 2):
                    remove.extend(chosen)
                    continue
                if all(e[2] == "last" for e in chosen):
                    continue
                after = s[he:]
                if any(after.startswith(w) for w in CONTEXT_NOUNS) or (
                        he == len(s) and nxt_digits and COMMON_WORDS.get(key) in ("month", "season")):
                    continue
                maybe.append((chosen, cased[hs:he]))
        os_, oe = t.ospan(ns, ne)
        if remove:
            pids = sorted({e[0] for e in remove})
            plan.actions.append(_Action(os_, oe, os_, oe, "remove", all(e[1] for e in remove), pids,
                                        "hashtag" if mark == "#" else "mention"))
            return
        tag = t.orig[os_:oe]
        for chosen, word in maybe:
            self._add_review(plan, "hashtag", word, chosen, (os_, oe))
            plan.reviews[("hashtag", fold(word))].tag = tag
        if partial and not maybe:
            self._add_review(plan, "hashtag_part", "", [], (os_, oe))

    def _hits_in(self, s: str, bounds: set[int]) -> tuple[list[tuple[int, int, tuple]], bool]:
        """Names inside one piece of a hashtag, where the rest of the piece splits into words.

        s is the piece in lower case, bounds where it splits at capitals or underscores. A word is
        a run between two such splits, an ordinary word (data/hashtag_words.txt, also with "s"), or
        a roster name of three letters or more. head[i]: s[:i] splits into words; tail[j]: s[j:]
        does. Both take time in proportion to the length of s times the longest word."""
        root = self._root
        n = len(s)
        longest = max(self._maxlen, _LONGEST_HASHTAG_WORD)
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

        cands = []
        near = False
        for i in range(n):
            for j in range(i + 2, min(n, i + self._maxlen) + 1):
                node = root.get(s[i:j])
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

    # --- building the result ---------------------------------------------------------------------

    def _changes(self, text: str, actions: list[_Action]) -> tuple[list[Change], dict[int, str]]:
        # a removed hashtag takes the spaces before it (or, at the start of a line, after it) along
        for k, a in enumerate(actions):
            if a.kind != "remove":
                continue
            lo = actions[k - 1].oe if k > 0 else 0
            hi = actions[k + 1].os if k + 1 < len(actions) else len(text)
            s = a.os
            while s > lo and text[s - 1] in " \t\u00a0":
                s -= 1
            if s < a.os:
                a.os = s
                # "Amelia, Zoë and #TeamJacob!" -> "Amelia, Zoë!" and "Amelia and #TeamJacob on sports
                # day" -> "Amelia on sports day": the "and" (or, at the end, a comma) would be left hanging
                rest = text[a.oe:hi].lstrip()
                ending = not rest or not (rest[0].isalnum() or rest[0] in "#@")
                m = re.search(r"(?:\s*,|\s+(?:and|&))$" if ending else r"\s+(?:and|&)$", text[lo:a.os], re.IGNORECASE)
                if m:
                    a.os = lo + m.start()
                continue
            e = a.oe
            while e < hi and text[e] in " \t\u00a0":
                e += 1
            if e > a.oe:
                a.oe = e
            elif a.oe == len(text):                  # the last line: drop the line breaks before it
                while a.os > lo and text[a.os - 1] in " \t\r\n":
                    a.os -= 1
            elif text[a.oe] in "\r\n" and a.os > lo and text[a.os - 1] == "\n":
                a.os -= 1
        groups = _groups(text, actions)
        changes: list[Change] = []
        phrases: dict[int, str] = {}
        for group in groups:
            head = group[0][0]
            if head.kind == "remove":
                changes.append(Change(head.os, head.oe, text[head.os:head.oe], "", head.pids[0]))
                phrases[id(head)] = ""
                continue
            people = 1 + sum(1 for _, join in group[1:] if join != "same")
            last = group[-1][0]
            phrase = _phrase(people, head.staff, last.possessive, head.sentence_start,
                             all(a.caps for a, _ in group))
            changes.append(Change(head.os, head.oe, text[head.os:head.oe], phrase, head.pids[0]))
            phrases[id(head)] = phrase
            prev = head
            for a, _ in group[1:]:
                changes.append(Change(prev.oe, a.oe, text[prev.oe:a.oe], "", a.pids[0]))
                phrases[id(a)] = phrase
                prev = a
        return changes, phrases

    def _removed_finding(self, a: _Action, phrase: str, subject: str) -> Finding:
        who = "a member of staff's" if a.staff else "a pupil's"
        evidence = {"person_id": a.pids[0], "form": a.form, "start": a.core_os, "end": a.core_oe}
        if len(a.pids) > 1:
            evidence["person_ids"] = a.pids[:20]
            evidence["people"] = len(a.pids)
        if a.kind == "remove":
            what = "A hashtag" if a.form == "hashtag" else "A mention (@)"
            message = f"{what} in the {subject} contained {who} name, so it was taken out."
        else:
            message = f"{who[0].upper()}{who[1:]} {FORM_WORDS[a.form]} in the {subject} was replaced by \"{phrase}\"."
        return Finding("name_removed", INFO, message, subject, evidence)


# --- helpers ---------------------------------------------------------------------------------------


def _variants(name: str | None) -> tuple[list[tuple[str, ...]], list[str]]:
    """A name's atom sequences (as written, and glued per word, and all glued) and its main parts."""
    if not name:
        return [], []
    folded = fold(name)
    atoms = _LETTERS.findall(folded)
    if not atoms:
        return [], []
    words = [tuple(_LETTERS.findall(w)) for w in folded.split()]
    words = [w for w in words if w]
    variants = {tuple(atoms), ("".join(atoms),), tuple("".join(w) for w in words)}
    parts = []
    if len(atoms) > 1:
        parts = [a for a in atoms if len(a) >= 3 and a not in NAME_PARTICLES]
        for w in words:                         # "Van der Berg" -> "der Berg" is not a part, "Berg" is
            joined = "".join(w)
            if len(w) > 1 and joined not in parts:
                parts.append(joined)
    return sorted(variants), parts


def _form_of(entries) -> str:
    forms = {e[2] for e in entries}
    if len(forms) == 1:
        return forms.pop()
    if "full" in forms:
        return "full"
    if forms <= {"first", "preferred"}:
        return "first"
    return "name"


def _apostrophe(t: _Text, n_pos: int) -> str:
    c = t.orig[t.omap[n_pos]]
    return c if c in "'\u2019" else "'"


def _orig_to_folded(t: _Text):
    """Map an original index to the folded index of the first character at or after it."""
    omap = t.omap

    def pos(o: int) -> int:
        return bisect.bisect_left(omap, o)
    return pos


def _camel_bounds(cased: str) -> set[int]:
    """Where a hashtag piece splits at capitals: WellDoneAmelia -> {0, 4, 8, 14}; OBrien -> {0, 1, 6}."""
    bounds = {0, len(cased)}
    for k in range(1, len(cased)):
        a, b = cased[k - 1], cased[k]
        if a.islower() and b.isupper():
            bounds.add(k)
        elif a.isupper() and b.isupper() and k + 1 < len(cased) and cased[k + 1].islower():
            bounds.add(k)
    return bounds


_COMMA = re.compile(r"\s*,\s*")
_AND = re.compile(r"\s*,?\s*(?:and|&)\s+", re.IGNORECASE)


def _groups(text: str, actions: list[_Action]) -> list[list[tuple[_Action, str | None]]]:
    """Replacements that name one person ("Amelia Jones" as two roster names) or a list of pupils
    ("Amelia, Jacob and Zoë") become one phrase. A list must end in "and"/"&" to be merged."""
    chains: list[list[tuple[_Action, str | None]]] = []
    for a in actions:
        join = None
        if chains and a.kind == "replace":
            last = chains[-1][-1][0]
            if last.kind == "replace" and last.staff == a.staff and last.possessive is None:
                sep = text[last.oe:a.os]
                if sep and sep.isspace():
                    join = "same"
                elif _COMMA.fullmatch(sep):
                    join = "comma"
                elif _AND.fullmatch(sep):
                    join = "and"
        if join is None:
            chains.append([(a, None)])
        else:
            chains[-1].append((a, join))
    groups = []
    for chain in chains:
        current: list[tuple[_Action, str | None]] = []
        for a, join in chain:
            if not current:
                current = [(a, None)]
            elif join == "and":
                current.append((a, join))
                groups.append(current)
                current = []
            else:
                current.append((a, join))
        if current:                                   # no closing "and": the commas do not merge
            piece: list[tuple[_Action, str | None]] = []
            for a, join in current:
                if join == "comma" and piece:
                    groups.append(piece)
                    piece = [(a, None)]
                else:
                    piece.append((a, join))
            groups.append(piece)
    return groups


def _phrase(people: int, staff: bool, possessive: str | None, sentence_start: bool, caps: bool) -> str:
    count = PUPIL_WORDS.get(people, "some")
    if staff:
        phrase = "a member of staff" if people == 1 else f"{count} members of staff"
        if possessive:
            phrase += possessive + "s"
    else:
        phrase = f"{count} of our pupils"
        if possessive:
            phrase += possessive
    if sentence_start:
        phrase = phrase[0].upper() + phrase[1:]
    if caps:
        phrase = phrase.upper()
    return phrase


def _apply(text: str, changes: list[Change]) -> str:
    out = []
    pos = 0
    for c in sorted(changes, key=lambda c: c.start):
        out.append(text[pos:c.start])
        out.append(c.replacement)
        pos = c.end
    out.append(text[pos:])
    return "".join(out)


def _review_finding(r: _Review, subject: str) -> Finding:
    evidence = {"person_ids": sorted(r.pids)[:20], "spans": [list(s) for s in r.spans]}
    if r.what == "word":
        message = (f"\"{r.word}\" in the {subject} is also a pupil's name. "
                   f"If it is used as a name here, take it out.")
    elif r.what == "title":
        message = (f"The name after \"{r.word}\" in the {subject} is also a pupil's name and no member of "
                   f"staff has it. If this is a pupil's parent or relative, take the name out.")
    elif r.what == "hashtag":
        message = (f"The hashtag {r.tag} in the {subject} contains \"{r.word}\", which is also "
                   f"a pupil's first name. If it names the pupil, take the hashtag out.")
    else:
        message = (f"A hashtag in the {subject} may contain a pupil's name (it is highlighted). "
                   f"Check it and take it out if it does.")
    return Finding("name_maybe", REVIEW, message, subject, evidence)
