"""A 4-photo post of 8-12 MP camera photos through the photo checks (clean, then faces) end to end, next to bare
face_recognition (HOG upsample 1 locations and encodings) on the same four clean photos, in the same run."""
import io

import face_recognition
import numpy as np
from PIL import Image

from benchmarks import median_seconds
from benchmarks.bench_faces import _gallery
from consent_registry.consent import Status
from consent_registry.faces import FaceContext, FaceSettings
from consent_registry.models import SOCIAL
from tests.shared_fixtures import FIXTURES
from workers.checks.base import CheckContext, Draft, Photo
from workers.checks.faces import FacesCheck
from workers.checks.photos import PhotoLimits, clean_photo
from workers.checks.post_photos import PhotosCheck
from workers.checks.run import run_checks

CAMERA = ("photos/iphone_hdr_YES.jpg", "photos/IMG_5195.HEIC", "photos/corrupted.jpg")


def _group_photo_at_10_mp() -> bytes:
    """The fixture with faces, enlarged to a camera's size, so the face check has faces to match and cover."""
    with Image.open(FIXTURES / "faces" / "group_two_people.jpg") as img:
        scale = (10e6 / (img.width * img.height)) ** 0.5
        out = io.BytesIO()
        img.convert("RGB").resize((round(img.width * scale), round(img.height * scale))).save(out, "JPEG", quality=92)
        return out.getvalue()


def _bare(clean: list[bytes]) -> None:
    for data in clean:
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb, number_of_times_to_upsample=1))


def run(repeats: int = 3) -> list[dict]:
    uploads = [(FIXTURES / name).read_bytes() for name in CAMERA] + [_group_photo_at_10_mp()]
    draft = Draft("Science week", tuple(Photo.given(f"photo {n}", data, f"photo {n}") for n, data in
                                        enumerate(uploads, start=1)))
    faces = FaceContext(_gallery(2000), (SOCIAL,), lambda person_id, channel: Status(True, "test"), FaceSettings())
    context = CheckContext(PhotoLimits(), faces)
    clean = [clean_photo(data, "photo", PhotoLimits()).data for data in uploads]
    ours = median_seconds(lambda: run_checks(draft, context, checks=(PhotosCheck, FacesCheck)), repeats)
    bare = median_seconds(lambda: _bare(clean), repeats)
    return [{"name": "photo checks of a 4-photo post (8-10 MP camera photos) vs bare face_recognition HOG up1 "
                     "on the same clean photos", "seconds": ours, "baseline_seconds": bare, "ratio": ours / bare}]
