"""An anonymous flood of wrong passwords must not stall anyone else: 16 threads for 10 seconds against the real
app over HTTP, with the production password hashing (a third of a second per hash), while a senior leader reads
the review queue and the worker's maintenance round runs."""
from __future__ import annotations

import re
import threading
import time

import requests

from gateway.core import settings as settings_module
from tests.client import SECRETS, totp_code
from tests.live import _served
from workers import reconcile

FLOOD_THREADS, FLOOD_SECONDS = 16, 10
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _form_token(http: requests.Session, url: str) -> str:
    return TOKEN.search(http.get(url, timeout=60).text).group(1)


def _log_in(base: str, email: str, password: str) -> requests.Session:
    http = requests.Session()
    token = _form_token(http, f"{base}/login")
    step = http.post(f"{base}/login", data={"csrf_token": token, "email": email, "password": password}, timeout=60)
    if "/login/code" in step.url:
        http.post(f"{base}/login/code", data={"csrf_token": _form_token(http, f"{base}/login/code"),
                                              "code": totp_code(SECRETS[email])}, timeout=60)
    assert http.get(f"{base}/review", allow_redirects=False, timeout=60).status_code == 200
    return http


def _flood(base: str, n: int, until: float, statuses: list[int]) -> None:
    http = requests.Session()
    token = _form_token(http, f"{base}/login")
    tries = 0
    while time.monotonic() < until:
        tries += 1
        response = http.post(f"{base}/login", timeout=60, allow_redirects=False, data={
            "csrf_token": token, "email": f"guess{n}-{tries}@demo.school", "password": "Winter2026!"})
        statuses.append(response.status_code)


def test_a_login_flood_leaves_other_users_and_the_worker_unaffected(env, school):
    hashing = settings_module.load({**env, "PASSWORD_HASHING": "rfc9106"})
    with _served(hashing) as base:
        smt = _log_in(base, "smt@demo.school", school["smt"])
        until = time.monotonic() + FLOOD_SECONDS
        flood: list[int] = []
        threads = [threading.Thread(target=_flood, args=(base, n, until, flood)) for n in range(FLOOD_THREADS)]
        maintenance: list = []
        threads.append(threading.Thread(target=lambda: maintenance.append(reconcile.reconcile(hashing))))
        for thread in threads:
            thread.start()
        pages: list[tuple[float, int]] = []
        while time.monotonic() < until:
            started = time.monotonic()
            status = smt.get(f"{base}/review", allow_redirects=False, timeout=60).status_code
            pages.append((time.monotonic() - started, status))
            time.sleep(0.05)
        for thread in threads:
            thread.join(timeout=120)

    times = sorted(seconds for seconds, _status in pages)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"review page under the flood: {len(times)} loads, median {times[len(times) // 2]:.3f} s, "
          f"p95 {p95:.3f} s; flood: {len(flood)} attempts, {flood.count(429)} throttled")
    assert {status for _seconds, status in pages} == {200}
    assert set(flood) <= {401, 429, 503} and 429 in flood, sorted(set(flood))
    assert p95 <= 1.0
    assert len(maintenance) == 1, "the maintenance round did not finish"


def test_behind_a_proxy_each_client_address_is_throttled_on_its_own(env, school):
    """With PROXIES=1 the address a proxy forwards is the one counted, under the real web server."""
    with _served(settings_module.load({**env, "PROXIES": "1"})) as base:
        http = requests.Session()
        token = _form_token(http, f"{base}/login")

        def attempt(address: str, n: int) -> int:
            return http.post(f"{base}/login", data={"csrf_token": token, "email": f"x{n}@demo.school", "password": "no"},
                             headers={"X-Forwarded-For": address}, allow_redirects=False, timeout=60).status_code

        assert [attempt("203.0.113.7", n) for n in range(21)][-2:] == [401, 429]
        assert attempt("198.51.100.9", 21) == 401
