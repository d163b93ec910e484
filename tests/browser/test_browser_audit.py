"""The audit log in a real browser, on a desktop and on a phone: the head opens it from the menu, filters it by who,
what and dates, and downloads the same entries as a CSV file through the page's link (issue 18)."""
from __future__ import annotations

import csv
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from moderation.audit import AuditEntry
from tests.helpers import wait_for
from tests.live import assert_no_sideways_scroll, log_in, log_out

pytestmark = pytest.mark.browser
HEADER = ["#", "when (UTC)", "who", "what", "about", "details"]
TARA = "Tara Teacher (teacher@demo.school)"


def submit(page, text: str) -> int:
    """As the teacher: New post, type, choose the demo archive, submit; the post's number."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New post").click()
    page.fill("#text", text)
    page.get_by_label("demo_archive (archive)").check()
    page.get_by_role("button", name="Submit for checks and approval").click()
    expect(page.locator(".flash")).to_contain_text("Submitted")
    return int(page.url.rsplit("/", 1)[1])


def shown(page) -> list[list[str]]:
    return page.locator("table tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.innerText))")


def test_the_head_filters_the_audit_log_and_downloads_the_same_entries(screen, live_server, read):
    page, live = screen, live_server
    since = datetime.now(timezone.utc).date().isoformat()
    log_in(page, live, "teacher")
    posts = [submit(page, "Sports day was great"), submit(page, "Questions to parent.helper@gmail.com please")]
    log_out(page)
    wait_for(lambda: read(lambda s: s.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "checked"))) == 2, 60, "the worker's checks of both posts", live.worker_log)

    log_in(page, live, "head")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    everything = shown(page)
    assert {"login", "post saved", "submitted", "checked"} <= {row[3] for row in everything}, everything
    assert_no_sideways_scroll(page, "the audit page")

    page.get_by_label("Who (name or e-mail)").fill("Tara")  # her name: her e-mail does not hold it
    page.get_by_label("What", exact=True).select_option(label="submitted")
    page.get_by_label("From", exact=True).fill(since)
    page.get_by_label("To", exact=True).fill(datetime.now(timezone.utc).date().isoformat())
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("table caption")).to_have_text("The newest 300 entries that match")
    expected = read(lambda s: s.scalars(select(AuditEntry.seq).where(
        AuditEntry.action == "submitted", AuditEntry.actor.like("user:% teacher@demo.school"))
        .order_by(AuditEntry.seq.desc())).all())
    rows = shown(page)
    assert [int(r[0]) for r in rows] == expected and len(expected) == 2 < len(everything)
    assert [r[2:] for r in rows] == [[TARA, "submitted", f"post:{p}", ""] for p in reversed(posts)]
    assert "user:" not in page.locator("table").inner_text()
    assert_no_sideways_scroll(page, "the audit page")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download these entries (CSV)").click()
    download = info.value
    assert download.suggested_filename == "audit-log.csv"
    with open(download.path(), newline="", encoding="utf-8") as f:
        exported = list(csv.reader(f))
    assert exported[0] == HEADER and exported[1:] == rows
