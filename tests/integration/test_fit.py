"""Each network's photo limits, checked before review: a photo too large for one of the post's networks is encoded
again until it fits, and that rendition is the one checked and published; one that cannot fit is held."""
from __future__ import annotations

import io
from dataclasses import replace

from PIL import Image

from gateway.services.checking import check_draft, target
from workers.checks.base import Draft, Photo, Target
from workers.checks.photos import verify_clean
from tests.shared_fixtures import fixture_path

PALMS = "photos/corrupted.jpg"  # its clean rendition is 0.97 MB, the largest of the fixtures


def _quick(settings):
    """These tests are about sizes, not faces: HOG without upsampling finds no face in the palms either, in a tenth
    of the time."""
    return replace(settings, face_upsample=0)


def _target(label: str, max_photo_bytes: int, max_photos: int = 4, max_alt_text: int = 1000) -> Target:
    return replace(target(label, "archive", 280), max_photos=max_photos, max_photo_bytes=max_photo_bytes,
                   max_alt_text=max_alt_text)


def _palms(alt: str = "Palm trees by the sea") -> Photo:
    return Photo.given("photo 1 (palms.jpg)", fixture_path(PALMS).read_bytes(), alt)


def test_a_photo_too_large_for_one_network_is_encoded_again_to_fit_the_strictest(settings):
    roomy, strict = _target("@school (x)", 5 * 2**20), _target("school.example (small)", 400_000)
    before = check_draft(_quick(settings), Draft("Our beach trip", (_palms(),)), [roomy])
    outcome = check_draft(_quick(settings), Draft("Our beach trip", (_palms(),)), [roomy, strict])
    first, photo = before.draft.photos[0], outcome.draft.photos[0]
    assert len(first.data) > 400_000 >= len(photo.data)
    assert not [f for f in before.findings if f.code == "photo_reencoded"]  # it fits X as it is
    assert (photo.width, photo.height) == (first.width, first.height) and photo.format == "JPEG"
    assert verify_clean(photo.data, "JPEG") == []  # still nothing but pixels
    assert Image.open(io.BytesIO(photo.data)).size == (first.width, first.height)
    [note] = [f for f in outcome.findings if f.code == "photo_reencoded"]
    assert note.severity == "info" and "to fit school.example (small)'s limit of 0.40 MB" in note.message
    assert outcome.verdict != "block"


def test_a_photo_that_cannot_fit_and_too_many_photos_and_long_descriptions_are_held(settings):
    tiny = _target("school.example (tiny)", 20_000, max_photos=1, max_alt_text=10)
    outcome = check_draft(_quick(settings), Draft("Our beach trip", (_palms(), _palms())), [tiny])
    codes = [f.code for f in outcome.findings if f.severity == "block"]
    assert codes.count("photo_too_large") == 2 and "too_many_photos" in codes and "alt_text_too_long" in codes
    assert "school.example (tiny) takes at most 1 photos in a post; this post has 2." in \
        [f.message for f in outcome.findings]
    assert outcome.verdict == "block"
