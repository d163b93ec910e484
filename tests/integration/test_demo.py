"""The demo school of `gateway run`: pupils, consents and faces from gateway/demo, and a post the real workers check."""
from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from consent_registry.consent import biometric_status, photo_status
from consent_registry.models import FaceTemplate, Person, PhotoConsent
from consent_registry.registry import school_today
from gateway.models import Account, User
from gateway.services import consent
from gateway.services.demo import PEOPLE, seed_content, seed_if_empty
from moderation import lifecycle
from moderation.models import ImageFace, Post, PostImage
from workers import queues
from workers.checks.faces import CONSENTED, FILL, NO_CONSENT

SHOWN, COVERED = "DEMO-P01", "DEMO-P02"  # the pupil whose parent gave photo consent, and the one who refused


def _people(read) -> dict[str, Person]:
    return {p.mis_id: p for p in read(lambda s: s.scalars(select(Person).options(selectinload("*"))).all())}


def _counts(read) -> dict[str, int]:
    models = {"users": User, "accounts": Account, "people": Person, "photo consents": PhotoConsent,
              "templates": FaceTemplate, "posts": Post}
    return {name: read(lambda s, m=model: s.scalar(select(func.count()).select_from(m)))
            for name, model in models.items()}


def _pixel(data: bytes, box) -> tuple[int, int, int]:
    """The colour at the middle of a face's box [top, right, bottom, left]."""
    top, right, bottom, left = box
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB").getpixel(((left + right) // 2, (top + bottom) // 2))


def test_an_empty_database_gets_demo_pupils_and_a_sample_post_that_the_workers_check(session, settings, work, read,
                                                                                       fetch):
    assert len(seed_if_empty(session, settings)) == 5
    content = seed_content(session, settings)
    assert content.people == [p.mis_id for p in PEOPLE] and content.enrolled == 2 and content.queued

    people, today = _people(read), school_today(settings)
    assert {m: (p.kind, photo_status(p, today).reason, len(p.templates)) for m, p in people.items()} == {
        "DEMO-P01": ("pupil", "written consent on record", 1), "DEMO-P02": ("pupil", "consent refused", 1),
        "DEMO-P03": ("pupil", "no consent on record", 0), "DEMO-S01": ("staff", "written consent on record", 0)}
    assert biometric_status(people[COVERED], today).ok  # enrolled, so that her face is known and covered
    post = fetch(Post, content.post_id)
    assert post.state == lifecycle.SUBMITTED and post.author.email == "teacher@demo.school"
    assert [a.handle for a in post.accounts] == ["demo_archive"] and post.images[0].alt_text

    work()  # the real worker, forking a work horse, takes the check from the queue

    post = fetch(Post, content.post_id)
    assert post.state == lifecycle.AWAITING_REVIEW and not post.blocking, [f.message for f in post.findings]
    assert {f.code: f.message for f in post.findings} == {"faces_consented": "1 face with written consent.",
                                                          "face_obscured": "1 face obscured: consent refused."}
    faces = read(lambda s: s.scalars(select(ImageFace).join(PostImage).where(PostImage.post_id == post.id)).all())
    found = {f.person_id: f for f in faces}
    assert set(found) == {people[SHOWN].id, people[COVERED].id}
    shown, covered = found[people[SHOWN].id], found[people[COVERED].id]
    assert (shown.verdict, shown.obscured, shown.shown_on) == (CONSENTED, False, ["archive"])
    assert (covered.verdict, covered.obscured, covered.shown_on) == (NO_CONSENT, True, [])
    clean = settings.media.get(post.images[0].clean_key)  # what would be published
    assert _pixel(clean, covered.box) == FILL and _pixel(clean, shown.box) != FILL


def test_seeding_twice_does_nothing_the_second_time(session, settings, read):
    seed_if_empty(session, settings)
    first = seed_content(session, settings)
    counts = _counts(read)
    checks = queues.queue(settings, queues.CHECKS).count
    assert first and counts == {"users": 5, "accounts": 1, "people": 4, "photo consents": 3, "templates": 2,
                                "posts": 1} and checks == 1

    assert seed_if_empty(session, settings) == [] and seed_content(session, settings) is None
    session.commit()  # end the read transaction (SQLite has one writer)
    assert _counts(read) == counts and queues.queue(settings, queues.CHECKS).count == checks


def test_a_school_with_people_of_its_own_gets_no_demo_pupils_nor_post(session, settings, read):
    seed_if_empty(session, settings)
    header = "mis_id,kind,first_name,last_name,preferred_name,year_group,social_consent,social_consent_given_by," \
             "social_consent_date,social_consent_expires,biometric_consent,biometric_consent_given_by," \
             "biometric_consent_date,child_objects"
    consent.import_people(session, settings, f"{header}\nR001,pupil,Real,Pupil,,Year 1,,,,,,,,no\n", "test")

    assert seed_content(session, settings) is None
    session.commit()  # end the read transaction (SQLite has one writer)
    assert list(_people(read)) == ["R001"] and _counts(read)["posts"] == 0
