"""End to end in a real browser: one post to the school's Mastodon, Bluesky and Facebook accounts, from the
teacher's form to published on all three. The networks' emulators live in this process, so the test runs the
jobs here (work_here) rather than in a worker process."""
from __future__ import annotations

import re
from contextlib import ExitStack

import pytest
from playwright.sync_api import expect

from gateway.platforms import outgoing_for, publisher_for
from moderation.models import Post, Publication
from tests.bluesky_api import APP_PASSWORD, BlueskyEmulator
from tests.facebook_api import TEST_CREDENTIALS as FACEBOOK, FacebookApiEmulator
from tests.helpers import add_network_account, big_photo
from tests.live import log_in, log_out, open_for_review
from tests.networks import HANDLE, HARNESSES
from tests.registry import biden_is_visible, consent_for_facebook_only
from tests.shared_fixtures import fixture_path

pytestmark = pytest.mark.browser
NETWORKS = ("mastodon", "bluesky", "facebook")


def test_a_post_to_three_networks_is_published_on_all_three(browser_page, live_app, login, read, fetch, work_here,
                                                             settings, monkeypatch, tmp_path):
    monkeypatch.setenv("PUBLISH_LOOKUP_DELAY", "0")
    page, live, text = browser_page, live_app, "Our choir sings at the town hall on Saturday"
    photo = tmp_path / "choir.jpg"
    photo.write_bytes(big_photo(3, (1200, 800)))
    with ExitStack() as networks:
        for name in NETWORKS:
            add_network_account(login("head"), read, name, networks.enter_context(HARNESSES[name]()))

        log_in(page, live, "teacher")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="New post").click()
        page.fill("#text", text)
        for name in NETWORKS:
            page.get_by_label(f"{HANDLE} ({name})").check()
        page.set_input_files("#photo_1", str(photo))
        page.fill("#alt_new_1", "The choir in their red jumpers")
        page.get_by_role("button", name="Submit for checks and approval").click()
        expect(page.locator(".flash")).to_contain_text("Submitted")
        post_id = int(re.search(r"/posts/(\d+)$", page.url).group(1))
        log_out(page)
        work_here()

        log_in(page, live, "smt")
        open_for_review(page, live, text)
        rows = page.locator("section.preview")
        expect(rows).to_have_count(3)
        for name, limit in (("mastodon", 500), ("bluesky", 300), ("facebook", 63206)):
            expect(rows.filter(has_text=f"{HANDLE} ({name})")).to_contain_text(f"{len(text)} of {limit} characters")
        page.get_by_role("button", name="Approve and publish").click()
        expect(page.get_by_role("status").filter(has_text="Approved.")).to_be_visible()
        work_here()

        page.goto(f"{live.url}/review/{post_id}")
        for name in NETWORKS:
            expect(page.get_by_text(re.compile(rf"{HANDLE} \({name}\): published"))).to_be_visible()
        post = fetch(Post, post_id)
        assert post.state == "published" and len(post.publications) == 3
        for publication in (fetch(Publication, p.id) for p in post.publications):  # each network holds the post
            assert publisher_for(publication.account, settings).find(outgoing_for(publication, settings))


def test_the_review_page_shows_each_networks_photo_where_consent_differs(
        browser_page, live_app, registry, login, read, work_here, settings):
    """Joe Biden's parents agreed to the school's Facebook Page only: SMT sees him shown there and covered on
    Bluesky, and each network's photo as it will go out."""
    consent_for_facebook_only(settings)
    page, live, text = browser_page, live_app, "Our visitors at assembly"
    with FacebookApiEmulator(), BlueskyEmulator() as bsky:
        add_network_account(login("head"), read, "facebook", dict(FACEBOOK))
        add_network_account(login("head"), read, "bluesky", {"app_password": APP_PASSWORD, "service": bsky.url})
        log_in(page, live, "teacher")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="New post").click()
        page.fill("#text", text)
        for name in ("facebook", "bluesky"):
            page.get_by_label(f"{HANDLE} ({name})").check()
        page.set_input_files("#photo_1", str(fixture_path("faces/group_two_people.jpg")))
        page.fill("#alt_new_1", "Two visitors smiling")
        page.get_by_role("button", name="Submit for checks and approval").click()
        expect(page.locator(".flash")).to_contain_text("Submitted")
        log_out(page)
        work_here()

        log_in(page, live, "smt")
        open_for_review(page, live, text)
        faces = page.locator(".photo-card ol.faces li")
        expect(faces.filter(has_text="Joe Biden")).to_contain_text("Facebook only; covered elsewhere")
        expect(faces.filter(has_text="Barack Obama")).to_contain_text("every network")
        targets = page.locator("section.preview")
        expect(targets.filter(has_text="(facebook)")).to_contain_text("shown: Barack Obama, Joe Biden")
        expect(targets.filter(has_text="(bluesky)")).to_contain_text("shown: Barack Obama; 1 covered")
        expect(page.locator(".findings")).to_contain_text("1 face obscured on Bluesky: consent refused")
        photos = {"Facebook": page.locator("figure").filter(has_text="on Facebook, whose consent covers more faces"),
                  "Bluesky": page.locator("figure").filter(has_text="group_two_people.jpg) on Bluesky")}
        shown = {}
        for network, figure in photos.items():
            expect(figure).to_have_count(1)
            src = figure.locator("img").get_attribute("src")
            shown[network] = biden_is_visible(page.request.get(live.url + src).body())  # as the browser gets it
        assert shown == {"Facebook": True, "Bluesky": False}
