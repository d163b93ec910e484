"""The photos check: every upload rebuilt without metadata; the checks after it only ever see the clean renditions."""
from __future__ import annotations

from dataclasses import replace

from workers.checks.base import Check, CheckResult, Draft
from workers.checks.photos import clean_photo


class PhotosCheck(Check):
    name = "photos"

    def run(self, draft: Draft) -> CheckResult:
        photos, findings = [], []
        for index, photo in enumerate(draft.photos):
            clean = clean_photo(photo.data, photo.label, self.context.photo_limits)
            self.report(index, "cleaned" if clean.data else "refused")
            photos.append(replace(photo, data=clean.data, format=clean.format, width=clean.width, height=clean.height))
            findings += clean.findings
        return CheckResult(findings, replace(draft, photos=tuple(photos)))

    def fail_closed(self, draft: Draft) -> Draft:
        return replace(draft, photos=tuple(p.withheld() for p in draft.photos))
