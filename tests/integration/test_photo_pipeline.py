"""Photos through the whole gateway: the form, `gateway check`, the review, the archive, retention."""
import io
import re
import json
import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import func, select

from gateway.core.db import utcnow
from moderation.audit import AuditEntry
from moderation.models import Post
from tests.shared_fixtures import fixture_path
from tests.photo_samples import ALLOWED_TAGS, BAD_FILES, exiftool_tags
from tests.helpers import submit
from workers.purge import purge_originals
from workers.purge import purge_import_previews


def photo_upload(n, name, data=None, alt="Children on the field"):
    data = fixture_path(f"photos/{name}").read_bytes() if data is None else data
    return {f"photo_{n}": (io.BytesIO(data), name), f"alt_new_{n}": alt}


def test_a_phone_photo_and_a_camera_photo_are_published_without_metadata(login, work, fetch, settings, tmp_path):
    teacher, smt = login("teacher"), login("smt")
    response = submit(teacher, "Sports day", **photo_upload(1, "DSCN0010.jpg"), **photo_upload(2, "IMG_5195.HEIC"))
    post_id = int(response.headers["Location"].rsplit("/", 1)[1])
    work()
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review" and not post.blocking
    review = smt.get(f"/review/{post_id}").get_data(as_text=True)
    for position in (1, 2):
        assert f"/posts/{post_id}/photos/{position}/clean" in review
        clean = smt.get(f"/posts/{post_id}/photos/{position}/clean")
        assert clean.status_code == 200 and clean.mimetype == "image/jpeg"
    smt.post(f"/review/{post_id}/approve")
    work()
    post = fetch(Post, post_id)
    assert post.state == "published"
    folder = settings.instance / "archive" / "demo_archive" / "posts" / str(post.publications[0].id)
    published = sorted(folder.glob("photo-*.jpg"))
    assert [p.name for p in published] == ["photo-1.jpg", "photo-2.jpg"]
    for path in published:
        tags = exiftool_tags(path)
        assert not [key for key in tags if key[1].startswith("GPS")], tags
        assert set(tags) <= ALLOWED_TAGS, set(tags) - ALLOWED_TAGS
    record = json.loads((folder / "post.json").read_text())
    assert [p["alt"] for p in record["photos"]] == ["Children on the field"] * 2


def test_bad_files_in_the_form_get_plain_words_and_the_good_photo_is_kept(login, fetch, read):
    teacher = login("teacher")
    uploads = {**photo_upload(1, "Canon_40D.jpg")}
    names = ["random bytes", "empty file", "SVG", "PDF", "30 MB file"]
    for n, name in enumerate(names[:3], start=2):
        uploads.update(photo_upload(n, f"{name}.jpg", BAD_FILES[name][0]()))
    response = submit(teacher, "Art week", **uploads)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Photo 2 (random bytes.jpg) is not a kind of picture we can publish. Please use JPEG" in page
    assert "Photo 3 (empty file.jpg) is an empty file." in page
    assert "Photo 4 (SVG.jpg) is not a kind of picture we can publish." in page
    assert read(lambda s: s.scalars(select(Post)).all()) == []  # nothing created: the good photo is held instead
    assert re.findall(r'name="held_(\d)"', page) == ["1"] and "Canon_40D.jpg is kept from your last try" in page
    draft = teacher.post("/posts/new", {"text": "Art week", "account_id": "1", "action": "draft",
                                        "held_1": re.search(r'name="held_1" value="([^"]+)"', page).group(1),
                                        "alt_new_1": "A camera photo"}, content_type="multipart/form-data")
    post = read(lambda s: s.scalars(select(Post)).one())
    assert draft.status_code == 302 and post.state == "draft" and post.text == "Art week"
    assert [i.label for i in fetch(Post, post.id).images] == ["photo 1 (Canon_40D.jpg)"]

    more = {**photo_upload(1, "PDF.pdf", BAD_FILES["PDF"][0]()), **photo_upload(2, "big.jpg", BAD_FILES["30 MB file"][0]())}
    response = teacher.post(f"/posts/{post.id}/edit", {"text": "Art week", "account_id": "1", "action": "submit", **more},
                            content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert "Photo 2 (PDF.pdf) is not a kind of picture we can publish" in page
    assert "Photo 3 (big.jpg) is 30 MB; photos can be at most 25 MB" in page
    assert [i.label for i in fetch(Post, post.id).images] == ["photo 1 (Canon_40D.jpg)"]


def test_photos_that_pass_the_form_but_not_the_check_block_only_themselves(login, work, fetch):
    teacher = login("teacher")
    uploads = {**photo_upload(1, "Nikon_D70.jpg"),
               **photo_upload(2, "cut.jpg", BAD_FILES["truncated JPEG"][0]())}
    post_id = int(submit(teacher, "Science fair", **uploads).headers["Location"].rsplit("/", 1)[1])
    work()
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review"
    assert [(f.subject, f.code) for f in post.blocking] == [
        ("photo 2 (cut.jpg)", "photo_unreadable")]
    assert [bool(i.clean_key) for i in post.images] == [True, False]
    page = teacher.get(f"/posts/{post_id}").get_data(as_text=True)
    assert "photo 2 (cut.jpg) could not be read; it may be damaged or cut short" in page

    bomb = submit(teacher, "x", **photo_upload(1, "bomb.png", BAD_FILES["20000x20000 PNG bomb"][0]()),
                  **photo_upload(2, "huge.png", BAD_FILES["9000x9000 PNG (under Pillow's limit, over ours)"][0]()))
    page = bomb.get_data(as_text=True)
    assert "Photo 1 (bomb.png) is a picture with more than the 60 million pixels allowed" in page
    assert "Photo 2 (huge.png) is 9000 × 9000 pixels, more than the 60 million pixels allowed" in page


def test_gateway_check_reports_each_bad_file_and_cleans_the_good_one(tmp_path):
    paths = []
    for name in ("truncated JPEG", "random bytes", "empty file", "20000x20000 PNG bomb", "SVG", "PDF", "30 MB file"):
        path = tmp_path / f"{name.split()[0]}.jpg"
        path.write_bytes(BAD_FILES[name][0]())
        paths.append(path)
    good = fixture_path("photos/long_description.jpg")
    args = [arg for p in [good, *paths] for arg in ("--image", str(p), "--alt", "A picture")]
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "gateway", "check", *args, "--out", str(out), "--json"],
                            capture_output=True, text=True, env={**{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
                                 "INSTANCE_DIR": str(tmp_path / "i")},  # its own SQLite: other workers share those
                            timeout=120)
    assert result.returncode == 1, result.stderr
    body = json.loads(result.stdout)
    assert body["verdict"] == "block"
    assert [f["code"] for f in body["findings"] if f["subject"] == "post"] == ["too_many_photos"]  # X takes 4
    codes = [(f["subject"].split()[1], f["code"]) for f in body["findings"] if f["subject"] != "post"]
    assert codes == [("2", "photo_unreadable"), ("3", "photo_unsupported"), ("4", "photo_empty"),
                     ("5", "photo_too_many_pixels"), ("6", "photo_unsupported"), ("7", "photo_unsupported"),
                     ("8", "photo_too_large")]
    first = body["images"][0]
    assert first["output"] and first["width"] > 0 and first["height"] > 0
    assert set(exiftool_tags(first["output"])) <= ALLOWED_TAGS
    assert all(image["output"] is None for image in body["images"][1:])


def test_originals_are_for_reviewers_only_and_deleted_after_the_retention_period(login, work, fetch, read, settings, app):
    teacher, smt = login("teacher"), login("smt")
    post_id = int(submit(teacher, "Trip", **photo_upload(1, "Canon_40D.jpg")).headers["Location"].rsplit("/", 1)[1])
    work()
    assert teacher.get(f"/posts/{post_id}/photos/1/original").status_code == 403
    original = smt.get(f"/posts/{post_id}/photos/1/original")
    assert original.status_code == 200 and original.data == fixture_path("photos/Canon_40D.jpg").read_bytes()
    smt.post(f"/review/{post_id}/approve")
    work()
    post = fetch(Post, post_id)
    key = post.images[0].original_key
    original_file = settings.instance / "media" / key[:2] / key
    assert original_file.exists() and original_file.stat().st_mode & 0o777 == 0o600
    assert "Canon_40D" not in str(original_file)

    assert purge_originals(settings, now=utcnow() + timedelta(days=29)) == []
    assert purge_originals(settings, now=utcnow() + timedelta(days=31)) == [post_id]
    assert not original_file.exists()
    assert smt.get(f"/posts/{post_id}/photos/1/original").status_code == 404
    assert smt.get(f"/posts/{post_id}/photos/1/clean").status_code == 200
    assert read(lambda s: s.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "originals_deleted"))) == 1
    assert purge_originals(settings, now=utcnow() + timedelta(days=60)) == []


def test_unconfirmed_import_previews_are_deleted_after_an_hour(settings):
    token = settings.imports.put(b"mis_id\n")
    assert purge_import_previews(settings) == 0
    assert purge_import_previews(settings, now=utcnow() + timedelta(hours=2)) == 1
    assert not (settings.instance / "imports" / token[:2] / token).exists()
