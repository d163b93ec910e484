"""Offensive language: found through the usual disguises, never inside ordinary words."""
from __future__ import annotations

import pytest

from moderation.findings import REVIEW
from workers.checks.tone import check_tone, offensive_words

# (text, the word as written, masked)
POSITIVES = [
    ("What the fuck happened at lunch", "fuck", "f***"),
    ("What the f*ck", "f*ck", "f***"),
    ("f**king brilliant", "f**king", "f******"),
    ("sh1t happens", "sh1t", "s***"),
    ("5h1t", "5h1t", "5***"),
    ("$hit", "$hit", "$***"),
    ("sh!t day", "sh!t", "s***"),
    ("You are a B1TCH", "B1TCH", "B****"),
    ("a w@nker", "w@nker", "w*****"),
    ("fuuuuuck", "fuuuuuck", "f*******"),
    ("shiiiiit", "shiiiiit", "s*******"),
    ("Fück", "Fück", "F***"),
    ("total b0ll0cks", "b0ll0cks", "b*******"),
    ("bollocks!", "bollocks", "b*******"),
    ("what a tw@t", "tw@t", "t***"),
    ("pissed off", "pissed", "p*****"),
    ("stop being a tosser", "tosser", "t*****"),
    ("crappy weather", "crappy", "c*****"),
    ("bitches", "bitches", "b******"),
    ("WTF was that", "WTF", "W**"),
    ("c*nt", "c*nt", "c***"),
    ("arsehole", "arsehole", "a*******"),
    ("fuckin hell", "fuckin", "f*****"),
    ("SHIT", "SHIT", "S***"),
    ("a slu7", "slu7", "s***"),
    ("3 shits", "shits", "s****"),
]

NEGATIVES = [
    "Our trip to Scunthorpe was great",
    "The whole class did well",
    "We assess reading every term",
    "A visit to Sussex and Essex and Middlesex",
    "Reading Charles Dickens in Year 6",
    "Dick Whittington was our panto",
    "Mocktail and cocktail sausages",
    "A walk near Penistone",
    "The blue tits are nesting",
    "Mary rode on an ass to Bethlehem",
    "Analysis of the results",
    "a grape and a therapist",
    "a shuttlecock and a cockerel",
    "Offa's Dyke path",
    "The pros and cons",
    "A shiitake mushroom",
    "Hell's Kitchen? no: shell, hello, shellfish",
    "Well done, 10/10!",
    "*Great* day!",
    "Scrabble: shite? No, we played 'white'",
    "bass guitar, passage, compass",
    "Jack and Jill went up the hill",
    "Spice and rice",
    "Retardant fabric for the stage curtains",
    "Arsenal won again",
    "Pakistan day celebrations",
    "Twathe",
]


@pytest.mark.parametrize("text, written, masked", POSITIVES, ids=[p[0] for p in POSITIVES])
def test_positives(text, written, masked):
    findings = check_tone(text, "text")
    assert len(findings) == 1
    [f] = findings
    assert f.code == "offensive_language" and f.severity == REVIEW
    assert f.evidence["masked"] == masked
    assert text[f.evidence["start"]:f.evidence["end"]].strip("*!|") == written
    assert f'("{masked}")' in f.message
    assert written.lower() not in f.message.lower() or len(written) <= 1


@pytest.mark.parametrize("text", [t for t in NEGATIVES if "shite" not in t])
def test_negatives(text):
    assert check_tone(text, "text") == []


def test_shite_is_flagged_but_white_is_not():
    findings = check_tone("Scrabble: shite? No, we played 'white'", "text")
    assert [f.evidence["masked"] for f in findings] == ["s****"]


def test_message_says_where():
    [f] = check_tone("a crap photo", "alt text of photo 3")
    assert f.subject == "alt text of photo 3"
    assert f.message.startswith("The alt text of photo 3 has a word that many people find offensive")


def test_each_occurrence_is_reported():
    findings = check_tone("shit, shit and more sh*t", "text")
    assert [(f.evidence["start"], f.evidence["end"]) for f in findings] == [(0, 4), (6, 10), (20, 24)]


def test_word_list_is_loaded_and_modest():
    words = offensive_words()
    assert 30 <= len(words) <= 200
    assert "fuck" in words and "ass" not in words and "dick" not in words


def test_clean_text_and_empty_text():
    assert check_tone("Well done to everyone at sports day!", "text") == []
    assert check_tone("", "text") == []
