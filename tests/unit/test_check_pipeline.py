"""Photo checks run as one pipeline per photo, photos side by side: the outcome is what running them one after the
other gives, a crash on any photo fails closed as before, and a memo is reused only for the inputs it was made
from."""
from __future__ import annotations

from dataclasses import replace

import pytest

from consent_registry.faces import FaceContext, FaceSettings
from consent_registry.matching import Gallery
from consent_registry.consent import Status
from moderation.findings import INFO, Finding
from tests.shared_fixtures import fixture_path
from workers.checks.base import CheckContext, Draft, Memo, Photo, PhotoCheck
from workers.checks.faces import FacesCheck
from workers.checks.photos import PhotoLimits
from workers.checks.post_photos import PhotosCheck
from workers.checks.run import run_checks

import numpy as np

PHOTOS = ["faces/group_two_people.jpg", "photos/iphone_hdr_YES.jpg", "faces/obama_3.jpg"]


@pytest.fixture(scope="module")
def context() -> CheckContext:
    nobody = Gallery(np.zeros(0, np.int64), np.zeros((0, 128)))
    faces = FaceContext(nobody, ("social",), lambda person_id, channel: Status(False, "none"), FaceSettings())
    return CheckContext(PhotoLimits(), faces)


def draft(names=PHOTOS) -> Draft:
    return Draft("", tuple(Photo.given(f"photo {n}", fixture_path(name).read_bytes(), "people")
                           for n, name in enumerate(names, start=1)))


class Counted(PhotoCheck):
    """Notes, for every photo that reaches it with data, how many faces the checks before it found."""

    name = "counted"

    def check_photo(self, index, photo):
        if photo.data is None:
            return photo, []
        return photo, [Finding("counted", INFO, f"{len(photo.faces)} faces", photo.label)]


class CrashesOnTheSecond(PhotoCheck):
    name = "crashes"

    def check_photo(self, index, photo):
        if index == 1:
            raise RuntimeError("a fault in the check")
        return photo, []


def test_each_photo_gets_its_own_faces_in_order(context):
    """Photos of two, no and one face, checked side by side: each result is its own photo's."""
    outcome = run_checks(draft(), context, checks=(PhotosCheck, FacesCheck, Counted))
    assert [len(p.faces) for p in outcome.draft.photos] == [2, 0, 1]
    assert [(f.subject, f.message) for f in outcome.findings if f.code == "counted"] == [
        ("photo 1", "2 faces"), ("photo 2", "0 faces"), ("photo 3", "1 faces")]


def test_the_pipeline_gives_what_the_checks_give_one_after_the_other(context):
    together = run_checks(draft(), context, checks=(PhotosCheck, FacesCheck))
    cleaned = run_checks(draft(), context, checks=(PhotosCheck,))
    apart = run_checks(cleaned.draft, context, checks=(FacesCheck,))
    assert [(p.data, p.faces) for p in together.draft.photos] == [(p.data, p.faces) for p in apart.draft.photos]
    assert together.findings == cleaned.findings + apart.findings


def test_a_crash_on_one_photo_withholds_every_photo(context):
    """The crash on photo 2 is the check's crash: what the checks before it found stays, every photo is withheld,
    and the check after it sees no photo to look at."""
    outcome = run_checks(draft(), context, checks=(PhotosCheck, CrashesOnTheSecond, Counted))
    assert [(f.code, f.subject) for f in outcome.findings] == [("check_crashed", "crashes")]
    assert all(p.data is None and p.faces == () and p.memos == {} for p in outcome.draft.photos)
    assert outcome.verdict == "block"


def test_a_memo_is_used_only_for_the_inputs_it_was_made_from(context):
    """A remembered detection stands in for the detector only while the photo, its covered areas and the detector
    are the same (here a memo of 'no faces' proves it was used); any other memo is ignored."""
    first = run_checks(draft(["faces/obama_3.jpg"]), context, checks=(PhotosCheck, FacesCheck))
    photo = first.draft.photos[0]
    assert len(photo.faces) == 1 and set(photo.memos) == {"clean", "faces"}
    upload = draft(["faces/obama_3.jpg"]).photos[0]

    def again(memos, regions=()):
        given = replace(upload, memos=memos, regions=regions)
        return run_checks(Draft("", (given,)), context, checks=(PhotosCheck, FacesCheck)).draft.photos[0]

    nothing = {**photo.memos, "faces": Memo(photo.memos["faces"].source, [])}
    assert again(nothing).faces == ()  # the memo stood in for the detector
    assert len(again(nothing, regions=((0, 10, 10, 0),)).faces) == 1  # another covered area: looked at again
    stale = {**photo.memos, "faces": Memo("another photo", [])}
    assert len(again(stale).faces) == 1
    reused = again(photo.memos)
    assert (reused.data, reused.faces) == (photo.data, photo.faces)


def test_a_remembered_clean_rendition_that_no_longer_reads_clean_is_made_again(context):
    first = run_checks(draft(["faces/obama_3.jpg"]), context, checks=(PhotosCheck,)).draft.photos[0]
    memo = first.memos["clean"]
    tampered = {"clean": Memo(memo.source, memo.value, memo.data + b"Exif GPS")}
    upload = replace(draft(["faces/obama_3.jpg"]).photos[0], memos=tampered)
    again = run_checks(Draft("", (upload,)), context, checks=(PhotosCheck,)).draft.photos[0]
    assert again.data == first.data and again.memos["clean"].data == first.data
