"""Lost work comes back: a worker killed mid-check, a flushed queue, a publish job that died."""
import io
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.core.db import session_for, utcnow
from moderation.models import Post, Publication
from workers import queues
from tests.helpers import audit_count, big_photo, kill_tree, start_gateway, submit, wait_for
from workers.reconcile import reconcile
from gateway.platforms import outgoing_for
from gateway.platforms.archive import ArchivePublisher


def test_a_worker_killed_mid_check_is_replaced_and_the_post_reaches_review_once(
        login, read, fetch, monkeypatch, tmp_path):
    monkeypatch.setenv("CHECK_TIMEOUT", "5")  # the dead worker's lease ends 10 s after its check began
    teacher = login("teacher")
    photos = {f"photo_{n}": (io.BytesIO(big_photo(n, (4000, 3000))), f"sports-{n}.jpg") for n in range(1, 3)}
    alts = {f"alt_new_{n}": f"Children running, picture {n}" for n in range(1, 3)}
    response = submit(teacher, "Sports day", **photos, **alts)
    post_id = int(response.headers["Location"].rsplit("/", 1)[1])

    first = start_gateway(tmp_path / "worker1.log", "worker")
    try:
        wait_for(lambda: fetch(Post, post_id).state == "checking", 60, "the check to start")
        time.sleep(0.3)
        kill_tree(first.pid)
    finally:
        first.wait(timeout=10)
    assert fetch(Post, post_id).state == "checking"

    # the short timeout only makes the dead worker's lease end soon; on a busy machine the real check needs longer
    second = start_gateway(tmp_path / "worker2.log", "worker", env={**os.environ, "CHECK_TIMEOUT": "300"})
    try:
        wait_for(lambda: fetch(Post, post_id).state == "awaiting_review", 90, "the post to reach review")
        time.sleep(1)  # a second, duplicate run would show up here
    finally:
        second.terminate()
        second.wait(timeout=30)
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review" and post.check_attempt == 2
    assert audit_count(read, "checked", post_id) == 1
    assert audit_count(read, "checks_requeued", post_id) == 1
    assert all(i.clean_key and i.width == 2048 for i in post.images)
    assert not post.blocking


def test_gateway_reconcile_recovers_a_post_after_the_queue_is_flushed(login, fetch, settings, work):
    teacher = login("teacher")
    post_id = int(submit(teacher).headers["Location"].rsplit("/", 1)[1])
    conn = queues.connection(settings)
    assert queues.queue(settings, queues.CHECKS, conn).count == 1
    conn.flushdb()
    assert queues.queue(settings, queues.CHECKS, conn).count == 0 and fetch(Post, post_id).state == "submitted"

    result = subprocess.run([sys.executable, "-m", "gateway", "reconcile"], capture_output=True, text=True,
                            env=os.environ.copy(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "checks re-queued: 1" in result.stdout
    assert queues.queue(settings, queues.CHECKS, conn).count == 1
    work()
    assert fetch(Post, post_id).state == "awaiting_review"

    again = subprocess.run([sys.executable, "-m", "gateway", "reconcile"], capture_output=True, text=True,
                           env=os.environ.copy(), timeout=60)
    assert "checks re-queued: 0" in again.stdout


def test_a_lost_publish_job_is_recovered(login, fetch, settings, work):
    teacher, smt = login("teacher"), login("smt")
    post_id = int(submit(teacher).headers["Location"].rsplit("/", 1)[1])
    work()
    smt.post(f"/review/{post_id}/approve")
    queues.connection(settings).flushdb()
    assert reconcile(settings).publications_requeued == [fetch(Post, post_id).publications[0].id]
    work()
    assert fetch(Post, post_id).state == "published"


@pytest.mark.parametrize("reached_the_archive", [True, False])
def test_a_publish_that_died_after_claiming_is_looked_up_before_publishing_again(
        login, fetch, read, settings, work, reached_the_archive):
    """A worker died between claiming a publication and recording it: the reconciler looks first."""
    teacher, smt = login("teacher"), login("smt")
    post_id = int(submit(teacher).headers["Location"].rsplit("/", 1)[1])
    work()
    smt.post(f"/review/{post_id}/approve")
    queues.connection(settings).flushdb()  # the publish job is gone with the dead worker
    with session_for(settings.database_url) as s:  # the state a claim leaves behind
        pub = s.scalars(select(Publication)).one()
        pub.state, pub.attempts, pub.lease_until = "publishing", 1, utcnow() - timedelta(seconds=1)
        pub.post.state = "publishing"
        archive = ArchivePublisher(settings.archive.within("demo_archive"))
        if reached_the_archive:
            archive.publish(outgoing_for(pub, settings))
        s.commit()
    report = reconcile(settings)
    if reached_the_archive:
        assert report.publications_found == [1] and report.publications_requeued == []
    else:
        assert report.publications_found == [] and report.publications_requeued == [1]
        work()
    post = fetch(Post, post_id)
    assert post.state == "published"
    assert len(archive.entries()) == 1
    assert audit_count(read, "published", post_id) == 1


def test_an_approval_that_is_not_published_in_time_expires(login, fetch, settings, work, monkeypatch):
    teacher, smt = login("teacher"), login("smt")
    post_id = int(submit(teacher).headers["Location"].rsplit("/", 1)[1])
    work()
    smt.post(f"/review/{post_id}/approve")
    queues.connection(settings).flushdb()
    with session_for(settings.database_url) as s:  # approved four days ago; the limit is 72 hours
        post = s.get(Post, post_id)
        post.approved_at = utcnow() - timedelta(days=4)
        s.commit()
    assert reconcile(settings).approvals_expired == [post_id]
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review" and "expired" in post.reason
    assert post.publications[0].state == "cancelled"
