"""The web app: permissions on every route, the whole path of a post, and bad input."""
import io
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.core.db import utcnow
from gateway.services import held as held_photos
from moderation.models import Post
from tests.helpers import post_id_of, submit
from tests.shared_fixtures import fixture_path
from gateway.users import create_user, hasher_for
from tests.client import Client
from gateway.models import Account, User





def test_text_post_goes_from_form_to_archive(login, work, fetch, read, settings):
    teacher, smt = login("teacher"), login("smt")
    response = submit(teacher)
    assert response.status_code == 302
    post_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert fetch(Post, post_id).state == "submitted"
    work()
    assert fetch(Post, post_id).state == "awaiting_review"
    page = smt.get(f"/review/{post_id}").get_data(as_text=True)
    assert "Sports day was great" in page and "found nothing to worry about" in page
    assert smt.post(f"/review/{post_id}/approve").status_code == 302
    work()
    post = fetch(Post, post_id)
    assert post.state == "published"
    assert post.publications[0].platform_url == f"/archive/demo_archive/posts/{post.publications[0].id}/"
    archive = smt.get("/archive/demo_archive/").get_data(as_text=True)
    assert "Sports day was great" in archive and "approved by Sam Senior" in archive
    mine = teacher.get(f"/posts/{post_id}").get_data(as_text=True)
    assert "Published" in mine and post.publications[0].platform_url in mine


def test_rejection_reason_reaches_the_author(login, work, fetch, read):
    teacher, smt = login("teacher"), login("smt")
    post_id = int(submit(teacher).headers["Location"].rsplit("/", 1)[1])
    work()
    assert smt.post(f"/review/{post_id}/reject", {"reason": ""}).status_code == 303
    assert fetch(Post, post_id).state == "awaiting_review"
    smt.post(f"/review/{post_id}/reject", {"reason": "Please use the school hashtag"})
    page = teacher.get("/posts").get_data(as_text=True)
    assert "Rejected" in page and "Please use the school hashtag" in page


def test_smt_cannot_approve_their_own_post(login, work, fetch, read):
    smt, head = login("smt"), login("head")
    post_id = int(submit(smt, "Our new library opens on Monday").headers["Location"].rsplit("/", 1)[1])
    work()
    page = smt.get(f"/review/{post_id}").get_data(as_text=True)
    assert "another senior leader must approve it" in page
    response = smt.post(f"/review/{post_id}/approve")
    assert response.status_code == 303
    assert "nobody can approve their own post" in smt.get(response.headers["Location"]).get_data(as_text=True)
    assert fetch(Post, post_id).state == "awaiting_review"
    head.post(f"/review/{post_id}/approve")
    assert fetch(Post, post_id).state == "approved"


def test_a_post_whose_photo_cannot_be_cleaned_cannot_be_approved(login, work, fetch, read):
    teacher, smt = login("teacher"), login("smt")

    truncated = fixture_path("photos/DSCN0010.jpg").read_bytes()[:20000]
    response = submit(teacher, "Our garden", photo_1=(io.BytesIO(truncated), "garden.jpg"), alt_new_1="Vegetable beds")
    post_id = int(response.headers["Location"].rsplit("/", 1)[1])
    work()
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review"
    assert [f.severity for f in post.blocking] and all("photo 1" in f.subject for f in post.blocking)
    assert "cannot be approved until" in smt.get(f"/review/{post_id}").get_data(as_text=True)
    smt.post(f"/review/{post_id}/approve")
    assert fetch(Post, post_id).state == "awaiting_review"


def _routes(app, blueprint):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(blueprint + "."):
            url = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
            url = re.sub(r"<any\(([\w, ]+)\):\w+>", lambda m: m.group(1).split(",")[0].strip(), url)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield method, url


def test_a_teacher_gets_403_on_every_review_and_admin_route(app, login, work):
    teacher, smt = login("teacher"), login("smt")
    submit(smt)
    work()
    routes = list(_routes(app, "review")) + list(_routes(app, "admin"))
    assert len(routes) >= 10
    for method, url in routes:
        response = teacher.get(url) if method == "GET" else teacher.post(url, {"reason": "x", "email": "a@b.cd"})
        assert response.status_code == 403, (method, url)
        assert "You do not have permission" in response.get_data(as_text=True)


def test_other_staff_cannot_see_a_teachers_post(login, app, school, session, settings):
    create_user(session, "other@demo.school", "Other Teacher", "teacher", "another-password", by="test",
                hasher=hasher_for(settings))
    session.commit()
    post_id = int(submit(login("teacher")).headers["Location"].rsplit("/", 1)[1])
    other = Client(app).login("other@demo.school", "another-password")
    for url in (f"/posts/{post_id}", f"/posts/{post_id}/edit", f"/posts/{post_id}/photos/1/clean"):
        assert other.get(url).status_code == 403
    assert other.post(f"/posts/{post_id}/withdraw").status_code == 403
    assert login("consent_officer").get(f"/posts/{post_id}").status_code == 403


def test_logged_out_visitors_are_sent_to_log_in(app):
    client = app.test_client()
    for url in ("/posts", "/posts/new", "/review", "/admin/", "/archive/demo_archive/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.fixture
def quiet_log(caplog):
    """Fails the test if the server logged an unhandled exception."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_bad_input_gets_a_clear_message_and_loses_nothing(login, fetch, read, settings, quiet_log):
    teacher = login("teacher")

    empty = submit(teacher, "")
    assert empty.status_code == 400 and "the post is empty" in empty.get_data(as_text=True)

    long_text = "Our Year 6 trip " * 30
    too_long = submit(teacher, long_text)
    page = too_long.get_data(as_text=True)
    assert too_long.status_code == 400 and "the limit is 280" in page and long_text.strip()[:50] in page

    fake = submit(teacher, "Art week", photo_1=(io.BytesIO(b"%PDF-1.4 not a photo"), "painting.jpg"), alt_new_1="A painting")
    page = fake.get_data(as_text=True)
    assert fake.status_code == 400 and "Photo 1 (painting.jpg) is not a kind of picture we can publish" in page
    assert "JPEG, PNG, WebP, HEIC/HEIF" in page and "Art week" in page

    huge = submit(teacher, "Sports day photos", photo_1=(io.BytesIO(b"\xff" * (60 * 1024 * 1024)), "big.jpg"), alt_new_1="Race")
    page = huge.get_data(as_text=True)
    assert huge.status_code == 400 and "Photo 1 (big.jpg) is 60 MB; photos can be at most 25 MB" in page and "Sports day photos" in page

    assert read(lambda s: s.scalars(select(Post)).all()) == []  # a submission with problems creates nothing

    no_csrf = teacher.post("/posts/new", {"text": "Hello", "account_id": "1", "action": "submit"}, csrf=False)
    assert no_csrf.status_code == 400 and "expired or did not come from this site" in no_csrf.get_data(as_text=True)

    for url in ("/posts/999999", "/posts/999999/edit"):
        missing = teacher.get(url)
        assert missing.status_code == 404 and "There is nothing here" in missing.get_data(as_text=True)
    assert teacher.post("/posts/999999/withdraw").status_code == 404
    assert "Traceback" not in page


def test_a_too_large_request_gets_a_plain_page(login, settings, quiet_log):
    teacher = login("teacher")
    limit = (settings.max_photos * settings.max_photo_mb + 50) * 1024 * 1024
    response = submit(teacher, "x", photo_1=(io.BytesIO(b"\0" * (limit + 1)), "a.jpg"))
    assert response.status_code == 413 and "The upload is too large" in response.get_data(as_text=True)


HELD = re.compile(r'name="held_(\d)" value="([^"]+)"')


def test_a_submission_with_problems_creates_nothing_and_keeps_every_photo_in_its_slot(login, work, fetch, read,
                                                                                     settings):
    """Photo 2 has no description: nothing is created, both photos stay in their slots with their descriptions, and
    the fixed form goes through without choosing the files again."""
    teacher = login("teacher")
    photos = {"photo_1": (io.BytesIO(fixture_path("faces/obama_3.jpg").read_bytes()), "visitor.jpg"),
              "photo_3": (io.BytesIO(fixture_path("faces/biden_1.jpg").read_bytes()), "guest.jpg"),
              "alt_new_1": "Our visitor", "alt_new_3": ""}
    failed = submit(teacher, "Visitors this week", **photos)
    page = failed.get_data(as_text=True)
    assert failed.status_code == 400 and '<a href="#alt_new_3">Describe photo 2 (guest.jpg)' in page
    assert re.findall(r'<textarea id="(alt_new_\d)"[^>]*aria-invalid="true"', page) == ["alt_new_3"]
    assert read(lambda s: s.scalars(select(Post)).all()) == []
    held = dict(HELD.findall(page))
    assert set(held) == {"1", "3"} and "visitor.jpg is kept from your last try" in page and "guest.jpg is kept" in page
    assert ">Our visitor</textarea>" in page and "Visitors this week" in page
    teacher_id = read(lambda s: s.scalar(select(User.id).where(User.email == "teacher@demo.school")))
    assert [held_photos.take(settings, teacher_id, t)[0] for t in (held["1"], held["3"])] == ["visitor.jpg", "guest.jpg"]

    stranger = login("smt")  # a token is its author's only
    assert submit(stranger, "Not mine", held_1=held["1"], alt_new_1="x").status_code == 302
    assert read(lambda s: [len(p.images) for p in s.scalars(select(Post))]) == [0]

    fixed = submit(teacher, "Visitors this week", held_1=held["1"], held_3=held["3"], alt_new_1="Our visitor",
                   alt_new_3="Our guest")
    assert fixed.status_code == 302
    post = fetch(Post, post_id_of(fixed))
    assert [(i.label, i.alt_text) for i in post.images] == [("photo 1 (visitor.jpg)", "Our visitor"),
                                                             ("photo 2 (guest.jpg)", "Our guest")]
    assert [held_photos.take(settings, teacher_id, t) for t in held.values()] == [None, None]  # deleted once saved
    work()
    assert fetch(Post, post.id).state == "awaiting_review"


def test_held_photos_are_deleted_after_an_hour(settings):
    token = held_photos.hold(settings, 1, "a.jpg", b"photo")
    assert held_photos.take(settings, 1, token) == ("a.jpg", b"photo") and held_photos.take(settings, 2, token) is None
    assert held_photos.take(settings, 1, token[:-2] + "xx") is None  # forged
    held_photos.purge(settings)
    assert held_photos.take(settings, 1, token) == ("a.jpg", b"photo")  # not an hour old yet
    assert held_photos.purge(settings, now=utcnow() + held_photos.LIFETIME + timedelta(minutes=1)) >= 1
    assert held_photos.take(settings, 1, token) is None


def test_withdrawal_by_the_author(login, work, fetch, read):
    teacher = login("teacher")
    post_id = int(submit(teacher).headers["Location"].rsplit("/", 1)[1])
    teacher.post(f"/posts/{post_id}/withdraw")
    assert fetch(Post, post_id).state == "withdrawn"
    work()  # the queued check finds the post withdrawn and leaves it alone
    assert fetch(Post, post_id).state == "withdrawn"


def test_healthz_reports_database_queue_and_workers(app, settings):
    body = app.test_client().get("/healthz").get_json()
    assert body["database"] == "ok" and body["queue"] == "ok" and body["workers"] == 0
    assert body["status"] == "degraded"


def test_head_confirms_an_account(login, app, fetch, read):
    head = login("head")
    head.post("/admin/accounts", {"platform": "archive", "handle": "news", "url": "https://demo.school/news"})

    account = read(lambda s: s.scalars(select(Account).where(Account.handle == "news")).one())
    assert not account.confirmed
    assert 'value="2"' not in head.get("/posts/new").get_data(as_text=True)
    head.post(f"/admin/accounts/{account.id}/confirm")
    assert fetch(Account, account.id).confirmed_by.email == "head@demo.school"
    assert 'value="2"' in head.get("/posts/new").get_data(as_text=True)


def test_the_settings_page_shows_the_face_detector_and_smallest_face(login):
    page = login("head").get("/admin/settings").get_data(as_text=True)
    assert "retinaface" in page and "16 pixels high" in page and "under 36 pixels" in page
    assert login("smt").get("/admin/settings").status_code == 403


def test_withdrawing_asks_once_more(login, fetch):
    teacher = login("teacher")
    post_id = int(submit(teacher).headers["Location"].rsplit("/", 1)[1])
    page = teacher.get(f"/posts/{post_id}/withdraw").get_data(as_text=True)
    assert "Withdraw post" in page and "Yes, withdraw it" in page
    assert fetch(Post, post_id).state == "submitted"
    teacher.post(f"/posts/{post_id}/withdraw")
    assert fetch(Post, post_id).state == "withdrawn"
