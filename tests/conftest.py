"""Test set-ups: every test that touches the database or the queue runs on the embedded defaults
(SQLite + embedded Valkey) and, when DATABASE_URL and REDIS_URL are set, on those real services too."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import create_engine, make_url, text

from gateway.core import settings as settings_module
from gateway.core.schools import School
import consent_registry.models  # noqa: F401  (all tables are known when the tests clear them)
import moderation.audit  # noqa: F401
from moderation.link_rules import LinkRule
from workers.checks.links import DEFAULT_ALLOW
import moderation.models  # noqa: F401
import moderation.replies  # noqa: F401
from gateway.core.db import Base, engine_for, session_for, upgrade
from gateway.services.demo import seed_if_empty
from workers import embedded
from workers import queues
from sqlalchemy.orm import selectinload
from gateway.web.app import create_app
from tests.client import RECOVERY, SECRETS, Client, enrolled
from gateway.models import SECOND_FACTOR_ROLES, User
from gateway.services import sign_in
from sqlalchemy import select
import pyotp
import time
from workers.worker import run
from rq import SimpleWorker
from workers.worker import QuickPubSub, SchedulerStops

pytest_plugins = ["tests.live", "tests.registry", "tests.smtp", "tests.replies", "tests.s3"]  # fixtures shared by several modules, set up once

SERVICES = bool(os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
BACKENDS = ["embedded"] + (["services"] if SERVICES else [])
CHAOS_REDIS_DB = 3  # `make chaos` uses it on the same server
REDIS_DATABASES = 16  # Redis' default
# every sequence just past its column's highest value, or back to 1 where the table is empty
SYNC_SEQUENCES = """DO $$ DECLARE r record; m bigint; BEGIN
  FOR r IN SELECT s.oid AS seq, t.relname AS tab, a.attname AS col FROM pg_class s
    JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
    JOIN pg_class t ON t.oid = d.refobjid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
    WHERE s.relkind = 'S' LOOP
    EXECUTE format('SELECT max(%I) FROM %I', r.col, r.tab) INTO m;
    PERFORM setval(r.seq, coalesce(m, 1), m IS NOT NULL);
  END LOOP; END $$"""


# The modules whose tests run longest (module-wide detection data, killed and restarted workers, a 15-second
# queue outage): they start first, so that under pytest-xdist none of them is left running alone at the end.
LONGEST_FIRST = ("tests/unit/test_detection.py", "tests/browser/test_browser_accessibility.py",
                 "tests/integration/test_queue.py", "tests/integration/test_faults.py",
                 "tests/browser/test_browser_progress.py", "tests/integration/test_faces.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        module = item.nodeid.split("::")[0]
        return LONGEST_FIRST.index(module) if module in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within each module, and of the rest, is kept
    if SERVICES:  # pages are pages on either set-up: the browser tests drive the real services' only, where there are
        # some (the integration tests take each set-up through the same paths), which keeps CI in its ten minutes
        embedded = [i for i in items if i.get_closest_marker("browser") and _backend(i) == "embedded"]
        config.hook.pytest_deselected(items=embedded)
        items[:] = [i for i in items if i not in embedded]


def _backend(item) -> str | None:
    return getattr(item, "callspec", None) and item.callspec.params.get("backend")


def _own_database(url: str, worker: str) -> str:
    """DATABASE_URL's database with the worker's name appended (test -> test_gw0), created if missing."""
    given = make_url(url)
    own = given.set(database=f"{given.database}_{worker}")
    admin = create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(4242)"))  # one CREATE DATABASE at a time
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": own.database}) is None:
                conn.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        admin.dispose()
    return own.render_as_string(hide_password=False)


def _own_redis_db(url: str, index: int) -> str:
    """REDIS_URL with the index-th free database after the given one (0 -> 1, 2, 4, ...: never chaos' db)."""
    parts = urlsplit(url)
    given = int(parts.path.strip("/") or 0)
    free = [db for db in range(given + 1, REDIS_DATABASES) if db != CHAOS_REDIS_DB]
    if index >= len(free):
        raise RuntimeError(f"REDIS_URL's db {given} leaves no Redis database for xdist worker {index}")
    return parts._replace(path=f"/{free[index]}").geturl()


def real_services() -> dict:
    """DATABASE_URL and REDIS_URL for this process; each pytest-xdist worker gets a database and a Redis
    database of its own beside the given ones, since every test clears what it uses."""
    services = {k: os.environ[k] for k in ("DATABASE_URL", "REDIS_URL")}
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ... under xdist
    if worker:
        services["DATABASE_URL"] = _own_database(services["DATABASE_URL"], worker)
        services["REDIS_URL"] = _own_redis_db(services["REDIS_URL"], int(worker.removeprefix("gw")))
    return services


def _environ(backend: str, instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # the OWASP minimum for password hashes: the tests create and log in users hundreds of times
    env.update(INSTANCE_DIR=str(instance), RECONCILE_SECONDS="5", LOG_LEVEL="INFO", PASSWORD_HASHING="owasp-minimum")
    if backend == "services":
        env.update(real_services())
    return env


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    """One instance folder and migrated database per set-up, shared by the tests that use it."""
    instance = Path(tempfile.mkdtemp(prefix="gwt-"))
    env = _environ(request.param, instance)
    s = settings_module.load(env)
    if request.param == "services":
        with engine_for(s.database_url).begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(s.database_url)
    yield request.param, env
    if request.param == "embedded":
        redis.Redis.from_url(embedded.url(s.queue_dir)).shutdown(nosave=True)
    shutil.rmtree(instance, ignore_errors=True)


@pytest.fixture
def env(backend, monkeypatch, request):
    """A clean database, queue and media folder, with the process environment pointing at them; with the demo
    school in it first when the test asks for `school`."""
    name, environ = backend
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    s = settings_module.load(environ)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine_for(s.database_url).begin() as conn:  # DELETE: TRUNCATE's new files cost more for small tables
        for table in tables:
            conn.execute(text(f"DELETE FROM {table}"))
        if name == "services":
            conn.execute(text(SYNC_SEQUENCES))
    made = _school_key(name, s)
    with session_for(s.database_url) as session:
        if "school" in request.fixturenames and made in _SCHOOLS:
            _put_back(session, s, _SCHOOLS[made][2])
        else:  # the first school and the default allow list, as migrations make them
            session.add(School(domains=[]))  # school 1 (DEFAULT_SCHOOL): the tables start afresh
            session.flush()
            session.add_all(LinkRule(kind="allow", entry=e, added_by="default list") for e in DEFAULT_ALLOW)
            session.commit()
            if "school" in request.fixturenames:
                _SCHOOLS[made] = _seed(session, s)

    queues.connection(s).flushdb()
    for area in ("media", "archive", "held", "imports"):  # what another test stored (file://: the instance folder)
        shutil.rmtree(s.instance / area, ignore_errors=True)
    return environ


@pytest.fixture
def settings(env):
    return settings_module.load(env)


@pytest.fixture
def session(settings):
    """A session for setting things up; commit before letting the app or a worker run (SQLite has one writer)."""
    with session_for(settings.database_url) as s:
        yield s


@pytest.fixture
def read(settings):
    """read(fn) runs fn(session) in a short transaction of its own, with relationships loaded eagerly."""
    def read(fn):
        with session_for(settings.database_url) as s:
            return fn(s)

    return read


@pytest.fixture
def fetch(read):
    """fetch(Post, 3): a snapshot of a row and its relationships, without keeping a transaction open."""
    return lambda model, ident: read(lambda s: s.get(model, ident, options=[selectinload("*")]))


@pytest.fixture
def school(settings, backend):
    """The demo school: one user per role and a confirmed archive account; passwords by role. Those whose role
    needs a second factor have set up an authenticator app (tests.client.SECRETS holds its key).

    `env` makes it with the demo's own seeding once per set-up, then puts it back row for row before each later
    test's other data: hashing five passwords for every test was a sixth of the in-process tests' CPU time."""
    passwords, enrolments, _rows = _SCHOOLS[_school_key(backend[0], settings)]
    for email, (codes, secret, step) in enrolments.items():  # the other set-up's may have been made since
        SECRETS[email], RECOVERY[email] = secret, list(codes)
        enrolled(secret, step)
    return passwords


_SCHOOLS: dict[tuple, tuple[dict, dict, dict]] = {}  # (set-up, keys) -> (passwords by role, enrolments, rows)
_USED_STEP: dict[str, int] = {}  # e-mail -> the step of the code that confirmed its enrolment


def _school_key(backend: str, settings) -> tuple:
    """The set-up and its keys: xdist may make a set-up's instance folder, and so its keys, anew."""
    return backend, settings.secret_key, settings.encryption_key


def _seed(session, settings) -> tuple[dict, dict, dict]:
    created = seed_if_empty(session, settings)
    enrolments = {email: (enrol_app(session, settings, email), SECRETS[email], _USED_STEP[email])
                  for email, role, _password in created if role in SECOND_FACTOR_ROLES}
    rows = {t: [dict(r._mapping) for r in session.execute(select(t))] for t in Base.metadata.sorted_tables}
    session.rollback()  # SQLite: the read's transaction holds the one writer's lock
    return {role: password for _email, role, password in created}, enrolments, rows


def _put_back(session, settings, rows: dict) -> None:
    for table in Base.metadata.sorted_tables:
        if rows[table]:
            session.execute(table.insert(), rows[table])
    if settings.database_url.startswith("postgresql"):
        session.execute(text(SYNC_SEQUENCES))
    session.commit()


def enrol_app(session, settings, email: str) -> list[str]:
    """Set up an authenticator app for the user, as its enrolment page would; returns the recovery codes."""
    user = session.scalar(select(User).where(User.email == email))
    secret, _uri = sign_in.enrolment_uri(session, settings, user)
    step = int(time.time() // 30) - 1  # the previous step's code, so the next log-ins have codes of their own
    codes = sign_in.confirm_enrolment(session, settings, user, pyotp.TOTP(secret).at(step * 30))
    SECRETS[email], RECOVERY[email], _USED_STEP[email] = secret, codes, step
    enrolled(secret, step)
    return codes


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def login(app, school):
    """login(role) gives a test client logged in as the demo user with that role."""
    emails = {"teacher": "teacher@demo.school", "smt": "smt@demo.school", "head": "head@demo.school",
              "consent_officer": "office@demo.school", "dpo": "dpo@demo.school"}
    return lambda role: Client(app).login(emails[role], school[role])


@pytest.fixture
def signed_in(login):
    """signed_in(role): one client per role for the whole test, logged in when first asked for. An authenticator
    code is accepted once, so a test that logged SMT in afresh for every step waited for the phone's next code."""
    clients = {}

    def client(role: str):
        if role not in clients:
            clients[role] = login(role)
        return clients[role]
    return client


@pytest.fixture
def work(settings):
    """Run a real rq worker (forking a work horse per job) until the queues are empty."""
    return lambda: run(settings, burst=True)


@pytest.fixture
def work_here(settings):
    """Run rq's SimpleWorker in this process until the queues are empty: for jobs that talk to the X emulator,
    whose state must be seen by the test."""


    class HereWorker(SchedulerStops, QuickPubSub, SimpleWorker):
        pass

    def work():
        conn = queues.connection(settings)
        HereWorker(list(queues.ALL), connection=conn).work(burst=True, with_scheduler=True)

    return work
