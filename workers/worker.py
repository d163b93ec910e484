"""The worker process: rq's worker with its scheduler, riding out queue outages.

Its maintenance round deletes old import previews, then reconciles and purges under the reconcilers' lock. rq
itself quits on any error it does not expect (a lost connection while a job runs, a flushed lock), so `run` starts
a fresh rq worker once the queue answers again, and exits with a failure status only for other errors, so that a
supervisor restarts it.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import time

import redis
from rq import Worker
from rq.exceptions import StopRequested

from consent_registry.faces import FaceSettings
from gateway.services import held as held_photos, notices
from gateway.services.checking import prebuild_matcher
from workers import queues, reconcile
from workers.purge import purge_import_previews, purge_originals

log = logging.getLogger(__name__)
_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
QUEUE_ERRORS = queues.ERRORS
MAX_WAIT = 10.0  # seconds between tries while the queue is down
SCHEDULER_GRACE = 10.0  # seconds the scheduler process has to stop when asked


class QuickPubSub:
    """rq listens for its commands with a blocking read of 60 s, and its tidy-up waits for that read to end:
    a worker took up to a minute to stop, or to start afresh after an outage. A 1 s read ends at once."""

    def subscribe(self):
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler)


class SchedulerStops:
    """rq stops its scheduler process with SIGTERM and waits for it without end. A SIGTERM that arrives before that
    new process has set its own handlers goes to the handler it inherited, which only marks the worker copy to
    stop, so the wait never ended (seen under load). It is asked to stop, then ended after a grace period."""

    def stop_scheduler(self):
        process = self.scheduler._process
        if process and process.pid:
            process.terminate()
            process.join(SCHEDULER_GRACE)
            if process.is_alive():
                log.warning("the scheduler process did not stop when asked; ended")
                process.kill()
                process.join()


class GatewayWorker(SchedulerStops, QuickPubSub, Worker):
    settings = None
    max_connection_wait_time = MAX_WAIT  # rq's own retries while idle

    def run_maintenance_tasks(self):
        self._purge_left_behind()  # first: it needs no queue, so nothing the queue does can skip it
        super().run_maintenance_tasks()
        try:
            self._register_again_if_flushed()
            with reconcile.exclusive(self.connection) as held:
                log.info("reconciled: %s", reconcile.round_(self.settings, self.connection, held))
                if queues.CHECKS in self.queue_names():
                    prebuild_matcher(self.settings)
                purged = purge_originals(self.settings)
                if purged:
                    log.info("originals deleted for posts %s", purged)
                mailed = notices.send_due(self.settings)
                if mailed:
                    log.info("notices e-mailed: %s", mailed)
        except reconcile.Busy:
            return
        except StopRequested:
            raise  # a SIGTERM while idle: rq's own shutdown, not a failed round
        except QUEUE_ERRORS:
            raise  # run() waits for the queue and starts afresh
        except Exception:
            if self.stopping:  # a SIGTERM cut into a query: closing the session raised over rq's StopRequested
                raise StopRequested() from None
            log.exception("maintenance failed; will try again next round")

    def _purge_left_behind(self) -> None:
        """Unconfirmed import previews and photos held after a failed submission, an hour old. Every round, outside the
        reconcilers' lock: the hour must not stretch while another worker holds the lock or a reconcile round fails,
        and deleting a file twice is harmless, so no lock is needed."""
        try:
            previews, photos = purge_import_previews(self.settings), held_photos.purge(self.settings)
        except OSError:
            log.exception("old import previews or held photos could not be deleted; will try again next round")
            return
        if previews or photos:
            log.info("deleted: %s unconfirmed import previews, %s held photos", previews, photos)

    def _register_again_if_flushed(self) -> None:
        """After a FLUSHDB rq's heartbeat leaves a bare key: say again who we are, for the health page."""
        if not self.connection.hexists(self.key, "queues"):
            log.warning("the queue forgot this worker (flushed or restarted); registering it again")
            self.connection.delete(self.key)
            self.register_birth()

    def request_stop(self, signum, frame):
        self.stopping = True  # rq sets its own flag only when a job is running
        super().request_stop(signum, frame)


def _die_with_parent() -> None:
    """A worker's children (its scheduler, its work horse) end when it is killed: a horse left alone has
    nobody to enforce its job's timeout, and an orphaned scheduler keeps the scheduler's locks."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the parent was already gone
        os._exit(1)


class _Outage:
    """Says once that the queue is down and once that it is back, however many tries it takes."""

    def __init__(self):
        self.since: float | None = None

    def down(self, where: str, exc: Exception) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning("the queue (%s) is not answering (%s); waiting for it, trying every few seconds",
                        where, type(exc).__name__)

    def up(self, where: str) -> None:
        if self.since is not None:
            log.warning("the queue (%s) answers again after %.0f s; working again", where,
                        time.monotonic() - self.since)
            self.since = None


class _OncePerOutage(logging.Filter):
    """rq logs each of its own reconnection tries while idle; the first line of an outage is enough."""

    def __init__(self):
        super().__init__()
        self.last = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if "could not connect to Redis" not in str(record.msg):
            return True
        now, last = time.monotonic(), self.last
        self.last = now
        return now - last > 300


def wait_for_queue(settings, outage: _Outage) -> redis.Redis:
    """A connection that answers; waits (with backoff) for as long as the queue is down."""
    delay = 0.5
    while True:
        try:
            conn = queues.connection(settings)
            conn.ping()
            outage.up(queues.where(settings))
            return conn
        except (*QUEUE_ERRORS, RuntimeError) as exc:  # RuntimeError: the embedded queue could not start
            outage.down(queues.where(settings), exc)
            time.sleep(delay)
            delay = min(delay * 2, MAX_WAIT)


def run(settings, queue_names=queues.ALL, burst: bool = False) -> None:
    logging.getLogger("rq.worker").addFilter(_OncePerOutage())
    if queues.CHECKS in queue_names:
        preload_detector(settings)
    os.register_at_fork(after_in_child=_die_with_parent)
    outage = _Outage()
    while True:
        conn = wait_for_queue(settings, outage)
        worker = GatewayWorker(
            list(queue_names), connection=conn,
            maintenance_interval=settings.reconcile_seconds,
            # the idle wait for a job is worker_ttl - 15 s, so maintenance runs about every reconcile_seconds
            worker_ttl=settings.reconcile_seconds + 15,
        )
        worker.settings, worker.stopping = settings, False
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level=settings.log_level)
        except QUEUE_ERRORS as exc:  # raised by rq's own tidy-up once the connection is gone
            outage.down(queues.where(settings), exc)
        # rq's handlers belong to the worker that ended; while waiting, a stop signal simply stops us
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if worker.stopping:
            return
        if _answers(conn):
            if burst:
                return
            raise SystemExit("the worker stopped on an unexpected error (logged above); exiting to be restarted")
        outage.down(queues.where(settings), ConnectionError("connection lost"))


def preload_detector(settings) -> None:
    """What the face detector reads from disk, read once here rather than in every work horse rq forks for a check
    (a missing model is not an error yet: each check that needs it fails closed, saying why)."""
    try:
        FaceSettings.from_settings(settings).preload()
    except Exception:
        log.exception("the face detector could not be loaded; photos will be held until it can")


def _answers(conn: redis.Redis) -> bool:
    try:
        return bool(conn.ping())
    except QUEUE_ERRORS:
        return False
