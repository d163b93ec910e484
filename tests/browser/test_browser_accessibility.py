"""Every page, as each role sees it, on a 390 px phone (the busiest on a desktop too): axe-core (the npm package's file, which
`make test` installs) finds no serious or critical violation, and no two buttons on a page have the same name."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.client import totp_code
from tests.live import EMAILS, ROOT, SCREENS, log_in, log_out
from tests.shared_fixtures import fixture_path

pytestmark = pytest.mark.browser
AXE = Path(os.environ.get("AXE_CORE_JS", ROOT / ".venv/axe/node_modules/axe-core/axe.min.js"))
SERIOUS = """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
  .filter(v => v.impact === 'serious' || v.impact === 'critical')
  .map(v => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""
BOTH_SCREENS = ("/review/", "/posts/new", "/admin/", "/people/person", "/audit")
BUTTON_NAMES = """() => [...document.querySelectorAll('button, input[type=submit], [role=button]')]
  .filter(b => b.offsetParent !== null || b.closest('details'))
  .map(b => (b.getAttribute('aria-label') || b.textContent || b.value || '').replace(/\\s+/g, ' ').trim())"""


@pytest.fixture
def page(chromium):
    """A page that may load axe-core's file in spite of the gateway's Content-Security-Policy."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: `make test` installs it (npm install axe-core)")
    context = chromium.new_context(bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _problems(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(SERIOUS)
    names = page.evaluate(BUTTON_NAMES)
    found += [f"{names.count(n)} buttons named {n!r}" for n in sorted(set(names)) if names.count(n) > 1]
    return found


def _check_here(page, where: str, failures: dict) -> None:
    if problems := _problems(page):
        failures[where] = problems


def _check(page, live, paths: list[str], failures: dict) -> None:
    """Each path on a phone (where a page is narrowest), and the pages with the most on them on a desktop too; what is
    wrong is gathered, so one run names every page's problems."""
    for path in paths:
        for screen, size in SCREENS.items():
            if screen != "phone" and not path.startswith(BOTH_SCREENS):
                continue
            page.set_viewport_size(size)
            page.goto(live.url + path)
            _check_here(page, f"{path} ({screen})", failures)


def _submit(page, live, text: str, photo: str | None = None) -> str:
    """As the teacher: a new post; the path of its page."""
    page.goto(f"{live.url}/posts/new")
    page.fill("#text", text)
    if photo:
        page.set_input_files("#photo_1", str(fixture_path(photo)))
        page.fill("#alt_new_1", "Our visitor")
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator(".flash")).to_contain_text("Submitted")
    return page.url.split(live.url, 1)[1]


def _second_factor_pages(page, live, failures: dict) -> None:
    """The teacher sets up an authenticator app (its page, the recovery codes), then logs in with a code."""
    log_in(page, live, "teacher")
    page.goto(f"{live.url}/login/enrol")
    secret = page.locator("#secret").inner_text().replace(" ", "")
    page.fill("#code", totp_code(secret))
    page.get_by_role("button", name="Turn it on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    _check_here(page, "recovery codes", failures)
    log_out(page)
    page.goto(f"{live.url}/login")
    page.fill("#email", EMAILS["teacher"])
    page.fill("#password", live.passwords["teacher"])
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_label("The six digits your authenticator app shows for this gateway")).to_be_visible()
    _check_here(page, "/login/code", failures)


def test_every_page_passes_axe_on_a_desktop_and_a_phone(registry, page, live_server):
    live, failures = live_server, {}
    _check(page, live, ["/login", "/login/forgot", "/account/setup/no-such-link", "/no-such-page"], failures)

    log_in(page, live, "teacher")
    mine = _submit(page, live, "Our visitor at assembly", "faces/obama_3.jpg")
    expect(page.locator("h1 .state")).to_have_text("Waiting for senior leader review", timeout=90_000)
    blocked = _submit(page, live, "Questions to parent.helper@gmail.com please")
    expect(page.locator("h1 .state")).to_have_text("Needs your changes", timeout=90_000)
    _check(page, live, ["/posts", "/posts/new", mine, f"{blocked}/edit", f"{mine}/withdraw", "/notices",
                        "/account/password", "/login/enrol"], failures)
    page.goto(f"{live.url}/posts/new")
    page.fill("#publish_at", "2020-01-01T09:00")
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator(".errors a")).to_have_count(2)  # the publish time and the empty post, each linked
    expect(page.locator("#publish_at")).to_have_attribute("aria-invalid", "true")
    page.locator(".errors a", has_text="The publish time").click()
    expect(page.locator("#publish_at")).to_be_focused()
    _check_here(page, "/posts/new with errors", failures)
    log_out(page)

    log_in(page, live, "smt")
    review = mine.replace("/posts/", "/review/")
    _check(page, live, ["/review", "/review?view=blocked", review, "/comments", "/calendar", "/audit",
                        "/audit?since=yesterday", "/notices"], failures)
    page.goto(live.url + review)
    page.get_by_role("button", name="Approve and publish").click()
    expect(page.locator(".flash")).to_contain_text("Approved.")
    page.goto(live.url + review)  # it reloads itself until published
    expect(page.get_by_role("heading", level=1)).to_contain_text("Published", timeout=60_000)
    _check(page, live, ["/published", review, "/archive/demo_archive/"], failures)
    page.goto(f"{live.url}/archive/demo_archive/")
    page.locator("main a").first.click()
    _check(page, live, [page.url.split(live.url, 1)[1], "/notices"], failures)  # the archive has no menu
    log_out(page)

    log_in(page, live, "head")
    _check(page, live, ["/admin/", "/admin/settings"], failures)
    log_out(page)

    log_in(page, live, "consent_officer")
    _check(page, live, ["/people/", "/people/?q=Obama", "/people/import", "/people/person?mis_id=P001",
                        "/people/person/withdraw/social?mis_id=P001"], failures)
    page.evaluate("document.querySelector('main form').noValidate = true")  # the server's own check, not the browser's
    page.get_by_role("button", name="Yes, withdraw the social media photo consent").click()
    expect(page.locator("#asked_by")).to_have_attribute("aria-invalid", "true")
    _check_here(page, "withdrawal with errors", failures)
    log_out(page)

    _second_factor_pages(page, live, failures)
    assert not failures, "\n".join(f"{where}: {'; '.join(found)}" for where, found in failures.items())
