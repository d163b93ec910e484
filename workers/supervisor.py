"""Keeps the background processes of `gateway run` going: any that exits is started again, with backoff.

Whatever its exit status: rq ends a worker with status 0 on errors it does not expect, so a clean exit is no
sign that it meant to stop. Each unit's state is published in Redis for the health page.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time

from workers import embedded

log = logging.getLogger(__name__)
STATUS_KEY = "gateway:supervisor:"
FIRST_DELAY, MAX_DELAY, STEADY = 1.0, 60.0, 60.0  # seconds; the backoff starts afresh after STEADY s of running


class Process:
    """A child process, started again whenever it exits."""

    def __init__(self, name: str, argv: list[str]):
        self.name, self.argv = name, argv
        self.child: subprocess.Popen | None = None

    def start(self) -> None:
        self.child = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)

    def ended(self) -> str | None:
        """Why it is not running, or None while it runs."""
        if self.child is None:
            return "not started"
        code = self.child.poll()
        if code is None:
            return None
        return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"

    def stop(self, timeout: float) -> None:
        if self.child is None or self.child.poll() is not None:
            return
        self.child.terminate()
        try:
            self.child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", self.name, timeout)
            self.child.kill()
            self.child.wait(timeout=10)

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child and self.child.poll() is None else None


class EmbeddedQueue:
    """The embedded Valkey server; a worker may also have started it again, so it is judged by answering."""

    name = "embedded queue"

    def __init__(self, queue_dir):
        self.queue_dir = queue_dir
        self.pid = None
        self.ours = False  # only a server we started is stopped with us

    def start(self) -> None:
        self.ours = embedded.ensure_running(self.queue_dir) is not None or self.ours

    def ended(self) -> str | None:
        return None if embedded.answering(self.queue_dir) else "stopped answering"

    def stop(self, timeout: float) -> None:
        if self.ours:
            embedded.shut_down(self.queue_dir)


class Supervisor:
    def __init__(self, units, status_conn=None):
        self.units = units
        self.status_conn = status_conn  # a function giving a Redis connection, for the health page
        self._conn = None
        self.restarts = {u.name: 0 for u in units}
        self._failures = {u.name: 0 for u in units}
        self.last_exit: dict[str, str] = {}
        self._started = {u.name: 0.0 for u in units}
        self._due: dict[str, float] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for unit in self.units:
            self._start(unit)
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def _start(self, unit) -> None:
        try:
            unit.start()
            self._started[unit.name] = time.monotonic()
        except Exception as exc:  # e.g. the embedded queue would not start: try again after the backoff
            log.error("could not start %s: %s", unit.name, exc)
            self._schedule(unit, f"could not start: {exc}")

    def _schedule(self, unit, why: str) -> None:
        if time.monotonic() - self._started[unit.name] > STEADY:
            self._failures[unit.name] = 0
        self._failures[unit.name] += 1
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (self._failures[unit.name] - 1))
        self.restarts[unit.name] += 1
        self.last_exit[unit.name] = why
        self._due[unit.name] = time.monotonic() + delay
        log.warning("%s %s; starting it again in %.0f s", unit.name, why, delay)

    def check(self) -> None:
        """Start again whatever has ended (once its backoff has passed); publish the state."""
        now = time.monotonic()
        for unit in self.units:
            if unit.name in self._due:
                if now >= self._due[unit.name] and not self._stopping.is_set():
                    del self._due[unit.name]
                    self._start(unit)
                continue
            why = unit.ended()
            if why is not None and not self._stopping.is_set():
                self._schedule(unit, why)
        self._publish()

    def status(self) -> dict:
        return {u.name: {"running": u.name not in self._due and u.ended() is None, "pid": u.pid,
                         "restarts": self.restarts[u.name], "last_exit": self.last_exit.get(u.name)}
                for u in self.units}

    def _publish(self) -> None:
        if self.status_conn is None:
            return
        try:
            self._conn = self._conn or self.status_conn()
            key = f"{STATUS_KEY}{socket.gethostname()}:{os.getpid()}"
            self._conn.set(key, json.dumps(self.status()), ex=30)
        except Exception as exc:  # the queue may be the unit that is down; the health page says so itself
            self._conn = None
            log.debug("supervisor status not published: %s", exc)

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            try:
                self.check()
            except Exception:  # the watcher must never die: it is what restarts everything else
                log.exception("supervisor round failed")

    def stop(self, timeout: float = 30) -> None:
        """Stop the units in reverse order (workers before the queue they use)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for unit in reversed(self.units):
            try:
                unit.stop(timeout)
            except Exception as exc:
                log.warning("stopping %s: %s", unit.name, exc)
