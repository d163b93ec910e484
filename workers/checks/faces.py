"""The face check: find every face in the photo as it will be published, match it, obscure what may not be shown."""
from __future__ import annotations

import hashlib
import io
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw

from consent_registry.detection import DETECTION_REVISION, MIN_ENCODABLE_PX
from consent_registry.dlib_models import face_recognition
from consent_registry.consent import Status
from consent_registry.faces import OBSCURE, FaceContext
from moderation.findings import BLOCK, INFO, REVIEW, Finding
from workers.checks.base import Memo, PhotoCheck
from workers.checks.photos import PhotoLimits, rebuild

CONSENTED, NO_CONSENT, UNIDENTIFIED = "consented", "no_consent", "unidentified"
STAGE = "faces"
FILL = (96, 96, 96)


@dataclass
class FaceResult:
    data: bytes | None                           # the rendition for every network not in renditions
    faces: list[dict]
    findings: list[Finding]
    renditions: tuple[tuple[str, bytes], ...] = ()  # (channel, data) where a face is shown that data covers


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


def _verdict(match, status: Callable[[int], Status], too_small: bool) -> tuple[str, str]:
    if too_small:
        return UNIDENTIFIED, f"too small to recognise (under {MIN_ENCODABLE_PX} pixels)"
    if match.person_id is None:
        return UNIDENTIFIED, "not recognised as anyone with consent"
    consent = status(match.person_id)
    return (CONSENTED, consent.reason) if consent.ok else (NO_CONSENT, consent.reason)


def _matches(rgb, context: FaceContext, report: Callable[[str], None], boxes=None):
    """Each face found, whether it is too small to recognise, and its match in the gallery (None if too small).
    `boxes`: the detector's boxes from an earlier look at the same pixels, if there was one."""
    settings = context.settings
    detector = settings.make_detector()
    boxes = detector.detect(rgb) if boxes is None else [tuple(b) for b in boxes]
    report(f"{_plural(len(boxes))} found; matching")
    shaped = [detector.dlib_box(b) for b in boxes]  # face_recognition encodes from dlib-shaped boxes
    small = [b[2] - b[0] < MIN_ENCODABLE_PX for b in shaped]
    encodable = [b for b, s in zip(shaped, small) if not s]
    encodings = face_recognition.face_encodings(rgb, known_face_locations=encodable) if encodable else []
    matches = iter(context.gallery.match(encodings, settings.tolerance, settings.margin))
    return [(box, too_small, None if too_small else next(matches)) for box, too_small in zip(boxes, small)]


def _face(box, too_small: bool, match, context: FaceContext, hidden: Counter) -> dict:
    """One face's record; it is counted in `hidden` under each reason it may not be shown, with the channels.

    Its verdict is the strictest of its channels' ("consented" only if it may be shown on every one); it is shown
    on the channels whose consent covers it, and obscured in the other channels' renditions.
    """
    verdicts = {c: _verdict(match, lambda person_id: context.consent_of(person_id, c), too_small)
                for c in context.channels}
    shown_on = [c for c, (verdict, _) in verdicts.items() if verdict == CONSENTED]
    verdict = next((v for v, _ in verdicts.values() if v != CONSENTED), CONSENTED)
    reasons: dict[str, list[str]] = {}
    for channel, (v, reason) in verdicts.items():
        if v != CONSENTED:
            reasons.setdefault(reason, []).append(channel)
    for reason, channels in reasons.items():
        hidden[reason, tuple(channels)] += 1
    return {"box": list(box), "verdict": verdict, "person": match.person_id if match else None,
            "distance": round(match.distance, 4) if match and match.distance is not None else None,
            "obscured": verdict != CONSENTED and context.settings.policy == OBSCURE, "shown_on": shown_on}


def check_faces(data: bytes, fmt: str, label: str, context: FaceContext, limits: PhotoLimits,
                manual_regions=(), titles: Mapping[str, str] | None = None,
                report: Callable[[str], None] = lambda _stage: None, boxes=None) -> FaceResult:
    """Runs on the clean rendition; returns the renditions to publish (on each channel, the faces its consent does
    not cover obscured). `titles` names the channels in findings; `report` is told each stage reached; `boxes` are
    the detector's from an earlier look at the same photo with the same regions covered."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    if manual_regions:
        img = obscure(img, manual_regions, 0.0)
    hidden: Counter = Counter()
    faces = [_face(*found, context, hidden) for found in _matches(np.asarray(img), context, report, boxes)]
    report(f"{_plural(len(faces))} found and matched")
    findings = _findings(label, faces, hidden, context, titles or {})
    covered = {c: [f["box"] for f in faces if f["obscured"] and c not in f["shown_on"]] for c in context.channels}
    everywhere = [f["box"] for f in faces if f["obscured"]]
    if not everywhere and not manual_regions:
        return FaceResult(data, faces, findings)
    rendered: dict[str, object] = {}  # one encoding per distinct set of covered faces

    def render(boxes):
        key = repr(boxes)
        if key not in rendered:
            rendered[key] = rebuild(obscure(img, boxes, context.settings.enlarge), fmt, label, limits, [])
        return rendered[key]

    base = render(everywhere)
    own = {c: render(boxes) for c, boxes in covered.items() if boxes != everywhere}
    failed = [r for r in [base, *own.values()] if r.data is None]
    if failed:  # an encoding that failed verification is never published, nor is any rendition of the photo
        return FaceResult(None, faces, findings + failed[0].findings)
    return FaceResult(base.data, faces, findings + base.findings, tuple((c, r.data) for c, r in own.items()))


def _plural(n: int) -> str:
    return f"{n} face{'s' if n != 1 else ''}"


def _on(channels, context: FaceContext, titles: Mapping[str, str]) -> str:
    """ on Bluesky and X", or "" when it is every channel the photo goes to."""
    if set(channels) == set(context.channels):
        return ""
    names = sorted(titles.get(c, c) for c in channels)
    return " on " + (" and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1])


def _findings(label: str, faces: list[dict], hidden: Counter, context: FaceContext,
              titles: Mapping[str, str]) -> list[Finding]:
    findings = []
    consented = sum(f["verdict"] == CONSENTED for f in faces)
    if consented:
        findings.append(Finding("faces_consented", INFO, f"{_plural(consented).capitalize()} with written consent.",
                                label, {"count": consented}))
    for (reason, channels), count in hidden.items():
        where = _on(channels, context, titles)
        evidence = {"count": count, "reason": reason, "channels": sorted(channels)}
        if context.settings.policy == OBSCURE:
            findings.append(Finding("face_obscured", REVIEW, f"{_plural(count).capitalize()} obscured{where}: "
                                    f"{reason}.", label, evidence))
        else:
            findings.append(Finding("face_without_consent", BLOCK,
                                    f"{_plural(count).capitalize()} cannot be published{where}: {reason}. Remove "
                                    "the photo or ask a senior leader to obscure them.", label, evidence))
    partly = [f for f in faces if f["verdict"] != CONSENTED and f["shown_on"]]
    for channels in sorted({tuple(f["shown_on"]) for f in partly}):
        count = sum(tuple(f["shown_on"]) == channels for f in partly)
        findings.append(Finding("face_shown_on_some", INFO, f"{_plural(count).capitalize()} shown{_on(channels, context, titles)} "
                                f"only: consent covers {'that network' if len(channels) == 1 else 'those networks'}.",
                                label, {"count": count, "channels": list(channels)}))
    return findings


def _source(photo, context: FaceContext) -> str:
    """What the detector's boxes depend on: the clean rendition, the areas covered by hand, the detector."""
    return f"{hashlib.sha256(photo.data).hexdigest()} {photo.regions!r} {context.settings.make_detector()!r} " \
           f"{DETECTION_REVISION}"


class FacesCheck(PhotoCheck):
    """Runs on the clean renditions; a photo refused by the photos check is skipped."""

    name = "faces"

    def check_photo(self, index: int, photo):
        if photo.data is None:
            return photo, []
        if self.context.faces is None:  # fail closed
            raise RuntimeError("photos cannot be checked without the consent registry")
        self.report(index, "looking for faces")
        source = _source(photo, self.context.faces)
        memo = photo.remembered(STAGE, source)
        result = check_faces(photo.data, photo.format, photo.label, self.context.faces, self.context.photo_limits,
                             photo.regions, {t.channel: t.network for t in self.context.targets},
                             report=lambda stage: self.report(index, stage), boxes=memo.value if memo else None)
        self.report(index, "done: " + ("faces covered" if any(f["obscured"] for f in result.faces) else
                                       "nothing to cover"))
        boxes = Memo(source, [list(f["box"]) for f in result.faces])
        return replace(photo, data=result.data, faces=tuple(result.faces), renditions=result.renditions,
                       memos=photo.remembering(STAGE, boxes)), result.findings
