"""The face check: find every face in the photo as it will be published, match it, obscure what may not be shown."""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, replace

import face_recognition
import numpy as np
from PIL import Image, ImageDraw

from consent_registry.detection import MIN_ENCODABLE_PX, encoding_box
from consent_registry.faces import OBSCURE, FaceContext
from moderation.findings import BLOCK, INFO, REVIEW, Finding
from workers.checks.base import Check, CheckResult, Draft
from workers.checks.photos import PhotoLimits, rebuild

CONSENTED, NO_CONSENT, UNIDENTIFIED = "consented", "no_consent", "unidentified"
FILL = (96, 96, 96)


@dataclass
class FaceResult:
    data: bytes | None
    faces: list[dict]
    findings: list[Finding]


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


class FacesCheck(Check):
    """Runs on the clean renditions; a photo refused by the photos check is skipped."""

    name = "faces"

    def run(self, draft: Draft) -> CheckResult:
        if draft.photos and self.context.faces is None:
            raise RuntimeError("photos cannot be checked without the consent registry")
        photos, findings = [], []
        for photo in draft.photos:
            if photo.data is None:
                photos.append(photo)
                continue
            result = check_faces(photo.data, photo.format, photo.label, self.context.faces,
                                 self.context.photo_limits, photo.regions)
            photos.append(replace(photo, data=result.data, faces=tuple(result.faces)))
            findings += result.findings
        return CheckResult(findings, replace(draft, photos=tuple(photos)))

    def fail_closed(self, draft: Draft) -> Draft:
        return replace(draft, photos=tuple(p.withheld() for p in draft.photos))
