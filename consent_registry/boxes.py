"""What every face detector shares: the image it takes, the boxes it gives, suppression of overlaps, and the
windows a second look is taken through."""
from __future__ import annotations

import math

import numpy as np

Box = tuple[int, int, int, int]  # (top, right, bottom, left), face_recognition's order


def as_rgb(rgb: np.ndarray) -> np.ndarray:
    """A contiguous HxWx3 uint8 array: grey is repeated, an alpha channel dropped."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxWx3 image, got shape {arr.shape}")
    return np.ascontiguousarray(arr[:, :, :3])


def clip(boxes, height: int, width: int) -> list[Box]:
    """(x1, y1, x2, y2) float boxes as integer (top, right, bottom, left) inside the image."""
    out = []
    for x1, y1, x2, y2 in boxes:
        left, top = max(0, int(round(float(x1)))), max(0, int(round(float(y1))))
        right, bottom = min(width, int(round(float(x2)))), min(height, int(round(float(y2))))
        if right > left and bottom > top:
            out.append((top, right, bottom, left))
    return out


class ScoredDetector:
    """A detector whose `scored(rgb)` gives float (x1, y1, x2, y2) boxes and their scores: `detect` gives the boxes
    as integers inside the image."""

    def detect(self, rgb: np.ndarray) -> list[Box]:
        h, w = np.asarray(rgb).shape[:2]
        return clip(self.scored(rgb)[0], h, w)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
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


def resampled_windows(img: np.ndarray, boxes: np.ndarray, face_px: int, size: int) -> np.ndarray:
    """(N, size, size, 3) uint8: around each box (x1, y1, x2, y2), a window resampled so that the box's longer side
    is face_px, centred on it; black outside the image."""
    import cv2  # late: OpenCV is slow to import and rarely needed

    windows = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        f = face_px / max(float(x2 - x1), float(y2 - y1), 1.0)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        if f >= 1:  # enlarge: bilinear, sub-pixel exact
            warp = np.array([[f, 0, size / 2 - f * cx], [0, f, size / 2 - f * cy]], np.float32)
            windows[i] = cv2.warpAffine(img, warp, (size, size), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        else:  # shrink: area averaging (warpAffine would alias)
            half = int(round(size / (2 * f)))
            x0, y0 = int(round(cx)) - half, int(round(cy)) - half
            region = np.zeros((2 * half, 2 * half, 3), np.uint8)
            sx0, sy0 = max(x0, 0), max(y0, 0)
            sx1, sy1 = min(x0 + 2 * half, img.shape[1]), min(y0 + 2 * half, img.shape[0])
            if sx1 > sx0 and sy1 > sy0:
                region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
            windows[i] = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
    return windows


def encoding_box(box: Box, side: float = 0.945, drop: float = 0.035) -> Box:
    """The dlib-like square to encode a CenterFace box with (not for HOG boxes, already such); `side` and `drop`
    fit another detector's boxes (RetinaFace passes its own).

    Fitted on the fixture faces, where a dlib HOG box's side is 0.945 x sqrt(w x h) of the
    CenterFace box of the same face (spread 0.07) and its centre 0.035 x h lower (spread 0.03).
    Raw CenterFace boxes already encode acceptably on the 12 single-face fixtures (obama_1 to
    obama_2 0.367; same person at most 0.446; different people at least 0.723); these squares
    give 0.345 / 0.418 / 0.768, as good as HOG's own boxes (0.346 / 0.430 / 0.777). The result
    may reach outside the image, which face_recognition's landmark model copes with (it is
    measured so on obama_partial.jpg, whose face runs off the edge)."""
    top, right, bottom, left = box
    w, h = right - left, bottom - top
    half = side * math.sqrt(max(w, 0) * max(h, 0)) / 2
    cx, cy = (left + right) / 2, (top + bottom) / 2 + drop * h
    return (int(round(cy - half)), int(round(cx + half)), int(round(cy + half)), int(round(cx - half)))
