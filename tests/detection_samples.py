"""Canvases of pasted fixture faces, and what "found" means: shared by tests/unit/test_detection.py, which checks
each detector on one canvas, and benchmarks/bench_detection.py, which measures recall on 25 (definitions there)."""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageOps

from consent_registry.detection import HogDetector
from tests.shared_fixtures import fixture_path

WIDTH, HEIGHT = 2048, 1365
SIZES = (16, 22, 28, 36, 48, 80)  # face sizes: the benchmark's recall is per size; one canvas here has them all
FACES_PER_CANVAS = 20
SINGLE_FACES = [
    "faces/obama_1.jpg", "faces/obama_2.jpg", "faces/obama_3.jpg", "faces/obama_partial.jpg",
    "faces/biden_1.jpg", "faces/biden_2.jpg", "faces/alex_lacamoire_1.jpg",
    "faces/kit_harington_1.jpg", "faces/kit_harington_2.jpg", "faces/rose_leslie_1.jpg",
    "faces/rose_leslie_2.jpg", "faces/rgba_32bit.png",
]
BACKGROUNDS = {
    "plain": None,
    "texture": None,
    "wisteria": "photos/iphone_hdr_YES.jpg",
    "leaves": "photos/IMG_5195.HEIC",
    "palms": "photos/corrupted.jpg",
}
# --- images ------------------------------------------------------------------------------

def load_rgb(path: Path, long_side: int = 2048) -> np.ndarray:
    """A fixture as published: upright, RGB (alpha flattened onto white), long side <= 2048."""
    pillow_heif.register_heif_opener()
    with Image.open(path) as opened:
        img = ImageOps.exif_transpose(opened)
        if img.mode != "RGB":
            rgba = img.convert("RGBA")
            img = Image.new("RGB", img.size, "white")
            img.paste(rgba, mask=rgba.getchannel("A"))
        scale = long_side / max(img.size)
        if scale < 1:
            size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
            img = img.resize(size, Image.Resampling.LANCZOS)
        return np.asarray(img.convert("RGB")).copy()


def fixture_photos() -> list[str]:
    """Every image under faces/ and photos/, as paths relative to the fixtures folder."""
    roots = [fixture_path("faces"), fixture_path("photos")]
    base = roots[0].parent
    return sorted(
        str(p.relative_to(base)) for root in roots for p in root.rglob("*")
        if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".heic"))


def _hog2(path: str) -> list:
    return HogDetector(upsample=2).detect(load_rgb(Path(path)))


def hog2_on(relatives: list[str]) -> dict[str, list]:
    """HOG upsample 2 on each fixture, two processes at a time (dlib holds the GIL)."""
    paths = [str(fixture_path(r)) for r in relatives]
    order = sorted(range(len(paths)), key=lambda i: -os.path.getsize(paths[i]))  # big ones first
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        found = dict(zip(order, pool.map(_hog2, [paths[i] for i in order])))
    return {relatives[i]: found[i] for i in range(len(paths))}


def face_crops(hog2: dict[str, list], margin: float = 0.5) -> list[tuple[str, np.ndarray, tuple]]:
    """(name, crop, HOG box inside the crop) for each single-face fixture."""
    crops = []
    for relative in SINGLE_FACES:
        img = load_rgb(fixture_path(relative))
        (top, right, bottom, left), = hog2[relative]  # exactly one face
        m = int(round(margin * max(right - left, bottom - top)))
        y0, x0 = max(0, top - m), max(0, left - m)
        y1, x1 = min(img.shape[0], bottom + m), min(img.shape[1], right + m)
        crops.append((Path(relative).stem, img[y0:y1, x0:x1].copy(),
                      (top - y0, right - x0, bottom - y0, left - x0)))
    return crops


def background(kind: str) -> np.ndarray:
    if kind == "plain":
        ramp = np.linspace(90, 170, WIDTH, dtype=np.float32)
        return np.repeat(np.broadcast_to(ramp, (HEIGHT, WIDTH))[:, :, None], 3, axis=2).astype(np.uint8)
    if kind == "texture":
        rng = np.random.default_rng(7)
        coarse = cv2.resize(rng.integers(0, 256, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8),
                            (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
        return np.clip(coarse.astype(np.int16) + rng.integers(-40, 40, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)
    img = load_rgb(fixture_path(BACKGROUNDS[kind]))
    h, w = img.shape[:2]
    s = max(WIDTH / w, HEIGHT / h)
    img = cv2.resize(img, (max(WIDTH, round(w * s)), max(HEIGHT, round(h * s))), interpolation=cv2.INTER_AREA)
    y, x = (img.shape[0] - HEIGHT) // 2, (img.shape[1] - WIDTH) // 2
    return img[y:y + HEIGHT, x:x + WIDTH].copy()


def paste(canvas: np.ndarray, crop: np.ndarray, box: tuple, face_px: float, x: int, y: int) -> tuple:
    """Paste crop scaled so its face box is face_px tall, top-left at (x, y); the face's box."""
    top, right, bottom, left = box
    s = face_px / (bottom - top)
    size = (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    h, w = min(small.shape[0], canvas.shape[0] - y), min(small.shape[1], canvas.shape[1] - x)
    canvas[y:y + h, x:x + w] = small[:h, :w]
    return (y + top * s, x + right * s, y + bottom * s, x + left * s)


def canvas(bg: np.ndarray, face_px, crops: list, seed: int) -> tuple[np.ndarray, list[tuple]]:
    """20 faces on bg, one per cell of a 5 x 4 grid: the image and the face boxes. face_px is the
    faces' size, or a sequence of sizes taken in turn."""
    rng = np.random.default_rng(seed)
    img, faces = bg.copy(), []
    cols, rows = 5, 4
    cw, ch = WIDTH // cols, HEIGHT // rows
    sizes = face_px if isinstance(face_px, (tuple, list)) else (face_px,)
    for k in range(FACES_PER_CANVAS):
        px = sizes[k % len(sizes)]
        name, crop, box = crops[(k + seed) % len(crops)]
        s = px / (box[2] - box[0])
        w, h = round(crop.shape[1] * s), round(crop.shape[0] * s)
        x = (k % cols) * cw + int(rng.integers(0, max(1, cw - w)))
        y = (k // cols) * ch + int(rng.integers(0, max(1, ch - h)))
        faces.append(paste(img, crop, box, px, x, y))
    return img, faces


# --- matching -------------------------------------------------------------------------------

def iou(a, b) -> float:
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0.0, bottom - top) * max(0.0, right - left)
    union = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / union if union > 0 else 0.0


def finds(detection, face) -> bool:
    top, right, bottom, left = detection
    cy, cx = (top + bottom) / 2, (left + right) / 2
    return iou(detection, face) >= 0.3 or (face[0] <= cy <= face[2] and face[3] <= cx <= face[1])


def score(detections, faces) -> tuple[int, int]:
    """(faces found, false detections)."""
    found = sum(any(finds(d, f) for d in detections) for f in faces)
    false = sum(not any(finds(d, f) for f in faces) for d in detections)
    return found, false


def square(box) -> tuple:
    """A square of the same area about the same centre, to compare boxes of different shapes."""
    top, right, bottom, left = box
    half = ((right - left) * (bottom - top)) ** 0.5 / 2
    cy, cx = (top + bottom) / 2, (left + right) / 2
    return (cy - half, cx + half, cy + half, cx - half)
