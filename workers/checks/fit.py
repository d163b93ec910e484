"""The networks' own limits on photos: how many a post may carry, how large each may be, how long its description.

A photo larger than the smallest limit among the post's networks (Bluesky's 1,000,000 bytes) is encoded again
as JPEG at lower quality until it fits, with each network's own rendition of it; those renditions replace the
ones before, so they are what is reviewed, approved and published. Their size in pixels is kept, so the faces
found on them stay where they were.
"""
from __future__ import annotations

import io
from dataclasses import replace

from PIL import Image

from moderation.findings import BLOCK, INFO, Finding
from workers.checks.base import Check, CheckResult, Draft, Photo, Target
from workers.checks.photos import rebuild

QUALITIES = (80, 72, 64, 56, 48, 40)  # below 40 a school photo shows blocks; a smaller original is the better fix


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


class FitCheck(Check):
    name = "network limits"

    def run(self, draft: Draft) -> CheckResult:
        targets = self.context.targets
        findings = [f for t in targets for f in _count_and_alt(draft, t)]
        limits = [(t.max_photo_bytes, t.label) for t in targets if t.max_photo_bytes]
        if not limits or not draft.photos:
            return CheckResult(findings)
        max_bytes, strictest = min(limits)
        photos = []
        for photo in draft.photos:
            fitted, found = _fit(photo, max_bytes, strictest, self.context.photo_limits)
            photos.append(fitted)
            findings += found
        return CheckResult(findings, replace(draft, photos=tuple(photos)))


def _count_and_alt(draft: Draft, target: Target) -> list[Finding]:
    findings = []
    if target.max_photos is not None and len(draft.photos) > target.max_photos:
        findings.append(Finding("too_many_photos", BLOCK, f"{target.label} takes at most {target.max_photos} "
                                f"photos in a post; this post has {len(draft.photos)}.", "post",
                                {"count": len(draft.photos), "limit": target.max_photos}))
    for photo in draft.photos:
        alt = photo.alt or ""
        if target.max_alt_text is not None and len(alt) > target.max_alt_text:
            findings.append(Finding("alt_text_too_long", BLOCK, f"The description of {photo.label} is {len(alt)} "
                                    f"characters; {target.label} takes at most {target.max_alt_text}.", photo.label,
                                    {"count": len(alt), "limit": target.max_alt_text}))
    return findings


def _encoded(data: bytes, label: str, limits, quality: int):
    with Image.open(io.BytesIO(data)) as opened:
        return rebuild(opened.convert("RGB"), "JPEG", label, replace(limits, jpeg_quality=quality), [])


def _fit(photo: Photo, max_bytes: int, strictest: str, limits) -> tuple[Photo, list[Finding]]:
    """The photo within max_bytes, every network's rendition of it encoded again if one must be, and what was done."""
    if photo.data is None:
        return photo, []
    largest = max([len(photo.data), *(len(data) for _, data in photo.renditions)])
    if largest <= max_bytes:
        return photo, []
    for quality in QUALITIES:  # the same quality for every rendition: they differ only in the faces covered
        base = _encoded(photo.data, photo.label, limits, quality)
        own = [(channel, _encoded(data, photo.label, limits, quality)) for channel, data in photo.renditions]
        failed = [r for r in [base, *(r for _, r in own)] if r.data is None]
        if failed:  # the encoder's output failed verification: never publish it
            return photo.withheld(), failed[0].findings
        size = max(len(r.data) for r in [base, *(r for _, r in own)])
        if size <= max_bytes:
            note = Finding("photo_reencoded", INFO, f"{photo.label} was encoded again at JPEG quality {quality} "
                           f"({_megabytes(size)}) to fit {strictest}'s limit of {_megabytes(max_bytes)}.",
                           photo.label, {"bytes": size, "limit": max_bytes, "quality": quality})
            return replace(photo, data=base.data, format="JPEG",
                           renditions=tuple((c, r.data) for c, r in own)), [note]
    return photo, [Finding("photo_too_large", BLOCK, f"{photo.label} is {_megabytes(largest)} even "
                           f"encoded again; {strictest} takes at most {_megabytes(max_bytes)}. Use a smaller "
                           "photo or crop it.", photo.label, {"bytes": largest, "limit": max_bytes})]
