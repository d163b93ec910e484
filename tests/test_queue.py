"""Lost work comes back: a worker killed mid-check, a flushed queue, a publish job that died."""
import io
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from gateway.db import session_for, utcnow
from moderation.audit import AuditEntry
from moderation.models import Post, Publication
from workers import queues
from tests.test_web import submit


def big_photo(seed: int) -> bytes:
    """A 35 MP JPEG: cleaning and searching two of them for faces keeps a worker busy for a few seconds."""
    w, h = 7000, 5000
    y, x = np.mgrid[0:h, 0:w]
    pixels = np.stack([x * 255 // w, y * 255 // h, (x + y + seed) % 256], -1).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80)
    return out.getvalue()


def start_worker(log_path):
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "gateway", "worker"], stdout=log, stderr=subprocess.STDOUT,
                            env=os.environ.copy(), start_new_session=True)


def kill_tree(pid: int) -> None:
    """SIGKILL a worker and the work horse it forked (rq puts the horse in a session of its own)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for p in [pid, *map(int, children)]:
        os.kill(p, signal.SIGKILL)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def audit_count(read, action, post_id):
    return read(lambda s: s.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.subject == f"post:{post_id}")))


def test_a_worker_killed_mid_check_is_replaced_and_the_post_reaches_review_once(
        login, read, fetch, monkeypatch, tmp_path):
    monkeypatch.setenv("CHECK_TIMEOUT", "15")
    teacher = login("teacher")
    photos = {f"photo_{n}": (io.BytesIO(big_photo(n)), f"sports-{n}.jpg") for n in range(1, 3)}
    alts = {f"alt_new_{n}": f"Children running, picture {n}" for n in range(1, 3)}
    response = submit(teacher, "Sports day", **photos, **alts)
    post_id = int(response.headers["Location"].rsplit("/", 1)[1])

    first = start_worker(tmp_path / "worker1.log")
    try:
        wait_for(lambda: fetch(Post, post_id).state == "checking", 60, "the check to start")
        time.sleep(0.3)
        kill_tree(first.pid)
    finally:
        first.wait(timeout=10)
    assert fetch(Post, post_id).state == "checking"

    second = start_worker(tmp_path / "worker2.log")
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
    from workers.reconcile import reconcile

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
    from gateway.publishers import ArchivePublisher, outgoing_for
    from workers.reconcile import reconcile

    teacher, smt = login("teacher"), login("smt")
    post_id = int(submit(teacher).headers["Location"].rsplit("/", 1)[1])
    work()
    smt.post(f"/review/{post_id}/approve")
    queues.connection(settings).flushdb()  # the publish job is gone with the dead worker
    with session_for(settings.database_url) as s:  # the state a claim leaves behind
        pub = s.scalars(select(Publication)).one()
        pub.state, pub.attempts, pub.lease_until = "publishing", 1, utcnow() - timedelta(seconds=1)
        pub.post.state = "publishing"
        archive = ArchivePublisher(settings.archive / "demo_archive")
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
    from workers.reconcile import reconcile

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
