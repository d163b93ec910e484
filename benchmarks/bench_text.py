"""How long the text checks take on one post, against rosters of 300, 2,000 and 50,000 pupils.

"check" rows: NameMatcher.clean + find_personal_data + check_tone on a 280-character post, with the
matcher built beforehand (it is built once per roster version). Baseline, in the same run: the
naive way to look for names, a Python `in` scan of the lower-cased post for every pupil's first
name and surname (it grows with the roster; ours should not).

"build" rows: building the NameMatcher for the roster. Baseline: a plain dict from each pupil's
lower-cased first name and surname to their ids (the least any index costs).
"""
from __future__ import annotations

import random

from benchmarks import median_seconds
from workers.checks.names import NameMatcher, RosterPerson
from workers.checks.personal_data import find_personal_data
from workers.checks.tone import check_tone

FIRST = (
    "Amelia Olivia Isla Ava Mia Ivy Lily Isabella Sophia Grace Freya Florence Willow Emily Ella Poppy Evie "
    "Elsie Charlotte Evelyn Sienna Sofia Daisy Phoebe Harper Alice Matilda Chloé Zoë Siobhán Aoife Niamh "
    "Ruby Rosie Hannah Esme Maya Layla Aria Orla Imogen Jessica Erin Eliza Thea Hallie Harriet Lucy Molly "
    "Muhammad Noah Oliver George Leo Arthur Oscar Harry Jack Charlie Jacob Freddie Alfie Theo Henry Archie "
    "Thomas Teddy Finley Isaac Joshua Alexander Lucas Edward Max Seán Oisín Łukasz Jakub Mateusz Rohan "
    "Arjun Aarav Yusuf Ibrahim Omar Ayaan Zayn Reuben Sebastian Tommy Albert Ronnie Louie Hugo Elijah "
    "Harrison Jude Rory Ezra Toby Dylan Ethan Daniel Samuel William James Joseph Benjamin Adam Ryan"
).split()
SURNAMES = (
    "Smith Jones Taylor Williams Brown Davies Evans Wilson Thomas Roberts Johnson Lewis Walker Robinson "
    "Wood Thompson White Watson Jackson Wright Green Harris Cooper King Lee Martin Clarke James Morgan "
    "Hughes Edwards Hill Moore Clark Harrison Scott Young Morris Hall Ward Turner Carter Phillips Mitchell "
    "Patel Khan Ali Hussain Begum Ahmed Singh Kaur Nowak Kowalski Wiśniewski O'Brien O'Connor D'Souza "
    "Murphy Kelly Byrne Smith-Jones Fernández García Nguyen Chen Wang Okafor Adeyemi Mensah Osei"
).split()
SYLLABLES = "ash bar ber bro cal dar den dun fen gar ham har kel ley lin mar mor nor ock ped ril ros sel ter thorn ton ward wick win".split()

POST = (
    "Well done to Amelia Smith and Jacob O'Brien in Year 4 for a brilliant sports day! Zoë's relay team "
    "came first and Seán won the egg and spoon race. Thank you to Mrs Patel and all the parents who came "
    "to cheer. #WellDoneAmelia #SportsDay @warmleypkschool More photos on Friday 12th!"
)
assert len(POST) == 280, len(POST)


def synthetic_roster(pupils: int, seed: int = 7) -> list[RosterPerson]:
    """Pupils with real first names and a mix of real and made-up surnames, plus 40 staff (Mrs Patel among them)."""
    rng = random.Random(seed)
    made_up = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
               for _ in range(max(100, pupils // 3))}
    surnames = SURNAMES + sorted(made_up)
    people = [RosterPerson(1, "Amelia", "Smith"), RosterPerson(2, "Jacob", "O'Brien"),
              RosterPerson(3, "Zoë", "Nowak"), RosterPerson(4, "Seán", "Murphy")]
    for pid in range(5, pupils + 1):
        preferred = rng.choice(FIRST) if rng.random() < 0.05 else None
        people.append(RosterPerson(pid, rng.choice(FIRST), rng.choice(surnames), preferred))
    people.append(RosterPerson(pupils + 1, "Anita", "Patel", kind="staff"))
    for k in range(1, 40):
        people.append(RosterPerson(pupils + 1 + k, rng.choice(FIRST), rng.choice(SURNAMES), kind="staff"))
    return people


def _plain_index(people) -> dict:
    index: dict[str, list[int]] = {}
    for p in people:
        index.setdefault(p.first.lower(), []).append(p.person_id)
        index.setdefault(p.last.lower(), []).append(p.person_id)
    return index


def _naive_scan(people, post: str) -> list[int]:
    lowered = post.lower()
    return [p.person_id for p in people if p.first.lower() in lowered or p.last.lower() in lowered]


def run(repeats: int = 5) -> list[dict]:
    rows = []
    post = POST
    for pupils in (300, 2_000, 50_000):
        people = synthetic_roster(pupils)
        label = f"{pupils:,} pupils"
        build_repeats = 3 if pupils >= 50_000 else repeats
        seconds = median_seconds(lambda: NameMatcher(people), build_repeats)
        baseline = median_seconds(lambda: _plain_index(people), build_repeats)
        rows.append({"name": f"build the name matcher, {label}", "seconds": seconds,
                     "baseline_seconds": baseline, "ratio": seconds / baseline,
                     "baseline": "a dict from lower-cased first names and surnames to ids"})
        matcher = NameMatcher(people)

        def check():
            matcher.clean(post, "text")
            find_personal_data(post, "text")
            check_tone(post, "text")

        check()  # warm caches (folding, regexes)
        seconds = median_seconds(check, repeats * 4)
        baseline = median_seconds(lambda: _naive_scan(people, post), repeats * 4)
        rows.append({"name": f"check a {len(post)}-character post, {label}", "seconds": seconds,
                     "baseline_seconds": baseline, "ratio": seconds / baseline,
                     "baseline": "`in` scan of the lower-cased post for every pupil's first name and surname"})
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: {row['seconds']:.5f} s (baseline {row['baseline_seconds']:.5f} s, ratio {row['ratio']:.2f})")
