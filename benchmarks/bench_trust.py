"""A trust-sized roster next to a single school, in the same run: does filtering by school keep each school's cost flat?

Two databases are built in bulk (SQLAlchemy Core executemany), both migrated as `gateway run` migrates them:
the trust, 200 schools of 1,000 pupils and 40 staff (208,000 people; 200,000 pupils, each with one encrypted face
template and a granted photo consent) and 5 posts waiting for review per school (1,000 in all), each with a photo and
a finding; and a single school of the same shape (school 1: the same roster as the trust's timed school, 5 posts).
Every row times the real code through a session for the school (gateway.core.schools.as_school, as the check job
and the web app make one); "ours" is the trust's school, the baseline the single school:

- name matching, first check after a roster change: gateway.services.checking.name_matcher (the school's roster
  loaded, the NameMatcher built) and NameMatcher.clean on bench_text's 280-character POST, the cache emptied first.
- name matching per post, roster unchanged: the same with the school's matcher cached (the roster is still loaded
  each time: the cache key is the roster itself).
- name matching per post in a forking worker: the worker's maintenance round (checking.prebuild_matcher) builds the
  sole school's matcher, and each forked check starts with that cache. A trust's round builds none (it would load
  every roster each round), so the check builds its school's own; in the single school the check hits.
- the maintenance round's prebuild itself, with its matcher cached (what every round costs).
- face context per check: consent_registry.registry.face_context (the school's templates decrypted into a Gallery,
  each enrolled person's consent read); then matching per face: Gallery.match of 10 faces, divided by 10.
- the review queue page, GET /review through the Flask test client, as a senior leader of the school (logged in with
  a password and an authenticator code); and the single school's page with 1,000 posts waiting (the first page of
  them) next to its 5.

SQLite in a temporary instance folder by default. With DATABASE_URL set, two fresh PostgreSQL databases beside the
named one (<name>_trust and <name>_single) are created and dropped afterwards; the named database is not touched.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyotp
from sqlalchemy import create_engine, insert, make_url, select, text

from benchmarks import median_seconds
from benchmarks.bench_text import POST, synthetic_roster
from consent_registry.matching import DIMENSIONS, seal
from consent_registry.models import GRANTED, PUPIL, SOCIAL, FaceTemplate, Person, PhotoConsent
from consent_registry.registry import face_context
from gateway.core import settings as settings_module
from gateway.core.db import engine_for, session_for, upgrade, utcnow
from gateway.core.schools import School, as_school
from gateway.models import SMT, TEACHER, Account, User
from gateway.services import checking, sign_in
from gateway.users import create_user, generate_password, hasher_for
from gateway.web.app import create_app
from gateway.web.review import PER_PAGE
from moderation import lifecycle
from moderation.findings import REVIEW
from moderation.models import FindingRow, Post, PostImage, post_accounts
from tests.client import SECRETS, Client, enrolled

SCHOOLS, PUPILS, PENDING = 200, 1_000, 5
TIMED = 100  # the trust's school that is timed: in the middle, so its rows are neither the first nor the last
FACES = 10
CARD = 'class="card queued"'  # one per post in the review queue's list


@dataclass
class Instance:
    """One migrated database, the school that is timed in it, and a senior leader of that school logged in."""

    settings: object
    school: int
    staff: dict  # school id -> (teacher id, account id)
    client: Client | None = None


# --- building the databases ---

def _people(conn, seeds: dict[int, int]) -> None:
    """Each school's synthetic roster (bench_text's names), its seed chosen so the timed rosters are identical."""
    rows = []
    for school, seed in seeds.items():
        for p in synthetic_roster(PUPILS, seed=seed):
            rows.append({"school_id": school, "mis_id": f"{p.kind[0].upper()}{p.person_id:05d}", "kind": p.kind,
                         "first_name": p.first, "last_name": p.last, "preferred_name": p.preferred,
                         "year_group": "Year 4" if p.kind == PUPIL else None, "active": True})
    conn.execute(insert(Person), rows)


def _templates(conn, key: bytes) -> None:
    """One template per pupil, a random unit vector sealed as enrolment seals it, and a granted photo consent."""
    pupils = conn.scalars(select(Person.id).where(Person.kind == PUPIL).order_by(Person.id)).all()
    vectors = np.random.default_rng(19).normal(size=(len(pupils), DIMENSIONS))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    now, given = utcnow(), date.today() - timedelta(days=30)
    conn.execute(insert(FaceTemplate), [
        {"person_id": pid, "encrypted": seal(key, pid, v), "photo_sha256": f"{pid:064x}", "created_at": now,
         "created_by": "benchmark"} for pid, v in zip(pupils, vectors)])
    conn.execute(insert(PhotoConsent), [
        {"person_id": pid, "status": GRANTED, "given_by": "Parent", "given_on": given, "evidence": "",
         "recorded_by": "benchmark", "recorded_at": now, "channel": SOCIAL} for pid in pupils])


def _staff(conn, schools: list[int]) -> dict:
    """A teacher (the posts' author) and a confirmed archive account for each school."""
    conn.execute(insert(User), [
        {"school_id": s, "email": f"teacher{s}@school{s}.example", "name": f"Teacher {s}", "role": TEACHER,
         "password_hash": "", "active": True} for s in schools])
    conn.execute(insert(Account), [
        {"school_id": s, "platform": "archive", "handle": f"school{s}_archive", "url": f"https://school{s}.example/",
         "confirmed_at": utcnow()} for s in schools])
    teachers = dict(conn.execute(select(User.school_id, User.id).where(User.role == TEACHER)).all())
    accounts = dict(conn.execute(select(Account.school_id, Account.id)).all())
    return {s: (teachers[s], accounts[s]) for s in schools}


def _posts(conn, staff: dict, per_school: int) -> None:
    """Posts as the checks leave them, waiting for review: cleaned text, one clean photo, one finding to look at."""
    now = utcnow()
    first = conn.scalar(select(Post.id).order_by(Post.id.desc()).limit(1)) or 0
    conn.execute(insert(Post), [
        {"school_id": s, "author_id": teacher, "text": POST, "cleaned_text": POST, "text_changes": [], "links": [],
         "editor_ids": [], "state": lifecycle.AWAITING_REVIEW, "check_attempt": 1, "checked_hash": "0" * 64,
         "created_at": now - timedelta(hours=k + 1), "updated_at": now, "submitted_at": now - timedelta(hours=k)}
        for s, (teacher, _account) in staff.items() for k in range(per_school)])
    posts = conn.execute(select(Post.id, Post.school_id).where(Post.id > first)).all()
    conn.execute(insert(post_accounts), [{"post_id": pid, "account_id": staff[s][1]} for pid, s in posts])
    conn.execute(insert(PostImage), [
        {"post_id": pid, "position": 1, "label": "sports-day.jpg", "alt_text": "Children running a relay race.",
         "clean_alt_text": "Children running a relay race.", "alt_changes": [], "original_sha256": "0" * 64,
         "clean_key": f"bench-{pid}", "clean_sha256": "0" * 64, "clean_format": "JPEG", "width": 1024,
         "height": 768, "manual_regions": [], "memos": {}} for pid, _s in posts])
    conn.execute(insert(FindingRow), [
        {"post_id": pid, "code": "names.review", "severity": REVIEW, "subject": "text", "evidence": {},
         "message": "A word that may be a pupil's name: check it."} for pid, _s in posts])


def _build(settings, seeds: dict[int, int]) -> dict:
    """Migrate, then the schools beyond school 1, their people, templates, staff and pending posts."""
    upgrade(settings.database_url)
    with engine_for(settings.database_url).begin() as conn:
        if len(seeds) > 1:
            conn.execute(insert(School), [{"name": f"School {n}", "domains": []} for n in range(2, len(seeds) + 1)])
        schools = conn.scalars(select(School.id).order_by(School.id)).all()
        assert list(schools) == sorted(seeds), schools  # ids as the seeds expect: a fresh database
        _people(conn, seeds)
        _templates(conn, settings.encryption_key)
        staff = _staff(conn, schools)
        _posts(conn, staff, PENDING)
    return staff


def _senior_leader(settings, school: int, email: str) -> str:
    """A senior leader of the school with an authenticator app set up, as the enrolment page does; the password."""
    password = generate_password()
    with session_for(settings.database_url) as session:
        as_school(session, settings, school)
        user = create_user(session, email, "Sam Senior", SMT, password, by="benchmark", hasher=hasher_for(settings))
        session.commit()
        secret, _uri = sign_in.enrolment_uri(session, settings, user)
        step = int(time.time() // 30) - 1  # the previous step's code: the log-in has codes of its own
        sign_in.confirm_enrolment(session, settings, user, pyotp.TOTP(secret).at(step * 30))
    SECRETS[email] = secret
    enrolled(secret, step)
    return password


def _instance(env: dict, url: str, seeds: dict[int, int], school: int, label: str) -> Instance:
    settings = settings_module.load({**env, "DATABASE_URL": url})
    start = time.perf_counter()
    staff = _build(settings, seeds)
    email = f"smt@{label}.example"
    password = _senior_leader(settings, school, email)
    bench = Instance(settings, school, staff)
    bench.client = Client(create_app(settings)).login(email, password)
    print(f"bench_trust: {label} database built in {time.perf_counter() - start:.1f} s", flush=True)
    return bench


# --- the databases' home: SQLite files in the instance folder, or PostgreSQL databases of our own ---

def _database_urls(instance: Path) -> tuple[str, str]:
    given = os.environ.get("DATABASE_URL")
    if not given:
        return f"sqlite:///{instance / 'trust.db'}", f"sqlite:///{instance / 'single.db'}"
    base = make_url(given.replace("postgres://", "postgresql://", 1))
    urls = []
    for suffix in ("trust", "single"):
        own = base.set(database=f"{base.database}_{suffix}")
        _postgres(base, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)', f'CREATE DATABASE "{own.database}"')
        urls.append(own.render_as_string(hide_password=False))
    return urls[0], urls[1]


def _postgres(base, *statements: str) -> None:
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


def _drop(urls) -> None:
    for url in urls:
        engine_for(url).dispose()
        if not url.startswith("sqlite:"):
            own = make_url(url)
            _postgres(own, f'DROP DATABASE IF EXISTS "{own.database}" WITH (FORCE)')


# --- what is timed ---

def _check_names(bench: Instance, school: int | None = None) -> None:
    """What the check job does for names: a session for the post's school, its matcher, the post's text cleaned."""
    with session_for(bench.settings.database_url) as session:
        settings = as_school(session, bench.settings, bench.school if school is None else school)
        result = checking.name_matcher(session, settings).clean(POST, "text")
    assert result.findings, "the roster's names in POST were not found"


def _cold_names(bench: Instance) -> None:
    checking._MATCHERS.clear()  # the first check after a roster change: nothing cached for the school
    _check_names(bench)


def _prebuild(bench: Instance) -> dict:
    """The worker's maintenance round (checking.prebuild_matcher) from an empty cache; the cache it leaves."""
    checking._MATCHERS.clear()
    checking.prebuild_matcher(bench.settings)
    return dict(checking._MATCHERS)


def _forked_check(bench: Instance, parent: dict) -> None:
    """One check in a work horse forked from a worker whose cache is `parent` (a fork starts with a copy of it)."""
    checking._MATCHERS.clear()
    checking._MATCHERS.update(parent)
    _check_names(bench)


def _face_context(bench: Instance):
    with session_for(bench.settings.database_url) as session:
        return face_context(session, as_school(session, bench.settings, bench.school), [SOCIAL])


def _queue_page(bench: Instance, posts: int) -> None:
    response = bench.client.get("/review")
    shown = response.get_data(as_text=True).count(CARD)
    assert response.status_code == 200 and shown == posts, (response.status_code, shown)


def _row(name: str, seconds: float, baseline: float, what: str) -> dict:
    return {"name": name, "seconds": seconds, "baseline_seconds": baseline, "ratio": seconds / baseline,
            "baseline": what}


# --- the rows ---

def _name_rows(trust: Instance, single: Instance, repeats: int) -> list[dict]:
    people = f"{PUPILS:,} pupils"
    rows = []
    cold = [median_seconds(lambda b=b: _cold_names(b), repeats) for b in (trust, single)]
    rows.append(_row(f"name matching, first check after a roster change (roster loaded, matcher built, a "
                     f"{len(POST)}-character post), one school of {SCHOOLS} ({SCHOOLS * PUPILS:,} pupils in the "
                     f"trust)", *cold, f"a single school of {people}"))
    warm = []
    for b in (trust, single):
        _check_names(b)  # the school's matcher cached
        warm.append(median_seconds(lambda b=b: _check_names(b), repeats * 2))
    rows.append(_row(f"name matching per post, roster unchanged (matcher cached), one school of {SCHOOLS}",
                     *warm, f"a single school of {people}"))
    parents = [_prebuild(b) for b in (trust, single)]
    forked = [median_seconds(lambda b=b, p=p: _forked_check(b, p), repeats) for b, p in zip((trust, single), parents)]
    rows.append(_row(f"name matching per post in a forking worker (its maintenance round prebuilds the sole school's "
                     f"matcher: none in a trust), one school of {SCHOOLS}", *forked,
                     f"a single school of {people}, whose prebuilt matcher the check finds"))
    rounds = []
    for b, parent in zip((trust, single), parents):
        checking._MATCHERS.clear()
        checking._MATCHERS.update(parent)
        rounds.append(median_seconds(lambda b=b: checking.prebuild_matcher(b.settings), 3))
    rows.append(_row(f"the worker's maintenance-round matcher prebuild, matcher cached ({len(_trust_people(trust)):,} "
                     f"people in the trust)", *rounds, f"a single school of {people}"))
    checking._MATCHERS.clear()
    return rows


def _trust_people(bench: Instance) -> list[int]:
    with engine_for(bench.settings.database_url).connect() as conn:
        return conn.scalars(select(Person.id)).all()


def _face_rows(trust: Instance, single: Instance, repeats: int) -> list[dict]:
    faces = np.random.default_rng(1).normal(size=(FACES, DIMENSIONS))
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    loads, per_face = [], []
    for b in (trust, single):
        context = _face_context(b)
        assert len(context.gallery.people) == PUPILS, len(context.gallery.people)  # the school's templates only
        loads.append(median_seconds(lambda b=b: _face_context(b), repeats))
        gallery, tolerance = context.gallery, context.settings.tolerance
        per_face.append(median_seconds(lambda g=gallery: g.match(faces, tolerance, 0.06), repeats * 4) / FACES)
    return [
        _row(f"face context per check (one school's {PUPILS:,} templates decrypted, their consents read; "
             f"{SCHOOLS * PUPILS:,} templates in the trust)", *loads, f"a single school of {PUPILS:,} pupils"),
        _row(f"face matching per face, one school's {PUPILS:,} templates ({SCHOOLS * PUPILS:,} templates in the "
             f"trust)", *per_face, f"a single school of {PUPILS:,} pupils"),
    ]


def _review_rows(trust: Instance, single: Instance, repeats: int) -> list[dict]:
    pages = []
    for b in (trust, single):
        _queue_page(b, PENDING)  # the first request's template compiling is not the page's cost
        pages.append(median_seconds(lambda b=b: _queue_page(b, PENDING), repeats * 2))
    rows = [_row(f"review queue page as a senior leader, {PENDING} posts waiting in their school, "
                 f"{SCHOOLS * PENDING:,} across {SCHOOLS} schools", *pages,
                 f"a single school with its {PENDING} posts waiting")]
    more = SCHOOLS * PENDING - PENDING
    with engine_for(single.settings.database_url).begin() as conn:
        _posts(conn, single.staff, more)
    busy = median_seconds(lambda: _queue_page(single, PER_PAGE), repeats)
    rows.append(_row(f"review queue page, a single school with {PENDING + more:,} posts waiting (its first "
                     f"{PER_PAGE} shown)", busy, pages[1], f"the same school with {PENDING} posts waiting"))
    return rows


def run(repeats: int = 5) -> list[dict]:
    instance = Path(tempfile.mkdtemp(prefix="bench-trust-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # no queue is started (no Redis is used): the sign-in throttle falls back to memory; fast password hashing
    env.update(INSTANCE_DIR=str(instance), LOG_LEVEL="WARNING", PASSWORD_HASHING="owasp-minimum")
    urls = _database_urls(instance)
    try:
        trust = _instance(env, urls[0], {s: s for s in range(1, SCHOOLS + 1)}, TIMED, "trust")
        single = _instance(env, urls[1], {1: TIMED}, 1, "single")  # the trust's timed school's roster
        rows = _name_rows(trust, single, repeats)
        rows += _face_rows(trust, single, repeats)
        rows += _review_rows(trust, single, repeats)
    finally:
        _drop(urls)
        shutil.rmtree(instance, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in run():
        print(f"{row['name']}: {row['seconds']:.5f} s (baseline {row['baseline_seconds']:.5f} s, ratio {row['ratio']:.2f})")
