"""Takedown latency: from a withdrawal of photo consent to the takedown done, while ten posts of four photos each
wait for checks, next to the same takedown when nothing else is queued.

Measured on the set-up `gateway run` gives a school with no settings: the embedded queue and SQLite in a fresh
instance folder, its supervisor's general worker and takedown worker as real processes, and the web app. Someone
standing in for a pupil (fixture photos of a public figure) is enrolled with consent; a post whose photo shows them
is checked (they are recognised, with consent), approved and published to the archive; the consent officer
withdraws the consent on the person's page, and the clock stops at the takedown's `done_at`, which is set once the
archive copy is gone.
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from consent_registry import importer
from consent_registry.consent import record_photo_consent
from consent_registry.enrolment import enrol
from consent_registry.faces import FaceSettings
from consent_registry.models import Person, Takedown
from gateway.core import settings as settings_module
from gateway.core.db import session_for, upgrade
from gateway.services.demo import seed_if_empty
from moderation.models import ImageFace, Post, PostImage
from tools.chaos import Gateway, free_port, photo, until
from tools.web_user import Web
from workers import queues

FIXTURES = Path(os.environ.get("FIXTURES_DIR", Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"))
FACES = FIXTURES / "faces"
MIS_ID = "B001"
ENROL, FEATURED = ["obama_1.jpg", "obama_2.jpg"], "obama_3.jpg"
LOAD_POSTS, LOAD_PHOTOS = 10, 4


class Bench:
    """One school on `gateway run`, with users logged in over HTTP and the database read directly."""

    def __init__(self, env: dict, gateway: Gateway, passwords: dict):
        self.settings = settings_module.load(env)
        self.gateway = gateway
        login = {who: Web(gateway.base).login(f"{who}@demo.school", passwords[f"{who}@demo.school"])
                 for who in ("teacher", "smt", "office")}
        self.teacher, self.smt, self.office = login["teacher"], login["smt"], login["office"]
        self.load_photos = [photo(seed) for seed in range(LOAD_PHOTOS)]

    def read(self, fn):
        with session_for(self.settings.database_url) as session:
            return fn(session)

    def state(self, post_id: int) -> str:
        return self.read(lambda s: s.get(Post, post_id).state)

    def submit(self, text: str, photos: list[tuple[str, bytes]]) -> int:
        files = {f"photo_{n}": (name, data, "image/jpeg") for n, (name, data) in enumerate(photos, 1)}
        alts = {f"alt_new_{n}": f"Our visitor, picture {n}" for n in range(1, len(photos) + 1)}
        response = self.teacher.post("/posts/new", {"text": text, "account_id": "1", "action": "submit", **alts}, files)
        if not _redirected(response):
            raise RuntimeError(f"submitting a post failed: {response and response.status_code}")
        return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    def wait_state(self, post_id: int, wanted: str, timeout: float = 300) -> None:
        if not until(lambda: self.state(post_id) == wanted, timeout, 0.05):
            raise RuntimeError(f"post {post_id} is {self.state(post_id)}, not {wanted}, after {timeout} s")

    def publish_featuring(self) -> int:
        """A post whose photo shows the enrolled person with consent, checked, approved and published."""
        with session_for(self.settings.database_url) as session:
            person = session.scalar(select(Person).where(Person.mis_id == MIS_ID))
            if person.photo_consents[-1].status != "granted":  # withdrawn by the previous round
                record_photo_consent(session, person, "granted", "benchmark", given_by="Parent", given_on=date.today())
                session.commit()
            person_id = person.id
        post_id = self.submit("A visitor came to talk to us today.", [(FEATURED, (FACES / FEATURED).read_bytes())])
        self.wait_state(post_id, "awaiting_review")
        featured = self.read(lambda s: s.scalar(select(ImageFace.verdict).join(PostImage).where(
            PostImage.post_id == post_id, ImageFace.person_id == person_id)))
        if featured != "consented":
            raise RuntimeError(f"the checks did not recognise the enrolled person in {FEATURED} ({featured})")
        if not _redirected(self.smt.post(f"/review/{post_id}/approve", {})):
            raise RuntimeError(f"approving post {post_id} was refused")
        self.wait_state(post_id, "published")
        return post_id

    def load(self) -> list[int]:
        """Ten posts of four photos each, waiting for checks (the first of them being checked)."""
        photos = [(f"field-{k}.jpg", data) for k, data in enumerate(self.load_photos)]
        ids = [self.submit(f"Sports day, part {n}.", photos) for n in range(1, LOAD_POSTS + 1)]
        self.wait_state(ids[0], "checking")
        return ids

    def unload(self, ids: list[int]) -> None:
        """The author withdraws the posts still waiting; then wait until the checks queue is idle again."""
        for post_id in ids:
            if self.state(post_id) in ("submitted", "checking"):
                self.teacher.post(f"/posts/{post_id}/withdraw", {})
        conn = queues.connection(self.settings)
        checks = queues.queue(self.settings, queues.CHECKS, conn)
        until(lambda: checks.count == 0 and checks.started_job_registry.count == 0, 300, 0.2)

    def takedown_seconds(self, loaded: bool) -> float:
        """Publish a post featuring the person, withdraw their consent on the web page, time the takedown."""
        post_id = self.publish_featuring()
        waiting = self.load() if loaded else []
        start = time.time()
        if not _redirected(self.office.post(f"/people/person/withdraw/social?mis_id={MIS_ID}", {"asked_by": "A parent", "how": "by letter"})):
            raise RuntimeError("withdrawing consent was refused")
        done = until(lambda: self.read(lambda s: s.scalar(select(Takedown.done_at).where(
            Takedown.post_id == post_id, Takedown.state == "done"))), 300, 0.02)
        if done is None or self.state(post_id) != "taken_down":
            raise RuntimeError(f"post {post_id} was not taken down within 300 s")
        if waiting and self.state(waiting[-1]) != "submitted":
            raise RuntimeError("the checks queue emptied before the takedown was done: that was no test under load")
        if waiting:
            self.unload(waiting)
        return done.timestamp() - start


def _redirected(response) -> bool:
    """The form was accepted: the app answered with its redirect (None: it could not be reached)."""
    return response is not None and response.status_code == 302


def _school(env: dict) -> dict:
    """Migrate, seed the demo school and enrol one person with photo and biometric consent; returns passwords."""
    s = settings_module.load(env)
    upgrade(s.database_url)
    given = (date.today() - timedelta(days=30)).isoformat()
    row = [MIS_ID, "staff", "Barack", "Obama", "", "", "granted", "Barack Obama", given, "", "granted",
           "Barack Obama", given, "no"]
    with session_for(s.database_url) as session:
        passwords = {email: password for email, _role, password in seed_if_empty(session, s)}
        plan = importer.plan(session, ",".join(importer.COLUMNS) + "\n" + ",".join(row) + "\n")
        importer.apply(session, plan, "benchmark", date.today())
        person = session.scalar(select(Person).where(Person.mis_id == MIS_ID))
        enrol(session, person, [(n, (FACES / n).read_bytes()) for n in ENROL], s.encryption_key,
              FaceSettings.from_settings(s), "benchmark", date.today())
        session.commit()
    return passwords


@contextmanager
def _running_school():
    instance = Path(tempfile.mkdtemp(prefix="bench-takedown-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(INSTANCE_DIR=str(instance), HOST="127.0.0.1", PORT=str(free_port()), LOG_LEVEL="WARNING",
               DATABASE_URL=f"sqlite:///{instance / 'gateway.db'}")  # explicit: a stray .env must not choose
    passwords = _school(env)
    gateway = Gateway(env, instance / "gateway.log")
    try:
        gateway.wait_ready()
        yield Bench(env, gateway, passwords)
    finally:
        gateway.stop()
    shutil.rmtree(instance, ignore_errors=True)  # kept, with the gateway's log, when the benchmark failed


def run(repeats: int = 3) -> list[dict]:
    """One row: median seconds from withdrawal to takedown done with the checks queue full, and idle."""
    with _running_school() as bench:
        idle = [bench.takedown_seconds(loaded=False) for _ in range(repeats)]
        loaded = [bench.takedown_seconds(loaded=True) for _ in range(repeats)]
    seconds, baseline = statistics.median(loaded), statistics.median(idle)
    return [{
        "name": f"takedown after a consent withdrawal, {LOAD_POSTS} posts of {LOAD_PHOTOS} photos waiting for checks "
                f"(baseline: nothing queued; {repeats} runs each)",
        "seconds": seconds, "baseline_seconds": baseline, "ratio": seconds / baseline,
    }]


if __name__ == "__main__":
    for row in run():
        print(row)
