"""End to end in a real browser: a group photo with one consented face and one refused."""
from __future__ import annotations

import io

import face_recognition
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.live import log_in, log_out, reload_until
from tests.shared_fixtures import fixture_path
from tests.live import open_for_review
from tests.photo_samples import ALLOWED_TAGS, exiftool_tags

pytestmark = pytest.mark.browser


def test_group_photo_is_published_with_biden_obscured(registry, browser_page, live_server, settings, tmp_path):
    page, live, text = browser_page, live_server, "Visitors at our assembly"
    photo = fixture_path("faces/group_two_people.jpg")

    log_in(page, live, "teacher")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New post").click()
    page.fill("#text", text)
    page.set_input_files("#photo_1", str(photo))
    page.fill("#alt_new_1", "Two visitors smiling")
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator(".flash")).to_contain_text("Submitted")
    log_out(page)

    log_in(page, live, "smt")
    open_for_review(page, live, text)
    faces = page.locator(".photo-card ol.faces li")
    expect(faces).to_have_count(2)
    expect(faces.filter(has_text="Barack Obama")).to_contain_text("consent on record")
    expect(faces.filter(has_text="Joe Biden")).to_contain_text("no consent")
    expect(faces.filter(has_text="none: covered")).to_have_count(1)
    expect(page.locator(".findings")).to_contain_text("1 face obscured: consent refused")
    page.get_by_role("button", name="Approve and publish").click()
    expect(page.get_by_role("status").filter(has_text="Approved.")).to_be_visible()

    page.goto(f"{live.url}/archive/demo_archive/")
    article = page.locator("article").filter(has_text=text)
    reload_until(page, article, live, timeout=60, what="the post on the archive's page")
    src = article.locator("img").first.get_attribute("src")
    published = page.request.get(f"{live.url}/archive/demo_archive/{src}").body()

    rgb = np.asarray(Image.open(io.BytesIO(published)).convert("RGB"))
    encodings = face_recognition.face_encodings(rgb)
    biden = face_recognition.face_encodings(face_recognition.load_image_file(fixture_path("faces/biden_1.jpg")))[0]
    obama = face_recognition.face_encodings(face_recognition.load_image_file(fixture_path("faces/obama_1.jpg")))[0]
    assert len(encodings) == 1
    assert face_recognition.face_distance(encodings, biden)[0] > 0.6
    assert face_recognition.face_distance(encodings, obama)[0] < 0.5
    saved = tmp_path / "published.jpg"
    saved.write_bytes(published)
    assert set(exiftool_tags(saved)) <= ALLOWED_TAGS
