"""Replies under the school's Bluesky posts: BlueskyPublisher's replies/hide/restore/block through the real atproto SDK
against the Bluesky emulator (tests/bluesky_api.py, tests/bluesky_replies_api.py) over real HTTP."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from gateway.platforms import bluesky_session
from gateway.platforms.base import Outgoing, PermanentError, PublishError, Reply, RetryLater, Transient
from gateway.platforms.bluesky import PLATFORM, BlueskyPublisher
from gateway.platforms.bluesky_session import BlueskyAccount
from tests.bluesky_api import APP_PASSWORD, DID, BlueskyEmulator

THREAD, PUT, GET = "app.bsky.feed.getPostThread", "com.atproto.repo.putRecord", "com.atproto.repo.getRecord"
CREATE = "com.atproto.repo.createRecord"
GATE = "app.bsky.feed.threadgate"
ODD = [
    "\u202eRTL override\u202c and \u200fmark\u200f: \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "family \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 flag \U0001F3F4\U000E0067\U000E0062\U000E0065"
    "\U000E006E\U000E0067\U000E007F skin \U0001F44D\U0001F3FD",
    "Z\u0351\u0308\u0334a\u0302\u0324\u0327l\u0300\u0316g\u0301o e\u0301 n\u0303 zero\u200bwidth\u200cnon\u200djoin",
    "x" * 100_000,
]


@pytest.fixture(autouse=True)
def no_kept_sessions(monkeypatch):
    monkeypatch.setattr(bluesky_session, "_sessions", {})


@pytest.fixture
def bsky():
    with BlueskyEmulator() as emulator:
        yield emulator


@pytest.fixture
def publisher(bsky):
    return BlueskyPublisher(BlueskyAccount.from_credentials("greenfieldschool", {
        "app_password": APP_PASSWORD, "service": bsky.url}), b"test namespace", timeout=3.0)


@pytest.fixture
def post(publisher) -> str:
    return publisher.publish(Outgoing(key="7", text="Sports day today!", photos=[], approved_by="Head Teacher",
                                      approved_at=datetime.now(timezone.utc))).platform_id


def by_id(publisher, post) -> dict[str, Reply]:
    return {r.platform_id: r for r in publisher.replies(post, None).replies}


def reply_of(publisher, post, reply_id) -> Reply:
    return by_id(publisher, post)[reply_id]


# reading -----------------------------------------------------------------------------------------------------------

def test_replies_at_every_depth_come_back_but_not_the_schools_own(bsky, publisher, post):
    first = bsky.add_reply(post, "Well done everyone!")
    nested = bsky.add_reply(first, "Agreed", author="grandma.example.com")
    ours = bsky.add_reply(post, "Thank you!", author="greenfieldschool")
    under_ours = bsky.add_reply(ours, "You're welcome", author="pupil")
    deep = under_ours
    for n in range(8):
        deep = bsky.add_reply(deep, f"level {n}")

    page = publisher.replies(post, None)

    ids = [r.platform_id for r in page.replies]
    assert ids[:3] == [first, nested, under_ours] and ids[-1] == deep and len(ids) == 11
    assert ours not in ids and all(r.author_id != DID for r in page.replies)
    reply = page.replies[1]
    assert (reply.text, reply.author, reply.author_id) == ("Agreed", "grandma.example.com", nested.split("/")[2])
    assert reply.url == f"https://bsky.app/profile/grandma.example.com/post/{nested.rsplit('/', 1)[1]}"
    assert abs(reply.created_at - datetime.now(timezone.utc)) < timedelta(minutes=1) and not reply.hidden
    [call] = bsky.calls_to(THREAD)
    assert call.query == {"uri": post, "depth": "1000", "parentHeight": "0"}


def test_bluesky_has_no_cursor_so_each_read_returns_every_reply(bsky, publisher, post):
    first = bsky.add_reply(post, "one")
    page = publisher.replies(post, None)
    second = bsky.add_reply(post, "two")

    again = publisher.replies(post, page.cursor)

    assert page.cursor is None and again.cursor is None
    assert [r.platform_id for r in again.replies] == [first, second]


def test_a_post_without_replies_reads_empty(publisher, post):
    assert publisher.replies(post, None).replies == []


@pytest.mark.parametrize("text", ODD, ids=["rtl", "emoji-zwj", "combining", "huge"])
def test_any_text_comes_through_exactly(bsky, publisher, post, text):
    reply_id = bsky.add_reply(post, text, author="\u00e9l\u00e8ve.example.com")
    assert reply_of(publisher, post, reply_id).text == text


def test_the_hidden_flag_is_read_from_the_posts_reply_settings(bsky, publisher, post):
    shown, hidden = bsky.add_reply(post, "fine"), bsky.add_reply(post, "rude")
    bsky.set_threadgate(post, {"$type": GATE, "post": post, "createdAt": "2024-05-01T10:00:00.000Z",
                               "hiddenReplies": [hidden]})
    replies = by_id(publisher, post)
    assert replies[hidden].hidden and not replies[shown].hidden


def test_deleted_replies_and_those_whose_author_is_gone_are_not_read(bsky, publisher, post):
    """Bluesky gives a reply whose author's account is gone as a notFoundPost, without the replies below it, and
    leaves out deleted ones: there is nothing to read (author "" never arises)."""
    kept = bsky.add_reply(post, "still here")
    gone = bsky.add_reply(post, "my account is gone", author_gone=True)
    bsky.add_reply(gone, "below a gone one", author="other")
    deleted = bsky.add_reply(post, "deleted")
    bsky.delete_reply(deleted)
    assert list(by_id(publisher, post)) == [kept]


def test_the_schools_post_gone_is_post_gone(bsky, publisher, post):
    bsky.add_reply(post, "hello")
    publisher.delete(post)
    with pytest.raises(PermanentError) as caught:
        publisher.replies(post, None)
    assert caught.value.code == "post_gone" and "no longer on Bluesky" in caught.value.plain
    assert bsky.calls_to(THREAD)[-1].status == 400


def test_bad_ids_are_refused_before_anything_is_sent(bsky, publisher):
    with pytest.raises(ValueError):
        publisher.replies("https://bsky.app/profile/x/post/1", None)
    assert not bsky.calls_to(THREAD)


# hiding and restoring ----------------------------------------------------------------------------------------------

def test_hide_then_restore(bsky, publisher, post):
    reply_id = bsky.add_reply(post, "rude words")
    reply = reply_of(publisher, post, reply_id)

    said = publisher.hide(post, reply)

    assert bsky.is_hidden(reply_id) and "Hid the reply by @aparent.bsky.social" in said
    record = bsky.threadgate(post)
    assert set(record) == {"$type", "post", "createdAt", "hiddenReplies"}  # no "allow": anyone may still reply
    assert record["post"] == post and record["hiddenReplies"] == [reply_id]
    assert [c.json["rkey"] for c in bsky.calls_to(PUT)] == [post.rsplit("/", 1)[1]]
    assert reply_of(publisher, post, reply_id).hidden
    assert "already hidden" in publisher.hide(post, reply) and len(bsky.calls_to(PUT)) == 1

    said = publisher.restore(post, reply)

    assert not bsky.is_hidden(reply_id) and "Restored the reply by @aparent.bsky.social" in said
    assert not reply_of(publisher, post, reply_id).hidden
    assert "nothing to restore" in publisher.restore(post, reply) and len(bsky.calls_to(PUT)) == 2


@pytest.mark.parametrize("allow", [[], [{"$type": f"{GATE}#mentionRule"},
                                        {"$type": f"{GATE}#listRule", "list": f"at://{DID}/app.bsky.graph.list/3k"}]])
def test_hiding_keeps_the_schools_reply_rules_exactly(bsky, publisher, post, allow):
    keep = bsky.add_reply(post, "hidden by hand earlier")
    before = {"$type": GATE, "post": post, "createdAt": "2024-05-01T10:00:00.000Z", "allow": allow,
              "hiddenReplies": [keep]}
    bsky.set_threadgate(post, dict(before))
    cid = bsky.gates[post.rsplit("/", 1)[1]]["cid"]
    reply_id = bsky.add_reply(post, "rude")

    publisher.hide(post, reply_of(publisher, post, reply_id))

    assert bsky.threadgate(post) == {**before, "hiddenReplies": [keep, reply_id]}
    assert bsky.calls_to(PUT)[0].json["swapRecord"] == cid
    publisher.restore(post, reply_of(publisher, post, keep))
    assert bsky.threadgate(post) == {**before, "hiddenReplies": [reply_id]}


def test_reply_settings_changed_at_the_same_moment_are_read_again_not_overwritten(bsky, publisher, post):
    reply_id = bsky.add_reply(post, "rude")
    reply = reply_of(publisher, post, reply_id)
    bsky.fail(PUT, status=400, body=bsky.error("InvalidSwap", "Record was at bafyother"))
    publisher.hide(post, reply)
    assert bsky.is_hidden(reply_id) and len(bsky.calls_to(PUT)) == 2 and len(bsky.calls_to(GET)) >= 2


def test_past_300_hidden_replies_bluesky_cannot_hide_more(bsky, publisher, post):
    full = [f"at://did:plc:someone{n:05d}/app.bsky.feed.post/3kaaaaaaaa{n:03d}" for n in range(300)]
    bsky.set_threadgate(post, {"$type": GATE, "post": post, "createdAt": "2024-05-01T10:00:00.000Z",
                               "hiddenReplies": full})
    reply_id = bsky.add_reply(post, "one too many")
    with pytest.raises(PermanentError) as caught:
        publisher.hide(post, reply_of(publisher, post, reply_id))
    assert caught.value.code == "hide_limit" and "300" in caught.value.plain
    assert not bsky.calls_to(PUT) and not bsky.is_hidden(reply_id)


def test_a_reply_already_gone_is_done(bsky, publisher, post):
    reply_id = bsky.add_reply(post, "rude")
    reply = reply_of(publisher, post, reply_id)
    bsky.delete_reply(reply_id)
    assert publisher.hide(post, reply) == "It was already gone from Bluesky."
    assert not bsky.calls_to(PUT)


def test_replies_from_another_conversation_or_account_are_refused(bsky, publisher, post):
    other_post = publisher.publish(Outgoing(key="8", text="Another post", photos=[], approved_by="Head",
                                            approved_at=datetime.now(timezone.utc))).platform_id
    elsewhere = reply_of(publisher, other_post, bsky.add_reply(other_post, "rude"))
    with pytest.raises(PermanentError) as caught:
        publisher.hide(post, elsewhere)
    assert caught.value.code == "not_in_thread"
    foreign = post.replace(DID, "did:plc:someoneelse00000000000")
    for act in (publisher.hide, publisher.restore):
        with pytest.raises(PermanentError) as caught:
            act(foreign, elsewhere)
        assert caught.value.code == "other_account"
    assert not bsky.calls_to(PUT)


# blocking ----------------------------------------------------------------------------------------------------------

def test_block_the_author(bsky, publisher, post):
    reply_id = bsky.add_reply(post, "rude", author="troll")
    bsky.add_reply(post, "fine", author="parent")
    reply = reply_of(publisher, post, reply_id)

    said = publisher.block(reply)

    assert bsky.blocked("troll") and not bsky.blocked("parent") and "Blocked @troll.bsky.social" in said
    [call] = bsky.calls_to(CREATE)[-1:]
    assert call.json["collection"] == "app.bsky.graph.block" and call.json["repo"] == DID
    assert call.json["record"]["subject"] == reply.author_id and call.json["record"]["$type"] == "app.bsky.graph.block"
    assert reply_id not in by_id(publisher, post)  # Bluesky now gives it as a blockedPost
    assert "already blocked" in publisher.block(reply) and len(bsky.calls_to(CREATE)) == 2  # the post and 1 block


def test_blocking_an_author_who_is_gone_blocks_nobody(bsky, publisher, post):
    gone = bsky.add_reply(post, "bye", author_gone=True)
    nobody = Reply(platform_id=gone, text="bye", author="", author_id="", url="")
    assert "Nobody was blocked" in publisher.block(nobody)
    reply = Reply(platform_id=gone, text="bye", author="aparent.bsky.social", author_id=gone.split("/")[2], url="")
    assert "already gone" in publisher.block(reply)
    assert len(bsky.calls_to(CREATE)) == 1 and not bsky.blocks


# failures ----------------------------------------------------------------------------------------------------------

def actions(publisher, post, reply):
    return {"hide": lambda: publisher.hide(post, reply), "restore": lambda: publisher.restore(post, reply),
            "block": lambda: publisher.block(reply)}


@pytest.mark.parametrize("action", ["read", "hide", "restore", "block"])
def test_429_is_retry_later_at_the_reset(bsky, publisher, post, action):
    reply = reply_of(publisher, post, bsky.add_reply(post, "rude"))
    reset = int(time.time()) + 1234
    bsky.rate_limit("read" if action == "read" else "hide", reset)
    run = (lambda: publisher.replies(post, None)) if action == "read" else actions(publisher, post, reply)[action]
    with pytest.raises(RetryLater) as caught:
        run()
    assert caught.value.retry_at == datetime.fromtimestamp(reset, tz=timezone.utc)
    assert caught.value.status == 429 and not bsky.blocks and not bsky.is_hidden(reply.platform_id)
    run()  # the next call goes through


@pytest.mark.parametrize("action", ["read", "hide", "restore", "block"])
def test_503_is_transient(bsky, publisher, post, action):
    reply = reply_of(publisher, post, bsky.add_reply(post, "rude"))
    bsky.unavailable("read" if action == "read" else "hide")
    run = (lambda: publisher.replies(post, None)) if action == "read" else actions(publisher, post, reply)[action]
    with pytest.raises(Transient) as caught:
        run()
    assert caught.value.status == 503 and "again shortly" in caught.value.plain


def test_a_dropped_connection_while_hiding_is_transient(bsky, publisher, post):
    reply = reply_of(publisher, post, bsky.add_reply(post, "rude"))
    bsky.fail(PUT, drop=True)
    with pytest.raises(Transient):
        publisher.hide(post, reply)


@pytest.mark.parametrize("nsid", [THREAD, PUT])
def test_403_is_permanent(bsky, publisher, post, nsid):
    reply = reply_of(publisher, post, bsky.add_reply(post, "rude"))
    bsky.fail(nsid, status=403, body=bsky.error("Forbidden", "Not permitted for this conversation"))
    with pytest.raises(PermanentError) as caught:
        publisher.replies(post, None) if nsid == THREAD else publisher.hide(post, reply)
    assert caught.value.status == 403 and caught.value.code == "forbidden"


def test_a_session_the_server_ended_is_renewed_while_reading(bsky, publisher, post):
    reply_id = bsky.add_reply(post, "hello")
    publisher.replies(post, None)
    bsky.expire_sessions()
    assert list(by_id(publisher, post)) == [reply_id]


def test_no_credential_in_any_log_line_or_message(bsky, publisher, post, caplog):
    caplog.set_level(logging.DEBUG)
    reply = reply_of(publisher, post, bsky.add_reply(post, "rude"))
    said = [publisher.hide(post, reply), publisher.restore(post, reply), publisher.block(reply)]
    errors: list[PublishError] = []
    for kind, run in [("read", lambda: publisher.replies(post, None)), ("hide", lambda: publisher.hide(post, reply))]:
        bsky.unavailable(kind)
        with pytest.raises(PublishError) as caught:
            run()
        errors.append(caught.value)
    bsky.fail(THREAD, status=400, body=bsky.error("InvalidRequest", f"bad token {next(iter(bsky.tokens))}"))
    with pytest.raises(PublishError) as caught:
        publisher.replies(post, None)
    errors.append(caught.value)
    texts = said + [caplog.text] + [f"{e.plain} {e.detail} {e}" for e in errors]
    assert bsky.tokens
    for secret in [APP_PASSWORD, *bsky.tokens]:
        assert not any(secret in text for text in texts)


def test_the_platform_says_how_often_and_what_hiding_does():
    assert PLATFORM.reply_poll_minutes == 5 and PLATFORM.paid_reads is False
    assert "hidden replies" in PLATFORM.hiding
