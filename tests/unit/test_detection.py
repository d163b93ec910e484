"""Acceptance of the face detector: it must find every face before a photo is published.

Definitions used throughout (tests/detection_samples.py builds the canvases, for here and for
benchmarks/bench_detection.py):

* Face size = the height of the face's dlib HOG box (about eyebrows to chin). Each single-face
  fixture's face is located with HOG upsample 2 on the fixture (fitted to 2048 px, as
  published) and cut out with half a box of margin on every side; it is pasted so that its HOG
  box becomes SIZE px tall.
* A canvas: 2048 x 1365, 20 faces on a 5 x 4 grid at random places in their cells, on one of
  five backgrounds: a plain grey gradient, a random texture, and three fixture photos
  (iphone_hdr_YES.jpg: wisteria in bloom, IMG_5195.HEIC: leaves, corrupted.jpg: palms).
* A face is found when a detected box has IoU >= 0.3 with its pasted HOG box or has its
  centre inside that box. A detection that finds no pasted face is a false detection.

Recall is a measurement, made by `make bench` (benchmarks/bench_detection.py) on 25 canvases per detector
(100 faces per size, 13 to 36 px; the bar for the default: at every size as many faces as HOG upsample 2, at most
one false detection per canvas). The tests here check what each detector must always do: find every face on a
canvas of every size and at most one thing else, as many small faces as HOG upsample 2, every face in the fixture
photos (each single face where HOG upsample 2 puts it) and nothing else, and the interface.
"""
from __future__ import annotations

import os
import signal

import face_recognition
import numpy as np
import pytest

from consent_registry.detection import (
    MIN_ENCODABLE_PX,
    CenterFaceDetector,
    HogDetector,
    RetinaFaceDetector,
    make_detector,
)
from consent_registry.faces import FaceSettings
from tests.detection_samples import (
    SINGLE_FACES,
    SIZES,
    background,
    canvas,
    face_crops,
    finds,
    fixture_photos,
    hog2_on,
    iou,
    load_rgb,
    paste,
    score,
    square,
)
from tests.shared_fixtures import fixture_path

# one pytest-xdist worker runs the whole module, so its module-wide HOG upsample 2 results are computed once
pytestmark = pytest.mark.xdist_group("detection")

# How many faces each fixture photo holds: one in each of faces/ but the group (the fixtures' README); none in
# photos/ but image00971.jpg, a boy and a small face (14 px) on the television behind him (looked at; HOG upsample 2
# finds only the boy).
FACES_IN = {"faces/group_two_people.jpg": 2, "photos/image00971.jpg": 2}


def faces_in(relative: str) -> int:
    return FACES_IN.get(relative, 1 if relative.startswith("faces/") else 0)


# --- module-wide data (computed once) ---------------------------------------------------

@pytest.fixture(scope="module")
def photos() -> list[str]:
    return fixture_photos()


@pytest.fixture(scope="module")
def hog2() -> dict[str, list]:
    """HOG upsample 2's box on each single-face fixture: the face's size, by definition (see above)."""
    return hog2_on(SINGLE_FACES)


@pytest.fixture(scope="module")
def images(photos) -> dict[str, np.ndarray]:
    return {relative: load_rgb(fixture_path(relative)) for relative in photos}


@pytest.fixture(scope="module")
def crops(hog2):
    return face_crops(hog2)


@pytest.fixture(scope="module", params=["default", "centerface"])
def detector(request):
    """The default detector (FaceSettings' defaults: RetinaFace), and CenterFace, which a school may choose.
    (HOG upsample 2, the other choice, is the reference these are measured against.)"""
    return FaceSettings(detector="retinaface" if request.param == "default" else "centerface").make_detector()


# --- 1. faces on canvases: every one found, at most one false detection --------------------

def test_detector_finds_every_face_on_a_canvas(crops, detector):
    """20 faces of every measured size (16 to 80 px, in turn) on a photo of leaves: all found, and at most one
    false detection on the rest of the photo (the bar a detector must clear; RetinaFace grey-patches one blurred
    brown leaf here, the price of a threshold set for 16 px faces). A blank canvas is in
    test_boxes_are_ints_inside_the_image_..."""
    img, faces = canvas(background("leaves"), SIZES, crops, seed=1)
    found, false = score(detector.detect(img), faces)
    assert found == len(faces) and false <= 1, f"found {found}/{len(faces)}, {false} false"


def test_the_default_finds_small_faces_as_well_as_hog_upsample_2(crops):
    """Faces of 13 to 36 px, four of each, on the wisteria photo (many face-like flowers): at every size the default
    finds at least as many as HOG upsample 2, with at most one false detection. (benchmarks/bench_detection.py
    measures the same on 25 canvases.)"""
    sizes = (13, 16, 22, 28, 36)
    img, faces = canvas(background("wisteria"), sizes, crops, seed=17)

    def per_size(boxes):
        return [sum(any(finds(d, f) for d in boxes) for f in faces[k::len(sizes)]) for k in range(len(sizes))]

    ours, reference = FaceSettings().make_detector().detect(img), HogDetector(upsample=2).detect(img)
    assert all(a >= b for a, b in zip(per_size(ours), per_size(reference))), (per_size(ours), per_size(reference))
    assert per_size(ours)[1:] == [4, 4, 4, 4]
    assert score(ours, faces)[1] <= 1


# --- 2. every face in the fixture photos, and nothing else -----------------------------------

def test_the_default_detector_is_retinaface():
    assert FaceSettings().make_detector() == RetinaFaceDetector()


def test_finds_every_face_in_the_fixture_photos_and_nothing_else(hog2, images, detector):
    """As many faces as each photo holds (FACES_IN), each single face where HOG upsample 2 puts it. Both kinds of box
    are compared as squares of their own area about their own centres (CenterFace's and RetinaFace's are taller
    than HOG's); the face is found when such squares have IoU >= 0.5."""
    found = {relative: detector.detect(img) for relative, img in images.items()}
    assert {r: len(boxes) for r, boxes in found.items()} == {r: faces_in(r) for r in images}
    for relative, (hog_box,) in hog2.items():
        assert any(iou(square(hog_box), square(c)) >= 0.5 for c in found[relative]), relative


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


def test_faces_below_min_encodable_px_are_still_found_and_sized_like_hog(crops, detector):
    """Too small to identify is not too small to obscure; and dlib_box's height is the size
    to compare with MIN_ENCODABLE_PX (a raw CenterFace or RetinaFace box is ~1.3 times taller)."""
    img = np.full((400, 1600, 3), 128, np.uint8)
    faces = []
    for k, px in enumerate((16, 20, 24, 28, 32)):
        name, crop, box = crops[k]
        faces.append(paste(img, crop, box, px, 60 + 300 * k, 150))
    found = detector.detect(img)
    for face in faces:
        hits = [d for d in found if finds(d, face)]
        assert hits, f"a {face[2] - face[0]:.0f} px face was not found"
        t, r, b, l = detector.dlib_box(hits[0])
        assert abs((b - t) - (face[2] - face[0])) <= 0.25 * (face[2] - face[0]) + 2


# --- encodings with the detectors' boxes ------------------------------------------------------

def test_encodings_from_the_detectors_boxes_tell_people_apart(images, detector):
    names = ["obama_1", "obama_2", "biden_1", "alex_lacamoire_1", "kit_harington_1", "rose_leslie_1"]
    enc = {}
    for name in names:
        img = images[f"faces/{name}.jpg"]
        box, = detector.detect(img)
        enc[name] = face_recognition.face_encodings(img, known_face_locations=[detector.dlib_box(box)])[0]
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
    assert make_detector("retinaface") == RetinaFaceDetector() and make_detector("retinaface").name == "retinaface"
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


def test_network_works_in_a_forked_work_horse(images, detector):
    img = images["faces/group_two_people.jpg"]
    expected = detector.detect(img)  # the parent has its network loaded
    assert len(expected) == 2
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # like rq's work horse
        try:
            signal.alarm(60)
            os.write(write, b"same" if detector.detect(img) == expected else b"different")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"same"
