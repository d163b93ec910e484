"""The face check: find every face in the photo as it will be published, match it, obscure what may not be shown."""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import face_recognition
import numpy as np
from PIL import Image, ImageDraw

from consent_registry.consent import Status
from consent_registry.detection import MIN_ENCODABLE_PX, encoding_box, make_detector
from consent_registry.matching import Gallery
from moderation.findings import BLOCK, INFO, REVIEW, Finding
from workers.checks.photos import PhotoLimits, rebuild

CONSENTED, NO_CONSENT, UNIDENTIFIED = "consented", "no_consent", "unidentified"
# The smallest face each detector found on a 2048 px canvas of faces at decreasing sizes
# (tests/test_faces.py::test_smallest_face_found_with_the_default_settings measures the default;
# benchmarks/bench_detection.py the recall of each detector per size).
SMALLEST_FOUND_PX = {"hog, upsample 1": 36, "hog, upsample 2": 16, "centerface": 16}
OBSCURE, BLOCK_POLICY = "obscure", "block"
FILL = (96, 96, 96)


@dataclass(frozen=True)
class FaceSettings:
    tolerance: float = 0.5
    margin: float = 0.06
    detector: str = "hog"           # "hog" (face_recognition's) or "centerface"
    upsample: int = 2               # HOG: 2 finds faces down to 16 px; 1 misses those under about 30 px
    threshold: float = 0.5          # CenterFace's confidence
    policy: str = OBSCURE           # what happens to faces without consent: "obscure" or "block"
    enlarge: float = 0.4            # the fill covers the box grown by this fraction (at least 0.3)

    @property
    def description(self) -> str:
        return f"hog, upsample {self.upsample}" if self.detector == "hog" else self.detector

    def make_detector(self):
        if self.detector == "hog":
            return make_detector("hog", upsample=self.upsample)
        return make_detector(self.detector, threshold=self.threshold)

    @classmethod
    def from_settings(cls, settings) -> "FaceSettings":
        return cls(tolerance=settings.face_tolerance, margin=settings.face_margin, detector=settings.face_detector,
                   upsample=settings.face_upsample, threshold=settings.face_threshold, policy=settings.face_policy)


@dataclass
class FaceContext:
    """What the face check needs from the registry: the templates and each enrolled person's consent today."""

    gallery: Gallery
    consent_of: Callable[[int], Status]
    settings: FaceSettings


@dataclass
class FaceResult:
    data: bytes | None
    faces: list[dict]
    findings: list[Finding]


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def _grown(box, enlarge: float, width: int, height: int) -> tuple[int, int, int, int]:
    top, right, bottom, left = box
    dy, dx = (bottom - top) * enlarge / 2, (right - left) * enlarge / 2
    return (max(0, int(top - dy)), min(width - 1, int(right + dx)), min(height - 1, int(bottom + dy)), max(0, int(left - dx)))


def obscure(img: Image.Image, boxes, enlarge: float) -> Image.Image:
    """An opaque fill over each enlarged box (blur and mosaic can be undone)."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    for box in boxes:
        top, right, bottom, left = _grown(box, enlarge, img.width, img.height)
        draw.rectangle([left, top, right, bottom], fill=FILL)
    return out


def _verdict(match, consent_of, too_small: bool) -> tuple[str, str]:
    if too_small:
        return UNIDENTIFIED, f"too small to recognise (under {MIN_ENCODABLE_PX} pixels)"
    if match.person_id is None:
        return UNIDENTIFIED, "not recognised as anyone with consent"
    status = consent_of(match.person_id)
    return (CONSENTED, status.reason) if status.ok else (NO_CONSENT, status.reason)


def check_faces(data: bytes, fmt: str, label: str, context: FaceContext, limits: PhotoLimits,
                manual_regions=()) -> FaceResult:
    """Runs on the clean rendition; returns the rendition to publish (faces without consent obscured)."""
    settings = context.settings
    img = Image.open(io.BytesIO(data)).convert("RGB")
    if manual_regions:
        img = obscure(img, manual_regions, 0.0)
    rgb = np.asarray(img)
    detector = settings.make_detector()
    boxes = detector.detect(rgb)
    # face_recognition encodes from dlib-shaped boxes; CenterFace's are taller, so they are reshaped first
    shaped = [encoding_box(b) for b in boxes] if detector.name == "centerface" else boxes
    small = [b[2] - b[0] < MIN_ENCODABLE_PX for b in shaped]
    encodable = [b for b, s in zip(shaped, small) if not s]
    encodings = face_recognition.face_encodings(rgb, known_face_locations=encodable) if encodable else []
    matches = iter(context.gallery.match(encodings, settings.tolerance, settings.margin))
    faces, reasons = [], Counter()
    for box, too_small in zip(boxes, small):
        match = None if too_small else next(matches)
        verdict, reason = _verdict(match, context.consent_of, too_small)
        hide = verdict != CONSENTED
        faces.append({"box": list(box), "verdict": verdict, "person": match.person_id if match else None,
                      "distance": round(match.distance, 4) if match and match.distance is not None else None,
                      "obscured": hide and settings.policy == OBSCURE})
        if hide:
            reasons[reason] += 1
    findings = _findings(label, faces, reasons, settings.policy)
    hidden = [f["box"] for f in faces if f["obscured"]]
    if not hidden and not manual_regions:
        return FaceResult(data, faces, findings)
    rebuilt = rebuild(obscure(img, hidden, settings.enlarge), fmt, label, limits, [])
    return FaceResult(rebuilt.data, faces, findings + rebuilt.findings)


def _plural(n: int) -> str:
    return f"{n} face{'s' if n != 1 else ''}"


def _findings(label: str, faces: list[dict], reasons: Counter, policy: str) -> list[Finding]:
    findings = []
    consented = sum(f["verdict"] == CONSENTED for f in faces)
    if consented:
        findings.append(Finding("faces_consented", INFO, f"{_plural(consented).capitalize()} with written consent.",
                                label, {"count": consented}))
    for reason, count in reasons.items():
        if policy == OBSCURE:
            findings.append(Finding("face_obscured", REVIEW, f"{_plural(count).capitalize()} obscured: {reason}.",
                                    label, {"count": count, "reason": reason}))
        else:
            findings.append(Finding("face_without_consent", BLOCK,
                                    f"{_plural(count).capitalize()} cannot be published: {reason}. Remove the photo "
                                    "or ask a senior leader to obscure them.", label, {"count": count, "reason": reason}))
    return findings
