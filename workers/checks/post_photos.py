"""The photos check: every upload rebuilt without metadata; the checks after it only ever see the clean renditions."""
from __future__ import annotations

import hashlib
from dataclasses import replace

from moderation.findings import Finding
from workers.checks.base import Memo, Photo, PhotoCheck
from workers.checks.photos import CleanPhoto, clean_photo, verify_clean

STAGE = "clean"


def _source(data: bytes, limits) -> str:
    return f"{hashlib.sha256(data).hexdigest()} {limits!r}"


def _remembered(memo: Memo | None) -> CleanPhoto | None:
    """The clean rendition an earlier check made of the same upload, if it still reads back clean."""
    if memo is None or memo.data is None or verify_clean(memo.data, memo.value["format"]):
        return None
    return CleanPhoto(memo.data, memo.value["format"], memo.value["width"], memo.value["height"],
                      [Finding(**f) for f in memo.value["findings"]])


class PhotosCheck(PhotoCheck):
    name = "photos"

    def check_photo(self, index: int, photo: Photo):
        source = _source(photo.data, self.context.photo_limits)
        clean = _remembered(photo.remembered(STAGE, source))
        if clean is None:
            clean = clean_photo(photo.data, photo.label, self.context.photo_limits)
        self.report(index, "cleaned" if clean.data else "refused")
        memo = Memo(source, {"format": clean.format, "width": clean.width, "height": clean.height,
                             "findings": [f.as_dict() for f in clean.findings]}, clean.data) if clean.data else None
        return replace(photo, data=clean.data, format=clean.format, width=clean.width, height=clean.height,
                       memos=photo.remembering(STAGE, memo)), clean.findings
