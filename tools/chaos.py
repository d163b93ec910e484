"""`python -m tools.chaos`: `gateway run` takes 60 posts while workers and work horses are killed with SIGKILL during
checks, publishing and takedowns, the queue is flushed, two reconcilers run at once and Redis is cut off for 15 s;
every published post is then taken down. It ends with one line per count (posts lost, doubled, taken down but still
live, workers left dead) and exits 1 unless each is 0. Defaults: PostgreSQL database `chaos`, Redis db 3 through a
proxy (the outage and FLUSHDB hit only this run); empty --database-url / --redis-url: SQLite / embedded Valkey."""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import suppress
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import redis
import requests
from PIL import Image
from rq import Worker
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from consent_registry.models import Takedown
from gateway.core import settings as settings_module
from gateway.core.db import engine_for, session_for, upgrade
from gateway.services.demo import seed_if_empty
from tools.web_user import Web
from moderation.audit import AuditEntry
from moderation.models import Post
from tools.tcp_proxy import TcpProxy
from workers import embedded, queues

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/chaos"
DEFAULT_REDIS = "redis://127.0.0.1:6379/3"
SHARED_DATABASES = {"test", "postgres"}  # other engineers' tests use these: never reset them
MARKER = re.compile(r"Chaos post (\d+):")
OUTAGE_SECONDS = 15
QUEUE_OF = {"check": queues.CHECKS, "publish": queues.PUBLISH, "takedown": queues.TAKEDOWNS}


class Timeline:
    """What the run did, printed as it happens, with seconds since the start and the wall-clock time."""

    def __init__(self):
        self.start, self._lock = time.monotonic(), threading.Lock()

    def __call__(self, what: str) -> None:
        with self._lock:
            print(f"{time.monotonic() - self.start:6.1f}s {time.strftime('%H:%M:%S')}  {what}", flush=True)


def until(predicate, timeout: float, poll: float = 0.05):
    """The first truthy value of predicate() within timeout seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        time.sleep(poll)
    return value


def photo(seed: int, size=(3000, 2000)) -> bytes:
    """A gradient JPEG with no face: cleaning it and searching it for faces keeps a check busy for seconds."""
    w, h = size
    x, y = np.arange(w, dtype=np.uint32)[None, :], np.arange(h, dtype=np.uint32)[:, None]
    pixels = np.stack(np.broadcast_arrays(x * 255 // w, y * 255 // h, (x + y + seed * 37) % 256), -1)
    out = io.BytesIO()
    Image.fromarray(pixels.astype("uint8")).save(out, "JPEG", quality=85)
    return out.getvalue()


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def _proc(pid: int, name: str) -> str:
    """/proc/PID/NAME, or '' once the process is gone."""
    try:
        return Path(f"/proc/{pid}/{name}").read_text(errors="replace")
    except OSError:
        return ""


def _stat(pid: int) -> list[str]:
    """State, parent and process group of pid ([] once it is gone)."""
    return _proc(pid, "stat").rsplit(")", 1)[-1].split()[:3]


def _children(pid: int) -> list[int]:
    """Live child processes started by any thread of pid (the supervisor restarts workers from its own thread)."""
    tasks = Path(f"/proc/{pid}/task").glob("*")
    found = [int(c) for task in tasks for c in _proc(pid, f"task/{task.name}/children").split()]
    return [c for c in found if _stat(c)[:1] not in (["Z"], [])]


class Gateway:
    """`gateway run` as a school runs it, and the workers its supervisor keeps going."""

    def __init__(self, env: dict, log_path: Path):
        self.log_path, self.base = log_path, f"http://127.0.0.1:{env['PORT']}"
        with open(log_path, "ab") as log:
            # cwd is the instance folder: a developer's .env in the repository must not redirect this run
            self.process = subprocess.Popen([sys.executable, "-m", "gateway", "run"], env=env, cwd=env["INSTANCE_DIR"],
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def workers(self) -> dict[str, int]:
        """Live workers by role ('general' or 'takedowns'), started by the supervisor."""
        found = {}
        for pid in _children(self.process.pid):
            if "worker" in (argv := _proc(pid, "cmdline").split("\0")):
                chosen = argv[argv.index("--queues") + 1] if "--queues" in argv else ""
                found["takedowns" if chosen == queues.TAKEDOWNS else "general"] = pid
        return found

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"gateway run exited with status {self.process.returncode}; see {self.log_path}")

    def _ready(self) -> bool:
        self.check_alive()
        with suppress(requests.RequestException):
            return requests.get(self.base + "/login", timeout=5).ok and len(self.workers()) == 2
        return False

    def wait_ready(self, timeout: float = 180) -> None:
        if not until(self._ready, timeout, 0.2):
            raise RuntimeError(f"gateway run was not serving with two workers after {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it; SIGKILL to its process group if it hangs."""
        self.process.terminate()
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=60)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class Services:
    """The run's settings (as environment variables), its database and its Redis database, emptied, with Redis
    behind a proxy the run can cut; `direct` reaches the run's Redis database without the proxy."""

    def __init__(self, args, instance: Path):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(INSTANCE_DIR=str(instance), HOST="127.0.0.1", PORT=str(free_port()), RECONCILE_SECONDS="5",
                   CHECK_TIMEOUT="60", PUBLISH_TIMEOUT="30", PUBLISH_LOOKUP_DELAY="5", LOG_LEVEL="INFO",
                   DATABASE_URL=args.database_url or f"sqlite:///{instance / 'gateway.db'}")
        if args.database_url:
            _fresh_postgres(args.database_url)
        self.env, self.archive, self.server = env, instance / "archive", None
        self.queue_dir = settings_module.load(env).queue_dir  # loading creates the instance folders
        if args.redis_url:
            parts = urlsplit(args.redis_url)
            if (database := int(parts.path.strip("/") or 0)) == 0:
                raise SystemExit("chaos: refusing Redis db 0 (shared with other engineers); give e.g. /3")
            upstream, self.direct = (parts.hostname, parts.port or 6379), redis.Redis.from_url(args.redis_url)
        else:
            self.server, database = embedded.ensure_running(self.queue_dir), 0
            upstream = str(embedded.socket_path(self.queue_dir))
            self.direct = redis.Redis.from_url(embedded.url(self.queue_dir))
        self.direct.flushdb()
        self.proxy = TcpProxy(upstream)
        self.proxy.start()
        env["REDIS_URL"] = f"{self.proxy.url}/{database}"

    def close(self) -> None:
        self.proxy.stop()
        if self.server is not None:
            embedded.shut_down(self.queue_dir)
            self.server.wait(timeout=30)

    def read(self, fn):
        with session_for(self.env["DATABASE_URL"]) as session:
            return fn(session)

    def counts(self, column, where) -> Counter:
        query = select(column, func.count()).where(where).group_by(column)
        return Counter(dict(self.read(lambda s: s.execute(query).all())))

    def command(self, *args: str) -> str:
        """`gateway ARGS`: its last line of output and exit status."""
        result = subprocess.run([sys.executable, "-m", "gateway", *args], env=self.env, cwd=self.env["INSTANCE_DIR"],
                                capture_output=True, text=True, timeout=300, check=False)
        lines = (result.stdout.strip() or result.stderr.strip()).splitlines() or ["(no output)"]
        return f"{lines[-1]} (exit {result.returncode})"


def _fresh_postgres(url: str) -> None:
    """Create the run's database if missing and empty it; refuses the databases other engineers use."""
    name = make_url(url).database
    if name in SHARED_DATABASES:
        raise SystemExit(f"chaos: refusing to reset the shared database {name!r}; give one of your own")
    admin = engine_for(str(make_url(url).set(database="postgres"))).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    with engine_for(url).begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))


class Faults:
    def __init__(self, gateway: Gateway, svc: Services, log: Timeline):
        self.gateway, self.svc, self.log = gateway, svc, log
        self.hit: set[str] = set()  # jobs already killed: each fault waits for a job of its own
        self.orphans: list[int] = []  # what a killed worker had started besides the horse killed with it
        self.reconcilers: list[threading.Thread] = []

    def registered(self, pid: int) -> Worker | None:
        with suppress(redis.RedisError):
            return next((w for w in Worker.all(connection=self.svc.direct) if w.pid == pid), None)
        return None

    def _target(self, role: str, kind: str | None, need_horse: bool):
        """(worker, horse, job) once it runs a job of `kind` not hit before, per rq (per the queue if rq lost it)."""
        worker = self.gateway.workers().get(role)
        # the work horse made itself a process group leader; rq's scheduler, the worker's other child, did not
        horse = worker and next((c for c in _children(worker) if _stat(c)[2:3] == [str(c)]), None)
        if worker is None or (need_horse and horse is None):
            return None
        if kind is None:
            return worker, horse, "whatever it was doing"
        with suppress(redis.RedisError):
            rq_worker = self.registered(worker)
            jobs = ([rq_worker.get_current_job_id()] if rq_worker else
                    StartedJobRegistry(QUEUE_OF[kind], connection=self.svc.direct).get_job_ids())
            job = next((j for j in jobs if j and j.startswith(kind) and j not in self.hit), None)
            return (worker, horse, job) if job else None
        return None

    def kill(self, role: str, kind: str | None = None, horse: bool = True, worker: bool = False,
             timeout: float = 60) -> None:
        """SIGKILL the role's work horse and/or worker once it runs a job of `kind` (any, if None)."""
        found = until(lambda: self._target(role, kind, horse), timeout)
        what = " and ".join(n for n, on in (("worker", worker), ("work horse", horse)) if on)
        if not found:
            return self.log(f"SKIPPED kill -9 of the {role} {what}: no {kind} job of its own seen in {timeout:.0f} s")
        worker_pid, horse_pid, job = found
        self.hit.add(job)
        pids = ([worker_pid] if worker else []) + ([horse_pid] if horse else [])
        self.orphans += [c for c in _children(worker_pid) if c not in pids] if worker else []
        for pid in pids:
            with suppress(ProcessLookupError):  # it may have ended on its own meanwhile
                os.kill(pid, signal.SIGKILL)
        self.log(f"kill -9 {role} {what} (pid {', '.join(map(str, pids))}) while it ran {job}")
        if worker:  # wait until its successor takes jobs, so the next fault finds it registered
            new = until(lambda: (pid := self.gateway.workers().get(role, worker_pid)) != worker_pid
                        and self.registered(pid) and pid, 180, 0.2)
            self.log(f"  the supervisor's new {role} worker, pid {new}, takes jobs" if new
                     else f"  NO new {role} worker taking jobs within 180 s")

    def flushdb(self) -> None:
        self.svc.direct.flushdb()
        self.log("FLUSHDB of the run's Redis database")

    def two_reconcilers(self) -> None:
        self.log("two `gateway reconcile` started together")
        for n in (1, 2):
            self.reconcilers.append(threading.Thread(target=self._reconcile, args=(n,)))
            self.reconcilers[-1].start()

    def _reconcile(self, n: int) -> None:
        self.log(f"  reconciler {n}: {self.svc.command('reconcile')}")

    def outage(self, now: str) -> None:
        self.svc.proxy.stop()
        self.log(f"Redis cut off (proxy stopped, every connection reset) for {OUTAGE_SECONDS} s; {now}")
        time.sleep(OUTAGE_SECONDS)  # the length of the outage itself, not a wait for work
        self.svc.proxy.start()
        self.log("Redis reachable again (proxy listening on the same port)")


def checks_and_publishing(faults: Faults, svc: Services) -> None:
    """The faults while posts are checked and published (in a thread beside submissions and approvals)."""
    faults.kill("general", "check")
    faults.kill("general", "check", horse=False, worker=True)  # its horse, orphaned, finishes the check
    faults.kill("general", "check", worker=True)
    faults.flushdb()
    faults.two_reconcilers()
    faults.kill("takedowns", horse=False, worker=True)
    until(lambda: svc.counts(Post.state, Post.state == "published")["published"] >= 3, 120, 0.2)
    faults.outage(f"posts by state: {dict(svc.counts(Post.state, Post.id > 0))}")
    faults.kill("general", "publish", timeout=90)
    faults.kill("general", "publish", horse=False, worker=True, timeout=90)


def submit_posts(teacher: Web, n: int, log: Timeline) -> dict[int, int]:
    """Submit n posts, a third with one or two photos; returns {post number: post id}."""
    ids = {}
    for number in range(1, n + 1):
        response = until(partial(_submit, teacher, number), 30, 1)  # again while the web app cannot answer
        if response is not None and response.status_code == 302:
            ids[number] = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
        else:
            log(f"submitting post {number} failed: {response and response.status_code}")
    log(f"{len(ids)} posts submitted ({sum(1 for k in ids if k % 3 == 0)} with photos)")
    return ids


def _submit(teacher: Web, number: int) -> requests.Response | None:
    photos = range(1, (2 + number // 3 % 2) if number % 3 == 0 else 1)  # 2, 1, 2, ... photos on every third
    files = {f"photo_{k}": (f"field-{number}-{k}.jpg", photo(number * 10 + k), "image/jpeg") for k in photos}
    data = {"text": f"Chaos post {number}: sports day, with races and a picnic.", "account_id": "1",
            "action": "submit", **{f"alt_new_{k}": f"A sunny field, picture {k}" for k in photos}}
    return teacher.post("/posts/new", data, files)


class Senior:
    """What the senior leader does on each look at the queue: approve every post waiting for review and, once the
    takedowns have begun, take down every post published since (its work was held up by the faults)."""

    def __init__(self, web: Web, svc: Services, log: Timeline):
        self.web, self.svc, self.log, self.refused, self.taking_down = web, svc, log, set(), False

    def __call__(self) -> None:
        late = select(Post.id).where(Post.state == "published", Post.id.not_in(select(Takedown.post_id)))
        for post_id in self.svc.read(lambda s: list(s.scalars(late))) if self.taking_down else []:
            self.log(f"post {post_id} was published after the takedowns began; taking it down too")
            self.take_down(post_id)
        waiting = self.svc.read(lambda s: set(s.scalars(select(Post.id).where(Post.state == "awaiting_review"))))
        for post_id in waiting - self.refused:
            response = self.web.post(f"/review/{post_id}/approve", {})
            if response is not None and response.status_code != 302:
                self.refused.add(post_id)
                self.log(f"approving post {post_id} refused (HTTP {response.status_code}); see its review page")

    def take_down(self, post_id: int) -> None:
        response = self.web.post(f"/review/{post_id}/take-down", {"reason": "Chaos run."})
        if response is None or response.status_code != 302:
            self.log(f"takedown of post {post_id} not accepted: {response and response.status_code}")


def wait_for(state: str, svc: Services, gateway: Gateway, ids, deadline: float, log: Timeline, smt: Senior) -> None:
    """Poll until every post is in `state` (the senior leader looking at the queue each time), or the deadline."""
    shown = time.monotonic()
    while (now := svc.counts(Post.state, Post.id.in_(ids)))[state] < len(ids) and time.monotonic() < deadline:
        gateway.check_alive()
        smt()
        if time.monotonic() - shown > 20:
            shown = time.monotonic()
            log(f"  posts by state: {dict(sorted(now.items()))}")
        time.sleep(0.5)
    log(f"all {len(ids)} posts {state}" if now[state] == len(ids) else f"GAVE UP waiting: {dict(sorted(now.items()))}")


def archive_folders(archive: Path) -> Counter:
    """Published copies in the archive, by post number (from the text each one carries)."""
    found = [MARKER.search(record.read_text()) for record in archive.glob("*/posts/*/post.json")]
    return Counter(int(match.group(1)) if match else -1 for match in found)


def take_everything_down(smt: Senior, faults: Faults, svc: Services, ids: dict[int, int]) -> list[int]:
    """SMT takes down every published post, with faults between the requests; returns the post ids."""
    smt.taking_down = True
    published = svc.read(lambda s: list(s.scalars(select(Post.id).where(
        Post.id.in_(ids.values()), Post.state == "published").order_by(Post.id))))
    between = {10: lambda: faults.kill("takedowns", "takedown", timeout=20),
               20: lambda: faults.kill("takedowns", horse=False, worker=True),
               30: faults.flushdb, 40: faults.two_reconcilers,
               50: lambda: faults.kill("general", horse=False, worker=True)}
    for n, post_id in enumerate(published):
        between.get(n, lambda: None)()
        smt.take_down(post_id)
    faults.log(f"takedowns requested for {len(published)} published posts")
    return published


def workers_dead(gateway: Gateway, faults: Faults) -> tuple[int, str]:
    """Workers the supervisor should have running but has not, and queues no registered live worker takes."""
    live = gateway.workers()
    registered = {pid: w.queue_names() for pid in live.values() if (w := faults.registered(pid))}
    missing = [f"no {role} worker process" for role in ("general", "takedowns") if role not in live]
    missing += [f"no registered live worker takes {q}" for q in queues.ALL
                if not any(q in names for names in registered.values())]
    detail = ", ".join(f"{role} pid {pid} ({','.join(registered.get(pid, ['NOT registered in rq']))})"
                       for role, pid in sorted(live.items()))
    return len(missing), detail + "".join(f"; {m}" for m in missing)


def verdict(svc: Services, gateway: Gateway, faults: Faults, ids: dict[int, int], snapshot: Counter,
            published: list[int]) -> dict:
    """The counts that must all be 0, with what lies behind each."""
    states = dict(svc.read(lambda s: s.execute(select(Post.id, Post.state).where(Post.id.in_(ids.values()))).all()))
    entries = svc.counts(AuditEntry.subject, AuditEntry.action == "published")
    takedowns = dict(svc.read(lambda s: s.execute(select(Takedown.post_id, Takedown.state)).all()))
    live_now, number_of = archive_folders(svc.archive), {post_id: number for number, post_id in ids.items()}
    lost = sorted({pid for pid, state in states.items() if state not in ("published", "taken_down")}
                  | {pid for pid in published if snapshot[number_of[pid]] == 0})
    doubled = sorted(pid for pid in ids.values() if snapshot[number_of[pid]] > 1 or entries[f"post:{pid}"] > 1)
    still_live = sorted(pid for pid in ids.values() if live_now[number_of[pid]]  # everything was to come down
                        or (pid in takedowns and (takedowns[pid] != "done" or states[pid] != "taken_down")))
    dead, detail = workers_dead(gateway, faults)
    return {"posts lost": (len(lost), f"not published, or recorded published but not in the archive: {lost}"),
            "posts doubled": (len(doubled), f"more than one archive copy or 'published' entry: {doubled}"),
            "taken-down posts still live": (len(still_live), f"in the archive or takedown not done: {still_live}"),
            "workers left dead": (dead, detail)}


def scenario(args, svc: Services, gateway: Gateway, passwords: dict, log: Timeline) -> dict:
    """Everything the run does, from a started `gateway run` to the counts."""
    deadline = time.monotonic() + args.timeout
    gateway.wait_ready()
    log(f"gateway run serving on {gateway.base}; its workers: {gateway.workers()}")
    teacher = Web(gateway.base).login("teacher@demo.school", passwords["teacher@demo.school"])
    smt = Senior(Web(gateway.base).login("smt@demo.school", passwords["smt@demo.school"]), svc, log)
    faults = Faults(gateway, svc, log)
    (chaos := threading.Thread(target=checks_and_publishing, args=(faults, svc), daemon=True)).start()
    ids = submit_posts(teacher, args.posts, log)
    wait_for("published", svc, gateway, list(ids.values()), time.monotonic() + 0.6 * args.timeout, log, smt)
    chaos.join(timeout=max(1.0, deadline - time.monotonic()))
    snapshot = archive_folders(svc.archive)
    log(f"archive before the takedowns: {sum(snapshot.values())} copies of {len(snapshot)} posts")
    published = take_everything_down(smt, faults, svc, ids)
    wait_for("taken_down", svc, gateway, list(ids.values()), deadline, log, smt)
    for thread in faults.reconcilers:
        thread.join(timeout=max(1.0, deadline - time.monotonic()))
    until(lambda: workers_dead(gateway, faults)[0] == 0, max(1.0, min(60, deadline - time.monotonic())), 0.5)
    log(f"a last `gateway reconcile`: {svc.command('reconcile')}")
    log(f"`gateway audit verify`: {svc.command('audit', 'verify')}")
    result = verdict(svc, gateway, faults, ids, snapshot, published)
    left = [pid for pid in faults.orphans if "worker" in _proc(pid, "cmdline")]
    for pid in left:  # ours to end: descendants of the gateway run this script started
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return {**result, "besides: processes killed workers left running": (len(left), f"pids {left}, now killed")}


def run(args) -> int:
    log, instance, status, svc = Timeline(), Path(tempfile.mkdtemp(prefix="chaos-")), 1, None
    try:
        svc = Services(args, instance)
        upgrade(svc.env["DATABASE_URL"])
        with session_for(svc.env["DATABASE_URL"]) as session:
            passwords = {email: password for email, _role, password in seed_if_empty(session, settings_module.load(svc.env))}
        log(f"instance {instance}; {svc.env['DATABASE_URL']}; Redis through the proxy at {svc.env['REDIS_URL']}")
        gateway = Gateway(svc.env, instance.with_name(instance.name + "-gateway.log"))  # kept after the run
        try:
            result = scenario(args, svc, gateway, passwords, log)
            print()
            for name, (count, detail) in result.items():
                print(f"{name}: {count}" + (f"  ({detail})" if count or name == "workers left dead" else ""))
            status = int(any(count for name, (count, _) in result.items() if not name.startswith("besides")))
        except RuntimeError as exc:  # the gateway did not start, or stopped: nothing left to measure
            log(f"FAILED: {exc}")
        finally:
            gateway.stop()
            log(f"gateway run stopped (exit status {gateway.process.returncode}); its log: {gateway.log_path}")
    finally:
        if svc is not None:
            svc.close()
        if status == 0:
            shutil.rmtree(instance, ignore_errors=True)
        else:
            print(f"the instance folder is kept for a look: {instance}")
    return status


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE, help="empty: SQLite in the instance folder")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="empty: the embedded Valkey server")
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument("--timeout", type=float, default=480, help="seconds before the run stops waiting")
    sys.exit(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
