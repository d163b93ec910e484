"""How long face detection takes on a published-size photo, RetinaFace (the default) next to HOG; and how many faces
each detector finds.

run() gives the timing rows for `make bench` (HOG upsample 1 is the baseline of every row, measured in the same run).
table() gives the recall table (also part of `make bench`, written below the rows): faces found per size and false
detections per canvas of each detector on 25 canvases, with its time as a ratio to HOG upsample 1. The bar the default
must clear: at every size at least as many faces as HOG upsample 2, and at most one false detection per canvas.

Canvases (built with tests/detection_samples.py's canvas(), which defines face size, layout and "found"):
2048 x 1365, 20 faces each on a 5 x 4 grid at random places in their cells, at each of SIZES, on
five backgrounds: a plain grey gradient, a random texture, and three fixture photos
(iphone_hdr_YES.jpg: wisteria in bloom, IMG_5195.HEIC: leaves, corrupted.jpg: palms).
That is 100 faces per size. A face's size is the height of its dlib HOG box (the tight box dlib draws, found by HOG
upsample 2 on the full-size fixture and scaled with the face), and it is found by a box with IoU >= 0.3 with that box
or with its centre inside it. (RetinaFace's settings were chosen on canvases of other seeds.)

RetinaFace runs on onnxruntime's threads (all cores) and CenterFace on OpenCV's; dlib's HOG on one core. The
wall-clock rows are what a photo waits; the "CPU" rows show the work, which is what counts when several photos or
work horses share the machine.
"""
from __future__ import annotations

import io
import os
import sys
import time

import cv2
import numpy as np
from PIL import Image

from benchmarks import median_seconds
from consent_registry.detection import CenterFaceDetector, HogDetector, RetinaFaceDetector
from workers.checks.photos import clean_photo
from tests import detection_samples as t


def _images() -> dict[str, np.ndarray]:
    crops = t.face_crops(t.hog2_on(t.SINGLE_FACES))
    plain, _ = t.canvas(t.background("plain"), 22, crops, seed=1)
    busy, _ = t.canvas(t.background("wisteria"), 22, crops, seed=2)
    group = t.load_rgb(t.fixture_path("faces/group_two_people.jpg"))
    s = 2048 / max(group.shape[:2])
    group = cv2.resize(group, (round(group.shape[1] * s), round(group.shape[0] * s)),
                       interpolation=cv2.INTER_CUBIC)
    camera = clean_photo(t.fixture_path("photos/corrupted.jpg").read_bytes(), "photo").data
    camera = np.asarray(Image.open(io.BytesIO(camera)).convert("RGB"))
    return {
        "2048x1365 canvas, 20 faces of 22 px, plain background": plain,
        "2048x1365 canvas, 20 faces of 22 px, wisteria photo background": busy,
        f"group_two_people.jpg at {group.shape[1]}x{group.shape[0]}": group,
        f"camera photo corrupted.jpg, clean at {camera.shape[1]}x{camera.shape[0]}": camera,
    }


def _cold_seconds(detector, img) -> float:
    """One detection in a freshly forked process, as in an rq work horse (median of 3)."""
    times = []
    for _ in range(3):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                start = time.perf_counter()
                detector.detect(img)
                os.write(write, repr(time.perf_counter() - start).encode())
            finally:
                os._exit(0)
        os.close(write)
        times.append(float(os.read(read, 64)))
        os.close(read)
        os.waitpid(pid, 0)
    return float(np.median(times))


def run(repeats: int = 5) -> list[dict]:
    default, hog1, hog2 = RetinaFaceDetector(), HogDetector(upsample=1), HogDetector(upsample=2)
    rows = []

    def row(name, seconds, baseline):
        rows.append({"name": name, "seconds": seconds, "baseline_seconds": baseline,
                     "ratio": seconds / baseline})

    for label, img in _images().items():
        default.detect(img)  # load the network and let onnxruntime plan this input size
        base = median_seconds(lambda: hog1.detect(img), repeats)
        row(f"RetinaFace (default) vs HOG up1: {label}", median_seconds(lambda: default.detect(img), repeats), base)
        row(f"HOG up2 vs HOG up1: {label}", median_seconds(lambda: hog2.detect(img), 3), base)
        if label.startswith("2048x1365 canvas, 20 faces of 22 px, plain"):
            row(f"RetinaFace vs HOG up1, CPU seconds (all threads): {label}",
                median_seconds(lambda: default.detect(img), repeats, clock=time.process_time),
                median_seconds(lambda: hog1.detect(img), repeats, clock=time.process_time))
            row(f"RetinaFace vs HOG up1, first detection in a forked process: {label}",
                _cold_seconds(default, img), _cold_seconds(hog1, img))
    return rows


# --- recall (part of make bench: table()) ---------------------------------------------------

SIZES = (13, 16, 22, 28, 36)


def canvases(crops: list, backgrounds: dict[str, np.ndarray]):
    """(size, background name) -> (image, face boxes), the same every run."""
    return {
        (px, kind): t.canvas(bg, px, crops, seed=1000 + 10 * px + i)
        for px in SIZES for i, (kind, bg) in enumerate(backgrounds.items())
    }


def _timed(detector, images) -> tuple[list, float]:
    """Each image's boxes, and the median seconds per image (the process runs alone: see _found)."""
    boxes, seconds = [], []
    for img in images:
        start = time.perf_counter()
        boxes.append(detector.detect(img))
        seconds.append(time.perf_counter() - start)
    return boxes, float(np.median(seconds))


def _found(detectors: dict, images: list) -> dict:
    """name -> (boxes per image, median seconds per image), each detector measured alone, one after the other."""
    out = {}
    for name, det in detectors.items():
        det.detect(images[0])
        out[name] = _timed(det, images)
    return out


def _recall(made: dict, detections: list) -> tuple[dict, float]:
    """size -> (found, faces), and false detections per canvas."""
    per_size, false = {}, 0
    for key, boxes in zip(made, detections):
        found, wrong = t.score(boxes, made[key][1])
        f, n = per_size.get(key[0], (0, 0))
        per_size[key[0]] = (f + found, n + len(made[key][1]))
        false += wrong
    return per_size, false / len(made)


def table() -> str:
    """The recall table: each detector's faces found per size, false detections per canvas, time vs HOG up1."""
    crops = t.face_crops(t.hog2_on(t.SINGLE_FACES))
    made = canvases(crops, {kind: t.background(kind) for kind in t.BACKGROUNDS})
    images = [img for img, _ in made.values()]
    found = _found({"HOG upsample 1": HogDetector(1), "HOG upsample 2 (before)": HogDetector(2),
                    "CenterFace (threshold 0.5, second look from 0.1)": CenterFaceDetector(),
                    "**RetinaFace cascade (default)**": RetinaFaceDetector()}, images)
    base = found["HOG upsample 1"][1]
    lines = ["| detector | " + " | ".join(f"{px} px" for px in SIZES) + " | false per canvas | time vs HOG up1 |",
             "|---|" + "---|" * (len(SIZES) + 2)]
    for name, (detections, seconds) in found.items():
        per_size, false = _recall(made, detections)
        lines.append(f"| {name} | " + " | ".join(f"{per_size[px][0]}/{per_size[px][1]}" for px in SIZES)
                     + f" | {false:.2f} | {seconds / base:.2f} |")
    return (f"Recall on {len(made)} canvases (100 faces per size; time: median seconds per canvas, HOG upsample 1 "
            f"{base:.2f} s):\n\n" + "\n".join(lines))


def main() -> None:
    print("| what | seconds | HOG up1 seconds | ratio |\n|---|---|---|---|")
    for r in run():
        print(f"| {r['name']} | {r['seconds']:.3f} | {r['baseline_seconds']:.3f} | {r['ratio']:.2f} |", flush=True)
    print("\n" + table())
    print(f"\nload average at the end: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
