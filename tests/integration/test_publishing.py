"""Publishing to X at most once, on time, with alt text; and taking posts down (X emulated beneath tweepy)."""
import io
import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, text

from consent_registry.consent import record_photo_consent
from consent_registry.models import Person, Takedown
from consent_registry.registry import school_today
from gateway.services.accounts import add_account, confirm_account, save_credentials
from gateway.core.db import session_for
from gateway.models import User
from moderation.models import Post, Publication
from tests.helpers import WITHDRAWAL, audit_count, submit_photo
from tests.shared_fixtures import fixture_path
from tests.x_api import TEST_CREDENTIALS, XApiEmulator
from workers import jobs, queues
from workers.reconcile import reconcile
from dataclasses import replace
from consent_registry.consent import Asked, withdraw
from workers.reconcile import release_takedowns

HANDLE = "greenfieldschool"
SECRETS = [TEST_CREDENTIALS.consumer_key, TEST_CREDENTIALS.consumer_secret, TEST_CREDENTIALS.access_token,
           TEST_CREDENTIALS.access_token_secret]


@pytest.fixture
def x(school, settings, monkeypatch):
    """The emulated X API, and the school's confirmed X account (id 2) with its keys saved."""
    monkeypatch.setenv("PUBLISH_LOOKUP_DELAY", "0")
    with XApiEmulator(TEST_CREDENTIALS, username=HANDLE) as emulator:
        with session_for(settings.database_url) as session:
            head = session.scalar(select(User).where(User.role == "head"))
            account = add_account(session, "x", HANDLE, f"https://x.com/{HANDLE}", by=head)
            confirm_account(session, account, head)
            session.flush()
            save_credentials(session, account, TEST_CREDENTIALS, settings.encryption_key, head)
            session.commit()
        yield emulator
        assert emulator.auth_failures == []


def submit_to_x(client, text, photos=(), publish_at=None):
    data = {"text": text, "account_id": "2", "action": "submit"}
    for n, (name, folder) in enumerate(photos, 1):
        data[f"photo_{n}"] = (io.BytesIO(fixture_path(f"{folder}/{name}").read_bytes()), name)
        data[f"alt_new_{n}"] = f"Picture {n} of our day"
    if publish_at:
        data["publish_at"] = publish_at
    response = client.post("/posts/new", data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def approved_post(login, work_here, fetch, text="Sports day was great", photos=()):
    teacher, smt = login("teacher"), login("smt")
    post_id = submit_to_x(teacher, text, photos)
    work_here()
    assert fetch(Post, post_id).state == "awaiting_review"
    smt.post(f"/review/{post_id}/approve")
    return post_id, fetch(Post, post_id).publications[0].id


def test_four_photos_one_upload_and_one_alt_text_each_then_one_create_in_order(x, login, work_here, fetch):
    photos = [(n, "photos") for n in ("Canon_40D.jpg", "Nikon_D70.jpg", "DSCN0010.jpg", "long_description.jpg")]
    post_id, _pub = approved_post(login, work_here, fetch, "Our science week in pictures", photos)
    work_here()
    post = fetch(Post, post_id)
    assert post.state == "published"
    uploads = [c for c in x.calls_to("media/upload") if c.status == 200]
    assert len(uploads) == 4 and len(x.calls_to("media/metadata")) == 4
    creates = x.calls_to("tweets.create")
    assert len(creates) == 1
    assert creates[0].json["media"]["media_ids"] == list(x.media)  # in upload order
    alts = [c.json["metadata"]["alt_text"]["text"] for c in x.calls_to("media/metadata")]
    assert alts == [f"Picture {n} of our day" for n in range(1, 5)]
    tweet_id = x.live_tweets()[0]["id"]
    url = f"https://x.com/{HANDLE}/status/{tweet_id}"
    assert post.publications[0].platform_url == url
    assert url in login("teacher").get(f"/posts/{post_id}").get_data(as_text=True)


def test_503_on_create_is_looked_up_then_published_exactly_once(x, login, work_here, fetch, settings):
    post_id, pub_id = approved_post(login, work_here, fetch)
    x.fail("tweets.create", status=503)
    work_here()
    assert fetch(Publication, pub_id).state == "unknown"
    report = reconcile(settings)
    assert report.publications_requeued == [pub_id]
    work_here()
    assert fetch(Post, post_id).state == "published"
    assert len(x.calls_to("tweets.create")) == 2 and len(x.live_tweets()) == 1


def test_a_read_timeout_after_x_created_the_post_is_found_not_posted_again(x, login, work_here, fetch, settings):
    post_id, pub_id = approved_post(login, work_here, fetch)
    x.fail("tweets.create", timeout=True, after_effect=True)
    work_here()
    assert fetch(Publication, pub_id).state == "unknown"
    assert reconcile(settings).publications_found == [pub_id]
    work_here()
    assert fetch(Post, post_id).state == "published"
    assert len(x.calls_to("tweets.create")) == 1 and len(x.live_tweets()) == 1
    assert fetch(Publication, pub_id).platform_id == x.live_tweets()[0]["id"]


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing in the job runs after it, not even an except clause for Exception."""


def test_a_worker_killed_between_create_and_recording_is_resolved_without_a_second_create(
        x, login, work_here, fetch, settings, monkeypatch):
    monkeypatch.setenv("PUBLISH_TIMEOUT", "1")  # the claim's lease ends 6 s later
    post_id, pub_id = approved_post(login, work_here, fetch)
    original = x._tweets_create

    def create_then_die(call, match):
        original(call, match)
        raise WorkerKilled()

    monkeypatch.setattr(x, "_tweets_create", create_then_die)
    with pytest.raises(WorkerKilled):
        jobs.publish(pub_id)
    monkeypatch.setattr(x, "_tweets_create", original)
    assert fetch(Publication, pub_id).state == "publishing" and len(x.live_tweets()) == 1
    assert reconcile(settings).publications_found == []  # the lease still runs: maybe it is still working
    time.sleep(6.5)
    assert reconcile(settings).publications_found == [pub_id]
    work_here()
    assert fetch(Post, post_id).state == "published"
    assert len(x.calls_to("tweets.create")) == 1


def test_two_workers_racing_on_one_publication_create_once(x, login, work_here, fetch, settings):
    post_id, pub_id = approved_post(login, work_here, fetch)
    queues.connection(settings).flushdb()
    start = threading.Barrier(2)
    errors = []

    def worker():
        start.wait()
        try:
            jobs.publish(pub_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(x.calls_to("tweets.create")) == 1
    assert fetch(Post, post_id).state == "published"


@pytest.mark.parametrize("slow_answer", ["found", "not shown yet"])
def test_a_slow_look_up_cannot_undo_what_a_second_reconciler_recorded_meanwhile(
        x, login, work_here, fetch, read, settings, slow_answer):
    """A reconciler's look-up on X is slow; meanwhile Redis restarts (its lock is gone) and a second reconciler
    resolves the same publication. The slow answer, whatever it says, is dropped; the post can be taken down."""
    post_id, pub_id = approved_post(login, work_here, fetch)
    x.timeline_lag = 1 if slow_answer == "not shown yet" else 0
    x.fail("tweets.create", timeout=True, after_effect=True)
    work_here()
    assert fetch(Publication, pub_id).state == "unknown"
    second = {}

    def meanwhile(read_number):
        if read_number == 1:
            queues.connection(settings).flushdb()
            other = threading.Thread(target=lambda: second.update(report=reconcile(settings, wait=0)))
            other.start()
            other.join(120)

    x.during_timeline_read = meanwhile
    first = reconcile(settings)
    x.during_timeline_read = None
    assert second["report"].publications_found == [pub_id]
    assert (first.publications_found, first.publications_requeued, first.failed) == ([], [], [])
    assert audit_count(read, "published", post_id) == 1 and audit_count(read, "publish_requeued", post_id) == 0
    assert fetch(Post, post_id).state == "published" and fetch(Publication, pub_id).state == "published"
    work_here()
    assert len(x.calls_to("tweets.create")) == 1 and len(x.live_tweets()) == 1
    login("smt").post(f"/review/{post_id}/take-down", {"reason": "A parent asked us to"})
    work_here()
    assert x.live_tweets() == [] and fetch(Post, post_id).state == "taken_down"


def test_a_lagging_timeline_after_a_lost_answer_is_looked_at_again_not_failed_or_posted_twice(
        x, login, work_here, fetch, read, settings):
    post_id, pub_id = approved_post(login, work_here, fetch)
    x.timeline_lag = 2  # X shows the new post from the third read of the timeline on
    x.fail("tweets.create", timeout=True, after_effect=True)
    work_here()
    assert fetch(Publication, pub_id).state == "unknown"
    for _ in range(4):  # reconcile rounds and queued jobs, as time passes
        reconcile(settings)
        work_here()
    assert fetch(Post, post_id).state == "published"
    assert len(x.live_tweets()) == 1 and len(x.calls_to("tweets.create")) == 2  # the second was refused as a duplicate
    assert audit_count(read, "published", post_id) == 1 and audit_count(read, "publish_failed", post_id) == 0


def test_429_is_re_enqueued_for_the_reset_time_without_a_sleeping_worker(x, login, work_here, fetch, settings):
    post_id, pub_id = approved_post(login, work_here, fetch)
    reset = int(time.time()) + 900
    x.fail("tweets.create", status=429, body=x.rate_limited_body(), headers=x.rate_limit_headers(reset))
    started = time.monotonic()
    work_here()
    assert time.monotonic() - started < 450  # a worker sleeping until the reset would take 900 s
    pub = fetch(Publication, pub_id)
    assert pub.state == "pending" and "will try again automatically" in pub.error
    registry = ScheduledJobRegistry(queues.PUBLISH, connection=queues.connection(settings))
    job_id = queues.publish_job_id(pub_id, pub.attempts)
    assert job_id in registry.get_job_ids()
    scheduled = registry.get_scheduled_time(job_id)
    assert abs(scheduled.timestamp() - reset) <= 1
    assert len(x.live_tweets()) == 0 and fetch(Post, post_id).state == "publishing"


def test_403_duplicate_content_is_a_publish_failure_in_plain_words(x, login, work_here, fetch):
    post_id, pub_id = approved_post(login, work_here, fetch)
    x.fail("tweets.create", status=403, body=x.duplicate())
    work_here()
    post = fetch(Post, post_id)
    assert post.state == "publish_failed" and "duplicate content" in post.error
    page = login("smt").get(f"/review/{post_id}").get_data(as_text=True)
    assert "duplicate content" in page and "Try publishing again" in page


def test_consent_withdrawn_before_the_scheduled_time_sends_nothing_to_x(
        x, registry, login, work_here, fetch, settings):
    teacher, smt = login("teacher"), login("smt")
    later = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone().strftime("%Y-%m-%dT%H:%M")
    post_id = submit_to_x(teacher, "Our visitor", [("obama_3.jpg", "faces")], publish_at=later)
    work_here()
    smt.post(f"/review/{post_id}/approve")
    post = fetch(Post, post_id)
    assert post.state == "scheduled"
    login("consent_officer").post("/people/person/withdraw/social?mis_id=P001", WITHDRAWAL)
    work_here()
    jobs.publish(post.publications[0].id)  # the scheduled time has come
    post = fetch(Post, post_id)
    assert x.calls_to("tweets.create") == [] and x.calls_to("media/upload") == []
    assert post.state == "awaiting_review" and "Photo consent changed" in post.reason
    assert [(f.verdict, f.obscured) for f in post.images[0].faces] == [("no_consent", True)]


def _publish_biden(login, work_here, fetch, settings, registry):
    with session_for(settings.database_url) as session:
        biden = session.get(Person, registry["P002"])
        record_photo_consent(session, biden, "granted", "test", given_by="Joe Biden", today=school_today(settings))
        session.commit()
    post_id, pub_id = approved_post(login, work_here, fetch, "A visitor today", [("biden_1.jpg", "faces")])
    work_here()
    post = fetch(Post, post_id)
    assert post.state == "published" and post.images[0].faces[0].verdict == "consented"
    return post_id, post.publications[0].platform_id


def test_withdrawing_consent_takes_a_published_post_down_retrying_a_5xx(x, registry, login, work_here, fetch, settings):
    post_id, tweet_id = _publish_biden(login, work_here, fetch, settings, registry)
    x.fail("tweets.delete", status=503)
    page = login("consent_officer").post("/people/person/withdraw/social?mis_id=P002", WITHDRAWAL)
    assert page.status_code == 302
    work_here()
    takedown = fetch(Takedown, 1)
    assert takedown.state == "pending" and takedown.attempts == 1
    jobs.take_down(takedown.id)  # the retry, when its time comes
    deletes = x.calls_to("tweets.delete")
    assert [c.url.rsplit("/", 1)[1] for c in deletes] == [tweet_id, tweet_id]
    assert fetch(Takedown, 1).state == "done" and fetch(Post, post_id).state == "taken_down"
    assert x.live_tweets() == []
    review = login("smt").get(f"/review/{post_id}").get_data(as_text=True)
    assert "Takedown done" in review and "Photo consent ended for someone shown in it (consent withdrawn)" in review


def test_a_post_already_gone_from_x_is_recorded_as_taken_down(x, registry, login, work_here, fetch, settings):
    post_id, tweet_id = _publish_biden(login, work_here, fetch, settings, registry)
    x.fail("tweets.delete", status=404, body=x.problem(404, "Not Found Error", "Could not find tweet"))
    smt = login("smt")
    smt.post(f"/review/{post_id}/take-down", {"reason": "A parent complained"})
    work_here()
    assert fetch(Post, post_id).state == "taken_down"
    assert fetch(Takedown, 1).state == "done" and "A parent complained" in fetch(Post, post_id).reason


def test_credentials_are_encrypted_and_never_shown_or_logged(x, login, work_here, fetch, settings, caplog):
    caplog.set_level(logging.DEBUG)
    with session_for(settings.database_url) as session:
        blob = bytes(session.execute(text("SELECT credentials FROM accounts WHERE platform = 'x'")).scalar_one())
    assert blob and not any(secret.encode() in blob for secret in SECRETS)
    post_id, _ = approved_post(login, work_here, fetch, "Credentials test")
    work_here()
    assert fetch(Post, post_id).state == "published"
    pages = [login("head").get("/admin/").get_data(as_text=True), login("smt").get(f"/review/{post_id}").get_data(as_text=True)]
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for secret in SECRETS:
        assert secret not in logged and all(secret not in page for page in pages)


def test_wrong_keys_are_refused_when_saved(x, login):
    head = login("head")
    page = head.post("/admin/accounts/2/credentials", {
        "consumer_key": "a", "consumer_secret": "b", "access_token": "c", "access_token_secret": "d"})
    assert page.status_code == 400 and "The keys were not saved" in page.get_data(as_text=True)
    assert x.auth_failures == ["users/me: wrong consumer key"]  # X refused them, as it would
    x.auth_failures.clear()


def test_smt_reschedules_and_cancels_a_scheduled_post(login, work, fetch, settings):
    teacher, smt = login("teacher"), login("smt")
    later = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone().strftime("%Y-%m-%dT%H:%M")
    data = {"text": "Open evening on Thursday", "account_id": "1", "action": "submit", "publish_at": later}
    post_id = int(teacher.post("/posts/new", data, content_type="multipart/form-data").headers["Location"].rsplit("/", 1)[1])
    work()
    smt.post(f"/review/{post_id}/approve")
    post = fetch(Post, post_id)
    assert post.state == "scheduled"
    registry = ScheduledJobRegistry(queues.PUBLISH, connection=queues.connection(settings))
    job_id = queues.publish_job_id(post.publications[0].id, 0)
    first = registry.get_scheduled_time(job_id)
    assert "Open evening" in smt.get("/review").get_data(as_text=True)  # listed as on its way

    even_later = (datetime.now(timezone.utc) + timedelta(days=3)).astimezone().strftime("%Y-%m-%dT%H:%M")
    smt.post(f"/review/{post_id}/schedule", {"publish_at": even_later})
    second = registry.get_scheduled_time(job_id)
    assert fetch(Post, post_id).state == "scheduled" and second - first > timedelta(hours=23)

    smt.post(f"/review/{post_id}/cancel")
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review" and post.publications[0].state == "cancelled"
    jobs.publish(post.publications[0].id)  # the old job fires: nothing happens
    assert fetch(Post, post_id).state == "awaiting_review"


def test_with_takedown_auto_off_a_senior_leader_confirms(registry, login, work, fetch, settings):

    teacher, smt = login("teacher"), login("smt")
    post_id = submit_photo(teacher, "faces/obama_3.jpg")
    work()
    smt.post(f"/review/{post_id}/approve")
    work()
    manual = replace(settings, takedown_auto=False)
    with session_for(settings.database_url) as session:
        withdraw(session, session.get(Person, registry["P001"]), "social", "test",
                 Asked("Mrs Parent", "by letter", school_today(settings)), school_today(settings))
        session.commit()
        assert release_takedowns(manual, session) == []
    assert fetch(Takedown, 1).state == "required"
    assert "must come down" in smt.get("/review").get_data(as_text=True)
    assert "The registry asks for this post to come down" in smt.get(f"/review/{post_id}").get_data(as_text=True)
    smt.post(f"/review/{post_id}/take-down")
    work()
    assert fetch(Takedown, 1).state == "done" and fetch(Post, post_id).state == "taken_down"
