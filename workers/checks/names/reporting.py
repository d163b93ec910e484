"""The findings the names check gives: names taken out, names in links, words to review."""
from __future__ import annotations

from moderation.findings import BLOCK, INFO, REVIEW, Finding
from workers.checks.names.lexicon import FORM_WORDS
from workers.checks.names.model import Action, Plan, Review


def removed_finding(a: Action, phrase: str, subject: str) -> Finding:
    """What kind of name was replaced or taken out, without the name."""
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


def link_findings(plan: Plan, subject: str) -> list[Finding]:
    """One block finding per link or e-mail address with a name in it."""
    by_zone: dict[tuple[int, int], tuple[str, set[int]]] = {}
    for _, _, pids, where, zone in plan.links:
        by_zone.setdefault(zone, (where, set()))[1].update(pids)
    findings = []
    for (zs, ze), (where, pids) in by_zone.items():
        article = "A link" if where == "link" else "An e-mail address"
        ids = sorted(pids)
        findings.append(Finding(
            "name_in_link", BLOCK,
            f"{article} in the {subject} contains a pupil's name. "
            f"Use one that does not name the pupil, or take it out.",
            subject, {"person_id": ids[0], "person_ids": ids[:20], "start": zs, "end": ze},
        ))
    return findings


def review_finding(r: Review, subject: str) -> Finding:
    """A word that may be a pupil's name, for a person to check."""
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
