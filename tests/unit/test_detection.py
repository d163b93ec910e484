"""Acceptance of the face detector: it must find every face before a photo is published.

Definitions used throughout (benchmarks/bench_detection.py builds its canvases from here):

* Face size = the height of the face's dlib HOG box (about eyebrows to chin). Each single-face
  fixture's face is located with HOG upsample 2 on the fixture (fitted to 2048 px, as
  published) and cut out with half a box of margin on every side; it is pasted so that its HOG
  box becomes SIZE px tall.
* A canvas: 2048 x 1365, 20 faces on a 5 x 4 grid at random places in their cells, on one of
  five backgrounds: a plain grey gradient, a random texture, and three fixture photos
  (iphone_hdr_YES.jpg: wisteria in bloom, IMG_5195.HEIC: leaves, corrupted.jpg: palms).
* A face is found when a detected box has IoU >= 0.3 with its pasted HOG box or has its
  centre inside that box. A detection that finds no pasted face is a false detection.

Recall is a measurement, made by `python -m benchmarks.bench_detection` on 30 canvases per detector
(100 faces per size; the bar: 99 % at every size, under one false detection per canvas). The tests
here check what each detector must always do: find every face on a canvas of every measured size
and nothing else, find the faces HOG upsample 2 finds on every fixture photo, and the interface.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import face_recognition
import numpy as np
import pytest

from consent_registry.detection import (
    MIN_ENCODABLE_PX,
    CenterFaceDetector,
    HogDetector,
    encoding_box,
    make_detector,
)
from consent_registry.faces import FaceSettings
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
# CenterFace detections on fixture photos that HOG upsample 2 does not find, each looked at:
REVIEWED_EXTRAS = {  # faces a detector finds beyond HOG upsample 2's, each looked at
    "hog, upsample 2": {},
    # the small face (14 px) on the television behind the boy: a real face
    "centerface": {"photos/image00971.jpg": 1},
}


# --- images ------------------------------------------------------------------------------

def load_rgb(path: Path, long_side: int = 2048) -> np.ndarray:
    """A fixture as published: upright, RGB (alpha flattened onto white), long side <= 2048."""
    from PIL import Image, ImageOps
    import pillow_heif

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


# --- module-wide data (computed once) ---------------------------------------------------

@pytest.fixture(scope="module")
def photos() -> list[str]:
    return fixture_photos()


@pytest.fixture(scope="module")
def hog2(photos) -> dict[str, list]:
    return hog2_on(photos)


@pytest.fixture(scope="module")
def images(photos) -> dict[str, np.ndarray]:
    return {relative: load_rgb(fixture_path(relative)) for relative in photos}


@pytest.fixture(scope="module")
def crops(hog2):
    return face_crops(hog2)


@pytest.fixture(scope="module", params=["default", "centerface"])
def detector(request):
    """The default detector (FaceSettings' defaults: HOG, upsample 2), and CenterFace, which a school may choose."""
    return FaceSettings(detector="hog" if request.param == "default" else "centerface").make_detector()


@pytest.fixture(scope="module")
def centerface() -> CenterFaceDetector:
    return CenterFaceDetector()


# --- 1. faces on canvases: every one found, nothing else ---------------------------------

def test_detector_finds_every_face_on_a_canvas_and_nothing_else(crops, detector):
    """20 faces of every measured size (16 to 80 px, in turn) on a photo of leaves: all found, and no
    false detection on the rest of the photo. (A blank canvas is in test_boxes_are_ints_inside_the_image_...)"""
    img, faces = canvas(background("leaves"), SIZES, crops, seed=1)
    found, false = score(detector.detect(img), faces)
    assert (found, false) == (len(faces), 0), f"found {found}/{len(faces)}, {false} false"


# --- 2. the same faces as HOG upsample 2 on every fixture photo ---------------------------

def test_detector_finds_the_faces_hog_up2_finds_on_every_fixture_photo(hog2, images, detector):
    """Both kinds of box are compared as squares of their own area about their own centres
    (CenterFace's are taller than HOG's); a HOG face is found when such squares have IoU >= 0.5."""
    missed, extra = {}, {}
    for relative, hog_boxes in hog2.items():
        ours = detector.detect(images[relative])
        lost = [h for h in hog_boxes if not any(iou(square(h), square(c)) >= 0.5 for c in ours)]
        more = [c for c in ours if not any(iou(square(h), square(c)) >= 0.5 for h in hog_boxes)]
        if lost:
            missed[relative] = lost
        if more:
            extra[relative] = more
    assert not missed, f"faces HOG upsample 2 finds and {detector.name} misses: {missed}"
    assert {k: len(v) for k, v in extra.items()} == REVIEWED_EXTRAS[FaceSettings(detector=detector.name).description], extra
    assert sum(len(v) for v in hog2.values()) >= 14  # the faces fixtures' 14 faces were all seen


# --- 3. a class photo ---------------------------------------------------------------------

def test_class_photo_of_30_small_faces(crops, detector):
    """Three rows of ten faces, 20-30 px, shoulder to shoulder on the palms photo."""
    rng = np.random.default_rng(30)
    img = background("palms")
    sizes = rng.permutation(np.linspace(20, 30, 30))
    faces = []
    for k, px in enumerate(sizes):
        name, crop, box = crops[k % len(crops)]
        row, col = divmod(k, 10)
        x = 620 + col * 78 + (39 if row % 2 else 0) + int(rng.integers(-6, 7))
        y = 420 + row * 80 + int(rng.integers(-6, 7))
        faces.append(paste(img, crop, box, float(px), x, y))
    found, false = score(detector.detect(img), faces)
    assert found == 30, f"found {found}/30"
    assert false == 0


# --- 4. encodings: how small a face can be identified -------------------------------------

def _obama_encodings(crops, px: int) -> list[np.ndarray]:
    """Encodings of obama_1..3 pasted at px (three sub-pixel offsets), with their true boxes."""
    out = []
    for name, crop, box in crops:
        if name not in ("obama_1", "obama_2", "obama_3"):
            continue
        for dx, dy in ((0, 0), (1, 2), (3, 1)):
            img = np.full((300, 300, 3), 128, np.uint8)
            face = paste(img, crop, box, px, 60 + dx, 60 + dy)
            loc = tuple(int(round(v)) for v in face)
            out.append(face_recognition.face_encodings(img, known_face_locations=[loc])[0])
    return out


def test_min_encodable_px_measurement(crops, hog2, images):
    """Above MIN_ENCODABLE_PX every pasted obama stays within 0.5 of obama_1's full-size
    encoding; within 8 px below it that is no longer so (the measurement behind the constant)."""
    reference = face_recognition.face_encodings(
        images["faces/obama_1.jpg"], known_face_locations=hog2["faces/obama_1.jpg"])[0]

    def worst(px):
        return max(float(np.linalg.norm(e - reference)) for e in _obama_encodings(crops, px))

    above = {px: round(worst(px), 3) for px in (MIN_ENCODABLE_PX, MIN_ENCODABLE_PX + 4, 48, 80)}
    below = {px: round(worst(px), 3) for px in range(MIN_ENCODABLE_PX - 8, MIN_ENCODABLE_PX, 2)}
    assert max(above.values()) <= 0.5, above
    assert max(below.values()) > 0.5, below


def test_faces_below_min_encodable_px_are_still_found_and_sized_like_hog(crops, centerface):
    """Too small to identify is not too small to obscure; and encoding_box's height is the size
    to compare with MIN_ENCODABLE_PX (a raw CenterFace box is ~1.25 times taller)."""
    img = np.full((400, 1600, 3), 128, np.uint8)
    faces = []
    for k, px in enumerate((16, 20, 24, 28, 32)):
        name, crop, box = crops[k]
        faces.append(paste(img, crop, box, px, 60 + 300 * k, 150))
    found = centerface.detect(img)
    for face in faces:
        hits = [d for d in found if finds(d, face)]
        assert hits, f"a {face[2] - face[0]:.0f} px face was not found"
        t, r, b, l = encoding_box(hits[0])
        assert abs((b - t) - (face[2] - face[0])) <= 0.25 * (face[2] - face[0]) + 2


# --- encodings with CenterFace boxes --------------------------------------------------------

@pytest.mark.parametrize("adjust", [False, True], ids=["raw-box", "encoding_box"])
def test_encodings_from_centerface_boxes_tell_people_apart(images, centerface, adjust):
    names = ["obama_1", "obama_2", "biden_1", "alex_lacamoire_1", "kit_harington_1", "rose_leslie_1"]
    enc = {}
    for name in names:
        img = images[f"faces/{name}.jpg"]
        box, = centerface.detect(img)
        enc[name] = face_recognition.face_encodings(
            img, known_face_locations=[encoding_box(box) if adjust else box])[0]
    assert np.linalg.norm(enc["obama_1"] - enc["obama_2"]) <= 0.45
    for a in names:
        for b in names:
            if a < b and not (a.startswith("obama") and b.startswith("obama")):
                assert np.linalg.norm(enc[a] - enc[b]) > 0.6, (a, b)


# --- the interface ----------------------------------------------------------------------------

def test_make_detector():
    assert make_detector("hog") == HogDetector(upsample=1)
    assert make_detector("hog", upsample=2).upsample == 2
    assert make_detector("centerface") == CenterFaceDetector()
    assert make_detector("centerface", threshold=0.6).threshold == 0.6
    assert make_detector("centerface").name == "centerface" and make_detector("hog").name == "hog"
    with pytest.raises(ValueError):
        make_detector("cnn")


def test_boxes_are_ints_inside_the_image_for_any_input_form(images, detector):
    img = images["faces/obama_partial.jpg"]  # the face runs off the left edge
    h, w = img.shape[:2]
    for form in (img, np.dstack([img, np.full((h, w), 255, np.uint8)]), img[:, :, 1]):
        for det in (detector, HogDetector()):
            boxes = det.detect(form)
            assert len(boxes) == 1
            top, right, bottom, left = boxes[0]
            assert all(type(v) is int for v in boxes[0])
            assert 0 <= top < bottom <= h and 0 <= left < right <= w
    assert detector.detect(np.zeros((10, 10, 3), np.uint8)) == []
    assert detector.detect(np.full((1365, 2048, 3), 200, np.uint8)) == []
    with pytest.raises(TypeError):
        detector.detect(img.astype(np.float32))


def test_network_works_in_a_forked_work_horse(images, centerface):
    img = images["faces/group_two_people.jpg"]
    expected = centerface.detect(img)  # the parent has its network loaded
    assert len(expected) == 2
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # like rq's work horse
        try:
            signal.alarm(60)
            os.write(write, b"same" if centerface.detect(img) == expected else b"different")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"same"
