"""BlueskyPublisher against the Bluesky emulator: the real atproto SDK and httpx over real HTTP; only the server is
a stand-in."""
from __future__ import annotations

import io
import logging
import re
import time
from datetime import datetime, timezone

import pytest
from PIL import Image

from gateway.platforms import bluesky_session
from gateway.platforms.base import (
    Ambiguous, Outgoing, OutgoingPhoto, PermanentError, PublishError, RetryLater, Transient,
)
from gateway.platforms.bluesky import PLATFORM, RKEY_EPOCH_MICROS, TID_ALPHABET, BlueskyPublisher, check, record_key
from gateway.platforms.bluesky_session import BlueskyAccount, service_url
from gateway.platforms.graphemes import grapheme_length
from tests.bluesky_api import APP_PASSWORD, DID, HANDLE, MAIN_PASSWORD, BlueskyEmulator

TIMEOUT = 2.0  # seconds each call may take; the emulator's late answers come after it
LATE = TIMEOUT + 2
NAMESPACE = b"test namespace for record keys"
CREATE, GET, UPLOAD = "com.atproto.repo.createRecord", "com.atproto.repo.getRecord", "com.atproto.repo.uploadBlob"
DELETE, SIGN_IN = "com.atproto.repo.deleteRecord", "com.atproto.server.createSession"
TEXT = "Sports day \U0001F3C5 results: well done everyone! More at https://greenfield.example.sch.uk/sports #sportsday"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
# atproto's own uploadBlob hands httpx the bytes as `data=`, which httpx 0.28 deprecates: the SDK's to change, not ours
def photo(n: int, size=(40, 30), fmt="JPEG") -> OutgoingPhoto:
    out = io.BytesIO()
    Image.new("RGB", size, (n * 40 % 256, 90, 160)).save(out, fmt)
    return OutgoingPhoto(out.getvalue(), fmt, f"Photo {n} of pupils at sports day")


def outgoing(text: str = TEXT, photos: int = 0, key: str = "41") -> Outgoing:
    return Outgoing(key=key, text=text, photos=[photo(n) for n in range(1, photos + 1)], approved_by="Head Teacher",
                    approved_at=datetime.now(timezone.utc))


@pytest.fixture(autouse=True)
def no_kept_sessions(monkeypatch):
    monkeypatch.setattr(bluesky_session, "_sessions", {})


@pytest.fixture
def bsky():
    with BlueskyEmulator() as emulator:
        yield emulator


def credentials(bsky, password=APP_PASSWORD) -> dict:
    return {"app_password": password, "service": bsky.url}


def make_publisher(bsky, password=APP_PASSWORD) -> BlueskyPublisher:
    return BlueskyPublisher(BlueskyAccount.from_credentials("greenfieldschool", credentials(bsky, password)),
                            NAMESPACE, timeout=TIMEOUT)


@pytest.fixture
def publisher(bsky):
    return make_publisher(bsky)


def the_post(bsky) -> dict:
    [record] = bsky.live_posts().values()
    return record


# 1: what goes out --------------------------------------------------------------------------------------------------

def test_photos_go_up_in_order_with_alt_text_and_the_links_are_facets(bsky, publisher):
    post = outgoing(photos=3)
    post.photos[1] = photo(2, size=(30, 60), fmt="PNG")
    result = publisher.publish(post)

    uploads = bsky.calls_to(UPLOAD)
    assert [c.body for c in uploads] == [p.data for p in post.photos]
    assert [c.headers["content-type"] for c in uploads] == ["image/jpeg", "image/png", "image/jpeg"]
    value = the_post(bsky)["value"]
    assert value["text"] == post.text and value["$type"] == "app.bsky.feed.post"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", value["createdAt"])
    images = value["embed"]["images"]
    assert [i["alt"] for i in images] == [p.alt for p in post.photos]
    assert [i["image"]["ref"]["$link"] for i in images] == list(bsky.blobs)
    assert [(i["aspectRatio"]["width"], i["aspectRatio"]["height"]) for i in images] == [(40, 30), (30, 60), (40, 30)]
    facets = {f["features"][0]["$type"].split("#")[1]: f for f in value["facets"]}
    raw = post.text.encode()
    link = facets["link"]
    assert link["features"][0]["uri"] == "https://greenfield.example.sch.uk/sports"
    assert raw[link["index"]["byteStart"]:link["index"]["byteEnd"]] == b"https://greenfield.example.sch.uk/sports"
    assert raw[facets["tag"]["index"]["byteStart"]:facets["tag"]["index"]["byteEnd"]] == b"#sportsday"

    rkey = result.platform_id.rsplit("/", 1)[1]
    assert result.platform_id == f"at://{DID}/app.bsky.feed.post/{rkey}" and TID.match(rkey)
    assert result.url == f"https://bsky.app/profile/{HANDLE}/post/{rkey}"
    assert [c.json["rkey"] for c in bsky.calls_to(CREATE)] == [rkey]


def test_mentions_that_resolve_become_facets_and_others_stay_text(bsky, publisher):
    post = outgoing(text="Thank you @friends.bsky.social and @nobody.bsky.social for the caf\u00e9 \U0001F370")
    publisher.publish(post)
    [mention] = the_post(bsky)["value"]["facets"]
    assert mention["features"][0] == {"$type": "app.bsky.richtext.facet#mention", "did": bsky.handles[
        "friends.bsky.social"]}
    raw = post.text.encode()
    assert raw[mention["index"]["byteStart"]:mention["index"]["byteEnd"]] == b"@friends.bsky.social"
    assert not bsky.calls_to(UPLOAD)


# 2: counting -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,length", [
    ("", 0), ("Sports day", 10), ("caf\u00e9", 4), ("cafe\u0301", 4), ("\r\n", 1),
    ("\U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466", 1),  # a family: one emoji of seven code points
    ("\U0001F44D\U0001F3FD", 1), ("\U0001F1EC\U0001F1E7\U0001F1EB\U0001F1F7", 2), ("\u2764\uFE0F", 1),
    ("\U0001F3F4\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F", 1),  # the flag of Wales
    ("\u1112\u1161\u11AB\uAE00", 2), ("\u0E01\u0E33", 1), ("a\u200Db", 2),
    ("\u0915\u094D\u0937", 2),  # an Indic conjunct: one for Bluesky (GB9c), two here, so never under-counted
])
def test_text_is_counted_in_graphemes(text, length):
    assert grapheme_length(text) == length == PLATFORM.text_length(text)


def test_validate_holds_the_text_to_300_graphemes_and_3000_bytes(publisher):
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467"  # 18 bytes
    assert publisher.validate(outgoing(text="\U0001F3C5" * 300)) == []
    assert publisher.validate(outgoing(text=family * 166)) == []  # 2,988 bytes
    [problem] = publisher.validate(outgoing(text="\U0001F3C5" * 301))
    assert "counts as 301 characters and Bluesky allows 300" in problem
    [problem] = publisher.validate(outgoing(text="e" + "\u0301" * 1500))  # one grapheme of 3,001 bytes
    assert "3,001 bytes" in problem


def test_validate_photos(publisher):
    assert publisher.validate(outgoing(photos=4)) == []
    assert publisher.validate(outgoing(photos=5)) == ["Bluesky allows at most 4 photos in a post; this post has 5."]
    gif = outgoing(photos=1)
    gif.photos[0] = OutgoingPhoto(b"GIF89a" + b"\0" * 100, "GIF", "animated")
    assert publisher.validate(gif) == ["Photo 1 is a GIF file; only JPEG and PNG photos are sent to Bluesky."]
    described = outgoing(photos=1)
    described.photos[0].alt = "\U0001F3C5" * 2001
    [problem] = publisher.validate(described)
    assert "photo 1 is 2,001 characters long; Bluesky allows 2,000" in problem


def test_a_photo_over_1000000_bytes_is_refused_never_shrunk_or_left_out(bsky, publisher):
    post = outgoing(photos=2)
    post.photos[1] = OutgoingPhoto(post.photos[1].data.ljust(1_000_001, b"\0"), "JPEG", "Pupils on stage")
    [problem] = publisher.validate(post)
    assert "Photo 2 is 1,000,001 bytes; Bluesky takes photos of at most 1,000,000 bytes" in problem
    with pytest.raises(PermanentError) as caught:
        publisher.publish(post)
    assert caught.value.code == "invalid" and "Photo 2 is 1,000,001 bytes" in caught.value.plain
    assert bsky.calls == []  # nothing at all was sent
    post.photos[1] = OutgoingPhoto(post.photos[1].data[:1_000_000], "JPEG", "Pupils on stage")
    assert publisher.validate(post) == []


# 3: at most once ---------------------------------------------------------------------------------------------------

def test_record_keys_are_valid_tids_stable_for_a_publication():
    keys = {record_key(NAMESPACE, str(n)) for n in range(2000)}
    assert len(keys) == 2000 and all(TID.match(k) for k in keys)
    assert record_key(NAMESPACE, "41") == record_key(NAMESPACE, "41") != record_key(b"another gateway", "41")
    value = 0
    for ch in record_key(NAMESPACE, "41"):
        value = value * 32 + TID_ALPHABET.index(ch)
    assert 0 <= (value >> 10) - RKEY_EPOCH_MICROS < 2 ** 40  # microseconds into the 2023 window


@pytest.mark.parametrize("fault", [{"drop": True}, {"delay": LATE}, {"status": 502}, {"status": 500}],
                         ids=["connection-dropped", "timeout", "502", "500"])
def test_answer_lost_after_the_post_was_made_is_ambiguous_and_never_makes_a_second(bsky, publisher, fault):
    post = outgoing(photos=1)
    bsky.fail(CREATE, after_effect=True, **fault)
    with pytest.raises(Ambiguous) as caught:
        publisher.publish(post)
    assert "not yet known" in caught.value.plain and "will not be posted twice" in caught.value.plain
    assert len(bsky.live_posts()) == 1  # Bluesky did make it

    found = publisher.find(post)
    assert found.platform_id == the_post(bsky)["uri"]
    assert publisher.publish(post) == found  # a careless retry finds it under its key
    assert len(bsky.live_posts()) == 1 and len(bsky.calls_to(CREATE)) == 1


def test_a_5xx_on_create_without_a_post_is_ambiguous_then_find_is_none_and_the_retry_posts_once(bsky, publisher):
    post = outgoing()
    bsky.fail(CREATE, status=503, body=bsky.error("NotEnoughResources", "Service Unavailable"))
    with pytest.raises(Ambiguous):
        publisher.publish(post)
    assert publisher.find(post) is None
    publisher.publish(post)
    assert len(bsky.live_posts()) == 1 and len(bsky.calls_to(CREATE)) == 2
    assert len({c.json["rkey"] for c in bsky.calls_to(CREATE)}) == 1


@pytest.mark.parametrize("nsid,fault", [
    (UPLOAD, {"status": 503}), (UPLOAD, {"delay": LATE}), (UPLOAD, {"drop": True}),
    ("com.atproto.identity.resolveHandle", {"status": 502}), (GET, {"status": 500}), (SIGN_IN, {"drop": True}),
])
def test_failures_before_the_create_are_transient(bsky, publisher, nsid, fault):
    bsky.fail(nsid, **fault)
    with pytest.raises(Transient) as caught:
        publisher.publish(outgoing(text="Well done @friends.bsky.social!", photos=2))
    assert "safe to try again" in caught.value.plain
    assert not bsky.calls_to(CREATE) and bsky.live_posts() == {}


# 4: the session ----------------------------------------------------------------------------------------------------

def test_one_sign_in_serves_many_publishes_and_publishers(bsky, publisher):
    for n in range(3):
        result = publisher.publish(outgoing(key=str(n), photos=1))
    publisher.find(outgoing(key="0"))
    make_publisher(bsky).delete(result.platform_id)  # a new publisher in the same process, as the next job
    assert len(bsky.calls_to(SIGN_IN)) == 1


def test_a_session_near_its_end_is_renewed_with_its_refresh_token_not_a_new_sign_in(bsky, publisher):
    bsky.access_lifetime = 600  # under the SDK's 15 minutes: it renews before each call
    publisher.publish(outgoing(key="1"))
    make_publisher(bsky).publish(outgoing(key="2"))
    assert len(bsky.calls_to(SIGN_IN)) == 1
    assert len(bsky.calls_to("com.atproto.server.refreshSession")) >= 2


def test_a_session_the_server_ended_is_replaced_by_signing_in_once_more(bsky, publisher):
    publisher.publish(outgoing(key="1"))
    bsky.expire_sessions()
    publisher.publish(outgoing(key="2"))
    assert len(bsky.calls_to(SIGN_IN)) == 2 and len(bsky.live_posts()) == 2
    assert [c.status for c in bsky.calls_to(CREATE)] == [200, 400, 200]  # 400: ExpiredToken


def test_401_again_after_signing_in_afresh_is_permanent(bsky, publisher):
    for n in (1, 2):
        bsky.fail(CREATE, on_call=n, status=401, body=bsky.error("AuthenticationRequired", "Bad token"))
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing())
    assert caught.value.code == "credentials" and "create a new app password" in caught.value.plain
    assert len(bsky.calls_to(SIGN_IN)) == 2 and bsky.live_posts() == {}


def test_check_names_the_account_and_refuses_wrong_or_main_passwords(bsky):
    assert check("greenfieldschool", credentials(bsky)) == "greenfieldschool"
    assert check("GreenfieldSchool.bsky.social", credentials(bsky)) == HANDLE
    with pytest.raises(PermanentError) as caught:
        check("greenfieldschool", credentials(bsky, "aaaa-bbbb-cccc-dddd"))
    assert caught.value.code == "credentials" and caught.value.status == 401
    with pytest.raises(PermanentError) as caught:
        check("greenfieldschool", credentials(bsky, MAIN_PASSWORD))
    assert caught.value.code == "main_password" and "app password" in caught.value.plain
    bsky.taken_down = True
    with pytest.raises(PermanentError) as caught:
        check("greenfieldschool", credentials(bsky))
    assert caught.value.code == "suspended"


# 5: Bluesky's refusals and limits ----------------------------------------------------------------------------------

@pytest.mark.parametrize("status,body,code,words", [
    (400, {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record: Record/langs/0 must be a valid "
                                                 "language"}, "invalid",
     ("rejected the request as invalid. Bluesky said: \u201cInvalid app.bsky.feed.post record: Record/langs/0 must "
      "be a valid language\u201d.")),
    (400, {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record: Record/text must not be longer "
                                                 "than 300 graphemes"}, "too_long", "the text is too long"),
    (403, {"error": "Forbidden", "message": "Forbidden"}, "forbidden", "did not permit @greenfieldschool.bsky.social"),
    (404, {"error": "XRPCNotSupported", "message": "XRPCNotSupported"}, "address", "Check the server address"),
    (413, {"error": "PayloadTooLarge", "message": "request entity too large"}, "too_large", "too large for Bluesky"),
])
def test_refusals_are_permanent_in_plain_words(bsky, publisher, status, body, code, words):
    bsky.fail(CREATE, status=status, body=body)
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing())
    assert caught.value.code == code and words in caught.value.plain
    assert caught.value.status == status and str(caught.value) == caught.value.plain
    assert bsky.live_posts() == {}


def test_a_photo_over_the_servers_upload_limit_is_named(bsky, publisher):
    bsky.blob_limit = 5000
    post = outgoing(photos=2)
    post.photos[1] = OutgoingPhoto(post.photos[1].data.ljust(6000, b"\0"), "JPEG", "big")
    with pytest.raises(PermanentError) as caught:
        publisher.publish(post)
    assert caught.value.code == "too_large" and caught.value.plain.startswith("Photo 2 is too large for Bluesky.")


@pytest.mark.parametrize("nsid", [CREATE, UPLOAD, SIGN_IN])
def test_429_is_retry_later_at_ratelimit_reset_without_sleeping(bsky, publisher, monkeypatch, nsid):
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail(f"something slept {s}s"))
    reset = int(time.time()) + 900
    bsky.fail(nsid, status=429, body=bsky.error("RateLimitExceeded", "Rate Limit Exceeded"),
              headers={"ratelimit-limit": "30", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)})
    with pytest.raises(RetryLater) as caught:
        publisher.publish(outgoing(photos=1))
    assert caught.value.retry_at == datetime.fromtimestamp(reset, timezone.utc)
    assert "try again automatically at" in caught.value.plain and bsky.live_posts() == {}


# 6: find and delete ------------------------------------------------------------------------------------------------

def test_find_before_and_after(bsky, publisher):
    post = outgoing()
    assert publisher.find(post) is None
    result = publisher.publish(post)
    assert publisher.find(post) == result
    assert publisher.find(outgoing(key="42")) is None


@pytest.mark.parametrize("fault", [{"status": 503}, {"delay": LATE}, {"drop": True}])
def test_find_never_says_absent_when_the_lookup_failed(bsky, publisher, fault):
    bsky.fail(GET, **fault)
    with pytest.raises(Transient) as caught:
        publisher.find(outgoing())
    assert caught.value.code == "lookup_failed" and "could not check" in caught.value.plain


def test_delete_and_delete_again(bsky, publisher):
    result = publisher.publish(outgoing())
    publisher.delete(result.platform_id)
    assert bsky.live_posts() == {}
    publisher.delete(result.platform_id)  # already gone: Bluesky's no-op
    assert [c.json["rkey"] for c in bsky.calls_to(DELETE)] == [result.platform_id.rsplit("/", 1)[1]] * 2


@pytest.mark.parametrize("fault", [{"status": 503}, {"delay": LATE}, {"drop": True}])
def test_delete_without_an_answer_is_transient(bsky, publisher, fault):
    result = publisher.publish(outgoing())
    bsky.fail(DELETE, **fault)
    with pytest.raises(Transient) as caught:
        publisher.delete(result.platform_id)
    assert "may still be visible" in caught.value.plain


def test_delete_refused_is_permanent_and_bad_ids_are_refused(bsky, publisher):
    result = publisher.publish(outgoing())
    for n in (1, 2):
        bsky.fail(DELETE, on_call=n, status=401, body=bsky.error("AuthenticationRequired", "Bad token"))
    with pytest.raises(PermanentError):
        publisher.delete(result.platform_id)
    with pytest.raises(ValueError):
        publisher.delete("at://did:plc:x/app.bsky.feed.post/../1")
    with pytest.raises(PermanentError) as caught:
        publisher.delete(result.platform_id.replace(DID, "did:plc:someoneelse"))
    assert caught.value.code == "other_account" and len(bsky.live_posts()) == 1


# 7: addresses and secrets ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("given,used", [
    ("", "https://bsky.social"), (" https://PDS.greenfield.example.sch.uk/ ", "https://pds.greenfield.example.sch.uk"),
    ("bsky.social", "https://bsky.social"), ("http://127.0.0.1:2583", "http://127.0.0.1:2583"),
    ("http://[::1]:2583", "http://[::1]:2583"), ("http://localhost:2583", "http://localhost:2583"),
])
def test_the_server_address_is_https_or_this_machine(given, used):
    assert service_url(given) == used


@pytest.mark.parametrize("given", ["http://bsky.social", "http://10.0.0.5", "ftp://bsky.social", "https://:99",
                                   "https://bsky.social/xrpc?x=1", "https://user:pw@bsky.social", APP_PASSWORD,
                                   "https://bsky.social:port"])
def test_other_server_addresses_are_refused_in_plain_words_never_echoed(given):
    with pytest.raises(PermanentError) as caught:
        service_url(given)
    assert caught.value.code == "address" and "Bluesky server address" in caught.value.plain
    assert given not in caught.value.plain


def test_an_account_that_lives_on_a_plain_http_server_is_refused(bsky, publisher):
    bsky.pds_endpoint = "http://pds.example.net"
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing())
    assert caught.value.code == "address" and "must start with https://" in caught.value.plain
    assert bsky.live_posts() == {} and bluesky_session._sessions == {}


def test_a_server_that_sends_no_did_document_is_used_as_given(bsky, publisher):
    bsky.did_doc = False
    publisher.publish(outgoing())
    assert len(bsky.live_posts()) == 1


def test_no_secret_in_any_log_record_or_message(bsky, publisher, caplog):
    caplog.set_level(logging.DEBUG)
    errors: list[PublishError] = []
    bsky.access_lifetime = 600  # renewals too
    result = publisher.publish(outgoing(photos=1))
    publisher.find(outgoing())
    publisher.delete(result.platform_id)
    bsky.expire_sessions()
    refused = {"status": 401, "body": bsky.error("AuthenticationRequired", "Bad token")}
    bsky.fail(CREATE, on_call=bsky.counts[CREATE] + 2, **refused)  # and again after signing in afresh
    for nsid, fault in [(CREATE, refused), (CREATE, {"drop": True}), (UPLOAD, {"status": 413}),
                        (CREATE, {"status": 429})]:
        bsky.fail(nsid, **fault)
        with pytest.raises(PublishError) as caught:
            publisher.publish(outgoing(key=f"{nsid}{fault}", photos=1))
        errors.append(caught.value)
    for password in ("aaaa-bbbb-cccc-dddd", MAIN_PASSWORD):
        with pytest.raises(PermanentError) as caught:
            check("greenfieldschool", credentials(bsky, password))
        errors.append(caught.value)

    logged = [caplog.handler.format(r) for r in caplog.records]
    assert any("createSession" in line for line in logged), "the calls were logged"
    said = logged + [str(e) for e in errors] + [repr(e) for e in errors] + [e.plain + e.detail for e in errors]
    said += [repr(e.__cause__) for e in errors if e.__cause__] + [repr(publisher), repr(publisher.account)]
    secrets = [APP_PASSWORD, MAIN_PASSWORD, "aaaa-bbbb-cccc-dddd", *bsky.tokens]
    assert len(bsky.tokens) >= 6
    for secret in secrets:
        assert [line for line in said if secret in line] == [], "a secret leaked"


def test_the_platform_describes_itself():
    assert PLATFORM.name == "bluesky" and PLATFORM.max_text == 300 and PLATFORM.max_photo_bytes == 1_000_000
    fields = {f.name: f.secret for f in PLATFORM.credential_fields}
    assert fields == {"app_password": True, "service": False}
    assert "App passwords" in PLATFORM.credentials_help
