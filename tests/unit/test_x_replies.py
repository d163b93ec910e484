"""Replies under the school's X posts, through XPublisher against the X API emulator: real tweepy, requests and OAuth
signing; only HTTP is emulated."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from gateway.platforms.base import PermanentError, PublishError, Reply, RetryLater, Transient
from gateway.platforms.x import PLATFORM, XPublisher
from tests.x_api import TEST_CREDENTIALS as CREDS
from tests.x_api import XApiEmulator

HANDLE = "greenfieldschool"
SECRETS = [CREDS.consumer_key, CREDS.consumer_secret, CREDS.access_token, CREDS.access_token_secret]
ODD = ("\u05e9\u05dc\u05d5\u05dd \u200fRTL\u200e mark, family \U0001F469\u200d\U0001F469\u200d\U0001F467, "
       "e\u0301 combining, Z\u0351\u0354a\u0350lgo, flag \U0001F1EC\U0001F1E7, zero\u200bwidth & <b>not html</b>")


class Clock:
    def __init__(self):
        self.now = datetime(2025, 3, 3, 9, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def x(clock):
    with XApiEmulator(CREDS, username=HANDLE, clock=clock) as emulator:
        yield emulator
    assert emulator.auth_failures == [], "every call must carry a valid OAuth 1.0a signature"


@pytest.fixture
def publisher(x):
    return XPublisher(CREDS, "@" + HANDLE, timeout=5)


@pytest.fixture
def post(x, clock):
    return x.add_existing_tweet("Sports day results are in!", clock.now - timedelta(hours=1))


@pytest.fixture
def no_sleep(monkeypatch):
    def forbidden(seconds):
        raise AssertionError(f"something tried to sleep {seconds}s")

    monkeypatch.setattr(time, "sleep", forbidden)


def first_difference(a: str, b: str) -> int:
    return next((i for i, (p, q) in enumerate(zip(a, b)) if p != q), min(len(a), len(b)))


def by_id(page) -> dict[str, Reply]:
    return {r.platform_id: r for r in page.replies}


# -- reading ------------------------------------------------------------------------------------------------------

def test_replies_at_every_depth_are_read_and_the_schools_own_are_not(x, publisher, post):
    first = x.add_reply(post, "Well done everyone!", author="aparent")
    nested = x.add_reply(first, "Agreed, @aparent", author="grandad_joe")
    ours = x.add_reply(first, "Thank you!", author=HANDLE)
    deeper = x.add_reply(ours, "Lovely school", author="aparent")
    other = x.add_other_post("A post elsewhere")
    x.add_reply(other, "Not under the school's post", author="aparent")

    page = publisher.replies(post, None)

    replies = by_id(page)
    assert set(replies) == {first, nested, deeper}
    assert replies[first] == Reply(
        platform_id=first, text="Well done everyone!", author="aparent", author_id=x._user("aparent")["id"],
        url=f"https://x.com/aparent/status/{first}", created_at=x.replies[first]["created_at"], hidden=False)
    assert replies[nested].author == "grandad_joe" and replies[nested].text == "Agreed, @aparent"
    assert page.cursor == max([first, nested, ours, deeper], key=int)
    [search] = x.calls_to("tweets/search/recent")
    assert search.query["query"] == f"conversation_id:{post}" and "since_id" not in search.query
    assert search.query["expansions"] == "author_id" and "username" in search.query["user.fields"]


def test_the_cursor_keeps_x_from_returning_and_charging_for_replies_read_before(x, publisher, post):
    x.add_reply(post, "First")
    page = publisher.replies(post, None)
    assert x.posts_read == 1

    again = publisher.replies(post, page.cursor)
    assert again.replies == [] and again.cursor == page.cursor
    assert x.calls_to("tweets/search/recent")[-1].query["since_id"] == page.cursor
    assert x.posts_read == 1, "nothing read before was fetched (nor paid for) again"

    new = x.add_reply(post, "Second")
    later = publisher.replies(post, again.cursor)
    assert [r.platform_id for r in later.replies] == [new] and later.cursor == new
    assert x.posts_read == 2


def test_every_page_is_read(x, publisher, post):
    ids = [x.add_reply(post, f"Reply {n}", author=f"parent{n % 7}") for n in range(230)]
    page = publisher.replies(post, None)
    assert sorted(r.platform_id for r in page.replies) == sorted(ids)
    assert page.cursor == ids[-1]
    searches = x.calls_to("tweets/search/recent")
    assert len(searches) == 3 and all(c.query["max_results"] == "100" for c in searches)


def test_a_cursor_older_than_xs_search_window_still_reads_what_x_has(x, publisher, post, clock):
    old = x.add_reply(post, "Long ago")
    cursor = publisher.replies(post, None).cursor
    clock.now += timedelta(days=8)
    new = x.add_reply(post, "This week")

    page = publisher.replies(post, cursor)

    assert [r.platform_id for r in page.replies] == [new] and page.cursor == new
    stale, retry = x.calls_to("tweets/search/recent")[-2:]
    assert stale.status == 400 and stale.query["since_id"] == old and "since_id" not in retry.query


def test_hidden_is_not_said_by_x_search_so_a_hidden_reply_reads_as_not_hidden(x, publisher, post):
    reply_id = x.add_reply(post, "Rude words")
    publisher.hide(post, by_id(publisher.replies(post, None))[reply_id])
    assert x.is_hidden(reply_id)
    [again] = publisher.replies(post, None).replies
    assert again.platform_id == reply_id and again.hidden is False  # X's search cannot tell


def test_a_deleted_authors_reply_has_no_author(x, publisher, post):
    reply_id = x.add_reply(post, "From an account since deleted", author="gone_parent", author_gone=True)
    [reply] = publisher.replies(post, None).replies
    assert reply.platform_id == reply_id and reply.text == "From an account since deleted"
    assert reply.author == "" and reply.author_id == ""
    assert reply.url == f"https://x.com/i/web/status/{reply_id}"
    assert publisher.block(reply) == "The reply's author no longer has an X account, so there was nobody to mute."
    assert x.calls_to("users/muting") == []


def test_huge_text_and_odd_unicode_come_through_whole(x, publisher, post):
    huge = ("Long complaint " + ODD + " ") * 1000
    huge = huge[:100_000]
    big = x.add_reply(post, huge)
    odd = x.add_reply(post, ODD + " see https://example.com/page?a=1&b=2")
    replies = by_id(publisher.replies(post, None))
    assert len(huge) == 100_000
    same = replies[big].text == huge  # a bool: pytest's diff of two 100,000-character strings takes minutes
    assert same, f"differs from character {first_difference(replies[big].text, huge)} of {len(huge)}"
    assert replies[odd].text == ODD + " see https://example.com/page?a=1&b=2", "t.co undone, & < > unescaped"


def test_the_schools_post_gone_reads_as_an_empty_page_because_x_cannot_tell(x, publisher, post):
    x.add_reply(post, "Hello")
    publisher.delete(post)
    page = publisher.replies(post, "1445880548472328192")
    assert page.replies == [] and page.cursor == "1445880548472328192"


def test_read_429_is_retry_later_at_the_reset(x, publisher, post, no_sleep):
    reset = int(datetime(2025, 3, 3, 9, 15, tzinfo=timezone.utc).timestamp())
    publisher.replies(post, None)  # who the account is is known from now on
    x.rate_limit("read", reset)
    with pytest.raises(RetryLater) as caught:
        publisher.replies(post, None)
    assert caught.value.retry_at == datetime.fromtimestamp(reset, tz=timezone.utc)
    assert x.calls_to("tweets/search/recent")[-1].status == 429


def test_read_503_and_no_answer_are_transient(x, publisher, post):
    x.unavailable("read")
    with pytest.raises(Transient) as caught:
        publisher.replies(post, None)
    assert caught.value.status == 503 and "replies" in caught.value.plain
    x.fail("tweets/search/recent", timeout=True)
    with pytest.raises(Transient):
        publisher.replies(post, None)


def test_read_refused_is_permanent(x, publisher, post):
    x.fail("tweets/search/recent", status=403, body=x.problem(
        403, "Client Forbidden", "This request must be made using an approved developer account that is "
        "enrolled in the requested endpoint.", "https://api.twitter.com/2/problems/client-forbidden"))
    with pytest.raises(PermanentError) as caught:
        publisher.replies(post, None)
    assert caught.value.code == "app_access"


# -- hiding, showing again, muting --------------------------------------------------------------------------------

def reply_of(publisher, post, reply_id) -> Reply:
    return by_id(publisher.replies(post, None))[reply_id]


def test_hide_then_restore(x, publisher, post):
    reply = reply_of(publisher, post, x.add_reply(post, "Nasty", author="troll"))
    said = publisher.hide(post, reply)
    assert x.is_hidden(reply.platform_id)
    assert said.startswith("The reply by @troll was hidden on X")
    assert x.calls_to("tweets/hidden")[-1].json == {"hidden": True}

    said = publisher.restore(post, reply)
    assert not x.is_hidden(reply.platform_id)
    assert said == "The reply by @troll shows under the school's post on X again."
    assert x.calls_to("tweets/hidden")[-1].json == {"hidden": False}


def test_hiding_twice_is_fine(x, publisher, post):
    reply = reply_of(publisher, post, x.add_reply(post, "Nasty"))
    publisher.hide(post, reply)
    publisher.hide(post, reply)
    assert x.is_hidden(reply.platform_id)


def test_a_reply_already_gone_is_done(x, publisher, post):
    reply = reply_of(publisher, post, x.add_reply(post, "Deleted by its author soon"))
    x.remove_reply(reply.platform_id)
    assert publisher.hide(post, reply) == "It was already gone from X."
    with pytest.raises(PermanentError) as caught:
        publisher.restore(post, reply)
    assert caught.value.code == "reply_gone"


def test_block_mutes_the_author_and_says_so(x, publisher, post):
    reply = reply_of(publisher, post, x.add_reply(post, "Nasty", author="troll"))
    said = publisher.block(reply)
    assert x.mutes == {reply.author_id}
    assert "@troll was muted on X" in said and "block" in said
    [call] = x.calls_to("users/muting")
    assert call.json == {"target_user_id": reply.author_id} and x.user_id in call.url


def test_not_our_conversation_is_permanent(x, publisher):
    other = x.add_other_post("Someone else's post")
    reply_id = x.add_reply(other, "A reply there")
    reply = Reply(platform_id=reply_id, text="A reply there", author="aparent", author_id="", url="")
    with pytest.raises(PermanentError) as caught:
        publisher.hide(other, reply)
    assert caught.value.status == 403 and "conversations the school's account started" in caught.value.plain
    assert not x.is_hidden(reply_id)


@pytest.mark.parametrize("action", ["hide", "restore", "block"])
def test_hide_429_is_retry_later_and_503_transient(x, publisher, post, no_sleep, action):
    reply = reply_of(publisher, post, x.add_reply(post, "Nasty", author="troll"))
    call = (lambda: publisher.block(reply)) if action == "block" else (lambda: getattr(publisher, action)(post, reply))
    reset = int(datetime(2025, 3, 3, 9, 30, tzinfo=timezone.utc).timestamp())
    x.rate_limit("hide", reset)
    with pytest.raises(RetryLater) as caught:
        call()
    assert caught.value.retry_at == datetime.fromtimestamp(reset, tz=timezone.utc)
    x.unavailable("hide")
    with pytest.raises(Transient):
        call()
    assert not x.is_hidden(reply.platform_id) and x.mutes == set()
    call()  # and then it works


def test_malformed_ids_are_refused_before_anything_is_sent(x, publisher, post):
    with pytest.raises(ValueError):
        publisher.replies("123 OR from:someone", None)
    with pytest.raises(ValueError):
        publisher.hide(post, Reply(platform_id="../1", text="", author="", author_id="", url=""))
    assert x.calls_to("tweets/search/recent") == [] and x.calls_to("tweets/hidden") == []


def test_the_platform_describes_replies():
    assert PLATFORM.paid_reads is True and PLATFORM.reply_poll_minutes == 15 and "hidden replies" in PLATFORM.hiding


# -- credentials --------------------------------------------------------------------------------------------------

GUARDED = ["", "urllib3", "urllib3.connectionpool", "requests_oauthlib", "requests_oauthlib.oauth1_auth",
           "oauthlib", "oauthlib.oauth1.rfc5849", "tweepy", "tweepy.client", "gateway.platforms.x",
           "gateway.platforms.x_replies"]


def test_credentials_never_reach_logs_or_messages(x, publisher, post, caplog):
    for name in GUARDED:
        caplog.set_level(logging.DEBUG, logger=name)
    reply = reply_of(publisher, post, x.add_reply(post, "Nasty", author="troll"))
    publisher.hide(post, reply)
    publisher.restore(post, reply)
    publisher.block(reply)
    errors: list[PublishError] = []
    for kind, run in [("read", lambda: publisher.replies(post, None)), ("hide", lambda: publisher.hide(post, reply))]:
        for fault in (lambda: x.rate_limit(kind, 1741000000), lambda: x.unavailable(kind)):
            fault()
            with pytest.raises(PublishError) as caught:
                run()
            errors.append(caught.value)
    x.fail("tweets/hidden", status=401, body=x.unauthorized())
    with pytest.raises(PermanentError) as caught:
        publisher.hide(post, reply)
    errors.append(caught.value)

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [formatter.format(r) for r in caplog.records]
    assert any("[redacted]" in line for line in logged), "the signing was logged (redacted)"
    assert any(r.name == "gateway.platforms.x_replies" for r in caplog.records)
    said = logged + [str(e) for e in errors] + [e.plain + e.detail for e in errors] + [repr(e) for e in errors]
    for secret in SECRETS:
        assert [line for line in said if secret in line] == [], "a credential leaked"
