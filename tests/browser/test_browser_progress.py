"""While a post's photos are checked, the teacher's page shows how far each has got, updated in place. On a phone,
where teachers submit between lessons; the region is the same markup at any width, and the page's script does not
look at the width."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import Error as PlaywrightError, expect

from tests.helpers import big_photo
from tests.live import SCREENS, log_in
from tests.shared_fixtures import fixture_path

pytestmark = pytest.mark.browser
BIG = 3  # 35 MP photos, which take seconds to clean even on a fast machine: the page, polling every 2 s, sees them


def test_the_teacher_sees_each_photo_checked_without_the_page_reloading(registry, browser_page, live_server):
    page, live = browser_page, live_server
    page.set_viewport_size(SCREENS["phone"])
    log_in(page, live, "teacher")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New post").click()
    page.fill("#text", "Our science week")
    for n in range(1, BIG + 1):
        page.set_input_files(f"#photo_{n}", {"name": f"field-{n}.jpg", "mimeType": "image/jpeg",
                                             "buffer": big_photo(n)})
    page.set_input_files(f"#photo_{BIG + 1}", str(fixture_path("faces/group_two_people.jpg")))
    for n in range(1, BIG + 2):
        page.fill(f"#alt_new_{n}", f"Science week photo {n}")
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator(".flash")).to_contain_text("Submitted")
    region = page.get_by_role("region", name="Progress of the checks")
    expect(region.locator("li")).to_have_count(BIG + 1)
    page.evaluate("window.stillTheSamePage = true")  # gone if the page loads again

    seen, deadline = set(), time.monotonic() + 180  # the worker checks the photos while the page is watched
    while time.monotonic() < deadline:
        try:
            if not page.evaluate("window.stillTheSamePage === true"):
                break
            seen.update(t for t in region.locator("li").all_inner_texts() if "waiting" not in t)
        except PlaywrightError:  # the page is loading again, as it does once the checks end
            break
        page.wait_for_timeout(200)
    live.assert_worker_alive()
    assert any(stage in t for t in seen for stage in ("cleaned", "looking for faces", "found", "done")), seen
    expect(page.get_by_role("heading", name="What the checks found")).to_be_visible()
    expect(page.locator("h1")).not_to_contain_text("Being checked", timeout=15_000)
