"""The consent and user services: each commits, then queues what follows, and a queue out of reach only delays it."""
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import func, select

from consent_registry.consent import Asked
from consent_registry.models import PhotoConsent, Takedown
from gateway.core import settings as settings_module
from gateway.core.errors import Refused
from gateway.models import Account, User
from gateway.services import consent, users
from gateway.services.queueing import QUEUE_DOWN, commit_then_enqueue
from moderation import lifecycle
from moderation.models import ImageFace, Post, PostImage
from gateway.web.app import create_app
from tests.client import Client
from tests.helpers import WITHDRAWAL, gateway
from tests.registry import CSV
from workers import queues
from workers.reconcile import reconcile

ASKED = Asked("Mrs Parent", "by letter", date.today())

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the queue is out of reach


def _featuring(session, person, state: str) -> int:
    """A post in the given state with one photo in which the person was recognised."""
    author = session.scalar(select(User).where(User.role == "teacher"))
    account = session.get(Account, 1)
    post = Post(author_id=author.id, accounts=[account], text="Our visitor", state=state)
    image = PostImage(position=1, label="photo 1", original_sha256="0" * 64)
    image.faces.append(ImageFace(box=[0, 10, 10, 0], verdict="consented", person_id=person.id, obscured=False,
                                 shown_on=[account.platform]))
    post.images.append(image)
    session.add(post)
    session.commit()
    return post.id


@pytest.fixture
def people(settings, session, school):
    imported = consent.import_people(session, settings, CSV, "test")
    assert not imported.plan.errors and len(imported.plan.changes) == 14
    obama = consent.find(session, "P001")
    return obama, _featuring(session, obama, lifecycle.AWAITING_REVIEW), _featuring(session, obama, lifecycle.PUBLISHED)


def test_a_withdrawal_rechecks_pending_posts_and_starts_takedowns(settings, session, people, read):
    obama, pending, published = people
    follow_up = consent.withdraw(session, settings, obama, "social", "test", ASKED)
    assert (follow_up.rechecked, follow_up.takedowns, follow_up.queued) == ([pending], [published], True)
    takedown = read(lambda s: s.scalar(select(Takedown).where(Takedown.post_id == published)))
    assert follow_up.started == [takedown.id] and takedown.state == "pending"
    post = read(lambda s: s.get(Post, pending))
    assert post.state == lifecycle.SUBMITTED
    conn = queues.connection(settings)
    assert queues.check_job_id(pending, post.check_attempt) in queues.queue(settings, queues.CHECKS, conn).job_ids
    assert queues.takedown_job_id(takedown.id, 0) in queues.queue(settings, queues.TAKEDOWNS, conn).job_ids


def test_with_the_queue_out_of_reach_the_withdrawal_is_saved_and_the_reconciler_queues_the_rest(
        settings, session, people, read):
    obama, pending, published = people
    follow_up = consent.withdraw(session, replace(settings, redis_url=UNREACHABLE), obama, "social", "test", ASKED)
    assert (follow_up.rechecked, follow_up.takedowns, follow_up.queued) == ([pending], [published], False)
    assert read(lambda s: s.get(Post, pending).state) == lifecycle.SUBMITTED
    assert read(lambda s: s.scalar(select(func.count()).select_from(Takedown))) == 1
    checks = queues.queue(settings, queues.CHECKS)
    assert checks.job_ids == []
    reconcile(settings, wait=30)
    assert queues.check_job_id(pending, read(lambda s: s.get(Post, pending).check_attempt)) in checks.job_ids
    assert queues.queue(settings, queues.TAKEDOWNS).job_ids != []


def test_the_command_line_and_the_page_say_when_the_queue_is_out_of_reach(settings, session, people, school):
    obama, pending, published = people
    result = gateway("people", "withdraw", "P001", "--consent", "social", "--asked-by", "Mrs Parent", "--how", "by letter", env={"REDIS_URL": UNREACHABLE})
    assert result.exit_code == 0, result.output
    assert f"posts sent back through the checks: {pending}" in result.stdout
    assert f"published posts that must be taken down: {published}" in result.stdout
    assert QUEUE_DOWN in result.stdout and "takedowns started" not in result.stdout
    _featuring(session, consent.find(session, "P003"), lifecycle.AWAITING_REVIEW)
    office = Client(create_app(replace(settings, redis_url=UNREACHABLE))).login("office@demo.school",
                                                                                 school["consent_officer"])
    response = office.post("/people/person/withdraw/social?mis_id=P003", WITHDRAWAL)
    page = office.get(response.headers["Location"]).get_data(as_text=True)
    assert "Social media photo consent withdrawn." in page
    assert "1 post(s) waiting to be published were sent back through the checks" in page and QUEUE_DOWN in page


def test_a_change_that_calls_for_nothing_does_not_ask_the_queue(settings, session, people, read):
    p002 = consent.find(session, "P002")
    follow_up = consent.record_photo(session, replace(settings, redis_url=UNREACHABLE), p002, "granted", "test",
                                     given_by="Joe Biden")
    assert follow_up == consent.FollowUp()  # queued: nothing had to be
    assert read(lambda s: s.scalar(select(func.count()).select_from(PhotoConsent))) == 6


def test_a_refused_consent_records_nothing(settings, session, people, read):
    obama = people[0]
    with pytest.raises(Refused, match="consent must be one of"):
        consent.record_photo(session, settings, obama, "maybe", "test")
    with pytest.raises(Refused, match="consent must be 'social' or 'biometric'"):
        consent.withdraw(session, settings, obama, "photos", "test", ASKED)
    assert read(lambda s: s.scalar(select(func.count()).select_from(PhotoConsent))) == 5


def test_an_import_preview_is_kept_owner_only_and_confirmed_once(settings, session, school, read):
    preview = consent.preview_import(session, settings, CSV)
    assert preview.token and not preview.plan.errors
    path = settings.instance / "imports" / preview.token[:2] / preview.token
    assert path.stat().st_mode & 0o777 == 0o600
    imported = consent.confirm_import(session, settings, preview.token, "test")
    assert len(imported.plan.changes) == 14 and not path.exists()
    with pytest.raises(Refused, match="expired or was already imported"):
        consent.confirm_import(session, settings, preview.token, "test")
    with pytest.raises(Refused, match="expired or was already imported"):
        consent.confirm_import(session, settings, "../secret", "test")
    bad = consent.preview_import(session, settings, CSV.replace("P002,staff", "P002,alien"))
    assert bad.token is None and bad.plan.errors


def test_passwords_are_hashed_as_set_and_a_log_in_rehashes_one_stored_otherwise(session, settings, school, tmp_path):
    assert settings_module.load({"INSTANCE_DIR": str(tmp_path)}).password_hashing == "rfc9106"  # the default
    with pytest.raises(settings_module.SettingsError, match="PASSWORD_HASHING"):
        settings_module.load({"INSTANCE_DIR": str(tmp_path), "PASSWORD_HASHING": "md5"})
    stored = session.scalar(select(User).where(User.email == "teacher@demo.school")).password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # the tests' setting
    user = users.log_in(session, replace(settings, password_hashing="rfc9106"), "teacher@demo.school",
                        school["teacher"]).user
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert users.log_in(session, settings, "teacher@demo.school", school["teacher"]).user.id == user.id


def test_a_queue_out_of_reach_leaves_no_transaction_holding_the_database(settings, session, school, read):
    """What the enqueue read after the commit is let go: on SQLite an open transaction holds the write lock."""
    def enqueue(conn):
        session.scalar(select(User.id).where(User.role == "teacher"))  # opens a transaction, as a re-check does
        conn.ping()

    assert commit_then_enqueue(session, replace(settings, redis_url=UNREACHABLE), enqueue, "a test") is False
    assert not session.in_transaction()
    assert read(lambda s: s.scalar(select(func.count()).select_from(User))) == len(school)
