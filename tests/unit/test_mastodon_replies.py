"""Reading and hiding replies on Mastodon: real Mastodon.py and requests against the emulator (only HTTP is faked)."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from gateway.core import settings as settings_module
from gateway.platforms.base import Outgoing, PermanentError, PublishError, Reply, RetryLater, Transient
from gateway.platforms.mastodon import PLATFORM, MastodonPublisher, connect
from gateway.platforms.mastodon_account import MastodonCredentials
from tests.mastodon_api import BASE_URL, TEST_CREDENTIALS, TEST_TOKEN, MastodonApiEmulator

HANDLE = "greenfieldschool"
CREDS = MastodonCredentials.from_mapping(TEST_CREDENTIALS)
ODD = ("\u200fשלום\u200f and \u0645\u0631\u062d\u0628\u0627 \u202bembedded\u202c; family "
       "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f3f3\ufe0f\u200d\U0001f308 flags \U0001f1ec\U0001f1e7; "
       "combining e\u0301 a\u0308\u0323 Z\u0351\u0358\u0361; zero\u200bwidth; \U0001d54f")


@pytest.fixture
def server():
    with MastodonApiEmulator() as emulator:
        yield emulator
    assert emulator.auth_failures == [], "every call must carry the account's token"


def make(authors: str = "block") -> MastodonPublisher:
    return MastodonPublisher(CREDS, HANDLE, timeout=5, authors=authors)


@pytest.fixture
def publisher(server):
    return make()


@pytest.fixture
def post(server, publisher) -> str:
    return publisher.publish(Outgoing(key="7", text="Our harvest festival was wonderful, thank you all.", photos=[],
                                      approved_by="Head", approved_at=datetime.now(timezone.utc))).platform_id


@pytest.fixture
def no_sleep(monkeypatch):
    def forbidden(seconds):
        raise AssertionError(f"something tried to sleep {seconds}s")

    monkeypatch.setattr(time, "sleep", forbidden)


def by_id(page) -> dict[str, Reply]:
    return {r.platform_id: r for r in page.replies}


# reading ---------------------------------------------------------------------------------------------------------

def test_replies_at_every_depth_but_not_the_schools_own(server, publisher, post):
    first = server.add_reply(post, "Lovely photos!")
    nested = server.add_reply(first, "Agreed, well done", author="grandma@other.example")
    own = server.add_school_reply(first, "Thank you!")
    under_own = server.add_reply(own, "You're welcome")
    page = publisher.replies(post, None)

    assert [r.platform_id for r in page.replies] == [first, nested, under_own]  # oldest first; not `own`
    one, two, three = page.replies
    assert (one.text, one.author, one.author_id) == ("Lovely photos!", "aparent", server.accounts["aparent"]["id"])
    assert one.url == f"{BASE_URL}/@aparent/{first}" and one.hidden is False
    assert abs(one.created_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert (two.author, two.url) == ("grandma@other.example", f"https://other.example/@grandma/{nested}")
    assert three.text == "You're welcome"
    assert server.calls_to("statuses.context")[0].url.endswith(f"/api/v1/statuses/{post}/context")


def test_html_is_made_plain_text_as_written(server, publisher, post):
    text = 'Tom & Jerry <b>"quoted"</b> it\'s\nnew line\n\nsecond paragraph https://example.org/a?b=1&c=2'
    reply = server.add_reply(post, text)
    assert by_id(publisher.replies(post, None))[reply].text == text


def test_huge_and_odd_unicode_text_comes_through_exactly(server, publisher, post):
    huge = ("Sehr lange Antwort \u00e9\u00e8 " * 5000)[:100_000].strip()
    big, odd = server.add_reply(post, huge), server.add_reply(post, ODD, author="\u0639\u0644\u064a@other.example")
    replies = by_id(publisher.replies(post, None))
    assert replies[big].text == huge and len(replies[big].text) == len(huge)
    assert replies[odd].text == ODD and replies[odd].author == "\u0639\u0644\u064a@other.example"


def test_the_cursor_means_mentions_already_read_are_not_fetched_again(server, publisher, post):
    first = server.add_reply(post, "one")
    page = publisher.replies(post, None)
    assert page.cursor == server.notifications[-1]["id"]
    assert "since_id" not in server.calls_to("notifications")[0].query

    again = publisher.replies(post, page.cursor)
    call = server.calls_to("notifications")[-1]
    assert call.query["since_id"] == page.cursor and call.query["types[]"] == "mention"
    assert [r.platform_id for r in again.replies] == [first]  # still in the post's context
    assert again.cursor == page.cursor

    second = server.add_reply(first, "two")
    later = publisher.replies(post, again.cursor)
    assert [r.platform_id for r in later.replies] == [first, second]
    assert later.cursor == server.notifications[-1]["id"] != page.cursor


def test_a_reply_not_yet_in_the_context_is_found_through_its_mention(server, publisher, post):
    other_post = server.add_existing_status("Another post", datetime.now(timezone.utc))
    elsewhere = server.add_reply(other_post, "Not about this post")
    early = server.add_reply(post, "Just arrived")
    deeper = server.add_reply(early, "Right behind it")
    server.hold_from_context(early)
    server.hold_from_context(deeper)
    ids = [r.platform_id for r in publisher.replies(post, None).replies]
    assert ids == [early, deeper] and elsewhere not in ids


def test_the_schools_post_gone_is_permanent_post_gone(server, publisher, post):
    server.add_reply(post, "hello")
    publisher.delete(post)
    with pytest.raises(PermanentError) as caught:
        publisher.replies(post, None)
    assert caught.value.code == "post_gone" and caught.value.status == 404
    assert "no longer on mastodon.example" in caught.value.plain


def test_an_author_whose_account_is_gone_has_no_name(server, publisher, post):
    reply = server.add_reply(post, "I left", author="gone@other.example", author_gone=True)
    got = by_id(publisher.replies(post, None))[reply]
    assert (got.author, got.author_id, got.text) == ("", "", "I left")


# hiding ----------------------------------------------------------------------------------------------------------

def reply_of(publisher, post, reply_id) -> Reply:
    return by_id(publisher.replies(post, None))[reply_id]


def test_hide_reports_and_blocks_and_the_reply_is_no_longer_read(server, publisher, post):
    bad = server.add_reply(post, "Something nasty", author="troll@other.example")
    said = publisher.hide(post, reply_of(publisher, post, bad))

    assert server.is_hidden(bad)
    [report] = server.reports
    account_id = server.accounts["troll@other.example"]["id"]
    assert report["status_ids"] == [bad] and report["forwarded"] is True and report["comment"]
    assert report["target_account"]["id"] == account_id and account_id in server.blocked
    assert said.startswith("Reported to the moderators of other.example and mastodon.example and its author "
                           "@troll@other.example blocked")
    assert "does not let the school delete" in said
    # Mastodon leaves statuses by accounts the school blocks out of the context and the notifications
    assert bad not in by_id(publisher.replies(post, None))


@pytest.mark.parametrize("authors,hidden,words", [
    ("mute", True, "and its author @aparent muted"),
    ("none", False, "its author @aparent was not blocked or muted"),
])
def test_hide_as_the_setting_says(server, post, authors, hidden, words):
    publisher = make(authors)
    bad = server.add_reply(post, "Not nice")
    said = publisher.hide(post, reply_of(publisher, post, bad))
    assert server.is_hidden(bad) is hidden and len(server.reports) == 1 and not server.blocked
    assert words in said and said.startswith("Reported to the moderators of mastodon.example")
    assert bool(server.muted) is (authors == "mute")
    # what was not blocked or muted is still read, and Mastodon has no flag for "reported"
    assert (bad in by_id(publisher.replies(post, None))) is (not hidden)


@pytest.mark.parametrize("authors", ["block", "mute"])
def test_restore_unblocks_or_unmutes_and_says_the_report_stays(server, post, authors):
    publisher = make(authors)
    bad = server.add_reply(post, "Misread as rude")
    reply = reply_of(publisher, post, bad)
    publisher.hide(post, reply)
    said = publisher.restore(post, reply)
    assert not server.is_hidden(bad) and not server.blocked and not server.muted
    assert said.startswith("Unblocked its author @aparent" if authors == "block" else "Unmuted its author @aparent")
    assert "report to the moderators of mastodon.example cannot be withdrawn" in said
    assert len(server.reports) == 1 and reply.platform_id in by_id(publisher.replies(post, None))


def test_restore_with_nothing_blocked_or_muted_changes_nothing(server, post):
    publisher = make("none")
    reply = reply_of(publisher, post, server.add_reply(post, "x"))
    publisher.hide(post, reply)
    calls = len(server.calls)
    assert "nothing was changed" in publisher.restore(post, reply) and len(server.calls) == calls


def test_block(server, publisher, post):
    reply = reply_of(publisher, post, server.add_reply(post, "spam", author="spammer@junk.example"))
    said = publisher.block(reply)
    assert server.accounts["spammer@junk.example"]["id"] in server.blocked and not server.reports
    assert said == "Blocked its author @spammer@junk.example from the school's Mastodon account."


def test_a_reply_already_gone_is_done(server, publisher, post):
    reply = reply_of(publisher, post, server.add_reply(post, "deleted soon"))
    server.delete_reply(reply.platform_id)
    assert publisher.hide(post, reply) == "It was already gone from Mastodon."
    assert not server.reports and not server.blocked


def test_a_reply_by_an_account_that_is_gone_is_still_reported_and_its_author_blocked(server, publisher, post):
    bad = server.add_reply(post, "bye", author="gone@other.example", author_gone=True)
    reply = reply_of(publisher, post, bad)
    said = publisher.hide(post, reply)
    assert server.is_hidden(bad) and said.startswith("Reported to the moderators of mastodon.example and its author")
    assert server.calls_to("statuses.get")[0].url.endswith(f"/api/v1/statuses/{bad}")  # its author looked up
    server.delete_reply(bad)
    assert publisher.hide(post, reply) == "It was already gone from Mastodon."
    assert "no one to block" in publisher.block(reply)


def test_the_setting_reaches_the_publisher_through_connect(server, post, tmp_path):
    settings = settings_module.load({"INSTANCE_DIR": str(tmp_path), "MASTODON_AUTHORS": "mute"})
    publisher = connect(HANDLE, TEST_CREDENTIALS, settings)
    bad = server.add_reply(post, "rude")
    publisher.hide(post, reply_of(publisher, post, bad))
    assert server.muted and not server.blocked


# faults ----------------------------------------------------------------------------------------------------------

def test_429_is_retry_later_at_the_reset_for_reading_and_hiding(server, publisher, post, no_sleep):
    reply = reply_of(publisher, post, server.add_reply(post, "x"))
    for kind, action in (("read", lambda: publisher.replies(post, None)),
                         ("hide", lambda: publisher.hide(post, reply))):
        reset = int(time.time()) + 240
        server.rate_limit(kind, reset)
        with pytest.raises(RetryLater) as caught:
            action()
        assert caught.value.retry_at == datetime.fromtimestamp(reset, tz=timezone.utc)
        assert caught.value.status == 429 and "try again automatically at" in caught.value.plain
        assert "published" not in caught.value.plain
    assert not server.reports


@pytest.mark.parametrize("kind", ["read", "hide"])
def test_503_is_transient(server, publisher, post, kind):
    reply = reply_of(publisher, post, server.add_reply(post, "x"))
    server.unavailable(kind)
    with pytest.raises(Transient) as caught:
        publisher.replies(post, None) if kind == "read" else publisher.block(reply)
    assert caught.value.status == 503 and "could not be reached" in caught.value.plain
    assert not server.blocked


def test_a_timeout_while_reading_is_transient(server, publisher, post):
    server.fail("notifications", timeout=True)
    with pytest.raises(Transient):
        publisher.replies(post, None)


@pytest.mark.parametrize("endpoint", ["statuses.context", "reports.create"])
def test_403_is_permanent(server, publisher, post, endpoint):
    reply = reply_of(publisher, post, server.add_reply(post, "x"))
    server.fail(endpoint, status=403, body={"error": "This action is not allowed"})
    with pytest.raises(PermanentError) as caught:
        publisher.replies(post, None) if endpoint == "statuses.context" else publisher.hide(post, reply)
    assert caught.value.status == 403 and caught.value.code == "forbidden"


def test_a_token_that_may_only_read_cannot_hide_and_is_told_why():
    with MastodonApiEmulator(scopes=("read",)) as server:
        post = server.add_existing_status("A post", datetime.now(timezone.utc))
        publisher = make()
        reply = reply_of(publisher, post, server.add_reply(post, "x"))  # reading works
        with pytest.raises(PermanentError) as caught:
            publisher.hide(post, reply)
    assert caught.value.code == "scope" and caught.value.status == 403 and not server.reports
    assert "'read' and 'write' scopes" in caught.value.plain


def test_the_token_never_reaches_logs_or_messages(server, publisher, post, caplog):
    caplog.set_level(logging.DEBUG)
    reply = reply_of(publisher, post, server.add_reply(post, "rude"))
    messages = [publisher.hide(post, reply), publisher.restore(post, reply), publisher.block(reply)]
    for fault in ({"status": 401, "body": {"error": f"Bearer {TEST_TOKEN} is invalid"}},
                  {"status": 500, "body": {"error": f"token {TEST_TOKEN}"}}):
        server.fail("statuses.context", **fault)
        with pytest.raises(PublishError) as caught:
            publisher.replies(post, None)
        messages += [caught.value.plain, caught.value.detail, str(caught.value.__cause__)]
    assert TEST_TOKEN not in caplog.text and not any(TEST_TOKEN in m for m in messages)


def test_the_platform_says_how_often_and_what_hiding_does():
    assert PLATFORM.reply_poll_minutes == 5 and PLATFORM.paid_reads is False
    assert "reports the reply" in PLATFORM.hiding and "blocks" in PLATFORM.hiding
