"""Real faults, through the public interfaces and with real processes: a worker killed mid-publish, the queue
flushed during a maintenance round or cut off for 15 s, two reconcilers at once, rows that would stop a
round, and a takedown queued behind checks."""
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis
import requests
from sqlalchemy import select

from gateway.services.accounts import add_account, confirm_account
from gateway.core.db import lock_row, session_for, utcnow
from gateway.models import User
from gateway.platforms import outgoing_for
from gateway.platforms.archive import ArchivePublisher
from moderation import lifecycle
from moderation.models import Post, Publication
from tests.helpers import (audit_count, big_photo, children, exit_code, kill_tree, post_id_of, start_gateway, stop,
                           submit, wait_for)
from tools.tcp_proxy import TcpProxy
from workers import embedded, queues
from workers.reconcile import IN_TRANSIT_SECONDS, LOCK_NAME, reconcile
from workers.supervisor import Process, Supervisor


def approved(login, work, texts) -> list[int]:
    """Posts to the demo archive, checked and approved; their publish jobs are queued."""
    teacher, smt = login("teacher"), login("smt")
    ids = [post_id_of(submit(teacher, text)) for text in texts]
    work()
    for post_id in ids:
        assert smt.post(f"/review/{post_id}/approve").status_code == 302
    return ids


def test_a_worker_killed_after_claiming_and_publishing_but_before_recording_publishes_once(
        login, work, fetch, read, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("PUBLISH_TIMEOUT", "10")  # the claim's lease ends 15 s after it is taken
    (post_id,) = approved(login, work, ["Our choir sang at the town hall"])
    pub_id = fetch(Post, post_id).publications[0].id
    posts = settings.instance / "archive" / "demo_archive" / "posts"
    (posts / "stuck").mkdir(parents=True)
    # The archive rewrites its index from every post.json after publishing: reading this pipe hangs the job
    # after the post is out and before the database records it, where a dead worker hurts most.
    os.mkfifo(posts / "stuck" / "post.json")
    log = tmp_path / "worker1.log"
    first = start_gateway(log, "worker")
    try:
        wait_for(lambda: (posts / str(pub_id) / "post.json").is_file(), 120, "the post to reach the archive", log)
        assert fetch(Publication, pub_id).state == "publishing"
    finally:
        kill_tree(first.pid)
        first.wait(timeout=10)
    shutil.rmtree(posts / "stuck")

    log = tmp_path / "worker2.log"
    second = start_gateway(log, "worker")
    try:
        wait_for(lambda: fetch(Post, post_id).state == "published", 120, "the reconciler to find the post", log)
    finally:
        stop(second)
    assert fetch(Publication, pub_id).attempts == 1  # looked up, never sent a second time
    assert sorted(p.name for p in posts.iterdir()) == [str(pub_id)]
    assert audit_count(read, "published", post_id) == 1
    assert audit_count(read, "publish_requeued", post_id) == 0


def _claimed_by_a_dead_worker(login, settings) -> int:
    """A submitted post whose check a worker that died had claimed: the next maintenance round takes it up."""
    post_id = post_id_of(submit(login("teacher"), "Year 6 visited the museum"))
    with session_for(settings.database_url) as s:
        lifecycle.start_checks(s.get(Post, post_id), lease=timedelta(seconds=-1))
        s.commit()
    return post_id


def test_a_queue_flushed_during_a_maintenance_round_does_not_stop_the_worker(login, fetch, settings, tmp_path):
    post_id = _claimed_by_a_dead_worker(login, settings)
    conn = queues.connection(settings)
    conn.flushdb()
    log = tmp_path / "worker.log"
    with session_for(settings.database_url) as blocker:
        lock_row(blocker, Post, post_id)  # the round waits at this row (on SQLite: at its first read)
        worker = start_gateway(log, "worker")
        try:
            wait_for(lambda: conn.exists(LOCK_NAME), 120, "the maintenance round to take its lock", log)
            conn.flushdb()  # as a Redis restart would: the round's lock is gone under it
            blocker.rollback()
            wait_for(lambda: fetch(Post, post_id).state == "awaiting_review", 120, "the post to be checked", log)
            assert worker.poll() is None, log.read_text()[-3000:]
        finally:
            stop(worker)
    assert "lock was lost" in log.read_text()


def test_a_job_popped_by_a_worker_that_died_before_starting_it_is_queued_again(login, fetch, settings, work):
    post_id = post_id_of(submit(login("teacher"), "Harvest festival"))
    conn = queues.connection(settings)
    checks = queues.queue(settings, queues.CHECKS, conn)
    assert conn.lpop(checks.key) is not None  # what BLPOP does just before the worker dies: the job says "queued"
    assert reconcile(settings).checks_requeued == []  # a live worker would start it a moment later
    time.sleep(IN_TRANSIT_SECONDS + 0.5)
    assert reconcile(settings).checks_requeued == [post_id]  # still nowhere: its worker died
    work()
    assert fetch(Post, post_id).state == "awaiting_review"


def test_an_idle_worker_stops_cleanly_on_sigterm(settings, tmp_path):
    log = tmp_path / "worker.log"
    worker = start_gateway(log, "worker")
    try:
        wait_for(lambda: "reconciled:" in log.read_text(), 120, "the worker to be idle", log)
        worker.terminate()
        assert exit_code(worker, log, 60) == 0, log.read_text()[-3000:]
    finally:  # never left behind to take later tests' jobs
        kill_tree(worker.pid)


def test_a_sigterm_while_a_maintenance_query_waits_stops_the_worker(login, fetch, settings, tmp_path):
    """The stop lands inside a database query (PostgreSQL's driver then refuses the session's clean-up): it is a stop
    all the same, not a failed round after which the worker would carry on."""
    post_id = _claimed_by_a_dead_worker(login, settings)
    log = tmp_path / "worker.log"
    with session_for(settings.database_url) as blocker:
        lock_row(blocker, Post, post_id)  # the round waits at this row (on SQLite: at its first read)
        worker = start_gateway(log, "worker")
        try:
            wait_for(lambda: queues.connection(settings).exists(LOCK_NAME), 120, "the round to take its lock", log)
            time.sleep(1)  # into the query that waits
            worker.terminate()
            time.sleep(1)
            blocker.rollback()
            assert exit_code(worker, log, 60) == 0, log.read_text()[-3000:]
        finally:
            kill_tree(worker.pid)
    assert "maintenance failed" not in log.read_text()


def test_two_reconcilers_at_once_record_and_requeue_each_publication_once(login, work, fetch, read, settings):
    ids = approved(login, work, [f"Class {n} planted a tree" for n in range(4)])
    queues.connection(settings).flushdb()  # the publish jobs went with a dead worker
    archive = ArchivePublisher(settings.archive.within("demo_archive"))
    with session_for(settings.database_url) as s:  # the state claims leave behind; half reached the archive
        for n, pub in enumerate(s.scalars(select(Publication).order_by(Publication.id))):
            pub.state, pub.attempts, pub.lease_until = "publishing", 1, utcnow() - timedelta(seconds=1)
            pub.post.state = lifecycle.PUBLISHING
            if n % 2 == 0:
                archive.publish(outgoing_for(pub, settings))
        s.commit()
    commands = [subprocess.Popen([sys.executable, "-m", "gateway", "reconcile"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=os.environ.copy()) for _ in range(2)]
    for command in commands:
        out, err = command.communicate(timeout=180)
        assert command.returncode == 0, err[-3000:]
    for n, post_id in enumerate(ids):
        reached = n % 2 == 0
        assert audit_count(read, "published", post_id) == (1 if reached else 0)
        assert audit_count(read, "publish_requeued", post_id) == (0 if reached else 1)
        assert fetch(Post, post_id).state == ("published" if reached else "publishing")
    assert queues.queue(settings, queues.PUBLISH).count == 2


def test_rows_that_cannot_be_handled_do_not_stop_the_round(login, work, fetch, settings):
    far, soon, bad = approved(login, work, ["Leavers' assembly", "Harvest festival", "Book week"])
    queues.connection(settings).flushdb()
    with session_for(settings.database_url) as s:
        s.get(Post, far).publish_at = datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)  # saved before the form refused it
        head = s.scalar(select(User).where(User.role == "head"))
        no_keys = add_account(s, "x", "nokeys", "https://x.com/nokeys", by=head)
        confirm_account(s, no_keys, head)
        s.flush()
        pub = s.get(Post, bad).publications[0]  # claimed for an account whose keys are gone: it cannot be looked up
        pub.account_id, pub.state, pub.attempts, pub.lease_until = no_keys.id, "unknown", 1, utcnow()
        s.get(Post, bad).state = lifecycle.PUBLISHING
        s.commit()
    pubs = {post_id: fetch(Post, post_id).publications[0].id for post_id in (far, soon, bad)}
    report = reconcile(settings)
    assert report.failed == [f"publication {pubs[bad]}"]
    assert sorted(report.publications_requeued) == sorted([pubs[far], pubs[soon]])
    assert fetch(Post, far).state == lifecycle.APPROVED  # 9999 is not past its expiry; no overflow either
    assert fetch(Publication, pubs[bad]).state == "unknown"  # left for the next round, not lost


def test_a_publish_time_years_ahead_is_refused_in_plain_words_and_the_form_kept(login, fetch, read):
    teacher = login("teacher")
    response = submit(teacher, "Leavers' assembly", publish_at="9999-12-31T23:59")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "more than a year ahead" in page and "Leavers&#39; assembly" in page and "9999-12-31T23:59" in page
    assert read(lambda s: s.scalars(select(Post)).all()) == []  # a submission with problems creates nothing


def test_smt_cannot_reschedule_years_ahead(login, work, fetch):
    (post_id,) = approved(login, work, ["Sports day"])
    page = login("smt").post(f"/review/{post_id}/schedule", {"publish_at": "9999-12-31T09:00"},
                             follow_redirects=True)
    assert "more than a year ahead" in page.get_data(as_text=True)
    assert fetch(Post, post_id).publish_at is None


def test_a_takedown_removes_a_post_that_its_record_lost_track_of(login, work, fetch, settings):
    (post_id,) = approved(login, work, ["Sports day results"])
    work()
    posts = settings.instance / "archive" / "demo_archive" / "posts"
    assert fetch(Post, post_id).state == "published" and len(list(posts.iterdir())) == 1
    with session_for(settings.database_url) as s:  # as two racing reconcilers once left it: live, but "pending"
        s.get(Post, post_id).publications[0].state = "pending"
        s.commit()
    login("smt").post(f"/review/{post_id}/take-down", {"reason": "A parent asked us to"})
    work()
    assert not posts.exists()  # its files are gone, and with them its folders
    assert fetch(Post, post_id).state == "taken_down" and fetch(Post, post_id).publications[0].state == "removed"


# -- the queue cut off, through a TCP proxy that the test stops (the shared server is never touched) -----------

@pytest.fixture
def proxy(settings):
    if settings.redis_url:
        address = redis.connection.parse_url(settings.redis_url)
        upstream = (address.get("host", "127.0.0.1"), address.get("port", 6379))
    else:
        upstream = str(embedded.socket_path(settings.queue_dir))
    with TcpProxy(upstream) as p:
        yield p


def through(proxy, settings) -> dict:
    """The environment of a process that reaches the queue only through the proxy."""
    db = redis.connection.parse_url(settings.redis_url).get("db", 0) if settings.redis_url else 0
    return {**os.environ, "REDIS_URL": f"{proxy.url}/{db}"}


def test_a_worker_rides_out_a_15_second_queue_outage_while_jobs_run(login, fetch, settings, proxy, tmp_path):
    teacher = login("teacher")
    ids = [post_id_of(submit(teacher, f"Art week, class {n}", photo_1=(io.BytesIO(big_photo(n, (4000, 3000))), "a.jpg"),
                             alt_new_1="Paintings on the wall")) for n in range(3)]
    log = tmp_path / "worker.log"
    worker = start_gateway(log, "worker", env=through(proxy, settings))
    try:
        wait_for(lambda: fetch(Post, ids[0]).state == "checking", 120, "the first check to start", log)
        proxy.stop()
        time.sleep(15)  # the outage itself
        assert worker.poll() is None, log.read_text()[-3000:]
        proxy.start()
        wait_for(lambda: all(fetch(Post, i).state == "awaiting_review" for i in ids), 300, "every post checked", log)
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        stop(worker)
    text = log.read_text()
    assert text.count("is not answering") <= 1 and text.count("could not connect to Redis") <= 1


def test_a_worker_started_while_the_queue_is_down_waits_for_it(login, fetch, settings, proxy, tmp_path):
    proxy.stop()
    log = tmp_path / "worker.log"
    worker = start_gateway(log, "worker", env=through(proxy, settings))
    try:
        wait_for(lambda: "is not answering" in log.read_text(), 120, "the worker to say the queue is down", log)
        time.sleep(3)  # several tries later it is still waiting, and has said so once
        assert worker.poll() is None and log.read_text().count("is not answering") == 1
        post_id = post_id_of(submit(login("teacher")))
        proxy.start()
        wait_for(lambda: fetch(Post, post_id).state == "awaiting_review", 120, "the post to be checked", log)
        assert "answers again" in log.read_text()
    finally:
        stop(worker)


# -- `gateway run`: the supervisor, the takedown worker and the health page ------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(url: str) -> dict:
    try:
        return requests.get(f"{url}/healthz", timeout=10).json()
    except (requests.RequestException, ValueError):
        return {}


@pytest.fixture
def gateway_run(env, school, tmp_path):
    """`gateway run` as an operator starts it, on a free port; ready when every queue has a worker."""
    port = free_port()
    log = tmp_path / "run.log"
    process = start_gateway(log, "run", env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: health(url).get("status") == "ok", 180, "gateway run to be ready", log)
        yield process, url, log
    finally:
        stop(process, timeout=60)


def worker_pids(process) -> list[int]:
    pids = []
    for pid in children(process.pid):
        try:
            if b"gateway\0worker" in open(f"/proc/{pid}/cmdline", "rb").read():
                pids.append(pid)
        except FileNotFoundError:  # it has just ended
            pass
    return pids


def test_gateway_run_restarts_a_worker_killed_with_sigkill_and_the_health_page_says_so(gateway_run):
    process, url, log = gateway_run
    victim = wait_for(lambda: len(worker_pids(process)) == 2 and worker_pids(process)[0], 60, "two workers", log)
    kill_tree(victim)
    wait_for(lambda: "killed by SIGKILL; starting it again" in log.read_text(), 60, "the supervisor to notice", log)
    wait_for(lambda: len(worker_pids(process)) == 2 and victim not in worker_pids(process), 60,
             f"a new worker (workers now: {worker_pids(process)}, killed: {victim})", log)
    body = wait_for(lambda: (b := health(url)).get("status") == "ok" and b, 180, "health to be ok again", log)
    assert sum(unit["restarts"] for unit in body["supervised"].values()) == 1
    assert body["queues"]["takedowns"] >= 2 and body["queues"]["checks"] >= 1


def test_a_takedown_is_not_held_back_by_ten_queued_checks(gateway_run, login, fetch, settings):
    process, url, log = gateway_run
    teacher, smt = login("teacher"), login("smt")
    live = post_id_of(submit(teacher, "Well done to the netball team"))
    wait_for(lambda: fetch(Post, live).state == "awaiting_review", 120, "the first post to be checked", log)
    smt.post(f"/review/{live}/approve")
    wait_for(lambda: fetch(Post, live).state == "published", 120, "the first post to be published", log)
    waiting = [post_id_of(submit(teacher, f"Science fair, table {n}",
                                 photo_1=(io.BytesIO(big_photo(n, (3000, 2000))), "fair.jpg"),
                                 alt_new_1="Posters on tables")) for n in range(10)]
    # not "checking": on a busy machine the first check may be over before the tenth post is in
    wait_for(lambda: fetch(Post, waiting[0]).state != "submitted", 120, "the checks to start", log)
    assert smt.post(f"/review/{live}/take-down", {"reason": "A parent asked us to"}).status_code == 302
    wait_for(lambda: fetch(Post, live).state == "taken_down", 120, "the takedown", log)
    unchecked = [p for p in waiting if fetch(Post, p).state in ("submitted", "checking")]
    # had it waited its turn, all ten would be checked; how many were done while the posts were being sent varies
    # with the machine's load, so only "not all" is certain
    assert unchecked, "the takedown waited for all 10 checks queued before it"
    assert not (settings.instance / "archive" / "demo_archive" / "posts" / str(fetch(Post, live).publications[0].id)).exists()


def test_a_process_that_keeps_exiting_is_restarted_with_backoff_and_the_health_page_reports_it_down(
        settings, app, caplog):

    caplog.set_level("WARNING", logger="workers.supervisor")
    flaky = Process("flaky worker", [sys.executable, "-c", "raise SystemExit(0)"])  # as rq exits on errors it meets
    supervisor = Supervisor([flaky], status_conn=lambda: queues.connection(settings))
    supervisor.start()
    try:
        wait_for(lambda: supervisor.restarts["flaky worker"] >= 3, 120, "three restarts")
        body = wait_for(lambda: (b := app.test_client().get("/healthz").get_json())["supervised"] and b, 30, "health")
        assert body["status"] == "degraded"
        assert any(line.startswith("flaky worker is down (exited with status 0)") for line in body["down"])
    finally:
        supervisor.stop()
    delays = [r.getMessage().rsplit(" in ", 1)[1] for r in caplog.records if "starting it again" in r.getMessage()]
    assert delays[:3] == ["1 s", "2 s", "4 s"]
