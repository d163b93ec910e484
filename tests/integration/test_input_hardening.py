"""Input that once got a 500 or was dropped without a word: numbers that are not finite, MIS ids with any
character, files past the photo limit, and import previews nobody confirmed."""
import csv
import io
import os
import re
import time
from html import unescape
from urllib.parse import urljoin

import numpy as np
from markupsafe import escape
from PIL import Image

from consent_registry import importer
from gateway.services import consent
from moderation.models import Post
from tests.helpers import WITHDRAWAL, post_id_of, submit
from workers import queues, reconcile
from workers.purge import purge_import_previews

MARK_FIRST = "Mark the area to obscure first (drag over the photo, or type its position and size)."
NOT_FINITE = ["inf", "-inf", "Infinity", "nan", "NaN", "1e400", "-1e999"]
ODD_IDS = ["2024/0042", "a/b", "x/withdraw/social", "import", "import/abc123", "person", "enrol", "%", "%2F", "#1",
           "a b", "?x=1&y=2", "+1", "Zoë/Łódź/学生", "..", "a/./b", "/lead", "trail/", "a//b", 'say "hi"',
           "back\\slash", "a,b;c"]
WITHDRAW_SOCIAL = re.compile(r'<a class="button danger" href="([^"]*)">Withdraw social media photo consent')
CONFIRM = re.compile(r'<form method="post" action="([^"]*)">')


def _jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A small gradient photo with no face in it."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    pixels = np.stack([x * 255 // w, y * 255 // h, (x + y + seed * 40) % 256], -1).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80)
    return out.getvalue()


def test_a_number_that_is_not_finite_is_refused_like_a_word_in_the_obscure_form(login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    post_id = post_id_of(submit(teacher, "Our garden", photo_1=(io.BytesIO(_jpeg(1)), "garden.jpg"),
                                alt_new_1="Vegetable beds"))
    work()
    assert fetch(Post, post_id).state == "awaiting_review"
    box = {"left": "10", "top": "10", "width": "50", "height": "50"}
    for field in box:
        for value in [*NOT_FINITE, "ten", ""]:
            response = smt.post(f"/review/{post_id}/photos/1/obscure", {**box, field: value})
            assert response.status_code == 303, (field, value, response.status_code)
            assert MARK_FIRST in smt.get(response.headers["Location"]).get_data(as_text=True), (field, value)
    huge = smt.post(f"/review/{post_id}/photos/1/obscure", {**box, "left": "1e300"})  # finite: a number, off the photo
    assert "Not done: that area is outside the photo." in smt.get(huge.headers["Location"]).get_data(as_text=True)
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review" and post.images[0].manual_regions == []


def test_odd_numbers_in_field_names_and_the_query_string_are_not_ours_and_are_ignored(login, fetch):
    teacher, smt = login("teacher"), login("smt")
    odd = {"alt_\u00b2": "x", "remove_\u00b2": "1", "alt_" + "9" * 5000: "x", "remove_" + "9" * 30: "1"}
    post_id = post_id_of(submit(teacher, "Harvest festival", **odd))  # "²" is a digit to str.isdigit, not to int()
    assert fetch(Post, post_id).text == "Harvest festival"
    for query in ("99999999999999999999", "1e3", "\u00b2", "-1"):
        assert smt.get(f"/comments?post={query}").status_code == 200, query


def _people_csv(ids: list[str]) -> str:
    """One pupil per MIS id, each with written consent to appear on social media."""
    out = io.StringIO()
    writer = csv.DictWriter(out, importer.COLUMNS, restval="")
    writer.writeheader()
    for n, mis_id in enumerate(ids):
        writer.writerow({"mis_id": mis_id, "kind": "pupil", "first_name": "Pupil", "last_name": f"Number{n:02d}",
                         "year_group": "Year 4", "social_consent": "granted",
                         "social_consent_given_by": "A Parent (mother)", "social_consent_date": "2026-09-01"})
    return out.getvalue()


def test_anyone_opens_and_has_consent_withdrawn_whatever_characters_their_mis_id_has(settings, session, school,
                                                                                       login, read):
    imported = consent.import_people(session, settings, _people_csv(ODD_IDS), "test")
    assert not imported.plan.errors, imported.plan.errors
    office = login("consent_officer")
    listing = office.get("/people/").get_data(as_text=True)
    for n, mis_id in enumerate(ODD_IDS):
        link = re.search(rf'<a href="([^"]+)">Pupil Number{n:02d}</a>', listing)
        url = urljoin("http://localhost/people/", unescape(link.group(1)))  # as a browser resolves it: ".." and all
        page = office.get(url)
        shown = page.get_data(as_text=True)
        assert page.status_code == 200 and f"MIS id {escape(mis_id)} ·" in shown, (mis_id, page.status_code)
        asking = urljoin(url, unescape(WITHDRAW_SOCIAL.search(shown).group(1)))
        action = CONFIRM.search(office.get(asking).get_data(as_text=True)).group(1)
        withdrawn = office.post(urljoin(asking, unescape(action)), WITHDRAWAL)
        assert withdrawn.status_code == 302, (mis_id, withdrawn.status_code)
        after = office.get(urljoin(url, withdrawn.headers["Location"])).get_data(as_text=True)
        assert "Social media photo consent withdrawn." in after and f"MIS id {escape(mis_id)} ·" in after, mis_id
        assert "Must not appear" in after, mis_id
    may_appear = read(lambda s: {p.mis_id: status.ok for p, status in consent.search(s, settings, "")})
    assert may_appear == {mis_id: False for mis_id in ODD_IDS}
    assert office.get("/people/person?mis_id=nobody").status_code == 404
    assert office.get("/people/person").status_code == 404


def test_photos_past_the_limit_are_named_as_not_added_and_the_rest_of_the_form_is_kept(login, fetch, settings):
    assert settings.max_photos == 4
    teacher = login("teacher")
    photos = {f"photo_{n}": (io.BytesIO(_jpeg(n)), f"p{n}.jpg") for n in range(1, 7)}
    alts = {f"alt_new_{n}": f"Photo number {n}" for n in range(1, 7)}
    response = submit(teacher, "Sports day relay", **photos, **alts)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "A post can have at most 4 photos; 2 more were sent (p5.jpg, p6.jpg) and not added." in page
    assert "Sports day relay" in page
    held = dict(re.findall(r'name="held_(\d)" value="([^"]+)"', page))  # nothing created; the four are kept
    assert sorted(held) == ["1", "2", "3", "4"]
    again = submit(teacher, "Sports day relay", **{f"held_{n}": t for n, t in held.items()},
                   **{f"alt_new_{n}": f"Photo number {n}" for n in range(1, 5)}, action="draft")
    post_id = int(again.headers["Location"].rsplit("/", 1)[1])
    assert [i.alt_text for i in fetch(Post, post_id).images] == [f"Photo number {n}" for n in range(1, 5)]

    # a full post: a photo added on the edit form is named the same way
    more = teacher.post(f"/posts/{post_id}/edit", {"text": "Sports day relay", "account_id": "1", "action": "submit",
                                                   "photo_1": (io.BytesIO(_jpeg(7)), "p7.jpg"), "alt_new_1": "Seven"},
                        content_type="multipart/form-data")
    assert more.status_code == 400
    assert "A post can have at most 4 photos; 1 more was sent (p7.jpg) and not added." in more.get_data(as_text=True)
    assert len(fetch(Post, post_id).images) == 4


def test_a_file_in_a_field_the_form_does_not_have_is_named_as_not_added(login, fetch):
    teacher = login("teacher")
    response = submit(teacher, "Art week", photo_1=[(io.BytesIO(_jpeg(1)), "a.jpg"), (io.BytesIO(_jpeg(2)), "b.jpg")],
                      alt_new_1="A painting", attachment=(io.BytesIO(b"%PDF-1.4"), "notes.pdf"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "A post can have at most 4 photos; 2 more were sent (b.jpg, notes.pdf) and not added." in page
    assert re.findall(r'name="held_(\d)"', page) == ["1"] and ">A painting</textarea>" in page


def _preview(settings, minutes_old: float):
    """An import preview kept (in the instance folder's store) as if `minutes_old` ago."""
    token = settings.imports.put(b"mis_id\n")
    path = settings.instance / "imports" / token[:2] / token
    when = time.time() - minutes_old * 60
    os.utime(path, (when, when))
    return path


def test_an_import_preview_nobody_confirmed_is_deleted_after_an_hour(settings):
    old, young = _preview(settings, 61), _preview(settings, 59)
    assert purge_import_previews(settings) == 1
    assert not old.exists() and young.exists()


def test_every_maintenance_round_deletes_old_previews_even_when_another_reconciler_holds_the_lock(settings, work):
    old = _preview(settings, 61)
    with reconcile.exclusive(queues.connection(settings)):  # the worker's round finds the lock taken
        work()
    assert not old.exists()


def test_an_id_too_large_for_the_database_is_not_found(login):
    smt = login("smt")
    for path in ("/review/99999999999999999999", "/posts/99999999999999999999", "/comments/99999999999999999999/keep"):
        response = smt.get(path) if "comments" not in path else smt.post(path)
        assert response.status_code == 404, path
