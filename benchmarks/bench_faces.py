"""The face check per photo next to face_recognition's bare detection and encoding; matching per face by gallery size."""
import io

import face_recognition
import numpy as np
from PIL import Image

from benchmarks import median_seconds
from consent_registry.consent import Status
from consent_registry.faces import FaceContext, FaceSettings
from consent_registry.matching import Gallery
from consent_registry.models import SOCIAL
from tests.shared_fixtures import FIXTURES
from workers.checks.faces import check_faces
from workers.checks.photos import PhotoLimits, clean_photo


def _photo(name: str, long_side: int | None = None) -> tuple[str, bytes]:
    """The clean rendition of a fixture, optionally enlarged first to the publication size."""
    data = (FIXTURES / "faces" / name).read_bytes()
    if long_side:
        with Image.open(io.BytesIO(data)) as img:
            scale = long_side / max(img.size)
            out = io.BytesIO()
            img.resize((round(img.width * scale), round(img.height * scale))).save(out, "JPEG", quality=92)
            data = out.getvalue()
    clean = clean_photo(data, name, PhotoLimits())
    with Image.open(io.BytesIO(clean.data)) as img:
        return f"{name} at {img.width}x{img.height}", clean.data


def _bare(data: bytes) -> None:
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    face_recognition.face_encodings(rgb, face_recognition.face_locations(rgb))


def _gallery(people: int, per_person: int = 2, seed: int = 7) -> Gallery:
    rng = np.random.default_rng(seed)
    templates = rng.normal(0, 0.09, size=(people * per_person, 128))
    return Gallery(np.repeat(np.arange(people), per_person), templates)


def run(repeats: int = 3) -> list[dict]:
    rows = []
    small = _photo("group_two_people.jpg")
    large = _photo("group_two_people.jpg", long_side=2048)
    context = FaceContext(_gallery(2000), (SOCIAL,), lambda person_id, channel: Status(True, "test"), FaceSettings())
    for name, data in (small, large):
        ours = median_seconds(lambda: check_faces(data, "JPEG", name, context, PhotoLimits()), repeats)
        bare = median_seconds(lambda: _bare(data), repeats)
        rows.append({"name": f"face check, {name}, 2,000 people enrolled", "seconds": ours,
                     "baseline_seconds": bare, "ratio": ours / bare})
    faces = np.random.default_rng(1).normal(0, 0.09, size=(10, 128))
    for people in (100, 2000, 50000):
        gallery = _gallery(people)
        per_face = median_seconds(lambda: gallery.match(faces, 0.5, 0.06), repeats) / len(faces)
        loop = median_seconds(lambda: [face_recognition.face_distance(gallery.templates, f) for f in faces],
                              repeats) / len(faces)
        rows.append({"name": f"match one face against {people:,} people ({people * 2:,} templates)",
                     "seconds": per_face, "baseline_seconds": loop, "ratio": per_face / loop})
    return rows
