"""Helpers shared by several test modules: forms, real worker processes, and waiting on states."""
from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import func, select

from gateway.cli import main
from gateway.models import Account
from gateway.platforms import PLATFORMS
from moderation.audit import AuditEntry
from tests.networks import HANDLE
from tests.shared_fixtures import fixture_path

ROOT = Path(__file__).resolve().parent.parent


# what the consent officer fills in when withdrawing a consent on the person's page
WITHDRAWAL = {"asked_by": "Mrs Parent", "how": "by letter"}

def submit(client, text="Sports day was great", **extra):
    """The teacher's "new post" form, submitted for checking to the demo archive account."""
    data = {"text": text, "account_id": "1", "action": "submit", **extra}
    return client.post("/posts/new", data, content_type="multipart/form-data")


def submit_photo(client, fixture: str, text: str = "Our visitor", alt: str = "Our visitor", **extra) -> int:
    """One fixture photo (sent as visit.jpg) with its description, submitted to the demo archive account: the post's id."""
    photo = {"photo_1": (io.BytesIO(fixture_path(fixture).read_bytes()), "visit.jpg"), "alt_new_1": alt}
    return post_id_of(submit(client, text, **photo, **extra))


def post_id_of(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def big_photo(seed: int, size: tuple[int, int] = (7000, 5000)) -> bytes:
    """A gradient JPEG, 35 MP by default: cleaning and searching two for faces keeps a worker busy a few seconds."""
    w, h = size
    # broadcast rows and columns straight into bytes: full int64 grids took 7 CPU-s for 35 MP, this 0.4 s
    x, y = np.arange(w, dtype=np.uint32)[None, :], np.arange(h, dtype=np.uint32)[:, None]
    pixels = np.empty((h, w, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = x * 255 // w, y * 255 // h, (x + y + seed) % 256
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=80)
    return out.getvalue()


def audit_count(read, action: str, post_id: int) -> int:
    return read(lambda s: s.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.subject == f"post:{post_id}")))


def start_gateway(log_path: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """`gateway ARGS` as a real process in a session of its own, its output going to log_path (with Python's fault
    handler on, so that exit_code() can show where a process that would not stop was stuck)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "gateway", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env={**(env or os.environ), "PYTHONFAULTHANDLER": "1"},
                                cwd=ROOT, start_new_session=True)


def exit_code(process: subprocess.Popen, log: Path, timeout: float) -> int:
    """The process's exit status once it ends; if it is still running after `timeout` s, fail with every thread's
    stack (SIGABRT makes the fault handler print them) and the end of its log."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGABRT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        kill_tree(process.pid)
    pytest.fail(f"still running {timeout:.0f} s after it was asked to stop; log ends:\n"
                f"{log.read_text(errors='replace')[-8000:]}")


def children(pid: int) -> list[int]:
    """Child processes of every thread of `pid` (Linux lists each thread's children apart)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:
            pass
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL a worker and the work horse it forked (rq puts the horse in a session of its own)."""
    for p in [pid, *children(pid)]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    """End a process politely, then not."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(process.pid)
            process.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str, log: Path | None = None):
    """Poll until predicate() is truthy; fail after `timeout` s (generous: CI machines are busy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    tail = f"\nlog ends:\n{log.read_text(errors='replace')[-3000:]}" if log and log.exists() else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{tail}")


def on_its_own(instance) -> dict:
    """For gateway(): a command on an instance folder of its own, with its own SQLite database and embedded queue,
    whatever DATABASE_URL and REDIS_URL the test run was given (tests on other workers share those)."""
    return {"INSTANCE_DIR": str(instance), "DATABASE_URL": None, "REDIS_URL": None}  # None: unset for the run


def gateway(*args, stdin=None, env=None):
    """Run the command in this process; env adds to (or overrides) the environment for the run only."""
    result = CliRunner().invoke(main, list(args), input=stdin, env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash: as a process it would have ended in a traceback
    return result


def add_network_account(head, read, name: str, credentials: dict) -> tuple[int, list[str]]:
    """The head's three steps on the admin page; the account's id and the pages shown."""
    pages = [head.post("/admin/accounts", {"platform": name, "handle": HANDLE,
                                           "url": f"https://{name}.example/{HANDLE}"}).get_data(as_text=True)]
    account_id = read(lambda s: s.scalar(select(Account.id).where(Account.platform == name)))
    head.post(f"/admin/accounts/{account_id}/confirm")
    if PLATFORMS[name].credential_fields:
        saved = head.post(f"/admin/accounts/{account_id}/credentials", credentials)
        assert saved.status_code == 302, saved.get_data(as_text=True)[-2000:]
    pages.append(head.get("/admin/").get_data(as_text=True))
    return account_id, pages
