"""Each role lands on its own work, on a desktop and on a 390 px phone; a post the checks blocked says it needs its
author's changes and is in the senior leaders' blocked view, not in their review list."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.live import log_in, log_out

pytestmark = pytest.mark.browser
SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
LANDINGS = {"teacher": "My posts", "smt": "Review queue", "head": "Review queue", "consent_officer": "People and consent"}


@pytest.fixture(params=list(SCREENS))
def screen(request, chromium):
    context = chromium.new_context(viewport=SCREENS[request.param])
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_each_role_lands_on_its_work_and_a_blocked_post_waits_for_its_author(screen, live_server):
    page, live = screen, live_server
    for role, heading in LANDINGS.items():
        log_in(page, live, role)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        log_out(page)

    log_in(page, live, "teacher")
    page.goto(f"{live.url}/posts/new")
    page.fill("#text", "Questions to parent.helper@gmail.com please")
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator(".flash")).to_contain_text("Submitted")
    status = page.locator("h1 .state")
    deadline_ms = 60_000
    expect(status).to_have_text("Needs your changes", timeout=deadline_ms)  # the page reloads once checked
    expect(page.get_by_text("Next: Edit the post to fix the problems listed below")).to_be_visible()
    post_path = page.url.split(live.url, 1)[1]
    log_out(page)

    log_in(page, live, "smt")
    review_link = page.locator(f'a[href="{post_path.replace("/posts/", "/review/")}"]')
    expect(page.get_by_role("link", name="Blocked, with their authors: 1")).to_be_visible()
    expect(review_link).to_have_count(0)
    page.get_by_role("link", name="Blocked, with their authors: 1").click()
    expect(review_link).to_have_count(1)
    expect(page.locator(".card .state")).to_have_text("Needs your changes")
