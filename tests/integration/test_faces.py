"""Faces and consent: no face is published without written consent (the consent issue's acceptance)."""
import io

import face_recognition
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select, text

from consent_registry.consent import Asked, record_photo_consent, withdraw
from consent_registry.enrolment import EnrolmentError, enrol
from consent_registry.faces import SMALLEST_FOUND_PX, FaceSettings
from consent_registry.models import FaceTemplate, Person, Takedown
from consent_registry.registry import face_context, school_today
from gateway.core.crypto import WrongKey
from gateway.core.db import session_for
from moderation.models import Post
from tests.helpers import WITHDRAWAL, submit_photo
from tests.registry import context
from tests.shared_fixtures import fixture_path
from workers.checks.base import CheckContext, Draft, Photo
from workers.checks.links import LinkPolicy
from workers.checks.names import NameMatcher
from workers.checks.photos import PhotoLimits
from workers.checks.run import run_checks
from consent_registry.consent import record_biometric_consent
from datetime import date
from dataclasses import replace
from moderation.audit import AuditEntry
import json
from tests.helpers import gateway


def check(settings, name, regions=()):
    data = fixture_path(f"faces/{name}").read_bytes()
    run = run_checks(Draft("", (Photo.given(f"photo 1 ({name})", data, "people", list(regions)),)),
                     CheckContext(PhotoLimits(), context(settings), NameMatcher([]), LinkPolicy()))
    return run, run.draft.photos[0]


def verdicts(photo, ids):
    names = {v: k for k, v in ids.items()}
    return sorted((names.get(f["person"]), f["verdict"], f["obscured"]) for f in photo.faces)


def encodings_of(data):
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return face_recognition.face_locations(rgb), face_recognition.face_encodings(rgb)


def reference(name):
    return face_recognition.face_encodings(face_recognition.load_image_file(fixture_path(f"faces/{name}")))[0]


def test_group_photo_obama_consented_biden_obscured(settings, registry):
    run, photo = check(settings, "group_two_people.jpg")
    assert verdicts(photo, registry) == [("P001", "consented", False), ("P002", "no_consent", True)]
    messages = [f.message for f in run.findings]
    assert "1 face obscured: consent refused." in messages
    assert run.verdict == "review"


@pytest.mark.parametrize("name", ["obama_3.jpg", "rgba_32bit.png"])
def test_other_photos_of_obama_are_consented(settings, registry, name):
    _run, photo = check(settings, name)
    assert verdicts(photo, registry) == [("P001", "consented", False)]


def test_someone_without_biometric_consent_is_unidentified_and_obscured(settings, registry):
    run, photo = check(settings, "kit_harington_2.jpg")
    assert verdicts(photo, registry) == [(None, "unidentified", True)]
    assert any("1 face obscured: not recognised as anyone with consent" in f.message for f in run.findings)


def test_after_obscuring_biden_is_gone_and_obama_still_matches(settings, registry):
    _run, photo = check(settings, "group_two_people.jpg")
    biden_box = next(f["box"] for f in photo.faces if f["verdict"] == "no_consent")
    locations, encodings = encodings_of(photo.data)
    top, right, bottom, left = biden_box
    for t, r, b, l in locations:  # no face found inside the obscured area
        centre_y, centre_x = (t + b) / 2, (l + r) / 2
        assert not (top <= centre_y <= bottom and left <= centre_x <= right)
    biden, obama = reference("biden_1.jpg"), reference("obama_1.jpg")
    assert min(face_recognition.face_distance(encodings, biden)) > 0.6
    assert min(face_recognition.face_distance(encodings, obama)) < 0.5


def test_the_fill_covers_the_box_enlarged_by_at_least_30_percent(settings, registry):
    _run, photo = check(settings, "group_two_people.jpg")
    top, right, bottom, left = next(f["box"] for f in photo.faces if f["obscured"])
    grow_y, grow_x = int((bottom - top) * 0.15), int((right - left) * 0.15)
    pixels = np.asarray(Image.open(io.BytesIO(photo.data)).convert("RGB")).astype(int)
    covered = np.abs(pixels[top - grow_y:bottom + grow_y, left - grow_x:right + grow_x] - (96, 96, 96))
    assert covered.mean() < 2 and covered.max() <= 24  # one flat colour; JPEG rings a little at its edges


def test_withdrawing_biometric_consent_deletes_templates_and_unidentifies(settings, registry):
    with session_for(settings.database_url) as session:
        obama = session.get(Person, registry["P001"])
        assert len(obama.templates) == 2
        today = school_today(settings)
        withdraw(session, obama, "biometric", "test", Asked("Mrs Parent", "by letter", today), today)
        session.commit()
        count = session.scalar(select(func.count()).select_from(FaceTemplate).where(FaceTemplate.person_id == obama.id))
        assert count == 0
    _run, photo = check(settings, "obama_3.jpg")
    assert verdicts(photo, registry) == [(None, "unidentified", True)]


def test_a_childs_objection_deletes_templates_and_blocks_enrolment(settings, registry):
    with session_for(settings.database_url) as session:
        rose = session.get(Person, registry["P004"])
        record_biometric_consent(session, rose, "granted", "test", given_by="Ann Leslie (mother)",
                                 child_objects=True, today=school_today(settings))
        session.commit()
        assert rose.templates == []
        with pytest.raises(EnrolmentError, match="the child objects"):
            enrol(session, rose, [("rose_leslie_1.jpg", fixture_path("faces/rose_leslie_1.jpg").read_bytes())],
                  settings.encryption_key, FaceSettings(), "test", school_today(settings))
    _run, photo = check(settings, "rose_leslie_2.jpg")
    assert verdicts(photo, registry) == [(None, "unidentified", True)]


def test_expired_social_consent_gives_no_consent(settings, registry):
    with session_for(settings.database_url) as session:
        obama = session.get(Person, registry["P001"])
        record_photo_consent(session, obama, "granted", "test", given_by="Barack Obama", given_on=date(2025, 9, 1),
                             expires_on=date(2026, 7, 31), today=school_today(settings))
        session.commit()
    run, photo = check(settings, "obama_3.jpg")
    assert verdicts(photo, registry) == [("P001", "no_consent", True)]
    assert any("consent expired on 31 Jul 2026" in f.message for f in run.findings)


def test_withdrawing_social_consent_rechecks_pending_posts_and_marks_published_ones(
        settings, registry, login, work, fetch, read):
    teacher, smt = login("teacher"), login("smt")

    def submit_obama(text):
        return submit_photo(teacher, "faces/obama_3.jpg", text)

    published, pending = submit_obama("Our visitor on Monday"), submit_obama("Our visitor again")
    work()
    smt.post(f"/review/{published}/approve")
    work()
    assert fetch(Post, published).state == "published"
    assert [f.verdict for f in fetch(Post, pending).images[0].faces] == ["consented"]

    office = login("consent_officer")
    response = office.post("/people/person/withdraw/social?mis_id=P001", WITHDRAWAL)
    page = office.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 post(s) waiting to be published were sent back through the checks" in page
    assert "1 published post(s) feature this person and must be taken down; they are being taken down now" in page
    post = fetch(Post, pending)
    assert post.state == "submitted" and "Photo consent changed" in post.reason
    work()
    post = fetch(Post, pending)
    assert post.state == "awaiting_review"
    assert [(f.verdict, f.obscured) for f in post.images[0].faces] == [("no_consent", True)]
    takedowns = read(lambda s: [(t.post_id, t.state) for t in s.scalars(select(Takedown))])
    assert takedowns == [(published, "done")]  # TAKEDOWN_AUTO: the worker took it down with the rechecks
    assert fetch(Post, published).state == "taken_down"


def test_without_the_registry_the_face_check_blocks_and_keeps_nothing_of_the_photo():
    data = fixture_path("faces/obama_3.jpg").read_bytes()
    no_registry = CheckContext(PhotoLimits(), None, NameMatcher([]), LinkPolicy())
    run = run_checks(Draft("Our visitor", (Photo.given("photo 1", data, "Our visitor"),)), no_registry)
    assert [(f.code, f.subject) for f in run.findings] == [("check_crashed", "faces")]
    photo = run.draft.photos[0]
    assert (photo.data, photo.format, photo.width, photo.faces, photo.alt) == (None, None, 0, (), "Our visitor")


def test_templates_are_not_readable_without_the_key(settings, registry):
    with session_for(settings.database_url) as session:
        blob = session.execute(text("SELECT encrypted FROM face_templates ORDER BY id LIMIT 1")).scalar_one()
        blob = bytes(blob)
    encoding = reference("obama_1.jpg")
    assert len(blob) == 1 + 12 + 128 * 8 + 16  # version, nonce, ciphertext, tag
    assert np.asarray(encoding, "<f8").tobytes()[:16] not in blob
    for offset in range(8):  # read as numbers at every alignment: nothing like a face encoding
        values = np.frombuffer(blob[offset:offset + 1024], dtype="<f8")
        assert not (np.all(np.isfinite(values)) and np.abs(values).max() < 1)
    other = replace(settings, encryption_key=bytes(32))
    with session_for(settings.database_url) as session, pytest.raises(WrongKey, match="cannot be read with this"):
        face_context(session, other)


def test_a_wrong_key_holds_the_post_with_a_plain_message(settings, registry, login, work, fetch, tmp_path):
    teacher = login("teacher")
    post_id = submit_photo(teacher, "faces/obama_3.jpg", "Visit")
    key_file = settings.instance / "encryption.key"
    original = key_file.read_bytes()
    key_file.write_bytes(bytes(32))
    try:
        work()
    finally:
        key_file.write_bytes(original)
    post = fetch(Post, post_id)
    assert post.state == "check_failed" and "cannot be read with this instance's encryption.key" in post.error


def test_smallest_face_found_with_the_default_settings(settings, registry):
    """Obama's face pasted at decreasing sizes on a 2048 px canvas; README states the smallest found."""
    face = Image.open(fixture_path("faces/obama_1.jpg")).convert("RGB")
    top, right, bottom, left = face_recognition.face_locations(np.asarray(face))[0]
    pad = (bottom - top) // 2
    crop = face.crop((left - pad, top - pad, right + pad, bottom + pad))
    canvas = Image.new("RGB", (2048, 1365), (200, 210, 190))
    sizes = [120, 90, 70, 56, 48, 40, 34, 28, 24, 20, 16]
    x = 20
    for size in sizes:  # size = face height; the crop is twice the face
        canvas.paste(crop.resize((size * 2, size * 2)), (x, 600))
        x += size * 2 + 40
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=92)
    run = run_checks(Draft("", (Photo.given("photo 1", out.getvalue(), "faces"),)),
                     CheckContext(PhotoLimits(), context(settings), NameMatcher([]), LinkPolicy()))
    found = sorted(f["box"][2] - f["box"][0] for f in run.draft.photos[0].faces)
    assert all(f["obscured"] or f["verdict"] == "consented" for f in run.draft.photos[0].faces)
    smallest = min(found)
    print(f"smallest face found: {smallest} px ({len(found)} of {len(sizes)} faces)")
    expected = SMALLEST_FOUND_PX[FaceSettings.from_settings(settings).description]  # also in the README
    assert len(found) == sum(size >= expected for size in sizes)
    assert abs(smallest - expected) <= 2  # the detector's box, not the pasted size


def test_consent_is_checked_again_just_before_publishing(settings, registry, login, work, fetch, read):
    teacher, smt = login("teacher"), login("smt")
    post_id = submit_photo(teacher, "faces/obama_3.jpg")
    work()
    smt.post(f"/review/{post_id}/approve")  # the publish job is queued, not yet run
    with session_for(settings.database_url) as session:  # no event sends the post back: only the last look can
        today = school_today(settings)
        withdraw(session, session.get(Person, registry["P001"]), "biometric", "test", Asked("Mrs Parent", "by letter", today),
                 today)
        session.commit()
    work()
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review"
    assert "Consent changed before publishing (someone shown in photo 1 (visit.jpg): biometric consent withdrawn)" in post.reason
    assert [(f.verdict, f.obscured) for f in post.images[0].faces] == [("unidentified", True)]
    assert post.publications[0].state == "pending" and post.publications[0].platform_id is None
    assert read(lambda s: s.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "consent_changed_before_publishing"))) == 1


def test_gateway_check_lists_each_face_by_mis_id(settings, registry, tmp_path):

    result = gateway("check", "--image", str(fixture_path("faces/group_two_people.jpg")), "--alt", "Visitors",
                     "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    faces = json.loads(result.stdout)["images"][0]["faces"]
    assert sorted((f["person"], f["verdict"], f["obscured"]) for f in faces) == [
        ("P001", "consented", False), ("P002", "no_consent", True)]
    assert all(len(f["box"]) == 4 and 0 <= f["distance"] < 0.5 for f in faces)


def test_a_reviewer_covers_an_area_by_hand_and_the_photo_is_checked_again(settings, registry, login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    post_id = submit_photo(teacher, "faces/group_two_people.jpg", "Visitors", alt="Two visitors")
    work()
    image = fetch(Post, post_id).images[0]
    top, right, bottom, left = next(f.box for f in image.faces if f.verdict == "consented")
    annotated = smt.get(f"/review/{post_id}/photos/1/annotated")
    assert annotated.status_code == 200 and annotated.mimetype == "image/jpeg"
    assert teacher.get(f"/review/{post_id}/photos/1/annotated").status_code == 403
    smt.post(f"/review/{post_id}/photos/1/obscure",
             {"left": left - 10, "top": top - 10, "width": right - left + 20, "height": bottom - top + 20})
    assert fetch(Post, post_id).state == "submitted"
    work()
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review" and post.images[0].manual_regions
    assert [f.verdict for f in post.images[0].faces] == ["no_consent"]  # Obama covered by hand, Biden by the check
    clean = smt.get(f"/posts/{post_id}/photos/1/clean").data
    pixels = np.asarray(Image.open(io.BytesIO(clean)).convert("RGB")).astype(int)
    assert np.abs(pixels[top:bottom, left:right] - (96, 96, 96)).max() <= 12
