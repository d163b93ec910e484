"""How long photo cleaning takes, next to Pillow's bare decode and re-encode of the same file."""
import io
from pathlib import Path

from PIL import Image

from benchmarks import median_seconds
from tests.shared_fixtures import FIXTURES
from workers.checks.photos import clean_photo  # also registers the HEIF opener for the baseline

PHOTOS = ["photos/iphone_hdr_YES.jpg", "photos/corrupted.jpg", "photos/IMG_5195.HEIC"]


def _bare_decode_encode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        img.save(io.BytesIO(), "JPEG", quality=88)


def run(repeats: int = 5) -> list[dict]:
    """One row per photo: median seconds of clean_photo and of the bare baseline, and their ratio."""
    rows = []
    for relative in PHOTOS:
        data = (FIXTURES / relative).read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            megapixels = round(img.width * img.height / 1e6, 1)
        seconds = median_seconds(lambda: clean_photo(data, relative), repeats)
        baseline = median_seconds(lambda: _bare_decode_encode(data), repeats)
        rows.append({
            "name": f"clean {Path(relative).name} ({megapixels:g} MP)",
            "seconds": seconds,
            "baseline_seconds": baseline,
            "ratio": seconds / baseline,
        })
    return rows
