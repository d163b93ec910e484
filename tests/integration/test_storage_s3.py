"""The whole gateway on S3 storage (STORAGE_URL=s3://…, an S3-compatible server on loopback, see tests/s3.py): a
post with a photo is checked by a real rq worker, approved and published to the archive, and the web app shows the
archive from the bucket. Nothing is written to the instance folder's media/ or archive/."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest

from gateway.core import settings as settings_module
from gateway.core.db import utcnow
from gateway.services import held
from moderation.models import Post
from tests.helpers import big_photo, post_id_of, submit
from workers.purge import purge_import_previews, purge_originals

AREAS = ("media", "archive", "held", "imports")


@pytest.fixture
def settings(env, s3, monkeypatch):
    """The set-up's settings with STORAGE_URL on the loopback S3 server, for the app and the purges, and in the
    environment for the jobs (each loads its settings afresh in the work horse rq forks)."""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    return settings_module.load({**env, **s3.env()})


def _nothing_on_disk(settings) -> list[str]:
    return [str(p) for area in AREAS if (settings.instance / area).exists()
            for p in (settings.instance / area).rglob("*") if p.is_file()]


def test_a_post_with_a_photo_is_checked_and_published_through_s3_with_nothing_on_local_disk(
        settings, s3, login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    photo = {"photo_1": (io.BytesIO(big_photo(19, (1600, 1200))), "sports-day.jpg"), "alt_new_1": "Posters on tables"}
    post_id = post_id_of(submit(teacher, "Our science fair", **photo))
    work()
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review", post.error
    image = post.images[0]
    media = s3.keys("media/")
    assert f"media/{image.original_key[:2]}/{image.original_key}" in media
    assert f"media/{image.clean_key[:2]}/{image.clean_key}" in media
    clean = smt.get(f"/posts/{post_id}/photos/1/clean")
    assert clean.status_code == 200 and clean.data == settings.media.get(image.clean_key)

    assert smt.post(f"/review/{post_id}/approve").status_code == 302
    work()
    post = fetch(Post, post_id)
    assert post.state == "published"
    pub_id = post.publications[0].id
    assert {f"archive/demo_archive/posts/{pub_id}/{n}" for n in ("post.json", "index.html", "photo-1.jpg")} \
        | {"archive/demo_archive/index.html"} <= set(s3.keys("archive/"))
    index = smt.get("/archive/demo_archive/")
    assert index.status_code == 200 and "Our science fair" in index.get_data(as_text=True)
    page = smt.get(f"/archive/demo_archive/posts/{pub_id}/").get_data(as_text=True)
    assert 'src="photo-1.jpg"' in page and 'alt="Posters on tables"' in page
    published = smt.get(f"/archive/demo_archive/posts/{pub_id}/photo-1.jpg")
    assert published.status_code == 200 and published.mimetype == "image/jpeg" and published.data == clean.data
    assert smt.get(f"/archive/demo_archive/posts/{pub_id}/../../../secret.key").status_code == 404

    head = s3.client().head_object
    assert {head(Bucket=s3.bucket, Key=f"{s3.prefix}/{k}").get("ServerSideEncryption") for k in s3.keys()} == {"AES256"}
    assert _nothing_on_disk(settings) == []

    assert purge_originals(settings, now=utcnow() + timedelta(days=settings.retention_days + 1)) == [post_id]
    left = s3.keys("media/")
    assert f"media/{image.original_key[:2]}/{image.original_key}" not in left
    assert f"media/{image.clean_key[:2]}/{image.clean_key}" in left  # only clean renditions stay


def test_held_photos_and_import_previews_are_kept_in_s3_and_deleted_after_their_hour(settings, s3, login):
    teacher = login("teacher")
    response = submit(teacher, "Art week " * 40, photo_1=(io.BytesIO(big_photo(3, (640, 480))), "a.jpg"),
                      alt_new_1="A painting")  # too long a text: nothing is created, the photo is held
    assert response.status_code == 400
    assert re.findall(r'name="held_(\d)"', response.get_data(as_text=True)) == ["1"]
    assert len(s3.keys("held/")) == 1
    settings.imports.put(b"mis_id\n")
    assert held.purge(settings) == 0 and purge_import_previews(settings) == 0
    later = utcnow() + timedelta(hours=1, minutes=1)
    assert held.purge(settings, now=later) == 1 and purge_import_previews(settings, now=later) == 1
    assert s3.keys("held/") == [] and s3.keys("imports/") == []
    assert _nothing_on_disk(settings) == []
