"""What the face check needs from the registry: its settings, the gallery and consent, and the detector they choose."""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from consent_registry.consent import Status
from consent_registry.detection import make_detector
from consent_registry.matching import Gallery

# The smallest face each detector found on a 2048 px canvas of faces at decreasing sizes
# (tests/integration/test_faces.py::test_smallest_face_found_with_the_default_settings measures the default;
# benchmarks/bench_detection.py the recall of each detector per size).
SMALLEST_FOUND_PX = {"retinaface": 16, "hog, upsample 1": 36, "hog, upsample 2": 16, "centerface": 16}
OBSCURE, BLOCK_POLICY = "obscure", "block"


@dataclass(frozen=True)
class FaceSettings:
    tolerance: float = 0.5
    margin: float = 0.06
    detector: str = "retinaface"    # "retinaface", "hog" (face_recognition's) or "centerface"
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
        if self.detector == "centerface":
            return make_detector("centerface", threshold=self.threshold)
        return make_detector(self.detector)

    def preload(self) -> None:
        """Read the detector's model now (a process that forks a work horse per check does, once)."""
        self.make_detector().preload()

    @classmethod
    def from_settings(cls, settings) -> "FaceSettings":
        return cls(tolerance=settings.face_tolerance, margin=settings.face_margin, detector=settings.face_detector,
                   upsample=settings.face_upsample, threshold=settings.face_threshold, policy=settings.face_policy)


@dataclass
class FaceContext:
    """What the face check needs from the registry: the templates and each enrolled person's consent today on each
    channel the photo goes to."""

    gallery: Gallery
    channels: tuple[str, ...]
    consent_of: Callable[[int, str], Status]  # (person id, channel)
    settings: FaceSettings


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))
