"""Covering an area of one photo by hand, on `gateway run`: from the senior leader's click to the post waiting for
review again, next to the first check of the same 4-photo post (from the teacher's submit to waiting for review),
in the same run. The photos are bench_post's: three 8-10 MP camera photos and the group photo enlarged to 10 MP."""
from __future__ import annotations

import statistics
import time

from sqlalchemy import select

from benchmarks.bench_post import CAMERA, _group_photo_at_10_mp
from benchmarks.bench_takedown import _redirected, _running_school
from moderation.models import PostImage
from tests.shared_fixtures import FIXTURES
from tools.chaos import until


def _waiting(bench, post_id: int, since: float) -> float:
    """Seconds from `since` until the post waits for review again."""
    if not until(lambda: bench.state(post_id) == "awaiting_review", 300, 0.01):
        raise RuntimeError(f"post {post_id} is {bench.state(post_id)} after 300 s")
    return time.monotonic() - since


def run(repeats: int = 3) -> list[dict]:
    photos = [(name.rsplit("/", 1)[1], (FIXTURES / name).read_bytes()) for name in CAMERA]
    photos.append(("group.jpg", _group_photo_at_10_mp()))
    first, cover = [], []
    with _running_school() as bench:
        for _ in range(repeats):
            start = time.monotonic()
            post_id = bench.submit("Science week", photos)
            first.append(_waiting(bench, post_id, start))
            position = bench.read(lambda s: s.scalar(select(PostImage.position).where(
                PostImage.post_id == post_id).order_by(PostImage.position)))
            for k in range(repeats):  # each cover is a new area, so the photo is looked at again each time
                start = time.monotonic()
                answer = bench.smt.post(f"/review/{post_id}/photos/{position}/obscure",
                                        {"left": 100 + 50 * k, "top": 100, "width": 40, "height": 40})
                if not _redirected(answer):
                    raise RuntimeError(f"covering an area of post {post_id} was refused")
                cover.append(_waiting(bench, post_id, start))
    seconds, baseline = statistics.median(cover), statistics.median(first)
    return [{"name": f"cover an area of one photo of a 4-photo post by hand, click to waiting for review again "
                     f"(baseline: the post's first check, submit to waiting for review; {repeats} posts, "
                     f"{repeats} covers each)", "seconds": seconds, "baseline_seconds": baseline,
             "ratio": seconds / baseline}]


if __name__ == "__main__":
    for row in run():
        print(row)
