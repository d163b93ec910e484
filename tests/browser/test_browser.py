"""End to end in a real browser: teacher writes, the worker checks, SMT decides, the archive publishes."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.live import assert_no_sideways_scroll, log_in, log_out, open_for_review, reload_until

pytestmark = pytest.mark.browser

ACCOUNT = "demo_archive (archive)"


def submit_post(page, live, text: str) -> str:
    """As the logged-in user: New post, type, choose the account, submit; returns the post's page address."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New post").click()
    expect(page.get_by_role("heading", name="New post")).to_be_visible()
    page.fill("#text", text)
    page.get_by_label(ACCOUNT).check()
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page).to_have_url(re.compile(r"/posts/\d+$"))
    expect(page.locator("p.text")).to_have_text(text)
    expect(page.locator(".flash")).to_contain_text("Submitted")
    return page.url


def test_teacher_submits_smt_approves_and_it_is_published(browser_page, live_server):
    page, live, text = browser_page, live_server, "Sports day was great"

    log_in(page, live, "teacher")
    post_url = submit_post(page, live, text)
    expect(page.get_by_role("heading", name=re.compile(r"^Post \d+"))).to_be_visible()
    log_out(page)

    log_in(page, live, "smt")
    open_for_review(page, live, text)
    page.get_by_role("button", name="Approve and publish").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Approved.")).to_be_visible()

    page.goto(f"{live.url}/archive/demo_archive/")
    reload_until(page, page.locator("article").filter(has_text=text), live, timeout=30,
                 what="the post on the archive's published page")
    expect(page.locator("article").filter(has_text=text)).to_contain_text("approved by Sam Senior")

    page.goto(f"{live.url}/published")
    card = page.locator("li.card").filter(has_text=text)
    # the archive's page is written just before the worker records the publication
    reload_until(page, card, live, timeout=30, what="the post on the Published page")
    expect(card.get_by_role("link", name=text)).to_have_attribute("href", re.compile(r"^/review/\d+$"))
    expect(card.locator(".state")).to_have_text("Published")
    archive_link = card.locator('a[href^="/archive/demo_archive/posts/"]')
    expect(archive_link).to_have_attribute("href", re.compile(r"^/archive/demo_archive/posts/\d+/$"))
    archive_link.click()
    expect(page.locator("article")).to_contain_text(text)
    page.go_back()

    # The author sees the outcome on the post's page.
    log_out(page)
    log_in(page, live, "teacher")
    page.goto(post_url)
    expect(page.locator("h1 .state")).to_have_text("Published")


def test_smt_rejects_and_the_teacher_sees_why(browser_page, live_server):
    page, live, text = browser_page, live_server, "Come to the bake sale on Friday"
    reason = "Please use the school hashtag"

    log_in(page, live, "teacher")
    submit_post(page, live, text)
    log_out(page)

    log_in(page, live, "smt")
    open_for_review(page, live, text)
    page.get_by_label("Reason for rejecting (the author sees it)").fill(reason)
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status").filter(has_text="Rejected")).to_be_visible()
    expect(page.locator("li.card").filter(has_text=text)).to_have_count(0)
    log_out(page)

    log_in(page, live, "teacher")
    expect(page.get_by_role("heading", name="My posts")).to_be_visible()
    card = page.locator("li.card").filter(has_text=text)
    expect(card.locator(".state")).to_have_text("Rejected")
    expect(card.locator(".reason")).to_have_text(f"Reason: {reason}")


def test_new_post_form_works_on_a_phone(browser_page, live_server):
    page, live = browser_page, live_server
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live, "teacher")
    page.goto(f"{live.url}/posts/new")
    expect(page.get_by_role("heading", name="New post")).to_be_visible()

    fields = page.locator("input:not([type=hidden]), textarea, select")
    assert fields.count() >= 3
    unlabelled = []
    for i in range(fields.count()):
        field = fields.nth(i)
        if field.is_visible() and not field.evaluate("e => e.labels && e.labels.length"):
            unlabelled.append(field.evaluate("e => e.outerHTML"))
    assert not unlabelled, f"fields without a <label>: {unlabelled}"

    count = page.locator("#count")
    expect(count).to_have_text("0 of 280 characters")
    page.locator("#text").press_sequentially("Sports day was great")
    expect(count).to_have_text("20 of 280 characters")
    page.locator("#text").press_sequentially(" https://example.com/a/very/long/link")
    expect(count).to_contain_text("44 of 280")

    assert_no_sideways_scroll(page, "the new post page on a phone")
