"""Each role lands on its own work, on a desktop and on a 390 px phone; a post the checks blocked says it needs its
author's changes and is in the senior leaders' blocked view, not in their review list."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.live import log_in, log_out
from tests.shared_fixtures import fixture_path

pytestmark = pytest.mark.browser
LANDINGS = {"teacher": "My posts", "smt": "Review queue", "head": "Review queue", "consent_officer": "People and consent"}


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


def test_a_failed_submission_keeps_every_field_and_creates_nothing(screen, live_server):
    """A publish time that has passed: the form comes back with the text, both photos (kept, in their slots) and
    their descriptions; with the time cleared it is submitted without choosing the files again."""
    page, live = screen, live_server
    log_in(page, live, "teacher")
    page.goto(f"{live.url}/posts/new")
    page.fill("#text", "Our science week")
    page.set_input_files("#photo_1", str(fixture_path("faces/obama_3.jpg")))
    page.fill("#alt_new_1", "Our visitor")
    page.set_input_files("#photo_3", str(fixture_path("faces/biden_1.jpg")))
    page.fill("#alt_new_3", "Our guest")
    page.fill("#publish_at", "2020-01-01T09:00")
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator(".errors")).to_contain_text("The publish time has already passed")
    expect(page.locator("#text")).to_have_value("Our science week")
    expect(page.get_by_text("obama_3.jpg is kept from your last try")).to_be_visible()
    expect(page.get_by_text("biden_1.jpg is kept from your last try")).to_be_visible()
    expect(page.locator("#alt_new_1")).to_have_value("Our visitor")
    expect(page.locator("#alt_new_3")).to_have_value("Our guest")
    mine = page.context.new_page()  # in another tab: nothing was created
    mine.goto(f"{live.url}/posts")
    expect(mine.get_by_text("You have not written any posts yet.")).to_be_visible()
    mine.close()
    page.fill("#publish_at", "")
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator(".flash")).to_contain_text("Submitted")
    expect(page.locator("figcaption")).to_have_count(2)


def test_the_calendar_opens_from_the_menu_and_moves_by_month(screen, live_server):
    page, live = screen, live_server
    log_in(page, live, "smt")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Calendar").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("Calendar: ")
    this_month = heading.inner_text()
    page.get_by_role("link", name="Next month").click()
    expect(heading).not_to_have_text(this_month)
    page.get_by_role("link", name="Previous month").click()
    expect(heading).to_have_text(this_month)


def _in_view(page, locator) -> bool:
    box, height = locator.bounding_box(), page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_the_review_page_keeps_its_decision_in_reach(registry, screen, live_server):
    """One card per photo, the clean rendition behind a toggle, and Approve in view wherever the page is scrolled."""
    page, live = screen, live_server
    log_in(page, live, "teacher")
    page.goto(f"{live.url}/posts/new")
    page.fill("#text", "Our visitors at assembly")
    for n, name in ((1, "faces/group_two_people.jpg"), (2, "faces/obama_3.jpg")):
        page.set_input_files(f"#photo_{n}", str(fixture_path(name)))
        page.fill(f"#alt_new_{n}", f"Our visitors, photo {n}")
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator("h1 .state")).to_have_text("Waiting for senior leader review", timeout=90_000)
    post_path = page.url.split(live.url, 1)[1]
    log_out(page)

    log_in(page, live, "smt")
    page.goto(live.url + post_path.replace("/posts/", "/review/"))
    approve = page.get_by_role("region", name="Decision").get_by_role("button", name="Approve and publish")
    assert _in_view(page, approve), "Approve is not on the first screen"
    expect(page.locator(".photo-card")).to_have_count(2)
    clean = page.locator(".photo-card").first.locator("details img").first
    expect(clean).to_be_hidden()
    page.get_by_text("Show photo 1 (group_two_people.jpg) as it will be published").click()
    expect(clean).to_be_visible()
    for fraction in (0.3, 0.6):
        page.evaluate(f"window.scrollTo(0, document.body.scrollHeight * {fraction})")
        assert _in_view(page, approve), f"Approve is out of view at {fraction:.0%} of the page"
    page.get_by_role("link", name="Send back…").click()
    expect(page.get_by_label("What should the author change?")).to_be_in_viewport()
    approve.click()
    expect(page.locator(".flash")).to_contain_text("Approved.")
