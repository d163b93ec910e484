"""Fixtures for browser tests: the real app served by waitress, a real worker process, and headless Chromium.

conftest.py loads this module as a plugin (pytest_plugins), so its fixtures exist once per session.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect
from waitress import create_server
from gateway.cli.ops import waitress_options
from gateway.web.app import create_app
from tests.client import SECRETS, totp_code
from waitress import wasyncore
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
EMAILS = {
    "head": "head@demo.school",
    "smt": "smt@demo.school",
    "teacher": "teacher@demo.school",
    "consent_officer": "office@demo.school",
}


@dataclass
class LiveServer:
    url: str
    passwords: dict
    settings: object
    worker: subprocess.Popen | None  # None: the test runs the jobs itself
    worker_log: Path | None

    def worker_output(self, last: int = 4000) -> str:
        if self.worker_log is None:
            return "(no worker: the test runs the jobs itself)"
        try:
            return self.worker_log.read_text(errors="replace")[-last:]
        except OSError:
            return "(no worker log)"

    def assert_worker_alive(self) -> None:
        code = self.worker.poll() if self.worker is not None else None
        assert code is None, f"the worker exited with code {code}; its log ends:\n{self.worker_output()}"


@contextmanager
def _served(settings):
    """The app on a free port (waitress, in a thread): its address."""
    options = {**waitress_options(settings), "threads": 4}
    server = create_server(create_app(settings), host="127.0.0.1", port=0, **options)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        _stop(server, thread)


@pytest.fixture
def live_server(env, settings, school, tmp_path):
    """The app on a free port (waitress, in a thread) and `gateway worker` as a child process."""
    log_path = tmp_path / "worker.log"
    with _served(settings) as url, open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker"],
            env=os.environ.copy(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        try:
            yield LiveServer(url=url, passwords=school, settings=settings, worker=worker, worker_log=log_path)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)


@pytest.fixture
def live_app(env, settings, school):
    """The app alone, for tests that run the jobs themselves in this process (work_here), where the networks'
    emulators are."""
    with _served(settings) as url:
        yield LiveServer(url=url, passwords=school, settings=settings, worker=None, worker_log=None)


def _stop(server, thread) -> None:
    """Close the server and every connection still open (the browser may keep some alive).

    The closing runs in the server's own loop thread, through its trigger, so nothing is closed under a
    select() in progress; close_all() calls server.close() and empties the map, which ends server.run().
    """

    try:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map, ignore_all=True))
    except OSError:  # the trigger is already closed: the loop has ended (seen once, under load)
        pass
    thread.join(timeout=5)
    if thread.is_alive():
        server.close()
    server.task_dispatcher.shutdown()


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium (Debian's) for the whole session; every test gets its own context."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(SCREENS))
def screen(request, chromium):
    """A fresh page the size of a desktop's screen, then of a phone's (390 px)."""
    context = chromium.new_context(viewport=SCREENS[request.param], accept_downloads=True)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def browser_page(chromium):
    """A fresh page in a fresh browser context (own cookies and storage)."""
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(page, live: LiveServer, role: str) -> None:
    """Log in through the form as the demo user with that role; lands on their work (gateway.web.util.landing)."""
    page.goto(f"{live.url}/login")
    page.fill("#email", EMAILS[role])
    page.fill("#password", live.passwords[role])
    page.get_by_role("button", name="Log in", exact=True).click()
    if EMAILS[role] in SECRETS:
        expect(page.get_by_label("The six digits your authenticator app shows for this gateway")).to_be_visible()
        page.fill("#code", totp_code(SECRETS[EMAILS[role]]))
        page.get_by_role("button", name="Continue", exact=True).click()
    expect(_log_out_button(page)).to_be_visible()


def _log_out_button(page):
    return page.get_by_role("navigation", name="Main").get_by_role("button", name=re.compile(r"^Log out "))


def log_out(page) -> None:
    _log_out_button(page).click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def reload_until(page, locator, live: LiveServer | None = None, timeout: float = 30, what: str = "") -> None:
    """Reload the page until `locator` is visible (the worker changes things behind the page's back)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(locator).to_be_visible(timeout=1000)
            return
        except AssertionError:
            if live is not None:
                live.assert_worker_alive()
            if time.monotonic() > deadline:
                detail = f"\nworker log ends:\n{live.worker_output()}" if live is not None else ""
                raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what or locator} "
                                     f"on {page.url}{detail}") from None
            page.reload()


def assert_no_sideways_scroll(page, what: str = "the page") -> None:
    """The page, as the user sees it once its stylesheet has loaded, fits the window's width.

    A browser paints nothing before the stylesheet arrives, but the DOM can be complete (and a heading found) before
    it does: on a busy machine measuring then would measure the unstyled page."""
    page.wait_for_load_state("load")
    width, client = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width <= client + 1, f"{what} scrolls sideways: scrollWidth {width} > clientWidth {client}"


WAITING = "Waiting for senior leader review"


def open_for_review(page, live, text: str) -> None:
    """As SMT: Review, wait for the worker to finish the checks, open the post."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    card = page.locator("li.card").filter(has_text=text).filter(has_text=WAITING)
    reload_until(page, card, live, timeout=30, what=f"{text!r} waiting for review")
    card.get_by_role("link", name=text).click()
    expect(page.get_by_role("heading", name=re.compile(r"^Review post \d+"))).to_contain_text(WAITING)
    expect(page.locator("p.text")).to_have_text(text)
