"""Scale-out (issue 19): `gateway web` and two `gateway worker` processes, each with an instance folder of its own,
share nothing but PostgreSQL, Redis and S3 storage, and the keys given as settings (SECRET_KEY, ENCRYPTION_KEY).
Twenty posts with photos, submitted and approved over HTTP to the web process alone, are each checked once,
approved and published once to the archive (in the bucket); both workers check posts; no instance folder holds a
stored photo, an archive page or a key file; no process logs a secret.

Which worker takes a job is up to Redis. So that both workers are shown to work on every run (not just on most),
the test occupies a worker with a job of its own (`hold`, on the queue every worker takes first) while the other
one checks a post, then the other way round; the check jobs' own records then say which worker ran each."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from pathlib import Path

import pyotp
import pytest
import redis
import requests
from rq import Queue, Worker
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from gateway.core.db import session_for
from moderation.audit import AuditEntry
from moderation.models import Post, PostImage, Publication
from tests.client import TOKEN
from tests.conftest import SERVICES  # the real services are there when both are given (CI always gives them)
from tests.helpers import big_photo, gateway, kill_tree, start_gateway, wait_for
from tests.s3 import ACCESS, free_port
from workers import queues

POSTS = 20
WAIT = 120  # seconds per wait: another test run may be using the machine's two cores
HANDLE = "school_archive"
AREAS = ("media", "archive", "held", "imports")
FOLDERS = ("web", "worker-a", "worker-b")
USERS = {"head": ("head@scale.school", "Hal Head"), "smt": ("smt@scale.school", "Sam Senior"),
         "teacher": ("teacher@scale.school", "Tess Teacher")}
RELEASE = "scale-out:release:{}"


def hold(release_key: str) -> None:
    """A job of the test's own: keeps the worker that runs it busy until the test sets release_key (5 min at most)."""
    conn = redis.Redis.from_url(os.environ["REDIS_URL"])
    deadline = time.monotonic() + 300
    while not conn.exists(release_key) and time.monotonic() < deadline:
        time.sleep(0.05)


class Browser:
    """A requests session on the web process that sends each form with its CSRF token, as a browser would."""

    def __init__(self, url: str):
        self.url, self.http, self.token = url, requests.Session(), None

    def _seen(self, response):
        found = TOKEN.search(response.text) if "text/html" in response.headers.get("Content-Type", "") else None
        self.token = found.group(1) if found else self.token
        return response

    def get(self, path: str):
        return self._seen(self.http.get(self.url + path, timeout=60))

    def post(self, path: str, data: dict, files=None):
        data = {**data, "csrf_token": self.token}
        return self._seen(self.http.post(self.url + path, data=data, files=files, allow_redirects=False, timeout=60))


def log_in(url: str, email: str, password: str) -> tuple[Browser, str | None]:
    """The log-in form; a senior leader sets up an authenticator app at the first log-in. The app's key, if any."""
    browser = Browser(url)
    browser.get("/login")
    response = browser.post("/login", {"email": email, "password": password})
    assert response.status_code == 302, response.text[-2000:]
    key = None
    if "/login/enrol" in response.headers["Location"]:
        page = browser.get("/login/enrol").text
        key = re.search(r'<code id="secret">([^<]+)</code>', page).group(1).replace(" ", "")
        enrolled = browser.post("/login/enrol", {"code": pyotp.TOTP(key).now()})
        assert enrolled.status_code == 200 and "recovery" in enrolled.text.lower(), enrolled.text[-2000:]
    assert browser.get("/posts").status_code == 200
    return browser, key


def set_up_school(run_env: dict) -> tuple[dict, str]:
    """What an operator does once, from the web host: migrate, add the staff, register the archive account and have
    the head confirm it. The passwords by role, and the account's id."""
    assert "up to date" in gateway("db", "upgrade", env=run_env).output
    passwords = {role: secrets.token_urlsafe(16) for role in USERS}
    for role, (email, name) in USERS.items():
        added = gateway("users", "add", email, "--name", name, "--role", role, stdin=passwords[role] + "\n",
                        env=run_env)
        assert added.exit_code == 0, added.output
    added = gateway("accounts", "add", "--platform", "archive", "--handle", HANDLE, "--url",
                    "https://scale.school/archive", env=run_env)
    account_id = re.search(r"added account (\d+)", added.output).group(1)
    confirmed = gateway("accounts", "confirm", account_id, "--by", USERS["head"][0], env=run_env)
    assert confirmed.exit_code == 0, confirmed.output
    return passwords, account_id


def submit(teacher: Browser, account_id: str, n: int) -> int:
    photo = {"photo_1": (f"farm-{n}.jpg", big_photo(n, (640, 480)), "image/jpeg")}
    response = teacher.post("/posts/new", {"text": f"Class {n} visited the farm", "account_id": account_id,
                                           "action": "submit", "alt_new_1": f"Lambs in a pen, picture {n}"}, photo)
    assert response.status_code == 302, response.text[-2000:]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def occupy(conn, name: str) -> str:
    """Queue a hold on `takedowns`, which every worker takes before any other queue: the next free worker runs it."""
    Queue(queues.TAKEDOWNS, connection=conn).enqueue(
        f"{__name__}.hold", RELEASE.format(name), job_id=name, job_timeout=360, result_ttl=600, failure_ttl=600)
    return name


def runner(conn, job_id: str) -> str | None:
    """The rq name of the worker that has started the job, once one has."""
    job = Job.fetch(job_id, connection=conn)
    return job.worker_name if job.get_status() in (JobStatus.STARTED, JobStatus.FINISHED) else None


def release(conn, name: str) -> None:
    conn.set(RELEASE.format(name), 1, ex=600)


def states(database_url: str, post_ids: list[int]) -> list[str]:
    with session_for(database_url) as s:
        return list(s.scalars(select(Post.state).where(Post.id.in_(post_ids))))


def checked(database_url: str, post_ids: list[int]) -> int:
    return sum(state not in ("submitted", "checking") for state in states(database_url, post_ids))


def check_with_both_workers(conn, database_url: str, teacher: Browser, account_id: str, logs: dict) -> list[int]:
    """Both workers held, the twenty posts are submitted; the first worker checks one while the second is held, then
    the second checks one while the first is held; then both check the rest."""
    first, second = occupy(conn, "hold-1"), occupy(conn, "hold-2")
    names = [wait_for(lambda j=j: runner(conn, j), WAIT, f"a worker to take {j}", logs["worker-a"]) for j in
             (first, second)]
    assert names[0] != names[1]  # a worker runs one job at a time
    post_ids = [submit(teacher, account_id, n) for n in range(1, POSTS + 1)]
    assert checked(database_url, post_ids) == 0  # both workers are held
    release(conn, first)
    wait_for(lambda: any(s != "submitted" for s in states(database_url, post_ids)), WAIT,
             "the first worker to start a check", logs["worker-a"])
    again = occupy(conn, "hold-3")  # the first worker takes it once its check is done: the second is still held
    assert wait_for(lambda: runner(conn, again), WAIT, "the first worker to take hold-3", logs["worker-a"]) == names[0]
    done = checked(database_url, post_ids)
    assert done >= 1
    release(conn, second)
    wait_for(lambda: checked(database_url, post_ids) > done, WAIT, "the second worker to check a post",
             logs["worker-b"])
    release(conn, again)
    wait_for(lambda: checked(database_url, post_ids) == POSTS, WAIT, "every post to be checked", logs["worker-b"])
    assert set(states(database_url, post_ids)) == {"awaiting_review"}
    return post_ids


def approve_and_publish(smt: Browser, database_url: str, post_ids: list[int], logs: dict) -> None:
    """The senior leader approves each post; the workers publish them; the web process shows the archive's index,
    which a worker wrote to the bucket."""
    smt.get("/review")
    for post_id in post_ids:
        assert smt.post(f"/review/{post_id}/approve", {}).status_code == 302
    wait_for(lambda: states(database_url, post_ids) == ["published"] * POSTS, WAIT, "every post to be published",
             logs["worker-a"])
    index = smt.get(f"/archive/{HANDLE}/")
    assert index.status_code == 200
    assert all(f"Class {n} visited the farm" in index.text for n in range(1, POSTS + 1))


def stop_all(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to all at once (rq lets a running job finish), then SIGKILL to any left, with its work horse."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill_tree(process.pid)
            process.wait(timeout=10)


def ran_on(conn, job_ids: list[str]) -> dict[str, str]:
    """Job id -> the rq name of the worker that ran it, from rq's record of each finished job."""
    jobs = {job_id: Job.fetch(job_id, connection=conn) for job_id in job_ids}
    assert {job_id: job.get_status() for job_id, job in jobs.items()} == dict.fromkeys(job_ids, JobStatus.FINISHED)
    return {job_id: job.worker_name for job_id, job in jobs.items()}


def assert_published_once(database_url: str, s3, post_ids: list[int]) -> list[int]:
    """One publication for each post, published at its first attempt, with its pages in the bucket and one audit
    entry; and no other post in the archive. The publications' ids."""
    with session_for(database_url) as s:
        pubs = s.execute(select(Publication.post_id, Publication.id, Publication.state, Publication.attempts)
                         .where(Publication.post_id.in_(post_ids))).all()
        audit = dict(s.execute(select(AuditEntry.subject, func.count()).where(AuditEntry.action == "published")
                               .group_by(AuditEntry.subject)).all())
        checks = dict(s.execute(select(AuditEntry.subject, func.count()).where(AuditEntry.action == "checked")
                                .group_by(AuditEntry.subject)).all())
    assert sorted(p.post_id for p in pubs) == sorted(post_ids)  # exactly one publication per post
    assert {(p.state, p.attempts) for p in pubs} == {("published", 1)}
    assert audit == checks == {f"post:{post_id}": 1 for post_id in post_ids}
    pub_ids = sorted(p.id for p in pubs)
    stored = s3.keys(f"archive/{HANDLE}/posts/")
    assert sorted({int(k.split("/")[3]) for k in stored}) == pub_ids  # nothing published twice, nor anything else
    assert {f"archive/{HANDLE}/posts/{i}/{name}" for i in pub_ids
            for name in ("post.json", "index.html", "photo-1.jpg")} <= set(stored)
    return pub_ids


def assert_photos_in_bucket(database_url: str, s3, post_ids: list[int]) -> None:
    """Each post's photo as sent (stored by the web process) and as cleaned (by a worker) is in the bucket."""
    with session_for(database_url) as s:
        images = s.execute(select(PostImage.original_key, PostImage.clean_key)
                           .where(PostImage.post_id.in_(post_ids))).all()
    assert len(images) == POSTS
    media = set(s3.keys("media/"))
    assert {f"media/{key[:2]}/{key}" for image in images for key in image} <= media


def assert_each_in_its_workers_log(ran: dict[str, str], names: dict[str, str], logs: dict[str, Path]) -> None:
    """Each worker's own log names the jobs rq says it ran, and the other's does not."""
    texts = {name: logs[name].read_text(errors="replace") for name in FOLDERS[1:]}
    for job_id, worker in ran.items():
        assert [name for name, text in texts.items() if f"({job_id})" in text] == [names[worker]], job_id


def left_on_disk(folders: dict[str, Path]) -> list[str]:
    """Stored photos, archive pages, held photos, import previews or key files in any instance folder."""
    found = [p for folder in folders.values() for area in AREAS for p in (folder / area).rglob("*") if p.is_file()]
    found += [p for folder in folders.values() for p in folder.rglob("*.key")]
    return [str(p) for p in found]


@pytest.mark.skipif(not SERVICES, reason="the three processes must share a real PostgreSQL and Redis: set "
                                         "DATABASE_URL and REDIS_URL (CI sets both)")
@pytest.mark.parametrize("backend", ["services"], indirect=True)
def test_web_and_two_workers_sharing_only_the_services_check_and_publish_twenty_posts_once_each(
        backend, env, settings, s3, tmp_path):
    keys = {"SECRET_KEY": secrets.token_hex(32), "ENCRYPTION_KEY": secrets.token_hex(32)}
    shared = {**env, **s3.env(), **keys}
    folders = {name: tmp_path / name for name in FOLDERS}
    logs = {name: tmp_path / f"{name}.log" for name in FOLDERS}
    passwords, account_id = set_up_school({**shared, "INSTANCE_DIR": str(folders["web"])})
    port, conn = free_port(), queues.connection(settings)
    started = time.monotonic()
    processes = {"web": start_gateway(logs["web"], "web", env={
        **shared, "INSTANCE_DIR": str(folders["web"]), "HOST": "127.0.0.1", "PORT": str(port)})}
    try:
        for name in FOLDERS[1:]:
            processes[name] = start_gateway(logs[name], "worker", env={**shared, "INSTANCE_DIR": str(folders[name])})
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), WAIT, "the web process to answer", logs["web"])
        (teacher, _), (smt, app_key) = (log_in(url, USERS[r][0], passwords[r]) for r in ("teacher", "smt"))
        post_ids = check_with_both_workers(conn, settings.database_url, teacher, account_id, logs)
        approve_and_publish(smt, settings.database_url, post_ids, logs)
        workers = {w.pid: w.name for w in Worker.all(connection=conn)}
        names = {workers[processes[name].pid]: name for name in FOLDERS[1:]}  # rq's name of each worker process
    finally:
        for name in ("hold-1", "hold-2", "hold-3"):  # a held worker would only stop after five minutes
            release(conn, name)
        stop_all(list(processes.values()))
    print(f"{POSTS} posts checked and published in {time.monotonic() - started:.1f} s")

    pub_ids = assert_published_once(settings.database_url, s3, post_ids)
    checks = ran_on(conn, [queues.check_job_id(post_id, 1) for post_id in post_ids])
    publishes = ran_on(conn, [queues.publish_job_id(pub_id, 0) for pub_id in pub_ids])  # queued before attempt 1
    spread = {names.get(w, w): (list(checks.values()).count(w), list(publishes.values()).count(w))
              for w in {*checks.values(), *publishes.values()}}
    print("checks and publications by worker:", spread)
    assert set(checks.values()) == set(names)  # both workers checked posts, and nothing else ran them
    assert set(publishes.values()) <= set(names)
    assert_each_in_its_workers_log({**checks, **publishes}, names, logs)
    assert_photos_in_bucket(settings.database_url, s3, post_ids)
    assert left_on_disk(folders) == []
    told = [*keys.values(), *passwords.values(), app_key, ACCESS["AWS_SECRET_ACCESS_KEY"]]
    for name, log in logs.items():
        text = log.read_text(errors="replace")
        assert not [s for s in told if s in text], f"a secret is in the {name} log"


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/login", timeout=10).status_code == 200
    except requests.RequestException:
        return False
