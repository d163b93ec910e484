"""Turning the plan into changes to the text: a removed hashtag takes its spaces with it, names
listed together become one phrase ("two of our pupils"), and the changes are applied."""
from __future__ import annotations

import re

from workers.checks.names.lexicon import PUPIL_WORDS
from workers.checks.names.model import Action, Change

_COMMA = re.compile(r"\s*,\s*")
_AND = re.compile(r"\s*,?\s*(?:and|&)\s+", re.IGNORECASE)
_AND_BEFORE = re.compile(r"\s+(?:and|&)$", re.IGNORECASE)
_DANGLING = re.compile(r"(?:\s*,|\s+(?:and|&|to|from|with|of|for))$", re.IGNORECASE)  # before a removal that ends a sentence
_PUNCTUATION = tuple(",.;:!?)\u2026")

Group = list[tuple[Action, str | None]]          # actions, each with how it joins the one before


def _grow_removals(text: str, actions: list[Action]) -> None:
    """A removed hashtag takes the spaces before it (or, at the start of a line, after it) along."""
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
            # "Amelia, Zoë and #TeamJacob!" -> "Amelia, Zoë!", "Thank you to #TeamJacob!" -> "Thank you!" and
            # "Amelia and #TeamJacob on sports day" -> "Amelia on sports day": the "and" (or, at the end, a comma
            # or a word such as "to") would be left hanging
            rest = text[a.oe:hi].lstrip()
            ending = not rest or not (rest[0].isalnum() or rest[0] in "#@")
            m = (_DANGLING if ending else _AND_BEFORE).search(text[lo:a.os])
            if m:
                a.os = lo + m.start()
            if rest[:1] in _PUNCTUATION:        # "Lunch with #TeamJacob ." -> "Lunch." with no space before the "."
                a.oe = hi - len(text[a.oe:hi].lstrip(" \t\u00a0"))
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


def plan_changes(text: str, actions: list[Action]) -> tuple[list[Change], dict[int, str]]:
    """The changes to make, and the phrase each action became (by id of the action)."""
    _grow_removals(text, actions)
    found: list[Change] = []
    phrases: dict[int, str] = {}
    for group in _groups(text, actions):
        head = group[0][0]
        if head.kind == "remove":
            found.append(Change(head.os, head.oe, text[head.os:head.oe], "", head.pids[0]))
            phrases[id(head)] = ""
            continue
        people = 1 + sum(1 for _, join in group[1:] if join != "same")
        last = group[-1][0]
        phrase = _phrase(people, head.staff, last.possessive, head.sentence_start,
                         all(a.caps for a, _ in group))
        found.append(Change(head.os, head.oe, text[head.os:head.oe], phrase, head.pids[0]))
        phrases[id(head)] = phrase
        prev = head
        for a, _ in group[1:]:
            found.append(Change(prev.oe, a.oe, text[prev.oe:a.oe], "", a.pids[0]))
            phrases[id(a)] = phrase
            prev = a
    return found, phrases


def _chains(text: str, actions: list[Action]) -> list[Group]:
    """Runs of replacements joined by spaces ("same" person), commas or "and"."""
    chains: list[Group] = []
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
    return chains


def _groups(text: str, actions: list[Action]) -> list[Group]:
    """Replacements that name one person ("Amelia Jones" as two roster names) or a list of pupils
    ("Amelia, Jacob and Zoë") become one phrase. A list must end in "and"/"&" to be merged."""
    groups = []
    for chain in _chains(text, actions):
        current: Group = []
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
            piece: Group = []
            for a, join in current:
                if join == "comma" and piece:
                    groups.append(piece)
                    piece = [(a, None)]
                else:
                    piece.append((a, join))
            groups.append(piece)
    return groups


def _phrase(people: int, staff: bool, possessive: str | None, sentence_start: bool, caps: bool) -> str:
    """The neutral phrase that replaces the names of `people` people."""
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


def apply_changes(text: str, found: list[Change]) -> str:
    """The text with the changes made."""
    out = []
    pos = 0
    for c in sorted(found, key=lambda c: c.start):
        out.append(text[pos:c.start])
        out.append(c.replacement)
        pos = c.end
    out.append(text[pos:])
    return "".join(out)
