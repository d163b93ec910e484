"""The words the names check knows besides the roster: word lists from data/ and fixed word sets."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent.parent / "data"


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
LONGEST_HASHTAG_WORD = max(map(len, HASHTAG_WORDS)) + 1

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
    "hashtag": "name written as a hashtag", "mention": "name written as a mention (@)",
}
FORM_RANK = {"full": 0, "initial": 1, "first": 2, "preferred": 3, "last": 4}
