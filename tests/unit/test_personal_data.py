"""Personal data in post text: what must block, and the ordinary things a school posts that must not."""
from __future__ import annotations

import pytest

from moderation.findings import BLOCK
from workers.checks.personal_data import find_personal_data

# (text, the kind found, the part of the text found)
POSITIVES = [
    # phone numbers: UK and international forms
    ("Any questions, call Mrs Smith on 0117 496 0123.", "phone", "0117 496 0123"),
    ("Text me on 07700 900123 if you get lost", "phone", "07700 900123"),
    ("Ring Amelia's mum on 07911 123456", "phone", "07911 123456"),
    ("Mobile: 07911123456", "phone", "07911123456"),
    ("Call +44 20 7946 0958", "phone", "+44 20 7946 0958"),
    ("Call +44 (0)20 7946 0958 today", "phone", "+44 (0)20 7946 0958"),
    ("From abroad: 0044 117 496 0123", "phone", "0044 117 496 0123"),
    ("Office (0117) 496 0123", "phone", "(0117) 496 0123"),
    ("Our partner school in California: +1 415 555 2671", "phone", "+1 415 555 2671"),
    ("Tickets from 01632 960123", "phone", "01632 960123"),
    # e-mail addresses
    ("Email head@school.org.uk for details", "email", "head@school.org.uk"),
    ("Contact Amelia.Smith+test@gmail.com", "email", "Amelia.Smith+test@gmail.com"),
    ("write to office (at) school.org", "email", "office (at) school.org"),
    ("mum [at] example [dot] com", "email", "mum [at] example [dot] com"),
    # postcodes
    ("Drop-off at BS30 8AB", "postcode", "BS30 8AB"),
    ("lives near sw1a 1aa", "postcode", "sw1a 1aa"),
    ("M1 1AE", "postcode", "M1 1AE"),
    ("EC1A 1BB is the address", "postcode", "EC1A 1BB"),
    ("Post to W1A 0AX", "postcode", "W1A 0AX"),
    ("B33 8TH", "postcode", "B33 8TH"),
    ("GIR 0AA", "postcode", "GIR 0AA"),
    ("postcode bs308ab", "postcode", "bs308ab"),
    # street addresses
    ("The party is at 12 Acacia Avenue", "address", "12 Acacia Avenue"),
    ("3a Church Road", "address", "3a Church Road"),
    ("Flat 2, 45 High Street", "address", "Flat 2, 45 High Street"),
    ("221B Baker Street", "address", "221B Baker Street"),
    ("He lives at 7 Meadow Close.", "address", "7 Meadow Close."),
    ("10 Rose Gardens", "address", "10 Rose Gardens"),
    ("15 Oak Tree Way", "address", "15 Oak Tree Way"),
    ("4 Mill Lane", "address", "4 Mill Lane"),
    ("99 Station Rd", "address", "99 Station Rd"),
    # dates of birth
    ("Amelia was born on 3 March 2016", "date_of_birth", "born on 3 March 2016"),
    ("born 03/03/2016", "date_of_birth", "born 03/03/2016"),
    ("DOB: 3/3/16", "date_of_birth", "DOB: 3/3/16"),
    ("d.o.b. 12.05.2017", "date_of_birth", "d.o.b. 12.05.2017"),
    ("Date of birth: 1st June 2015", "date_of_birth", "Date of birth: 1st June 2015"),
    ("Her birthday is on 3rd March", "date_of_birth", "birthday is on 3rd March"),
    ("Jacob turns 7 on 3 March!", "date_of_birth", "turns 7 on 3 March"),
    ("she turned seven on Tuesday 3 March", "date_of_birth", "turned seven on Tuesday 3 March"),
    ("Zoë's 7th birthday on 12 May", "date_of_birth", "7th birthday on 12 May"),
    ("his seventh birthday is on the 4th of July", "date_of_birth", "seventh birthday is on the 4th of July"),
    ("born in March 2016", "date_of_birth", "born in March 2016"),
    ("will be 8 years old on 2 June", "date_of_birth", "8 years old on 2 June"),
    ("birthday: June 2nd 2016", "date_of_birth", "birthday: June 2nd 2016"),
    # record numbers
    ("UPN A123456789012", "id", "A123456789012"),
    ("a123456789012", "id", "a123456789012"),
    ("temporary UPN B12345678901C", "id", "B12345678901C"),
    ("ULN 1234567890", "id", "ULN 1234567890"),
    ("pupil number 004512", "id", "pupil number 004512"),
    ("Candidate no. 1234", "id", "Candidate no. 1234"),
    ("NHS number 485 777 3456", "id", "NHS number 485 777 3456"),
    ("her number is 485 777 3456", "id", "485 777 3456"),
    ("record 12345678", "id", "12345678"),
]

NEGATIVES = [
    "Year 6 had a brilliant time",
    "Y6 performed their play",
    "Doors open at 9am",
    "at 9:15am and again at 10:30-11:45",
    "A great 3-2 win against Oak Park",
    "The 2024/25 season starts soon",
    "Tickets are £12.50",
    "We raised £1,250 for charity",
    "We raised 1500 pounds",
    "Room 12 is the library",
    "Class 4 visited the farm",
    "1st place in the relay!",
    "Y4 1st place in the relay",
    "Year 4 1st in the relay",
    "See you on 30 March",
    "Friday 12 July is sports day",
    "Happy 7th birthday to one of our pupils today!",
    "Happy 8th birthday!",
    "Our newest pupil was born in Bristol",
    "Table 3 Oak Class",
    "we ran 5 laps of the park",
    "100m in 14.2 seconds",
    "2,000 steps for charity",
    "the 2023-24 season",
    "Key Stage 2 results",
    "Year 6 Sports Day",
    "Year 3 Oak Lane class",
    "scored 12 goals this season",
    "Read it at https://school.example.org/news/2024/1234567",
    "#Year6 @warmleypkschool",
    "Top 10 Tips for reading",
    "10 Green Bottles",
    "page 12 of 20",
    "ages 4-11",
    "call 999 in an emergency",
    "The school is 150 years old on 3 May",
    "12/07/2024 is our open day",
    "Phase 2 starts in 2025",
    "Week 3 Day 2",
    "ticket 12",
    "Open 8:45-15:15",
    "Under 11s won 4-1",
    "Summer term 2025 runs 22/04/2025-22/07/2025",
    "Class 1, Class 2 and Class 3 Oak Way",
    "We walked 10,000,000 steps",
]


@pytest.mark.parametrize("text, kind, found", POSITIVES, ids=[p[0][:40] for p in POSITIVES])
def test_positives(text, kind, found):
    findings = find_personal_data(text, "text")
    assert [f.evidence["kind"] for f in findings] == [kind]
    [f] = findings
    assert f.severity == BLOCK
    assert f.code == f"personal_{kind}"
    assert text[f.evidence["start"]:f.evidence["end"]] == found
    assert f.subject == "text"


@pytest.mark.parametrize("text", NEGATIVES)
def test_negatives(text):
    assert find_personal_data(text, "text") == []


def test_messages_say_what_and_where_without_the_value():
    [f] = find_personal_data("Ring 0117 496 0123", "alt text of photo 2")
    assert f.message.startswith("There is a phone number in the alt text of photo 2.")
    assert "496" not in f.message and "496" not in str(f.evidence)
    assert f.subject == "alt text of photo 2"
    [f] = find_personal_data("Email head@school.org.uk", "text")
    assert f.message.startswith("There is an e-mail address in the text.")
    assert "head@" not in f.message


def test_several_kinds_in_one_post_in_order():
    text = ("Lost property: call 07911 123456 or email office@school.org.uk. "
            "Collect from 12 Acacia Avenue, Bristol BS30 8AB. UPN A123456789012.")
    kinds = [f.evidence["kind"] for f in find_personal_data(text, "text")]
    assert kinds == ["phone", "email", "address", "postcode", "id"]


def test_an_email_address_is_not_also_a_phone_or_an_id():
    findings = find_personal_data("amelia07911123456@example.com", "text")
    assert [f.evidence["kind"] for f in findings] == ["email"]


def test_empty_text():
    assert find_personal_data("", "text") == []
