"""The Comments queue in a real browser: a reply naming a pupil is hidden on X at once, SMT finds it on the queue,
restores it, marks a safeguarding concern; teachers and consent officers are refused the page."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.live import log_in, log_out
from tests.networks import EMULATORS
from tests.replies import BAD, FINE, publish

pytestmark = pytest.mark.browser


def test_smt_sees_a_hidden_reply_on_the_comments_queue_and_restores_it(
        browser_page, live_app, amelia_on_roster, login, read, fetch, work_here, smtp):
    page, live = browser_page, live_app
    with EMULATORS["x"]() as (credentials, network):
        account_id, post_id, platform_id = publish("x", credentials, login, read, fetch, work_here)
        bad = network.add_reply(platform_id, BAD[0], author="troll")
        network.add_reply(platform_id, FINE[0])

        log_in(page, live, "smt")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Comments").click()
        expect(page.get_by_text("No reply is waiting for you.")).to_be_visible()
        page.get_by_role("button", name="Read now").click()
        expect(page.locator(".flash")).to_contain_text("will be read in a moment")
        work_here()
        page.reload()
        card = page.locator("li.card", has_text=BAD[0])
        expect(card).to_contain_text("Hidden")
        expect(card).to_contain_text("checks said: hide at once")
        expect(card).to_contain_text("pupil's")
        expect(page.locator("li.card", has_text=FINE[0])).to_have_count(0)  # a fine reply does not bother SMT
        assert network.is_hidden(bad)

        card.get_by_label("Safeguarding concern: why").fill("Names a pupil; the author may know the family")
        card.get_by_role("button", name="Mark a safeguarding concern").click()
        expect(page.get_by_role("alert").filter(has_text="Safeguarding concerns")).to_contain_text("may know the family")

        page.locator("li.card", has_text=BAD[0]).get_by_role("button", name="Restore").click()
        expect(page.locator(".flash")).to_contain_text("shown again")
        work_here()
        assert not network.is_hidden(bad)
        page.reload()
        expect(page.locator("li.card", has_text=BAD[0])).to_contain_text("Shown")
        log_out(page)

        for role in ("teacher", "consent_officer"):
            log_in(page, live, role)
            expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Comments")).to_have_count(0)
            response = page.goto(f"{live.url}/comments")
            assert response.status == 403
            log_out(page)
