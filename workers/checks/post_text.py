"""The text check: pupils' names out of the post text and every alt text; personal data and offensive words flagged."""
from __future__ import annotations

from dataclasses import replace

from moderation.findings import BLOCK, Finding
from workers.checks.base import Check, CheckResult, Draft
from workers.checks.personal_data import find_personal_data
from workers.checks.tone import check_tone


def _changes(result) -> list[dict]:
    return [{"start": c.start, "end": c.end, "original": c.original, "replacement": c.replacement}
            for c in result.changes]


class TextCheck(Check):
    """One check, so that its findings stay grouped by where they were found (the text, then each alt text)."""

    name = "text"
    records = ("text_changes",)
    photo_records = ("alt_changes",)

    def run(self, draft: Draft) -> CheckResult:
        names = self.context.names
        if names is None:
            raise RuntimeError("the roster could not be read, so pupils' names cannot be checked")
        result = names.clean(draft.text, "text")
        findings, text_changes = list(result.findings), _changes(result)
        texts = [("text", result.cleaned)]
        photos, alt_changes = [], []
        for photo in draft.photos:
            subject = f"alt text of {photo.label}"
            alt = names.clean(photo.alt or "", subject)
            photos.append(replace(photo, alt=alt.cleaned))
            alt_changes.append({"alt_changes": _changes(alt)})
            findings += alt.findings
            texts.append((subject, alt.cleaned))
        for subject, text in texts:
            findings += find_personal_data(text, subject) + check_tone(text, subject)
            if names.remaining(text):
                findings.append(Finding("name_left", BLOCK, f"A pupil's name is still in the {subject} after "
                                        "cleaning; please take it out by hand.", subject))
        return CheckResult(findings, Draft(result.cleaned, tuple(photos)), {"text_changes": text_changes},
                           tuple(alt_changes))

    def fail_closed(self, draft: Draft) -> Draft:
        """No text that was not cleared of names is kept, nor judged by the checks after this one."""
        return Draft("", tuple(replace(p, alt=None) for p in draft.photos))
