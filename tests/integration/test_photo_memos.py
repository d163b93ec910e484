"""Covering an area of one photo looks for faces again in that photo only: the other photos' clean renditions and
detections are reused from the last check (PostImage.memos), while consent is always read afresh and nothing a memo
keeps outlives the originals."""
from __future__ import annotations

import io
from datetime import timedelta

from gateway.core.db import utcnow
from moderation.models import Post
from tests.helpers import WITHDRAWAL, post_id_of, submit
from tests.shared_fixtures import fixture_path
from workers.purge import purge_originals


def two_photos(teacher) -> int:
    files = {f"photo_{n}": (io.BytesIO(fixture_path(name).read_bytes()), f"visit{n}.jpg")
             for n, name in ((1, "faces/group_two_people.jpg"), (2, "faces/obama_3.jpg"))}
    return post_id_of(submit(teacher, "Visitors", **files, alt_new_1="Two visitors", alt_new_2="A visitor"))


def memos(fetch, post_id):
    return [image.memos for image in fetch(Post, post_id).images]


def test_covering_an_area_looks_again_only_at_that_photo(settings, registry, login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    post_id = two_photos(teacher)
    work()
    before = memos(fetch, post_id)
    assert [set(m) for m in before] == [{"clean", "faces"}, {"clean", "faces"}]
    image = fetch(Post, post_id).images[0]
    top, right, bottom, left = next(f.box for f in image.faces if f.verdict == "consented")
    smt.post(f"/review/{post_id}/photos/{image.position}/obscure",
             {"left": left - 10, "top": top - 10, "width": right - left + 20, "height": bottom - top + 20})
    work()
    post, after = fetch(Post, post_id), memos(fetch, post_id)
    assert post.state == "awaiting_review"
    assert after[1] == before[1]  # the other photo: the same clean rendition, the same detection
    assert after[0]["clean"] == before[0]["clean"]
    assert after[0]["faces"]["source"] != before[0]["faces"]["source"]  # its covered area changed what is seen
    assert [f.verdict for f in post.images[0].faces] == ["no_consent"]
    assert [f.verdict for f in post.images[1].faces] == ["consented"]


def test_consent_is_read_afresh_even_where_the_detection_is_remembered(settings, registry, login, work, fetch):
    teacher = login("teacher")
    post_id = two_photos(teacher)
    work()
    before = memos(fetch, post_id)
    login("consent_officer").post("/people/person/withdraw/social?mis_id=P001", WITHDRAWAL)
    assert fetch(Post, post_id).state == "submitted"
    work()
    post = fetch(Post, post_id)
    assert memos(fetch, post_id)[1] == before[1]
    assert [(f.verdict, f.obscured) for f in post.images[1].faces] == [("no_consent", True)]


def test_a_changed_remembered_rendition_is_not_used(settings, registry, login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    post_id = two_photos(teacher)
    work()
    before = memos(fetch, post_id)[1]["clean"]
    path = settings.instance / "media" / before["key"][:2] / before["key"]
    path.write_bytes(path.read_bytes() + b"Exif GPS 51.75N")
    smt.post(f"/review/{post_id}/photos/1/obscure", {"left": 0, "top": 0, "width": 20, "height": 20})
    work()
    after = memos(fetch, post_id)[1]["clean"]
    assert after["key"] != before["key"] and not path.exists()
    assert b"Exif GPS" not in settings.media.get(fetch(Post, post_id).images[1].clean_key)


def test_remembered_renditions_are_purged_with_the_originals(settings, registry, login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    post_id = two_photos(teacher)
    work()
    keys = [m["clean"]["key"] for m in memos(fetch, post_id)]
    smt.post(f"/review/{post_id}/reject", {"reason": "Not this week"})
    assert fetch(Post, post_id).state == "rejected"
    purge_originals(settings, now=utcnow() + timedelta(days=settings.retention_days + 1))
    assert memos(fetch, post_id) == [{}, {}]
    assert not any((settings.instance / "media" / key[:2] / key).exists() for key in keys)
