"""The check's public types, and the plan of what to do with the names in one text."""
from __future__ import annotations

from dataclasses import dataclass, field

from moderation.findings import Finding
from workers.checks.names.folding import fold


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


@dataclass
class Action:
    """One name (or hashtag, or mention) to replace or remove."""
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
class Review:
    """A word that may be a pupil's name, for a person to look at."""
    what: str                    # "word" | "title" | "hashtag" | "hashtag_part"
    word: str                    # the word or title as written (never a full name)
    pids: set[int]
    spans: list[tuple[int, int]]
    tag: str = ""                # the hashtag, for what == "hashtag"


@dataclass
class Plan:
    """Everything found in one text: what to replace or remove, review and block on."""
    actions: list[Action] = field(default_factory=list)
    reviews: dict[tuple, Review] = field(default_factory=dict)
    # names inside links and e-mail addresses: (os, oe, pids, "link" | "e-mail", (zone os, zone oe))
    links: list[tuple[int, int, list[int], str, tuple[int, int]]] = field(default_factory=list)
    last_replace: Action | None = None     # the latest name replaced while walking the text

    def add_review(self, what: str, word: str, entries, span) -> None:
        """Add a review, merged with an earlier one for the same word."""
        key = (what, fold(word))
        r = self.reviews.get(key)
        if r is None:
            r = self.reviews[key] = Review(what, word, set(), [])
        r.pids.update(e[0] for e in entries)
        r.spans.append(span)
