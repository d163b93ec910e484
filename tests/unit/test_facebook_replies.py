"""Comments under the school's Facebook posts: read, hidden (or deleted), shown again, their writers blocked.

The real FacebookPublisher and requests code run against the Graph API emulator (tests/facebook_api.py and
tests/facebook_comments_api.py); only HTTP is emulated.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from gateway.core import settings as settings_module
from gateway.platforms.base import PermanentError, PublishError, Reply, RetryLater, Transient
from gateway.platforms.facebook import PLATFORM, FacebookPublisher
from gateway.platforms.facebook_comments import FIELDS
from gateway.platforms.facebook_secrets import FacebookCredentials
from tests.facebook_api import PAGE_ID, TEST_CREDENTIALS, TEST_TOKEN, FacebookApiEmulator, outgoing

HANDLE = "greenfieldschool"
CREDS = FacebookCredentials.from_mapping(TEST_CREDENTIALS)
ODD = ("\u202eRTL override\u202c \u200fמה שלומך\u200f 👩\u200d👩\u200d👧\u200d👦 e\u0301 Z\u0351\u0352\u0353 "
       "\u200b zero\u2060width \U0001F3F3\uFE0F\u200d\U0001F308 \ufeff")


@pytest.fixture
def fb():
    with FacebookApiEmulator(username=HANDLE) as emulator:
        yield emulator
    assert emulator.auth_failures == [], "every call must carry the Page access token"


@pytest.fixture
def publisher(fb):
    return FacebookPublisher(CREDS, HANDLE, timeout=5)


@pytest.fixture
def deleting(fb):
    return FacebookPublisher(CREDS, HANDLE, timeout=5, comments="delete")


@pytest.fixture
def post(fb, publisher) -> str:
    return publisher.publish(outgoing()).platform_id


def by_id(page) -> dict[str, Reply]:
    return {r.platform_id: r for r in page.replies}


# 1: reading --------------------------------------------------------------------------------------------------------

def test_every_comment_at_any_depth_is_read_but_not_the_schools_own(fb, publisher, post):
    first = fb.add_reply(post, "Well done everyone!")
    answer = fb.add_reply(first, "Thanks, my son loved it", author="bparent")
    deeper = fb.add_reply(answer, "Mine too", author="cparent")
    own = fb.add_reply(first, "Thank you for coming!", author=HANDLE)

    page = publisher.replies(post, None)

    assert [r.platform_id for r in page.replies] == [first, answer, deeper]
    assert own not in by_id(page)
    reply = by_id(page)[answer]
    assert (reply.text, reply.author, reply.author_id) == ("Thanks, my son loved it", "bparent",
                                                            fb.person_id("bparent"))
    assert reply.url.startswith(f"https://www.facebook.com/{PAGE_ID}/posts/") and "reply_comment_id=" in reply.url
    assert reply.created_at is not None and reply.created_at.tzinfo is not None and reply.hidden is False
    call = fb.calls_to("comments.read")[0]
    assert call.url.split("?")[0].endswith(f"/v26.0/{post}/comments")
    assert call.query == {"filter": "stream", "order": "chronological", "fields": FIELDS, "limit": "100"}
    assert call.headers["Authorization"] == f"Bearer {TEST_TOKEN}" and TEST_TOKEN not in call.url


def test_all_pages_are_followed_in_order_without_sending_the_token_in_a_url(fb, publisher, post):
    ids = [fb.add_reply(post, f"Comment {n}", author=f"parent{n % 7}") for n in range(250)]

    page = publisher.replies(post, None)

    assert [r.platform_id for r in page.replies] == ids
    calls = fb.calls_to("comments.read")
    assert len(calls) == 3 and all(c.query.get("after") for c in calls[1:])
    assert not any(TEST_TOKEN in c.url or "access_token" in c.query for c in fb.calls)


def test_each_read_gives_every_comment_again_because_facebook_cursors_must_not_be_stored(fb, publisher, post):
    """Facebook: an app "shouldn't store cursors"; reads are free, and a comment may be edited after a read."""
    old = fb.add_reply(post, "First")
    first = publisher.replies(post, None)
    new = fb.add_reply(post, "Second")
    fb.comments[old]["message"] = "First, edited to say something unkind"

    second = publisher.replies(post, first.cursor)

    assert first.cursor is None and second.cursor is None
    assert [r.platform_id for r in second.replies] == [old, new]
    assert by_id(second)[old].text == "First, edited to say something unkind"
    assert "after" not in fb.calls_to("comments.read")[-1].query


def test_the_hidden_flag_is_read_back(fb, publisher, post):
    shown, hidden_by_hand = fb.add_reply(post, "Lovely"), fb.add_reply(post, "Rude")
    fb.comments[hidden_by_hand]["hidden"] = True  # hidden by someone on the Page, by hand

    replies = by_id(publisher.replies(post, None))

    assert replies[hidden_by_hand].hidden is True and replies[shown].hidden is False


def test_a_deleted_writer_has_no_name_and_no_id(fb, publisher, post):
    gone = fb.add_reply(post, "I left Facebook", author="leaver", author_gone=True)

    reply = by_id(publisher.replies(post, None))[gone]

    assert (reply.author, reply.author_id, reply.text) == ("", "", "I left Facebook")


@pytest.mark.parametrize("text", ["x" * 99_990 + "🙂 end.", ODD, "", "  line one\r\nline two\n\n\ttabbed  "])
def test_huge_and_odd_text_comes_through_exactly(fb, publisher, post, text):
    comment = fb.add_reply(post, text)

    assert by_id(publisher.replies(post, None))[comment].text == text


def test_the_schools_post_gone_is_post_gone(fb, publisher, post):
    fb.add_reply(post, "Hello")
    publisher.delete(post)

    with pytest.raises(PermanentError) as caught:
        publisher.replies(post, None)

    assert caught.value.code == "post_gone" and "no longer on Facebook" in caught.value.plain


# 2: hiding, deleting, showing again, blocking -----------------------------------------------------------------------

def test_hide_hides_and_restore_shows_again(fb, publisher, post):
    comment = fb.add_reply(post, "Something unkind", author="troll")
    reply = by_id(publisher.replies(post, None))[comment]

    said = publisher.hide(post, reply)
    assert fb.is_hidden(comment) and by_id(publisher.replies(post, None))[comment].hidden
    assert said.startswith("Hid the comment by troll") and "only its writer and their friends" in said
    assert fb.calls_to("comment.update")[-1].form == {"is_hidden": "true"}

    said = publisher.restore(post, reply)
    assert not fb.is_hidden(comment) and said.startswith("Showed the comment by troll")
    assert fb.calls_to("comment.update")[-1].form == {"is_hidden": "false"}


def test_delete_setting_deletes_and_a_deleted_comment_cannot_come_back(fb, deleting, post):
    comment = fb.add_reply(post, "Something unkind", author="troll")
    answer = fb.add_reply(comment, "Agreed", author="ally")
    reply = by_id(deleting.replies(post, None))[comment]

    said = deleting.hide(post, reply)

    assert "Deleted the comment by troll" in said and "cannot be brought back" in said
    assert fb.is_hidden(comment) and fb.is_hidden(answer)  # a deleted comment takes its replies with it
    assert deleting.replies(post, None).replies == []
    assert [c.method for c in fb.calls_to("object.delete")] == ["DELETE"]
    with pytest.raises(PermanentError) as caught:
        deleting.restore(post, reply)
    assert caught.value.code == "reply_gone" and "cannot bring back a deleted comment" in caught.value.plain


def test_connect_takes_the_delete_setting(fb, post, tmp_path):
    settings = settings_module.load({"INSTANCE_DIR": str(tmp_path), "FACEBOOK_COMMENTS": "delete"})
    connected = PLATFORM.connect(HANDLE, TEST_CREDENTIALS, settings)
    comment = fb.add_reply(post, "Unkind")

    connected.hide(post, by_id(connected.replies(post, None))[comment])

    assert fb.comments[comment]["deleted"] and fb.calls_to("comment.update") == []


@pytest.mark.parametrize("mode", ["hide", "delete"])
def test_a_comment_already_gone_is_done(fb, post, mode):
    publisher = FacebookPublisher(CREDS, HANDLE, timeout=5, comments=mode)
    comment = fb.add_reply(post, "Posted then deleted by its writer")
    reply = by_id(publisher.replies(post, None))[comment]
    fb.comments[comment]["deleted"] = True

    assert publisher.hide(post, reply) == "It was already gone from Facebook."


def test_showing_a_comment_deleted_by_its_writer_again_is_refused_in_plain_words(fb, publisher, post):
    comment = fb.add_reply(post, "Gone soon")
    reply = by_id(publisher.replies(post, None))[comment]
    fb.comments[comment]["deleted"] = True

    with pytest.raises(PermanentError) as caught:
        publisher.restore(post, reply)

    assert caught.value.code == "reply_gone" and "cannot be shown again" in caught.value.plain


def test_block_blocks_the_writer_from_the_page(fb, publisher, post):
    comment = fb.add_reply(post, "Unkind", author="troll")
    reply = by_id(publisher.replies(post, None))[comment]

    said = publisher.block(reply)

    assert fb.blocked == {fb.person_id("troll")}
    call = fb.calls_to("page.block")[0]
    assert call.url.split("?")[0].endswith(f"/{PAGE_ID}/blocked") and call.form == {"user": fb.person_id("troll")}
    assert said.startswith("Blocked troll from the school's Facebook Page")


def test_a_writer_facebook_does_not_name_cannot_be_blocked(fb, publisher, post):
    comment = fb.add_reply(post, "Unkind", author="leaver", author_gone=True)
    reply = by_id(publisher.replies(post, None))[comment]

    with pytest.raises(PermanentError) as caught:
        publisher.block(reply)

    assert caught.value.code == "no_author" and "cannot block them" in caught.value.plain
    assert fb.calls_to("page.block") == []


def test_a_block_facebook_refuses_is_not_reported_as_done(fb, publisher, post):
    stranger = Reply(platform_id="1_2", text="", author="stranger", author_id="999", url="")

    with pytest.raises(PermanentError) as caught:
        publisher.block(stranger)

    assert caught.value.code == "not_blocked" and fb.blocked == set()


def test_an_unconfirmed_hide_is_tried_again_not_taken_as_done(fb, publisher, post):
    comment = fb.add_reply(post, "Unkind")
    reply = by_id(publisher.replies(post, None))[comment]
    fb.fail("comment.update", status=200, body={"success": False})

    with pytest.raises(Transient) as caught:
        publisher.hide(post, reply)

    assert caught.value.code == "unconfirmed"


# 3: failures -------------------------------------------------------------------------------------------------------

def _actions(publisher, post, reply):
    return {
        "read": lambda: publisher.replies(post, None),
        "hide": lambda: publisher.hide(post, reply),
        "restore": lambda: publisher.restore(post, reply),
        "block": lambda: publisher.block(reply),
    }


@pytest.mark.parametrize("action", ["read", "hide", "restore", "block"])
def test_rate_limit_is_retry_later_at_the_reset(fb, publisher, post, action):
    fb.add_reply(post, "Hi", author="someone")
    reply = publisher.replies(post, None).replies[0]
    reset = int(time.time()) + 600
    fb.rate_limit("read" if action == "read" else "hide", reset)

    with pytest.raises(RetryLater) as caught:
        _actions(publisher, post, reply)[action]()

    wanted = datetime.fromtimestamp(reset, timezone.utc)
    assert abs(caught.value.retry_at - wanted) <= timedelta(seconds=1)
    assert caught.value.code == "rate_limited" and "Nothing was changed on Facebook" in caught.value.plain
    _actions(publisher, post, reply)[action]()  # only the next call was limited


def test_rate_limit_reset_between_minutes_is_never_retried_early(fb, publisher, post):
    reset = int(time.time()) + 90  # Facebook gives whole minutes from now: 2
    fb.rate_limit("read", reset)

    with pytest.raises(RetryLater) as caught:
        publisher.replies(post, None)

    wanted = datetime.fromtimestamp(reset, timezone.utc)
    assert wanted - timedelta(seconds=1) <= caught.value.retry_at <= wanted + timedelta(seconds=60)


def test_a_limit_on_hiding_does_not_stop_reading(fb, publisher, post):
    fb.add_reply(post, "Hi")
    fb.rate_limit("hide", int(time.time()) + 600)

    assert len(publisher.replies(post, None).replies) == 1


@pytest.mark.parametrize("action", ["read", "hide", "restore", "block"])
def test_facebook_down_is_transient(fb, publisher, post, action):
    fb.add_reply(post, "Hi", author="someone")
    reply = publisher.replies(post, None).replies[0]
    fb.unavailable("read" if action == "read" else "hide")

    with pytest.raises(Transient) as caught:
        _actions(publisher, post, reply)[action]()

    assert caught.value.status == 503 and "shortly" in caught.value.plain
    assert not fb.is_hidden(reply.platform_id) and fb.blocked == set()


@pytest.mark.parametrize("endpoint,action", [("comments.read", "read"), ("comment.update", "hide"),
                                             ("comment.update", "restore"), ("page.block", "block")])
def test_forbidden_is_permanent_and_names_the_permission(fb, publisher, post, endpoint, action):
    fb.add_reply(post, "Hi", author="someone")
    reply = publisher.replies(post, None).replies[0]
    fb.fail(endpoint, status=403, body=fb.error(200, "(#200) Permissions error"))

    with pytest.raises(PermanentError) as caught:
        _actions(publisher, post, reply)[action]()

    assert caught.value.status == 403 and caught.value.code == "permissions"
    assert "pages_manage_engagement" in caught.value.plain and "pages_read_user_content" in caught.value.plain


def test_a_read_timeout_is_transient(fb, publisher, post):
    fb.fail("comments.read", timeout=True)

    with pytest.raises(Transient):
        publisher.replies(post, None)


def test_the_platform_says_how_it_hides_and_how_often_it_may_read():
    assert PLATFORM.reply_poll_minutes == 5 and PLATFORM.paid_reads is False
    assert "only its writer and their friends" in PLATFORM.hiding and "FACEBOOK_COMMENTS=delete" in PLATFORM.hiding


# 4: no secret anywhere ---------------------------------------------------------------------------------------------

def test_the_token_never_reaches_logs_or_messages(fb, publisher, post, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "gateway.platforms.facebook_comments", "gateway.platforms.facebook_graph"):
        caplog.set_level(logging.DEBUG, logger=name)
    for n in range(120):  # a second page, whose `next` link carries the token
        fb.add_reply(post, f"Comment {n}", author=f"parent{n % 3}")
    reply = publisher.replies(post, None).replies[0]
    publisher.hide(post, reply), publisher.restore(post, reply), publisher.block(reply)
    errors: list[PublishError] = []
    for endpoint, fault in [
        ("comments.read", {"status": 400, "body": fb.error(190, f"Malformed access token {TEST_TOKEN}")}),
        ("comment.update", {"status": 403, "body": fb.error(200, f"(#200) no permission for Bearer {TEST_TOKEN}")}),
        ("page.block", {"status": 400, "body": fb.error(100, f"(#100) bad param access_token={TEST_TOKEN}")}),
    ]:
        fb.fail(endpoint, **fault)
        with pytest.raises(PublishError) as caught:
            {"comments.read": lambda: publisher.replies(post, None), "comment.update": lambda: publisher.hide(
                post, reply), "page.block": lambda: publisher.block(reply)}[endpoint]()
        errors.append(caught.value)

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    said = [formatter.format(r) for r in caplog.records]
    assert any("comment" in line for line in said), "the reply calls were logged"
    said += [str(e) for e in errors] + [repr(e) for e in errors] + [e.plain + e.detail for e in errors]
    leaks = [line for line in said if TEST_TOKEN in line or "access_token=EAA" in line]
    assert leaks == [], f"the token leaked: {leaks[:1]}"
    assert not any(TEST_TOKEN in c.url for c in fb.calls)
