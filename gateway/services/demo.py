"""A demo school for trying the gateway: users, an archive account, pupils with and without consent, a sample post."""
# The pupils' faces are two public-domain portraits shipped in gateway/demo (its SOURCE.md says where they come from);
# the sample post's photo shows both, so that its check shows a consented face and a covered one.
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image
from sqlalchemy import func, select

from consent_registry import importer
from consent_registry.models import GRANTED, PUPIL, REFUSED, STAFF, Person
from consent_registry.registry import school_today
from gateway.models import CONSENT_OFFICER, DPO, HEAD, SMT, TEACHER, Account, User
from gateway.services.accounts import add_account, confirm_account
from gateway.users import create_user, generate_password, hasher_for
from moderation.models import Post

if TYPE_CHECKING:
    from gateway.services.posts import Saved

DEMO_USERS = [
    ("head@demo.school", "Helen Head", HEAD),
    ("smt@demo.school", "Sam Senior", SMT),
    ("teacher@demo.school", "Tara Teacher", TEACHER),
    ("office@demo.school", "Olu Office", CONSENT_OFFICER),
    ("dpo@demo.school", "Dara Protection", DPO),  # the trust's data protection officer
]
AUTHOR = "teacher@demo.school"
ARCHIVE = "demo_archive"
BY = "demo"
PHOTOS = Path(__file__).resolve().parent.parent / "demo"


@dataclass(frozen=True)
class DemoPerson:
    mis_id: str
    kind: str
    first_name: str
    last_name: str
    year_group: str
    given_by: str      # who answered the consent form
    photo: str         # social-media photo consent: granted, refused, or "" for no answer yet
    biometric: str     # consent to face recognition, or ""
    portrait: str = ""  # the photo in gateway/demo they are enrolled with, if any


# Stand-in names: the portraits are of Eileen Collins and Grace Hopper (gateway/demo/SOURCE.md).
PEOPLE = [
    DemoPerson("DEMO-P01", PUPIL, "Eileen", "Astra", "Year 6", "Mrs Astra (mother)", GRANTED, GRANTED,
               "eileen-collins.jpg"),
    DemoPerson("DEMO-P02", PUPIL, "Grace", "Harbour", "Year 6", "Mr Harbour (father)", REFUSED, GRANTED,
               "grace-hopper.jpg"),
    DemoPerson("DEMO-P03", PUPIL, "Noor", "Field", "Year 6", "", "", ""),
    DemoPerson("DEMO-S01", STAFF, "Tara", "Teacher", "", "Tara Teacher", GRANTED, ""),
]
POST_TEXT = "Dress as your hero day in Year 6: an astronaut and a pioneer of computing came to school today!"
POST_ALT = ("Two children dressed as their heroes, side by side: an astronaut in an orange flight suit, "
            "and a naval officer in a dark uniform and cap.")
POST_PHOTO = "dress-as-your-hero.jpg"


@dataclass(frozen=True)
class DemoContent:
    people: list[str]   # the MIS ids imported
    enrolled: int       # face templates added
    post_id: int        # the sample post, sent to the checks
    queued: bool        # False: the queue was out of reach; the reconciler queues the checks


def seed_if_empty(session, settings) -> list[tuple[str, str, str]]:
    """Create the demo school in an empty database; returns (email, role, password) to print once."""
    if session.scalar(select(func.count()).select_from(User)):
        return []
    created = []
    for email, name, role in DEMO_USERS:
        password = generate_password()
        create_user(session, email, name, role, password, by=BY, hasher=hasher_for(settings))
        created.append((email, role, password))
    head = session.scalar(select(User).where(User.role == HEAD))
    account = add_account(session, "archive", ARCHIVE, "https://demo.school/archive", by=BY)
    confirm_account(session, account, head)
    session.commit()
    return created


def seed_content(session, settings) -> DemoContent | None:
    """Add the demo people and submit the sample post; None, changing nothing, unless registry and posts are empty."""
    # Only `gateway run` calls it, right after seed_if_empty created the school: the people come in through the MIS
    # import and enrolment services, and the post through the post form's, so the workers check it as any other.
    author = session.scalar(select(User).where(User.email == AUTHOR))
    account = session.scalar(select(Account).where(Account.handle == ARCHIVE))
    if author is None or account is None or _count(session, Person) or _count(session, Post):
        return None
    enrolled = seed_people(session, settings)
    saved = submit_sample_post(session, settings, author, account)
    return DemoContent([p.mis_id for p in PEOPLE], enrolled, saved.post.id, saved.queued)


def seed_people(session, settings) -> int:
    """Import the demo people and their consents as an MIS export, and enrol their portraits; the templates added."""
    from gateway.services import consent  # late: it loads dlib (seconds), which the other commands need not wait for

    imported = consent.import_people(session, settings, people_csv(settings), BY)
    if imported.plan.errors:
        raise ValueError(f"the demo people do not import: {imported.plan.errors}")
    enrolled = 0
    for person in PEOPLE:
        if person.portrait:
            found = consent.find(session, person.mis_id)
            enrolled += consent.enrol(session, settings, found, [(person.portrait, portrait(person.portrait))], BY)
    return enrolled


def people_csv(settings) -> str:
    """The demo people as the school's MIS export, their consents given today."""
    today = school_today(settings).isoformat()
    out = io.StringIO()
    writer = csv.DictWriter(out, importer.COLUMNS)
    writer.writeheader()
    for p in PEOPLE:
        writer.writerow({
            "mis_id": p.mis_id, "kind": p.kind, "first_name": p.first_name, "last_name": p.last_name,
            "year_group": p.year_group, "social_consent": p.photo, "social_consent_given_by": p.photo and p.given_by,
            "social_consent_date": p.photo and today, "biometric_consent": p.biometric,
            "biometric_consent_given_by": p.biometric and p.given_by, "biometric_consent_date": p.biometric and today,
            "child_objects": "no"})
    return out.getvalue()


def submit_sample_post(session, settings, author: User, account: Account) -> Saved:
    """The demo teacher's post with a photo of two pupils, submitted as the post form submits it."""
    from gateway.services import posts  # late: `gateway --help` and the other commands need not load it

    data = sample_photo()
    form = posts.PostForm(text=POST_TEXT, account_ids=[account.id], publish_at=None,
                          photos=[posts.NewPhoto(1, POST_PHOTO, data, len(data), POST_ALT)])
    saved = posts.save(session, settings, author, None, form, submit=True)
    if not saved.submitted:
        raise ValueError(f"the demo post was not submitted: {saved.problems}")
    return saved


def sample_photo() -> bytes:
    """The sample post's photo: the two enrolled pupils side by side, as a JPEG."""
    height, gap = 600, 20
    pictures = []
    for person in PEOPLE:
        if person.portrait:
            with Image.open(PHOTOS / person.portrait) as img:
                pictures.append(img.convert("RGB").resize((round(img.width * height / img.height), height)))
    canvas = Image.new("RGB", (sum(p.width for p in pictures) + gap * (len(pictures) + 1), height + 2 * gap),
                       (255, 255, 255))
    left = gap
    for picture in pictures:
        canvas.paste(picture, (left, gap))
        left += picture.width + gap
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90)
    return out.getvalue()


def portrait(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))
