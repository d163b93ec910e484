"""Signing in with a second factor in a real browser: a new senior leader's set-up link by e-mail (a real SMTP
server), enrolment with an authenticator app's code, a log-in with a code, one with a recovery code, and the
head's reset after a lost phone."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.client import totp_code
from tests.live import log_in, log_out

pytestmark = pytest.mark.browser
NIA, PASSWORD = "nia@demo.school", "violet kettle harbour drum"


def _mailed_link(smtp, to: str, timeout: float = 60) -> str:
    """The set-up link's path (the e-mail names PUBLIC_URL, which the test's server does not listen on)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in smtp.messages:
            if mail["To"] == to:
                return re.search(r"http://[^/\s]+(/account/setup/\S+)", mail.get_content()).group(1)
        time.sleep(0.5)
    raise AssertionError(f"no set-up e-mail reached {to} within {timeout} s")


def _password_step(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", NIA)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def _enrol(page) -> tuple[str, list[str]]:
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    secret = page.locator("#secret").inner_text()
    page.get_by_label("The six digits the app now shows").fill("000000")
    page.get_by_role("button", name="Turn it on").click()
    expect(page.get_by_role("alert")).to_contain_text("that code is not right")
    page.get_by_label("The six digits the app now shows").fill(totp_code(secret))
    page.get_by_role("button", name="Turn it on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page.get_by_role("button", name=re.compile(r"^Log out Nia"))).to_be_visible()
    return secret, codes


def test_a_senior_leader_enrols_logs_in_with_a_code_and_a_recovery_code_and_is_reset(
        smtp, browser_page, live_server):
    page, live = browser_page, live_server
    log_in(page, live, "head")
    page.get_by_role("link", name="Admin").click()
    page.get_by_label("Name", exact=True).fill("Nia Senior")
    page.get_by_label("E-mail", exact=True).fill(NIA)
    page.get_by_label("Role", exact=True).select_option("smt")
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"was e-mailed to {NIA}")
    log_out(page)

    page.goto(live.url + _mailed_link(smtp, NIA))
    expect(page.get_by_role("heading", name="Welcome, Nia Senior")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password again").fill(PASSWORD)
    page.get_by_role("button", name="Save my password").click()
    expect(page.locator(".flash.ok")).to_contain_text("Your password is saved")

    _password_step(page, live.url)
    secret, codes = _enrol(page)
    log_out(page)

    _password_step(page, live.url)
    page.get_by_label("The six digits your authenticator app shows for this gateway").fill(totp_code(secret))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()  # a senior leader lands on the queue
    log_out(page)

    _password_step(page, live.url)
    page.get_by_label("The six digits your authenticator app shows for this gateway").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()  # a senior leader lands on the queue
    log_out(page)

    log_in(page, live, "head")
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("button", name="Reset second factor (lost phone) of Nia Senior").click()
    expect(page.locator(".flash.ok")).to_contain_text("second factor is reset")
    log_out(page)
    _password_step(page, live.url)
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
