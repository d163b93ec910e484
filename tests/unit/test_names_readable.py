"""After names go, the sentence still reads as a sentence: a name, or a hashtag or mention that is only a name, in a
sentence becomes "one of our pupils" (names listed together, "two of our pupils"...); a tag in the block after the
sentence goes whole; nothing is left hanging ("to", "and", "from" before a full stop), doubled or spaced before a
full stop. Every change is still a literal edit of what the teacher wrote, so the review page shows each one."""
from __future__ import annotations

import re

import pytest

from moderation.findings import BLOCK, INFO
from workers.checks.names import NameMatcher, RosterPerson

ROSTER = [RosterPerson(1, "Amelia", "Hartley"), RosterPerson(2, "Noah", "Okafor"), RosterPerson(3, "Zoë", "Clarke"),
          RosterPerson(4, "Jacob", "Jones")]

# (what the teacher wrote, what is posted); the name's place and the word it follows in the comment
CASES = [
    ("Well done to #AmeliaHartley!", "Well done to one of our pupils!"),  # end, "to", a hashtag
    ("Congratulations to #NoahOkafor and #AmeliaHartley on their medals.",
     "Congratulations to two of our pupils on their medals."),  # middle, "to" and "and"
    ("To #AmeliaHartley and her team: thank you!", "To one of our pupils and her team: thank you!"),  # start, "to"
    ("#NoahOkafor and #AmeliaHartley ran the relay.", "Two of our pupils ran the relay."),  # start, "and"
    ("A lovely letter from #AmeliaHartley arrived today.",
     "A lovely letter from one of our pupils arrived today."),  # middle, "from"
    ("From #AmeliaHartley: a poem about autumn.", "From one of our pupils: a poem about autumn."),  # start, "from"
    ("A card from Noah.", "A card from one of our pupils."),  # end, "from", a name
    ("A wave from @amelia_hartley 👋", "A wave from one of our pupils 👋"),  # end, "from", a mention
    ("Year 4 planted trees with @noah_okafor today.",
     "Year 4 planted trees with one of our pupils today."),  # middle, "with", a mention
    ("Reading with #ZoëClarke.", "Reading with one of our pupils."),  # end, "with"
    ("With Amelia Hartley in goal, we won 3-0!", "With one of our pupils in goal, we won 3-0!"),  # start, "with"
    ("Our thanks for the cake go to Zoë and #NoahOkafor.",
     "Our thanks for the cake go to two of our pupils."),  # end, "and": a name and a hashtag together
    ("Amelia and Noah sang a duet.", "Two of our pupils sang a duet."),  # start, "and", names
    ("Goals from #NoahOkafor, #AmeliaHartley and Zoë won the match.",
     "Goals from three of our pupils won the match."),  # middle, commas and "and"
    ("Well done @amelia_hartley, @noah and Zoë.", "Well done three of our pupils."),  # end
    ("#AmeliaHartley's painting won.", "One of our pupils' painting won."),  # start, possessive
    ("#AMELIAHARTLEY WON THE RACE!", "ONE OF OUR PUPILS WON THE RACE!"),
    # a tag after the sentence, or not only a name, goes whole; what it leaves reads as a sentence
    ("Great day at the farm! #AmeliaHartley #Year4", "Great day at the farm! #Year4"),
    ("Sports day was brilliant. #AmeliaHartley #NoahOkafor", "Sports day was brilliant."),
    ("Great day at the farm #Year4 #AmeliaHartley", "Great day at the farm #Year4"),
    ("Well done #AmeliaHartley!", "Well done!"),
    ("Thank you to #TeamAmelia!", "Thank you!"),
    ("Lunch with #TeamAmelia .", "Lunch."),
    ("A big cheer from #TeamNoah, then home.", "A big cheer, then home."),
    ("Medals for Jacob and #TeamAmelia!", "Medals for one of our pupils!"),
]


@pytest.fixture(scope="module")
def matcher():
    return NameMatcher(ROSTER)


def reads_as_a_sentence(text: str) -> list[str]:
    """What would make a reader think something was cut out."""
    faults = []
    if "  " in text:
        faults.append("a doubled space")
    if re.search(r"\s[,.!?;:]", text):
        faults.append("a space before punctuation")
    if re.search(r"(?i)\b(?:to|and|from|with)\s*(?:[,.!?;:]|$)", text):
        faults.append("a word left hanging")
    if not text[:1].isupper() and not text[:1] == "#":
        faults.append("no capital at the start")
    return faults


@pytest.mark.parametrize("text, posted", CASES, ids=[case[0] for case in CASES])
def test_the_cleaned_sentence_reads_whole_with_no_name_left(matcher, text, posted):
    result = matcher.clean(text, "text")
    assert result.cleaned == posted
    assert reads_as_a_sentence(result.cleaned) == []
    assert matcher.remaining(result.cleaned) == []
    assert [f for f in result.findings if f.severity == BLOCK] == []
    assert all(f.code == "name_removed" for f in result.findings if f.severity == INFO)
    # each change is a literal edit of the original, and together they make the text posted: the review page
    # shows each one
    rebuilt, pos = [], 0
    for change in sorted(result.changes, key=lambda c: c.start):
        assert text[change.start:change.end] == change.original and change.start >= pos
        rebuilt += [text[pos:change.start], change.replacement]
        pos = change.end
    assert "".join(rebuilt + [text[pos:]]) == posted


def test_a_name_only_hashtag_says_what_it_was_replaced_by(matcher):
    [finding] = matcher.clean("Well done to #AmeliaHartley!", "text").findings
    assert finding.message == ("A pupil's name written as a hashtag in the text was replaced by "
                               "\"one of our pupils\".")
    assert finding.evidence["form"] == "hashtag" and finding.evidence["person_id"] == 1


def test_the_sentence_check_finds_what_the_cleaning_used_to_leave():
    assert reads_as_a_sentence("Well done to!") == ["a word left hanging"]
    assert reads_as_a_sentence("Lunch with .") == ["a space before punctuation", "a word left hanging"]
    assert reads_as_a_sentence("smashed it") == ["no capital at the start"]
