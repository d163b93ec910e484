"""XPublisher against the X API emulator: real tweepy, requests and OAuth signing; only HTTP is emulated."""
from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from gateway.platforms.base import (
    Ambiguous, Outgoing, OutgoingPhoto, PermanentError, PublishError, RetryLater, Transient,
)
from gateway.platforms.x import XPublisher
from gateway.platforms.x_secrets import XCredentials, redact
from tests.x_api import TEST_CREDENTIALS as CREDS
from tests.x_api import XApiEmulator

HANDLE = "greenfieldschool"
SECRETS = [CREDS.consumer_key, CREDS.consumer_secret, CREDS.access_token, CREDS.access_token_secret]
TEXT = "Sports day results & photos: well done everyone! More at https://greenfield.example.sch.uk/sports"


def jpeg(n: int, size: int = 2000) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes([n % 256]) * size + b"\r\n\r\n\xff\xd9"


def outgoing(text: str = TEXT, photos: int = 0, key: str = "41", approved_at: datetime | None = None,
             **photo_kwargs) -> Outgoing:
    return Outgoing(
        key=key, text=text,
        photos=[OutgoingPhoto(jpeg(n), "JPEG", f"Photo {n} of pupils at sports day") for n in range(1, photos + 1)],
        approved_by="Head Teacher", approved_at=approved_at or datetime.now(timezone.utc),
    )


@pytest.fixture
def x():
    with XApiEmulator(CREDS, username=HANDLE) as emulator:
        yield emulator
    assert emulator.auth_failures == [], "every call must carry a valid OAuth 1.0a signature"


@pytest.fixture
def publisher(x):
    return XPublisher(CREDS, "@" + HANDLE, timeout=5)


@pytest.fixture
def no_sleep(monkeypatch):
    def forbidden(seconds):
        raise AssertionError(f"something tried to sleep {seconds}s")

    monkeypatch.setattr(time, "sleep", forbidden)


# 1 ---------------------------------------------------------------------------------------------------------------

def test_four_photos_are_uploaded_described_and_attached_in_order(x, publisher):
    post = outgoing(photos=4)
    result = publisher.publish(post)

    uploads, alts, creates = x.calls_to("media/upload"), x.calls_to("media/metadata"), x.calls_to("tweets.create")
    assert len(uploads) == 4 and len(alts) == 4 and len(creates) == 1
    assert [c.files["media"]["data"] for c in uploads] == [p.data for p in post.photos]
    assert all(c.form["media_category"] == "tweet_image" and c.form["media_type"] == "image/jpeg" for c in uploads)
    assert all(c.host == "api.x.com" for c in uploads + alts)
    media_ids = list(x.media)  # in the order X handed them out
    assert [c.json for c in alts] == [
        {"id": m, "metadata": {"alt_text": {"text": p.alt}}} for m, p in zip(media_ids, post.photos)
    ]
    # each photo's alt text is set before the next photo is uploaded, and all before the post exists
    assert [c.endpoint for c in x.calls if c.endpoint.startswith("media")] == ["media/upload", "media/metadata"] * 4
    assert creates[0].json == {"text": post.text, "media": {"media_ids": media_ids}}

    [tweet] = x.live_tweets()
    assert tweet["media_ids"] == media_ids
    assert result.platform_id == tweet["id"]
    assert result.url == f"https://x.com/{HANDLE}/status/{tweet['id']}"
    assert all(c.timeout is not None for c in x.calls), "no call may wait forever"


def test_text_only_post(x, publisher):
    result = publisher.publish(outgoing())
    [create] = x.calls_to("tweets.create")
    assert create.json == {"text": TEXT}
    assert not x.calls_to("media/upload")
    assert result.platform_id == x.live_tweets()[0]["id"]


# 2 ---------------------------------------------------------------------------------------------------------------

def test_503_on_create_is_ambiguous_then_find_is_certain_and_a_second_publish_makes_one_post(x, publisher):
    post = outgoing(photos=2)
    x.fail("tweets.create", status=503, body=x.problem(503, "Service Unavailable", "Service Unavailable"))

    with pytest.raises(Ambiguous) as caught:
        publisher.publish(post)
    assert "not yet known" in caught.value.plain and "will not be posted twice" in caught.value.plain
    assert x.live_tweets() == []

    assert publisher.find(post) is None  # certainly absent: safe to publish again
    result = publisher.publish(post)
    [tweet] = x.live_tweets()
    assert result.platform_id == tweet["id"]
    assert len(x.calls_to("tweets.create")) == 2


@pytest.mark.parametrize("fault", [
    {"timeout": True},
    {"connection_error": True},
    {"status": 500, "body": {"title": "Internal Server Error", "type": "about:blank", "status": 500,
                             "detail": "Internal Server Error"}},
], ids=["read-timeout", "connection-dropped", "500"])
def test_answer_lost_after_x_created_the_post_is_ambiguous_and_find_returns_it(x, publisher, fault):
    post = outgoing(photos=1)
    x.fail("tweets.create", after_effect=True, **fault)

    with pytest.raises(Ambiguous):
        publisher.publish(post)
    [tweet] = x.live_tweets()  # X did make it

    found = publisher.find(post)
    assert found is not None
    assert found.platform_id == tweet["id"]
    assert found.url == f"https://x.com/{HANDLE}/status/{tweet['id']}"
    assert len(x.calls_to("tweets.create")) == 1  # the caller records it: nothing posted again


def test_a_careless_second_publish_after_a_lost_answer_still_makes_one_post(x, publisher):
    """X refuses the duplicate; publish() then finds the first one and returns it instead of failing."""
    post = outgoing()
    x.fail("tweets.create", timeout=True, after_effect=True)
    with pytest.raises(Ambiguous):
        publisher.publish(post)
    [tweet] = x.live_tweets()

    result = publisher.publish(post)
    assert result.platform_id == tweet["id"]
    assert len(x.live_tweets()) == 1


def test_failures_before_the_post_is_created_are_transient(x, publisher):
    post = outgoing(photos=2)
    x.fail("media/upload", on_call=2, status=503)
    with pytest.raises(Transient) as caught:
        publisher.publish(post)
    assert "safe to try again" in caught.value.plain
    x.fail("media/metadata", connection_error=True)
    with pytest.raises(Transient):
        publisher.publish(post)
    x.fail("media/upload", timeout=True)
    with pytest.raises(Transient):
        publisher.publish(post)
    assert x.live_tweets() == [] and not x.calls_to("tweets.create")


# 3: find ---------------------------------------------------------------------------------------------------------

def test_find_matches_despite_tco_links_escaping_and_whitespace(x, publisher):
    post = outgoing(text="Year 6 <3 the  science fair & museum trip:\nhttps://greenfield.example.sch.uk/trip",
                    photos=1)
    result = publisher.publish(post)
    shown = x.live_tweets()[0]["text"]
    assert "t.co" in shown and "&amp;" in shown and "&lt;3" in shown  # X's rewriting really happened
    assert publisher.find(post) == result


def test_find_ignores_the_same_words_posted_before_the_approval(x, publisher):
    approved = datetime.now(timezone.utc)
    x.add_existing_tweet(TEXT, created_at=approved - timedelta(days=3))
    x.add_existing_tweet(TEXT + " (other)", created_at=approved)
    assert publisher.find(outgoing(approved_at=approved)) is None


def test_find_allows_for_clock_difference_of_a_few_minutes(x, publisher):
    approved = datetime.now(timezone.utc)
    made = x.add_existing_tweet(TEXT, created_at=approved - timedelta(minutes=2))
    assert publisher.find(outgoing(approved_at=approved)).platform_id == made


def test_find_reads_every_page_back_to_the_approval(x, publisher):
    approved = datetime.now(timezone.utc) - timedelta(hours=2)
    ours = x.add_existing_tweet(TEXT, created_at=approved + timedelta(minutes=1))
    for n in range(230):
        x.add_existing_tweet(f"Notice {n}", created_at=approved + timedelta(minutes=2 + n % 50))
    found = publisher.find(outgoing(approved_at=approved))
    assert found.platform_id == ours
    timeline = x.calls_to("users/tweets")
    assert len(timeline) == 3 and timeline[1].query["pagination_token"]
    assert all(c.query["start_time"] == (approved - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
               for c in timeline)


@pytest.mark.parametrize("endpoint,fault", [
    ("users/tweets", {"status": 503}),
    ("users/tweets", {"timeout": True}),
    ("users/tweets", {"status": 200, "body": "<html>gateway</html>"}),
    ("users/me", {"connection_error": True}),
    ("users/me", {"status": 502}),
])
def test_find_never_says_absent_when_the_lookup_failed(x, publisher, endpoint, fault):
    x.fail(endpoint, **fault)
    with pytest.raises(Transient) as caught:
        publisher.find(outgoing())
    assert "could not check" in caught.value.plain


def test_find_rate_limited_is_retry_later_not_absent(x, publisher):
    reset = int(time.time()) + 300
    x.fail("users/tweets", status=429, body=x.rate_limited_body(), headers=x.rate_limit_headers(reset))
    with pytest.raises(RetryLater) as caught:
        publisher.find(outgoing())
    assert caught.value.retry_at == datetime.fromtimestamp(reset, timezone.utc)


# 4 ---------------------------------------------------------------------------------------------------------------

def test_429_is_retry_later_at_the_reset_time_without_sleeping(x, publisher, no_sleep):
    reset = int(time.time()) + 900
    x.fail("tweets.create", status=429, body=x.rate_limited_body(), headers=x.rate_limit_headers(reset))
    started = time.monotonic()
    with pytest.raises(RetryLater) as caught:
        publisher.publish(outgoing(photos=1))
    assert time.monotonic() - started < 2
    assert caught.value.retry_at == datetime.fromtimestamp(reset, timezone.utc)
    assert caught.value.retry_at.tzinfo is not None
    assert "try again automatically at" in caught.value.plain
    assert x.live_tweets() == []


def test_429_on_the_daily_post_limit_waits_for_the_daily_reset(x, publisher, no_sleep):
    now = int(time.time())
    headers = {**x.rate_limit_headers(now + 600, remaining=50),
               "x-user-limit-24hour-limit": "100", "x-user-limit-24hour-remaining": "0",
               "x-user-limit-24hour-reset": str(now + 20000)}
    x.fail("tweets.create", status=429, body=x.rate_limited_body(), headers=headers)
    with pytest.raises(RetryLater) as caught:
        publisher.publish(outgoing())
    assert caught.value.retry_at == datetime.fromtimestamp(now + 20000, timezone.utc)


def test_429_during_upload_is_retry_later(x, publisher, no_sleep):
    reset = int(time.time()) + 60
    x.fail("media/upload", status=429, body=x.rate_limited_body(), headers=x.rate_limit_headers(reset))
    with pytest.raises(RetryLater) as caught:
        publisher.publish(outgoing(photos=1))
    assert caught.value.retry_at == datetime.fromtimestamp(reset, timezone.utc)


def test_tweepy_never_waits_on_rate_limits(publisher):
    assert publisher.client.wait_on_rate_limit is False


# 5 ---------------------------------------------------------------------------------------------------------------

def test_duplicate_content_is_permanent_in_plain_words(x, publisher):
    x.fail("tweets.create", status=403, body=x.duplicate())
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing())
    assert caught.value.code == "duplicate"
    assert "same as one already on @greenfieldschool (duplicate content)" in caught.value.plain
    assert "403" not in caught.value.plain and "Forbidden" not in caught.value.plain
    assert str(caught.value) == caught.value.plain


def test_real_duplicate_of_an_old_post_is_permanent(x, publisher):
    approved = datetime.now(timezone.utc)
    x.add_existing_tweet(TEXT, created_at=approved - timedelta(days=1))
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(approved_at=approved))
    assert caught.value.code == "duplicate"
    assert len(x.live_tweets()) == 1


def test_401_is_permanent_and_speaks_of_the_access_keys(x, publisher):
    x.fail("tweets.create", status=401, body=x.unauthorized())
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing())
    assert caught.value.code == "credentials"
    assert "access keys" in caught.value.plain and "expired or been revoked" in caught.value.plain


def test_wrong_secret_is_refused_by_x_as_credentials(x):
    wrong = dataclasses.replace(CREDS, access_token_secret="atsSomethingElseEntirely")
    with pytest.raises(PermanentError) as caught:
        XPublisher(wrong, HANDLE).publish(outgoing(photos=1))
    assert caught.value.code == "credentials"
    assert x.auth_failures == ["media/upload: bad signature"]
    x.auth_failures.clear()


@pytest.mark.parametrize("status,body,code,words", [
    (403, {"errors": [{"code": 64, "message": "Your account is suspended and is not permitted to access this "
                                                "feature."}]}, "suspended", "suspended the @greenfieldschool"),
    (403, {"errors": [{"code": 326, "message": "To protect our users from spam and other malicious activity, "
                                                 "this account is temporarily locked."}]},
     "locked", "temporarily locked"),
    (403, {"title": "Forbidden", "type": "https://api.twitter.com/2/problems/oauth1-permissions", "status": 403,
           "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this "
                     "endpoint."}, "read_only", "only allowed to read"),
    (403, {"title": "Client Forbidden", "type": "https://api.twitter.com/2/problems/client-forbidden",
           "reason": "client-not-enrolled", "detail": "When authenticating requests to the Twitter API v2 "
           "endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project."},
     "app_access", "belong to a Project"),
    (403, {"title": "Forbidden", "type": "about:blank", "status": 403,
           "detail": "You are not permitted to perform this action."}, "forbidden",
     "did not permit @greenfieldschool to do this. X said: \u201cYou are not permitted to perform this action.\u201d"),
    (400, {"errors": [{"message": "Your Tweet text is too long. For more information on how Twitter determines "
                                  "text length see https://github.com/twitter/twitter-text."}],
           "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
           "type": "https://api.twitter.com/2/problems/invalid-request"}, "too_long", "text is too long"),
])
def test_refusals_are_permanent_in_plain_words(x, publisher, status, body, code, words):
    x.fail("tweets.create", status=status, body=body)
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing())
    assert caught.value.code == code
    assert words in caught.value.plain
    assert caught.value.status == status


def test_a_photo_x_will_not_take_is_permanent_and_named(x, publisher):
    x.fail("media/upload", on_call=2, status=400, body=x.problem(
        400, "Invalid Request", "Unsupported image format.", "https://api.x.com/2/problems/invalid-request"))
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(photos=3))
    assert caught.value.code == "photo"
    assert "photo 2" in caught.value.plain and "Unsupported image format." in caught.value.plain


# 6 ---------------------------------------------------------------------------------------------------------------

def test_delete(x, publisher):
    result = publisher.publish(outgoing())
    publisher.delete(result.platform_id)
    assert x.live_tweets() == []
    assert x.calls_to("tweets.delete")[0].url.endswith(f"/2/tweets/{result.platform_id}")


def test_delete_of_a_post_already_gone_is_success(x, publisher):
    publisher.delete("1445880548472328192")  # X answers 404
    assert x.calls_to("tweets.delete")[0].status == 404


def test_delete_503_or_no_answer_is_transient(x, publisher):
    result = publisher.publish(outgoing())
    x.fail("tweets.delete", status=503)
    with pytest.raises(Transient):
        publisher.delete(result.platform_id)
    x.fail("tweets.delete", timeout=True)
    with pytest.raises(Transient):
        publisher.delete(result.platform_id)
    assert len(x.live_tweets()) == 1
    publisher.delete(result.platform_id)
    assert x.live_tweets() == []


def test_delete_unconfirmed_is_transient(x, publisher):
    result = publisher.publish(outgoing())
    x.fail("tweets.delete", status=200, body={"data": {"deleted": False}})
    with pytest.raises(Transient) as caught:
        publisher.delete(result.platform_id)
    assert "may still be visible" in caught.value.plain


@pytest.mark.parametrize("status,body", [(401, XApiEmulator.unauthorized()),
                                         (403, XApiEmulator.problem(403, "Forbidden", "Forbidden"))])
def test_delete_refused_is_permanent(x, publisher, status, body):
    x.fail("tweets.delete", status=status, body=body)
    with pytest.raises(PermanentError):
        publisher.delete("1445880548472328192")


def test_delete_refuses_a_malformed_id(x, publisher):
    with pytest.raises(ValueError):
        publisher.delete("../1")
    assert not x.calls


# 7 ---------------------------------------------------------------------------------------------------------------

def test_check_credentials_returns_the_username(x, publisher):
    assert publisher.check_credentials() == HANDLE
    [call] = x.calls
    assert call.endpoint == "users/me" and call.method == "GET"


def test_check_credentials_401_is_permanent(x, publisher):
    x.fail("users/me", status=401, body=x.unauthorized())
    with pytest.raises(PermanentError) as caught:
        publisher.check_credentials()
    assert caught.value.code == "credentials" and "access keys" in caught.value.plain


def test_check_credentials_unreachable_is_transient(x, publisher):
    x.fail("users/me", connection_error=True)
    with pytest.raises(Transient):
        publisher.check_credentials()


# 8 ---------------------------------------------------------------------------------------------------------------

GUARDED = ["", "urllib3", "urllib3.connectionpool", "requests_oauthlib", "requests_oauthlib.oauth1_auth",
           "oauthlib", "oauthlib.oauth1.rfc5849", "tweepy", "tweepy.client", "gateway.platforms.x"]


def test_credentials_never_reach_logs_or_messages(x, publisher, caplog):
    for name in GUARDED:
        caplog.set_level(logging.DEBUG, logger=name)
    errors: list[BaseException] = []

    post = outgoing(photos=2)
    post.photos[1] = OutgoingPhoto(b"\xff\xd8PUPILPHOTO" * 100, "JPEG", "Pupils on stage")
    publisher.check_credentials()
    result = publisher.publish(post)
    publisher.find(post)
    publisher.delete(result.platform_id)
    for endpoint, fault in [("tweets.create", {"status": 401, "body": x.unauthorized()}),
                            ("tweets.create", {"timeout": True}),
                            ("media/upload", {"status": 403, "body": x.duplicate()}),
                            ("tweets.create", {"status": 429, "body": x.rate_limited_body()})]:
        x.fail(endpoint, **fault)
        with pytest.raises(PublishError) as caught:
            publisher.publish(outgoing(text=f"Another notice {endpoint} {fault}", photos=1))
        errors.append(caught.value)
    with pytest.raises(PermanentError) as caught:  # the signature check of the emulator refuses this one
        XPublisher(dataclasses.replace(CREDS, consumer_secret="csWrongWrongWrong"), HANDLE).check_credentials()
    errors.append(caught.value)
    x.auth_failures.clear()

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [formatter.format(r) + (formatter.formatException(r.exc_info) if r.exc_info else "")
              for r in caplog.records]
    assert any(r.name.startswith("requests_oauthlib") for r in caplog.records), "the signing was logged (redacted)"
    assert any("[redacted]" in line for line in logged)
    said = logged + [str(e) for e in errors] + [repr(e) for e in errors] + [e.plain + e.detail for e in errors]
    said += [repr(e.__cause__) for e in errors if e.__cause__] + [repr(CREDS), str(CREDS), repr(publisher)]
    assert not any("PUPILPHOTO" in line for line in logged), "photos of pupils must not be logged"
    for secret in SECRETS:
        leaks = [line for line in said if secret in line]
        assert leaks == [], f"a credential leaked: {leaks[:1]}"


def test_redact_blanks_oauth_headers_and_known_values():
    XPublisher(CREDS, HANDLE)  # registers the credentials: alone, the test had none to blank
    header = ('Updated headers: {\'Authorization\': b\'OAuth oauth_nonce="1", oauth_consumer_key="'
              + CREDS.consumer_key + '", oauth_token="' + CREDS.access_token + '", oauth_signature="abc%3D"\'}')
    cleaned = redact(header + " client_key=" + CREDS.consumer_key + " and " + CREDS.access_token_secret)
    assert not any(s in cleaned for s in SECRETS)


def test_credentials_json_round_trip_and_hidden_repr():
    assert XCredentials.from_json(CREDS.to_json()) == CREDS
    assert all(s not in repr(CREDS) for s in SECRETS)
    with pytest.raises(ValueError) as caught:
        XCredentials.from_json('{"consumer_key": "' + CREDS.consumer_key + '"}')
    assert CREDS.consumer_key not in str(caught.value)
    assert "consumer_secret" in str(caught.value)


# 9 ---------------------------------------------------------------------------------------------------------------

def test_validate_good_post_has_no_problems(publisher):
    assert publisher.validate(outgoing(photos=4)) == []
    assert publisher.validate(outgoing(text="x" * 280)) == []


def test_validate_counts_text_the_way_x_does(publisher):
    [problem] = publisher.validate(outgoing(text="\u6f22" * 141))  # 141 characters, 282 by X's count
    assert "too long for X" in problem and "282" in problem and "280" in problem


def test_validate_photos(publisher):
    too_many = outgoing(photos=5)
    assert publisher.validate(too_many) == ["X allows at most 4 photos in a post; this post has 5."]

    big = outgoing(photos=1)
    big.photos[0] = OutgoingPhoto(jpeg(1, size=6 * 1024 * 1024), "JPEG", "big")
    [problem] = publisher.validate(big)
    assert "Photo 1 is 6.0 MB" in problem and "up to 5 MB" in problem

    gif = outgoing(photos=2)
    gif.photos[1] = OutgoingPhoto(b"GIF89a" + b"\0" * 100, "GIF", "animated")
    assert publisher.validate(gif) == ["Photo 2 is a GIF file; only JPEG and PNG photos are sent to X."]


def test_publish_sends_nothing_for_an_invalid_post(x, publisher):
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(photos=5))
    assert caught.value.code == "invalid" and "at most 4 photos" in caught.value.plain
    assert x.calls == []
