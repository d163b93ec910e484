"""FacebookPublisher against the Graph API emulator: publishing, at most once, find, rate limits, what it takes.

Real requests code runs; only HTTP is emulated (tests/facebook_api.py).  Refusals, takedowns, the account's keys,
https and secrets are in test_facebook_refusals.py.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from gateway.platforms import facebook
from gateway.platforms.base import Ambiguous, OutgoingPhoto, PermanentError, RetryLater, Transient
from gateway.platforms.facebook import PLATFORM, FacebookPublisher
from gateway.platforms.facebook_errors import FALLBACK_RETRY, retry_at_from
from gateway.platforms.facebook_graph import GRAPH_VERSION
from gateway.platforms.facebook_secrets import FacebookCredentials
from tests.facebook_api import PAGE_ID, SAMPLE_TEXT, TEST_CREDENTIALS, TEST_TOKEN, FacebookApiEmulator, jpeg, outgoing

HANDLE = "greenfieldschool"
CREDS = FacebookCredentials.from_mapping(TEST_CREDENTIALS)
TEXT = SAMPLE_TEXT


@pytest.fixture
def fb():
    with FacebookApiEmulator(username=HANDLE) as emulator:
        yield emulator
    assert emulator.auth_failures == [], "every call must carry the Page access token"


@pytest.fixture
def publisher(fb):
    return FacebookPublisher(CREDS, HANDLE, timeout=5)


@pytest.fixture
def no_sleep(monkeypatch):
    def forbidden(seconds):
        raise AssertionError(f"something tried to sleep {seconds}s")

    monkeypatch.setattr(time, "sleep", forbidden)


def minutes_from_now(when: datetime) -> float:
    return (when - datetime.now(timezone.utc)).total_seconds() / 60


# 1: publishing -----------------------------------------------------------------------------------------------------

def test_photos_go_up_unpublished_with_alt_text_then_one_feed_post_names_them_in_order(fb, publisher):
    post = outgoing(photos=4)
    result = publisher.publish(post)

    uploads, creates = fb.calls_to("photos.create"), fb.calls_to("feed.create")
    assert len(uploads) == 4 and len(creates) == 1
    assert [c.files["source"]["data"] for c in uploads] == [p.data for p in post.photos]
    assert all(c.files["source"]["content_type"] == "image/jpeg" for c in uploads)
    assert [c.form for c in uploads] == [{"published": "false", "alt_text_custom": p.alt} for p in post.photos]
    photo_ids = list(fb.photos)  # in the order Facebook handed them out
    assert creates[0].form == {"message": post.text, **{f"attached_media[{i}]": json.dumps({"media_fbid": m})
                                                        for i, m in enumerate(photo_ids)}}
    [made] = fb.live_posts()
    assert made["media"] == photo_ids and made["message"] == post.text
    assert all(fb.photos[m]["alt_text_custom"] == p.alt for m, p in zip(photo_ids, post.photos))
    assert result.platform_id == made["id"]
    assert result.url == f"https://www.facebook.com/{PAGE_ID}/posts/{made['id'].split('_')[1]}"


def test_every_call_uses_the_pinned_version_a_timeout_no_redirects_and_the_token_only_in_a_header(fb, publisher):
    publisher.publish(outgoing(photos=2))
    publisher.find(outgoing())
    assert fb.calls and all(c.version == GRAPH_VERSION == "v26.0" for c in fb.calls)
    assert all(c.timeout is not None for c in fb.calls), "no call may wait forever"
    assert all(c.headers["Authorization"] == f"Bearer {TEST_TOKEN}" for c in fb.calls)
    assert not any(TEST_TOKEN in c.url or "access_token" in c.url for c in fb.calls)


def test_a_redirect_is_never_followed(fb, publisher):
    fb.fail("photos.create", status=302, body="", headers={"Location": "https://elsewhere.example/steal"})
    with pytest.raises(Transient) as caught:
        publisher.publish(outgoing(photos=1))
    assert caught.value.status == 302 and "HTTP 302" in caught.value.detail  # followed, it would be a ConnectionError
    assert len(fb.mock.calls) == 1


def test_text_only_post_is_one_feed_post(fb, publisher):
    result = publisher.publish(outgoing())
    [create] = fb.calls_to("feed.create")
    assert create.form == {"message": TEXT}
    assert not fb.calls_to("photos.create")
    assert result.platform_id == fb.live_posts()[0]["id"]


def test_ten_photos_in_one_post(fb, publisher):
    publisher.publish(outgoing(photos=10))
    [made] = fb.live_posts()
    assert len(made["media"]) == 10 and len(fb.calls_to("photos.create")) == 10


def test_a_photo_without_alt_text_sends_no_alt_text_field(fb, publisher):
    post = outgoing(photos=1)
    post.photos[0].alt = ""
    publisher.publish(post)
    assert fb.calls_to("photos.create")[0].form == {"published": "false"}


# 2: at most once ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [
    {"timeout": True},
    {"connection_error": True},
    {"status": 500, "body": {"error": {"message": "An unknown error has occurred.", "type": "OAuthException",
                                       "code": 1, "fbtrace_id": "AxYz1"}}},
    {"status": 503},
], ids=["read-timeout", "connection-dropped", "500-code-1", "503"])
def test_answer_lost_after_facebook_made_the_post_is_ambiguous_and_find_returns_it(fb, publisher, fault):
    post = outgoing(photos=2)
    fb.fail("feed.create", after_effect=True, **fault)

    with pytest.raises(Ambiguous) as caught:
        publisher.publish(post)
    assert "not yet known" in caught.value.plain and "will not be posted twice" in caught.value.plain
    [made] = fb.live_posts()  # Facebook did make it

    found = publisher.find(post)
    assert found is not None and found.platform_id == made["id"]
    assert len(fb.calls_to("feed.create")) == 1
    assert len(fb.live_posts()) == 1  # the caller records it: nothing posted again


def test_a_second_publish_after_a_lost_answer_still_makes_one_post(fb, publisher):
    """Facebook refuses the same words twice in a row (506); publish() then finds the first post and returns it."""
    post = outgoing(photos=1)
    fb.fail("feed.create", timeout=True, after_effect=True)
    with pytest.raises(Ambiguous):
        publisher.publish(post)
    [made] = fb.live_posts()

    post.earlier_attempts = 1
    result = publisher.publish(post)
    assert result.platform_id == made["id"]
    assert len(fb.live_posts()) == 1
    assert fb.calls_to("feed.create")[-1].status == 400  # the duplicate refusal


def test_lost_answer_without_a_post_is_found_absent_and_the_retry_makes_one(fb, publisher):
    post = outgoing(photos=2)
    fb.fail("feed.create", status=503)
    with pytest.raises(Ambiguous):
        publisher.publish(post)
    assert fb.live_posts() == []
    assert publisher.find(post) is None  # certainly absent: safe to publish again
    result = publisher.publish(post)
    [made] = fb.live_posts()
    assert result.platform_id == made["id"]


def test_feed_lagging_behind_a_duplicate_refusal_is_ambiguous_not_a_failure(fb, publisher):
    post = outgoing()
    fb.feed_lag = 1  # the first read after the post was made leaves it out
    fb.fail("feed.create", timeout=True, after_effect=True)
    with pytest.raises(Ambiguous):
        publisher.publish(post)
    post.earlier_attempts = 1
    with pytest.raises(Ambiguous) as caught:  # Facebook has the words; its feed does not show the post yet
        publisher.publish(post)
    assert caught.value.status == 400
    assert publisher.find(post).platform_id == fb.live_posts()[0]["id"]
    assert len(fb.live_posts()) == 1


def test_a_real_duplicate_of_the_latest_post_is_permanent(fb, publisher):
    approved = datetime.now(timezone.utc)
    fb.add_existing_post(TEXT, created_at=approved - timedelta(days=1))
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(approved_at=approved))
    assert caught.value.code == "duplicate" and "(duplicate post)" in caught.value.plain
    assert len(fb.live_posts()) == 1


def test_connect_timeout_on_the_create_is_transient_because_nothing_was_sent(fb, publisher, monkeypatch):
    def refuse_to_connect(*args, **kwargs):
        raise requests.ConnectTimeout("connect timed out")

    monkeypatch.setattr(publisher.graph._session, "request", refuse_to_connect)
    with pytest.raises(Transient) as caught:
        publisher.publish(outgoing())  # text only: the feed create is the one call
    assert "safe to try again" in caught.value.plain


@pytest.mark.parametrize("endpoint,fault", [
    ("photos.create", {"status": 503}),
    ("photos.create", {"timeout": True}),
    ("photos.create", {"connection_error": True}),
    ("photos.create", {"status": 400, "body": {"error": {"message": "Please retry your request later.",
                                                         "type": "OAuthException", "code": 2}}}),
])
def test_failures_before_the_post_is_created_are_transient(fb, publisher, endpoint, fault):
    fb.fail(endpoint, on_call=2, **fault)
    with pytest.raises(Transient) as caught:
        publisher.publish(outgoing(photos=3))
    assert "safe to try again" in caught.value.plain
    assert not fb.calls_to("feed.create") and fb.live_posts() == []
    assert not any(p["published"] for p in fb.photos.values())  # what did go up stays unpublished


# 3: find -----------------------------------------------------------------------------------------------------------

def test_find_ignores_the_same_words_posted_before_the_approval(fb, publisher):
    approved = datetime.now(timezone.utc)
    fb.add_existing_post(TEXT, created_at=approved - timedelta(days=3))
    fb.add_existing_post(TEXT + " (other)", created_at=approved)
    fb.add_existing_post(TEXT[:-1], created_at=approved)
    assert publisher.find(outgoing(approved_at=approved)) is None


def test_find_allows_a_few_minutes_of_clock_difference_and_line_endings(fb, publisher):
    approved = datetime.now(timezone.utc)
    made = fb.add_existing_post("Line one\nLine two", created_at=approved - timedelta(minutes=2))
    assert publisher.find(outgoing(text="Line one\r\nLine two ", approved_at=approved)).platform_id == made


def test_find_reads_every_page_back_to_the_approval_without_following_facebooks_links(fb, publisher):
    approved = datetime.now(timezone.utc) - timedelta(hours=2)
    ours = fb.add_existing_post(TEXT, created_at=approved + timedelta(minutes=1))
    for n in range(230):
        fb.add_existing_post(f"Notice {n}", created_at=approved + timedelta(minutes=2 + n % 50))
    assert publisher.find(outgoing(approved_at=approved)).platform_id == ours
    reads = fb.calls_to("feed.read")
    assert len(reads) == 3 and [c.query.get("after") for c in reads] == [None, "100", "200"]
    since = str(int((approved - timedelta(minutes=5)).timestamp()))
    assert all(c.query["since"] == since and c.query["limit"] == "100" for c in reads)
    assert all(c.query["fields"] == "id,message,created_time" and "access_token" not in c.query for c in reads)


def test_find_of_several_matches_is_the_earliest(fb, publisher):
    approved = datetime.now(timezone.utc)
    later = fb.add_existing_post(TEXT, created_at=approved + timedelta(minutes=3))
    first = fb.add_existing_post(TEXT, created_at=approved + timedelta(minutes=1))
    assert later != first
    assert publisher.find(outgoing(approved_at=approved)).platform_id == first


@pytest.mark.parametrize("fault", [
    {"status": 503},
    {"timeout": True},
    {"status": 200, "body": "<html>gateway</html>"},
    {"status": 200, "body": {"paging": {}}},
    {"status": 200, "body": {"data": [{"id": f"{PAGE_ID}_1", "message": TEXT}]}},
], ids=["503", "timeout", "html", "no-data", "no-created-time"])
def test_find_never_says_absent_when_the_lookup_failed(fb, publisher, fault):
    fb.fail("feed.read", **fault)
    with pytest.raises(Transient) as caught:
        publisher.find(outgoing())
    assert "could not check" in caught.value.plain


def test_find_rate_limited_is_retry_later_not_absent(fb, publisher):
    fb.fail("feed.read", status=400, body=fb.error(32, "Page request limit reached"),
            headers=fb.usage_headers(regain_minutes=12))
    with pytest.raises(RetryLater) as caught:
        publisher.find(outgoing())
    assert 11 < minutes_from_now(caught.value.retry_at) <= 12


# 4: rate limits ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,message", [
    (4, "(#4) Application request limit reached"),
    (17, "(#17) User request limit reached"),
    (32, "(#32) Page request limit reached"),
    (613, "(#613) Calls to this api have exceeded the rate limit."),
])
def test_rate_limit_codes_are_retry_later_at_facebooks_estimate_without_sleeping(fb, publisher, no_sleep, code,
                                                                                 message):
    fb.fail("feed.create", status=400, body=fb.error(code, message), headers=fb.usage_headers(regain_minutes=23))
    started = time.monotonic()
    with pytest.raises(RetryLater) as caught:
        publisher.publish(outgoing(photos=1))
    assert time.monotonic() - started < 2
    assert caught.value.retry_at.tzinfo is not None
    assert 22 < minutes_from_now(caught.value.retry_at) <= 23
    assert caught.value.code == "rate_limited" and "Nothing was published" in caught.value.plain
    assert "try again automatically at" in caught.value.plain
    assert fb.live_posts() == []


def test_rate_limit_without_an_estimate_waits_the_stated_default(fb, publisher, no_sleep):
    fb.fail("photos.create", status=400, body=fb.error(613, "(#613) Calls to this api have exceeded the rate limit."),
            headers={"X-App-Usage": json.dumps({"call_count": 100, "total_cputime": 3, "total_time": 3})})
    with pytest.raises(RetryLater) as caught:
        publisher.publish(outgoing(photos=1))
    assert abs(minutes_from_now(caught.value.retry_at) - FALLBACK_RETRY.total_seconds() / 60) < 1


def test_http_429_without_a_graph_body_is_retry_later(fb, publisher, no_sleep):
    fb.fail("feed.create", status=429, body="Too Many Requests")
    with pytest.raises(RetryLater):
        publisher.publish(outgoing())
    assert fb.live_posts() == []


def test_the_longest_estimate_in_any_usage_header_wins():
    buc = {PAGE_ID: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 5}],
           "9988": [{"type": "pages", "call_count": 40, "estimated_time_to_regain_access": 30}]}
    headers = {"X-Business-Use-Case-Usage": json.dumps(buc),
               "X-Page-Usage": json.dumps({"call_count": 100, "estimated_time_to_regain_access": 17}),
               "X-App-Usage": "not json"}
    assert 29 < minutes_from_now(retry_at_from(headers)) <= 30
    assert abs(minutes_from_now(retry_at_from({})) - 60) < 1


# 5: what Facebook takes --------------------------------------------------------------------------------------------

def test_the_platform_describes_itself():
    assert PLATFORM.name == "facebook" and PLATFORM.text_length("Sports day") == 10
    assert (PLATFORM.max_text, PLATFORM.max_photos, PLATFORM.max_photo_bytes, PLATFORM.max_alt_text) == (
        63_206, 10, 4 * 1024 * 1024, 1000)
    fields = {f.name: f.secret for f in PLATFORM.credential_fields}
    assert fields == {"page_id": False, "page_access_token": True}
    assert "pages_manage_posts" in PLATFORM.credentials_help


def test_validate_good_posts_have_no_problems(publisher):
    assert publisher.validate(outgoing(photos=10)) == []
    assert publisher.validate(outgoing(text="x" * 63_206)) == []


def test_validate_refuses_what_facebook_does_not_take(publisher):
    [long] = publisher.validate(outgoing(text="x" * 63_207))
    assert "63,207 characters" in long and "63,206" in long
    assert publisher.validate(outgoing(photos=11)) == [
        "Facebook posts from the gateway carry at most 10 photos; this post has 11."]
    big = outgoing(photos=1)
    big.photos[0] = OutgoingPhoto(jpeg(1, size=5 * 1024 * 1024), "JPEG", "big")
    [problem] = publisher.validate(big)
    assert "Photo 1 is 5.0 MB" in problem and "up to 4 MB" in problem
    gif = outgoing(photos=2)
    gif.photos[1] = OutgoingPhoto(b"GIF89a" + b"\0" * 100, "GIF", "animated")
    assert publisher.validate(gif) == ["Photo 2 is a GIF file; only JPEG and PNG photos are sent to Facebook."]
    described = outgoing(photos=1)
    described.photos[0].alt = "a" * 1001
    assert "1,001 characters" in publisher.validate(described)[0]


def test_a_post_without_words_is_refused_because_it_could_not_be_found_again(fb, publisher):
    [problem] = publisher.validate(outgoing(text=" \n", photos=2))
    assert "need some words" in problem and "never goes out twice" in problem
    assert publisher.find(outgoing(text="", photos=2)) is None
    assert not fb.calls


def test_publish_sends_nothing_for_an_invalid_post(fb, publisher):
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(photos=11))
    assert caught.value.code == "invalid" and "at most 10 photos" in caught.value.plain
    assert fb.calls == []


def test_the_module_names_the_pinned_version_once():
    assert facebook.__doc__.count("v26.0") == 1 and GRAPH_VERSION == "v26.0"
