"""MastodonPublisher against the Mastodon API emulator: real Mastodon.py and requests; only HTTP is emulated."""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from gateway.platforms.base import (
    Ambiguous, Outgoing, OutgoingPhoto, PermanentError, PublishError, RetryLater, Transient,
)
from gateway.platforms.mastodon import PLATFORM, MastodonPublisher, check, connect
from gateway.platforms.mastodon_account import MastodonCredentials, instance_url
from tests.mastodon_api import BASE_URL, TEST_CREDENTIALS, TEST_TOKEN, MastodonApiEmulator

HANDLE = "greenfieldschool"
TEXT = "Sports day results & photos: well done everyone! <3 More at https://greenfield.example.sch.uk/sports"
CREDS = MastodonCredentials.from_mapping(TEST_CREDENTIALS)


def jpeg(n: int, size: int = 2000) -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes([n % 256]) * size + b"\r\n\r\n\xff\xd9"


def outgoing(text: str = TEXT, photos: int = 0, key: str = "41", approved_at: datetime | None = None) -> Outgoing:
    return Outgoing(
        key=key, text=text,
        photos=[OutgoingPhoto(jpeg(n), "JPEG", f"Photo {n} of pupils at sports day") for n in range(1, photos + 1)],
        approved_by="Head Teacher", approved_at=approved_at or datetime.now(timezone.utc),
    )


@pytest.fixture
def server():
    with MastodonApiEmulator() as emulator:
        yield emulator
    assert emulator.auth_failures == [], "every call must carry the account's token"


@pytest.fixture
def publisher(server):
    return MastodonPublisher(CREDS, "@" + HANDLE, timeout=5)


@pytest.fixture
def no_sleep(monkeypatch):
    def forbidden(seconds):
        raise AssertionError(f"something tried to sleep {seconds}s")

    monkeypatch.setattr(time, "sleep", forbidden)


def keys(server) -> list[str]:
    return [c.headers.get("Idempotency-Key") for c in server.calls_to("statuses.create")]


# publishing ------------------------------------------------------------------------------------------------------

def test_photos_go_up_with_their_alt_text_and_are_attached_in_order(server, publisher):
    post = outgoing(photos=3)
    result = publisher.publish(post)

    uploads, [create] = server.calls_to("media.create"), server.calls_to("statuses.create")
    assert [c.files["file"]["data"] for c in uploads] == [p.data for p in post.photos]
    assert [c.form["description"] for c in uploads] == [[p.alt] for p in post.photos]
    assert all(c.files["file"]["content_type"] == "image/jpeg" for c in uploads)
    assert create.form["status"] == [post.text] and create.form["media_ids[]"] == list(server.media)
    [status] = server.live_statuses()
    assert [server.media[m]["description"] for m in status["media_ids"]] == [p.alt for p in post.photos]
    assert result.platform_id == status["id"]
    assert result.url == f"{BASE_URL}/@{HANDLE}/{status['id']}"
    assert all(c.timeout == 5 for c in server.calls), "every call has the request timeout"


def test_text_only_post(server, publisher):
    result = publisher.publish(outgoing())
    [create] = server.calls_to("statuses.create")
    assert create.form["status"] == [TEXT] and "media_ids[]" not in create.form
    assert not server.calls_to("media.create")
    assert result.platform_id == server.live_statuses()[0]["id"]


def test_the_idempotency_key_is_one_per_publication_and_the_same_on_every_attempt(server, publisher):
    server.fail("statuses.create", status=503)
    with pytest.raises(Ambiguous):
        publisher.publish(outgoing(photos=1))
    publisher.publish(outgoing(photos=1))
    again = MastodonPublisher(CREDS, HANDLE, timeout=5)  # another worker, later
    again.publish(outgoing(photos=1))
    publisher.publish(outgoing(photos=1, key="42"))
    first, second, third, other = keys(server)
    assert first == second == third and first.startswith("school-gateway-publication-41-")
    assert other.startswith("school-gateway-publication-42-") and other != first
    assert len(server.live_statuses()) == 2


@pytest.mark.parametrize("fault", [{"timeout": True}, {"connection_error": True}, {"status": 500}, {"status": 502},
                                   {"status": 504}], ids=["timeout", "dropped", "500", "502", "504"])
def test_answer_lost_after_the_post_was_made_is_ambiguous_and_never_makes_a_second(server, publisher, fault):
    post = outgoing(photos=2)
    server.fail("statuses.create", after_effect=True, **fault)
    with pytest.raises(Ambiguous) as caught:
        publisher.publish(post)
    assert "not yet known" in caught.value.plain and "will not be posted twice" in caught.value.plain
    [made] = server.live_statuses()

    assert publisher.find(post).platform_id == made["id"]
    assert publisher.publish(post).platform_id == made["id"]  # a careless retry: the key brings back the same post
    assert len(server.live_statuses()) == 1 and len(set(keys(server))) == 1


def test_once_the_key_is_forgotten_find_still_finds_the_post(server, publisher):
    post = outgoing(photos=1)
    server.fail("statuses.create", timeout=True, after_effect=True)
    with pytest.raises(Ambiguous):
        publisher.publish(post)
    server.forget_idempotency_keys()  # Mastodon keeps keys for an hour
    found = MastodonPublisher(CREDS, HANDLE, timeout=5).find(post)
    assert found.platform_id == server.live_statuses()[0]["id"]
    assert len(server.live_statuses()) == 1 and len(server.calls_to("statuses.create")) == 1


def test_failures_before_the_create_call_are_transient_and_publish_nothing(server, publisher):
    post = outgoing(photos=2)
    for endpoint, fault in [("media.create", {"status": 503}), ("media.create", {"timeout": True}),
                            ("media.create", {"connection_error": True}), ("instance", {"status": 502})]:
        server.fail(endpoint, on_call=server.counts[endpoint] + 1, **fault)
        with pytest.raises(Transient) as caught:
            MastodonPublisher(CREDS, HANDLE, timeout=5).publish(post)
        assert "safe to try again" in caught.value.plain
    assert server.live_statuses() == [] and not server.calls_to("statuses.create")


def test_a_photo_still_processing_is_waited_for_then_attached(server, publisher, monkeypatch):
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    server.processing_polls = 2
    publisher.publish(outgoing(photos=1))
    assert server.calls_to("media.create")[0].status == 202
    assert [c.status for c in server.calls_to("media.get")] == [206, 206, 200]
    assert slept == [0.5, 1.0, 2.0] and len(server.live_statuses()) == 1


def test_processing_that_does_not_finish_in_time_is_transient(server, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    server.processing_polls = 100
    with pytest.raises(Transient) as caught:
        MastodonPublisher(CREDS, HANDLE, timeout=5, media_wait=8).publish(outgoing(photos=1))
    assert caught.value.code == "media_processing" and "still processing photo 1" in caught.value.plain
    assert len(server.calls_to("media.get")) == 4 and server.live_statuses() == []  # after 0.5+1+2+4 s


def test_create_refused_because_a_photo_is_still_processing_is_transient(server, publisher):
    server.fail("statuses.create", status=422, body={"error": "Cannot attach files that have not finished "
                                                               "processing. Try again in a moment!"})
    with pytest.raises(Transient) as caught:
        publisher.publish(outgoing(photos=1))
    assert caught.value.code == "media_processing" and server.live_statuses() == []


# find ------------------------------------------------------------------------------------------------------------

def test_find_uses_the_source_text_not_the_html(server, publisher):
    post = outgoing(text="Year 6 <3 the science fair & museum trip:\nhttps://greenfield.example.sch.uk/trip\n\nBye",
                    photos=1)
    result = publisher.publish(post)
    shown = publisher.api.account_statuses(server.account_id)[0]["content"]
    assert "&amp;" in shown and "<br />" in shown and "<a href" in shown  # Mastodon's rendering really happened
    assert publisher.find(post) == result


@pytest.mark.parametrize("made", [
    {"text": TEXT, "created_at": -timedelta(days=3)},
    {"text": TEXT + " (other)", "created_at": timedelta(0)},
    {"text": TEXT, "created_at": timedelta(0), "descriptions": ["Someone else's photo"]},
    {"text": TEXT, "created_at": timedelta(0), "spoiler_text": "Sports"},
], ids=["before-the-approval", "other-words", "other-photos", "content-warning"])
def test_find_ignores_posts_that_are_not_this_one(server, publisher, made):
    approved = datetime.now(timezone.utc)
    server.add_existing_status(made.pop("text"), created_at=approved + made.pop("created_at"), **made)
    assert publisher.find(outgoing(approved_at=approved)) is None


def test_find_allows_for_clocks_a_few_minutes_apart_and_takes_the_earliest(server, publisher):
    approved = datetime.now(timezone.utc)
    first = server.add_existing_status(TEXT, created_at=approved - timedelta(minutes=2))
    server.add_existing_status(TEXT, created_at=approved + timedelta(minutes=1))
    assert publisher.find(outgoing(approved_at=approved)).platform_id == first
    unknown = outgoing()
    unknown.approved_at = None
    with pytest.raises(ValueError):  # without the approval time an older post could be taken for this one
        publisher.find(unknown)


def test_find_reads_every_page_back_to_the_approval_and_no_further(server, publisher):
    approved = datetime.now(timezone.utc) - timedelta(hours=2)
    ours = server.add_existing_status(TEXT, created_at=approved + timedelta(minutes=1))
    for n in range(90):
        server.add_existing_status(f"Notice {n}", created_at=approved + timedelta(minutes=2 + n))
    for n in range(100):
        server.add_existing_status(f"Old notice {n}", created_at=approved - timedelta(days=1, minutes=n))
    assert publisher.find(outgoing(approved_at=approved)).platform_id == ours
    pages = server.calls_to("accounts.statuses")
    assert len(pages) == 3 and pages[1].query["max_id"] and all(c.query["limit"] == "40" for c in pages)
    assert pages[0].query["exclude_reblogs"] == "1"
    assert len(server.calls_to("statuses.source")) == 1, "the source is asked for only when all else matched"


def test_a_post_deleted_while_looking_is_not_found(server, publisher):
    post = outgoing()
    publisher.publish(post)
    server.fail("statuses.source", status=404, body={"error": "Record not found"})
    assert publisher.find(post) is None


@pytest.mark.parametrize("endpoint,fault", [
    ("accounts.statuses", {"status": 503}),
    ("accounts.statuses", {"timeout": True}),
    ("accounts.statuses", {"status": 200, "body": "<html>proxy</html>"}),
    ("statuses.source", {"status": 502}),
    ("verify_credentials", {"connection_error": True}),
])
def test_find_never_says_absent_when_the_lookup_failed(server, publisher, endpoint, fault):
    publisher.publish(outgoing())
    server.fail(endpoint, **fault)
    with pytest.raises(Transient) as caught:
        MastodonPublisher(CREDS, HANDLE, timeout=5).find(outgoing())
    assert "could not check @greenfieldschool on mastodon.example" in caught.value.plain


# rate limits -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["statuses.create", "media.create", "accounts.statuses", "statuses.delete"])
def test_429_is_retry_later_at_the_reset_time_without_sleeping(server, publisher, no_sleep, endpoint):
    reset = datetime.now(timezone.utc).replace(microsecond=250000) + timedelta(minutes=4)
    server.fail(endpoint, status=429, body={"error": "Too many requests"}, headers=server.rate_limit_headers(reset))
    actions = {"statuses.delete": lambda: publisher.delete("1"),
               "accounts.statuses": lambda: publisher.find(outgoing())}
    action = actions.get(endpoint, lambda: publisher.publish(outgoing(photos=1)))
    started = time.monotonic()
    with pytest.raises(RetryLater) as caught:
        action()
    assert time.monotonic() - started < 2
    assert caught.value.retry_at == reset and caught.value.retry_at.tzinfo is not None
    assert "try again automatically at" in caught.value.plain and "Nothing was published" in caught.value.plain
    assert server.live_statuses() == [] and publisher.api.ratelimit_method == "throw"


@pytest.mark.parametrize("header,expected", [
    ("1893456000", datetime(2030, 1, 1, tzinfo=timezone.utc)),  # seconds since 1970, as some servers send
    (None, None),  # no reset given: Mastodon's five-minute window
])
def test_429_reset_in_other_forms(server, publisher, no_sleep, header, expected):
    server.fail("statuses.create", status=429, body={"error": "Too many requests"},
                headers={"X-RateLimit-Reset": header})
    with pytest.raises(RetryLater) as caught:
        publisher.publish(outgoing())
    expected = expected or datetime.now(timezone.utc) + timedelta(minutes=5)
    assert abs(caught.value.retry_at - expected) < timedelta(seconds=5)


# refusals --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint,status,body,code,words", [
    ("statuses.create", 401, {"error": "The access token is invalid"}, "credentials", "create a new access token"),
    ("statuses.create", 403, {"error": "Your login is currently disabled"}, "suspended", "disabled or suspended"),
    ("statuses.create", 403, {"error": "Your login is missing a confirmed e-mail address"}, "not_ready",
     "must be confirmed"),
    ("statuses.create", 403, {"error": "This action is not allowed"}, "forbidden",
     ("did not permit @greenfieldschool on mastodon.example to do this. mastodon.example said: "
      "\u201cThis action is not allowed\u201d.")),
    ("statuses.create", 422, {"error": "Validation failed: Text character limit of 500 exceeded"}, "invalid",
     "mastodon.example said: \u201cValidation failed: Text character limit of 500 exceeded\u201d"),
    ("statuses.create", 404, {"error": "Record not found"}, "not_found", "Check that the server address"),
    ("media.create", 413, "<html><body><h1>413 Request Entity Too Large</h1></body></html>", "too_large",
     "refused photo 1 because it is too large"),
    ("media.create", 422, {"error": "Validation failed: File content type is invalid, File is invalid"}, "photo",
     "would not accept photo 1. mastodon.example said: \u201cValidation failed: File content type is invalid"),
    ("media.create", 401, {"error": "The access token is invalid"}, "credentials", "did not accept"),
])
def test_refusals_are_permanent_in_plain_words(server, publisher, endpoint, status, body, code, words):
    server.fail(endpoint, status=status, body=body)
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(photos=1))
    assert caught.value.code == code and caught.value.status == status
    assert words in caught.value.plain and str(caught.value) == caught.value.plain
    assert server.live_statuses() == []


def test_a_token_without_the_write_scope_is_told_in_plain_words():
    with MastodonApiEmulator(scopes=("read",)) as server:
        publisher = MastodonPublisher(CREDS, HANDLE, timeout=5)
        assert publisher.check_credentials() == HANDLE  # reading works
        with pytest.raises(PermanentError) as caught:
            publisher.publish(outgoing(photos=1))
    assert caught.value.code == "scope" and caught.value.status == 403
    assert "'read' and 'write' scopes" in caught.value.plain and server.live_statuses() == []


def test_a_wrong_token_is_refused_as_credentials():
    with MastodonApiEmulator(token="someOtherTokenEntirely") as server:
        with pytest.raises(PermanentError) as caught:
            check(HANDLE, TEST_CREDENTIALS)
        assert server.auth_failures == ["verify_credentials: wrong token"]
    assert caught.value.code == "credentials" and "access token" in caught.value.plain


# delete ----------------------------------------------------------------------------------------------------------

def test_delete_removes_the_post_and_its_photos_at_once(server, publisher):
    result = publisher.publish(outgoing(photos=1))
    publisher.delete(result.platform_id)
    assert server.live_statuses() == []
    [call] = server.calls_to("statuses.delete")
    assert call.url.split("?")[0].endswith(f"/api/v1/statuses/{result.platform_id}")
    assert server.statuses[result.platform_id]["deleted_media"] == "1"


def test_delete_of_a_post_already_gone_is_success(server, publisher):
    publisher.delete("109348237598399999")
    assert server.calls_to("statuses.delete")[0].status == 404


def test_delete_503_or_no_answer_is_transient_until_it_is_gone(server, publisher):
    result = publisher.publish(outgoing())
    for fault in ({"status": 503}, {"timeout": True}, {"connection_error": True}):
        server.fail("statuses.delete", **fault)
        with pytest.raises(Transient) as caught:
            publisher.delete(result.platform_id)
        assert "may still be visible" in caught.value.plain
    assert len(server.live_statuses()) == 1
    publisher.delete(result.platform_id)
    assert server.live_statuses() == []


@pytest.mark.parametrize("status,body", [(401, {"error": "The access token is invalid"}),
                                         (403, {"error": "This action is outside the authorized scopes"})])
def test_delete_refused_is_permanent(server, publisher, status, body):
    server.fail("statuses.delete", status=status, body=body)
    with pytest.raises(PermanentError):
        publisher.delete("109348237598399999")


def test_delete_refuses_a_malformed_id(server, publisher):
    with pytest.raises(ValueError):
        publisher.delete("../accounts/1")
    assert not server.calls


# the account: address, token, check ------------------------------------------------------------------------------

@pytest.mark.parametrize("given,canonical", [
    ("https://mastodon.social", "https://mastodon.social"), (" https://Mastodon.Social/ ", "https://mastodon.social"),
    ("mastodon.social", "https://mastodon.social"),
    ("https://social.example.sch.uk:8443", "https://social.example.sch.uk:8443"),
    ("http://127.0.0.1:3000", "http://127.0.0.1:3000"), ("http://localhost:3000", "http://localhost:3000"),
    ("http://[::1]:3000/", "http://[::1]:3000"),
])
def test_server_addresses_accepted(given, canonical):
    assert instance_url(given) == canonical


@pytest.mark.parametrize("given", [
    "http://mastodon.social", "http://10.0.0.5", "ftp://mastodon.social", "https://user:pw@mastodon.social",
    "https://mastodon.social/@greenfieldschool", "https://mastodon.social/?token=" + TEST_TOKEN, "https://:443",
    "https://mastodon.social:99999", "https://mastodon social", TEST_TOKEN + "@mastodon.social",
])
def test_server_addresses_refused_in_plain_words_without_echoing_them(given):
    with pytest.raises(PermanentError) as caught:
        instance_url(given)
    assert caught.value.code == "address" and "https://" in caught.value.plain
    assert given.strip() not in caught.value.plain and TEST_TOKEN not in caught.value.plain


def test_a_test_server_on_this_computer_may_use_plain_http():
    credentials = {"instance_url": "http://127.0.0.1:3000", "access_token": TEST_TOKEN}
    with MastodonApiEmulator(base_url="http://127.0.0.1:3000") as server:
        assert check(HANDLE, credentials) == HANDLE
        publisher = connect(HANDLE, credentials, type("Settings", (), {"publish_timeout": 120})())
        assert publisher.publish(outgoing()).url.startswith("http://127.0.0.1:3000/@greenfieldschool/")
    assert all(c.url.startswith("http://127.0.0.1:3000/api/") for c in server.calls)


def test_check_returns_the_username_by_a_harmless_call(server):
    assert check(HANDLE, TEST_CREDENTIALS) == HANDLE
    [call] = server.calls
    assert call.endpoint == "verify_credentials" and call.method == "GET"


def test_check_unreachable_is_transient_and_bad_details_make_no_call(server):
    server.fail("verify_credentials", connection_error=True)
    with pytest.raises(Transient):
        check(HANDLE, TEST_CREDENTIALS)
    calls = len(server.calls)
    for bad in ({"instance_url": "http://mastodon.example", "access_token": TEST_TOKEN},
                {"instance_url": BASE_URL, "access_token": "two words"}, {"instance_url": BASE_URL}):
        with pytest.raises(PermanentError):
            check(HANDLE, bad)
    assert len(server.calls) == calls


# limits ----------------------------------------------------------------------------------------------------------

def test_the_platform_counts_as_mastodon_does():
    assert PLATFORM.text_length("Sports day") == 10 and PLATFORM.text_length("") == 0
    assert PLATFORM.text_length("See https://greenfield.example.sch.uk/a/very/long/path/to/the/sports/day") == 27
    assert PLATFORM.text_length("Thanks @coach@other.example") == len("Thanks @coach")
    assert PLATFORM.text_length("Well done \U0001F44D\U0001F3FD \U0001F1EC\U0001F1E7") == len("Well done 1 1")
    assert (PLATFORM.max_text, PLATFORM.max_photos, PLATFORM.max_alt_text) == (500, 4, 1500)
    assert [(f.name, f.secret) for f in PLATFORM.credential_fields] == [("instance_url", False), ("access_token", True)]


def test_validate_uses_the_servers_own_limits_read_once(server, publisher):
    server.configuration["statuses"].update(max_characters=1000, max_media_attachments=2)
    server.configuration["media_attachments"].update(image_size_limit=1024 * 1024, description_limit=20)
    assert publisher.validate(outgoing(text="a" * 990)) == []
    problems = publisher.validate(outgoing(text="a" * 1001, photos=3))
    assert problems[0] == ("The text is too long for mastodon.example: it counts as 1,001 characters and the "
                           "server allows 1,000 (each link counts as 23).")
    assert "at most 2 photos in a post; this post has 3" in problems[1]
    alt = outgoing(photos=1).photos[0].alt
    assert f"description (alt text) of photo 1 is {len(alt)} characters long; mastodon.example allows 20" in problems[2]
    big = outgoing(photos=1)
    big.photos[0].data = jpeg(1, size=1536 * 1024)
    assert "Photo 1 is 1.5 MB; mastodon.example accepts photos up to 1 MB." in publisher.validate(big)
    assert len(server.calls_to("instance")) == 1


def test_validate_plain_words(server, publisher):
    assert publisher.validate(outgoing(photos=4)) == []
    assert publisher.validate(outgoing(text="a" * 500)) == []
    [too_long] = publisher.validate(outgoing(text="\U0001F44D" * 501))  # emoji count one each on Mastodon
    assert "counts as 501 characters" in too_long
    gif = outgoing(photos=2)
    gif.photos[1] = OutgoingPhoto(b"GIF89a" + b"\0" * 100, "GIF", "animated")
    assert publisher.validate(gif) == [("Photo 2 is a GIF file, which mastodon.example does not take; only JPEG "
                                        "and PNG photos are sent.")]
    assert publisher.validate(outgoing(text="  ")) == [("The post has no text and no photos, so there is nothing "
                                                        "to publish.")]


def test_publish_sends_nothing_for_an_invalid_post(server, publisher):
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(photos=5))
    assert caught.value.code == "invalid" and "at most 4 photos" in caught.value.plain
    assert [c.endpoint for c in server.calls] == ["instance"]


def test_limits_that_cannot_be_read_yet_stop_nothing_until_publishing_reads_them(server, publisher):
    server.fail("instance", status=503)
    assert publisher.validate(outgoing(text="a" * 600)) == []  # not known yet: publish() looks again
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(text="a" * 600))
    assert "counts as 600 characters" in caught.value.plain and len(server.calls_to("instance")) == 2


def test_a_server_without_the_v2_instance_gets_mastodons_defaults(server, publisher):
    server.fail("instance", status=404, body={"error": "Record not found"})
    assert publisher.validate(outgoing(text="a" * 500)) == [] and publisher.validate(outgoing(text="a" * 501))


# secrets ---------------------------------------------------------------------------------------------------------

def test_the_token_never_reaches_logs_or_messages(server, publisher, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    errors: list[PublishError] = []
    post = outgoing(photos=2)
    publisher.check_credentials()
    result = publisher.publish(post)
    publisher.find(post)
    publisher.delete(result.platform_id)
    server.processing_polls = 1
    echo = {"error": f"Bad header: Authorization: Bearer {TEST_TOKEN} ({TEST_TOKEN})"}
    for endpoint, fault in [("statuses.create", {"status": 401, "body": echo}),
                            ("statuses.create", {"status": 422, "body": echo}),
                            ("statuses.create", {"timeout": True}), ("media.create", {"status": 403, "body": echo}),
                            ("media.get", {"status": 500, "body": echo}),
                            ("statuses.create", {"status": 429, "body": {"error": "Too many requests"}})]:
        server.fail(endpoint, **fault)
        with pytest.raises(PublishError) as caught:
            publisher.publish(outgoing(text=f"Another notice {endpoint} {fault}", photos=1))
        errors.append(caught.value)
    for bad in ({"instance_url": f"https://{TEST_TOKEN}@mastodon.example", "access_token": TEST_TOKEN},
                {"instance_url": BASE_URL + "/?" + TEST_TOKEN, "access_token": TEST_TOKEN}):
        with pytest.raises(PermanentError) as caught:
            check(HANDLE, bad)
        errors.append(caught.value)

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [formatter.format(r) + (formatter.formatException(r.exc_info) if r.exc_info else "")
              for r in caplog.records]
    assert any(r.name == "gateway.platforms.mastodon" for r in caplog.records)
    said = logged + [str(e) for e in errors] + [repr(e) for e in errors] + [e.plain + e.detail for e in errors]
    said += [repr(e.__cause__) for e in errors if e.__cause__] + [repr(CREDS), str(CREDS), repr(publisher)]
    assert any("[redacted]" in e.detail for e in errors), "the server's echo of the token was blanked"
    leaks = [line for line in said if TEST_TOKEN in line]
    assert leaks == [], f"the token leaked: {leaks[:1]}"
