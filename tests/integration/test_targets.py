"""A post to several of the school's accounts: each is held to its own network's limits, shown on the review page
as it will appear there, and published once on each."""
from __future__ import annotations

import re

import pytest

from gateway.models import Account
from moderation.models import Post
from tests.helpers import add_network_account, post_id_of, submit
from tests import mastodon_api
from tests.networks import HANDLE, HARNESSES


@pytest.fixture
def facebook(login, read, monkeypatch):
    """The school's Facebook Page, confirmed and keyed by the head, beside the demo archive account (id 1)."""
    monkeypatch.setenv("PUBLISH_LOOKUP_DELAY", "0")
    with HARNESSES["facebook"]() as credentials:
        account_id, _pages = add_network_account(login("head"), read, "facebook", credentials)
        yield account_id


def test_a_text_too_long_for_one_target_is_held_with_that_network_named(login, facebook, fetch):
    teacher, text = login("teacher"), "Our school trip to the seaside. " * 12  # 383 once trimmed
    both = submit(teacher, text, account_id=["1", str(facebook)])
    page = both.get_data(as_text=True)
    assert both.status_code == 400
    assert "The text is 383 characters as demo_archive (archive) counts them; the limit is 280." in page
    assert "greenfieldschool (facebook)" not in re.findall(r"<li>(.*?)</li>", page)[0]
    facebook_only = post_id_of(submit(teacher, text, account_id=str(facebook)))
    assert fetch(Post, facebook_only).state == "submitted"


def test_a_post_to_two_accounts_is_shown_on_each_and_published_once_on_each(login, facebook, work_here, fetch):
    teacher, smt = login("teacher"), login("smt")
    post_id = post_id_of(submit(teacher, "Harvest festival on Friday", account_id=["1", str(facebook)]))
    work_here()
    review = smt.get(f"/review/{post_id}").get_data(as_text=True)
    cards = re.findall(r'<section class="card preview" aria-label="(.*?)">.*?<li>Text: (.*?)</li>', review, re.S)
    assert cards == [("Archive: demo_archive (archive)", "26 of 280 characters"),
                     ("Facebook: greenfieldschool (facebook)", "26 of 63206 characters")]
    smt.post(f"/review/{post_id}/approve")
    work_here()
    post = fetch(Post, post_id)
    assert post.state == "published"
    assert sorted((p.account_id, p.state) for p in post.publications) == [(1, "published"), (facebook, "published")]
    assert all(p.platform_url for p in post.publications)


def test_a_mastodon_account_takes_its_own_servers_limit_before_review(login, read, fetch):
    with mastodon_api.MastodonApiEmulator(username=HANDLE) as server:
        server.configuration["statuses"]["max_characters"] = 1000  # this server's administrators raised it
        account_id, _pages = add_network_account(login("head"), read, "mastodon", dict(mastodon_api.TEST_CREDENTIALS))
    assert fetch(Account, account_id).text_limit == 1000
    teacher = login("teacher")
    fits = post_id_of(submit(teacher, "a" * 1000, account_id=str(account_id)))
    assert fetch(Post, fits).state == "submitted"
    too_long = submit(teacher, "a" * 1001, account_id=str(account_id))
    assert too_long.status_code == 400
    assert "The text is 1001 characters as greenfieldschool (mastodon) counts them; the limit is 1000." in \
        too_long.get_data(as_text=True)
