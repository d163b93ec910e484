"""The networks' own limits on photos: how many a post may carry, how large each may be, how long its description.

A photo larger than the smallest limit among the post's networks (Bluesky's 1,000,000 bytes) is encoded again
as JPEG at lower quality until it fits; that rendition replaces the one before, so it is the photo reviewed,
approved and published. Its size in pixels is kept, so the faces found on it stay where they were.
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


def _fit(photo: Photo, max_bytes: int, strictest: str, limits) -> tuple[Photo, list[Finding]]:
    """The photo within max_bytes, encoded again if it must be, and what was done."""
    if photo.data is None or len(photo.data) <= max_bytes:
        return photo, []
    with Image.open(io.BytesIO(photo.data)) as opened:
        rgb = opened.convert("RGB")
    for quality in QUALITIES:
        smaller = rebuild(rgb, "JPEG", photo.label, replace(limits, jpeg_quality=quality), [])
        if smaller.data is None:  # the encoder's output failed verification: never publish it
            return photo.withheld(), smaller.findings
        if len(smaller.data) <= max_bytes:
            note = Finding("photo_reencoded", INFO, f"{photo.label} was encoded again at JPEG quality {quality} "
                           f"({_megabytes(len(smaller.data))}) to fit {strictest}'s limit of "
                           f"{_megabytes(max_bytes)}.", photo.label,
                           {"bytes": len(smaller.data), "limit": max_bytes, "quality": quality})
            return replace(photo, data=smaller.data, format="JPEG"), [note]
    return photo, [Finding("photo_too_large", BLOCK, f"{photo.label} is {_megabytes(len(photo.data))} even "
                           f"encoded again; {strictest} takes at most {_megabytes(max_bytes)}. Use a smaller "
                           "photo or crop it.", photo.label, {"bytes": len(photo.data), "limit": max_bytes})]
