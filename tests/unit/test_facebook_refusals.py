"""FacebookPublisher against the Graph API emulator: refusals, takedowns, the account's keys, https and secrets.

Real requests code runs; only HTTP is emulated (tests/facebook_api.py).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from gateway.platforms.base import PermanentError, PublishError, Transient
from gateway.platforms.facebook import PLATFORM, FacebookPublisher
from gateway.platforms.facebook_graph import GRAPH_VERSION, checked_base
from gateway.platforms.facebook_secrets import FacebookCredentials, redact
from tests.facebook_api import PAGE_ID, TEST_CREDENTIALS, TEST_TOKEN, FacebookApiEmulator, outgoing

HANDLE = "greenfieldschool"
CREDS = FacebookCredentials.from_mapping(TEST_CREDENTIALS)


@pytest.fixture
def fb():
    with FacebookApiEmulator(username=HANDLE) as emulator:
        yield emulator
    assert emulator.auth_failures == [], "every call must carry the Page access token"


@pytest.fixture
def publisher(fb):
    return FacebookPublisher(CREDS, HANDLE, timeout=5)


# 1: refusals -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,body,code,words", [
    (401, {"error": {"message": "Error validating access token: Session has expired on Tuesday.",
                     "type": "OAuthException", "code": 190, "error_subcode": 463}},
     "credentials", "may have expired or been revoked"),
    (400, {"error": {"message": "Error validating access token: The user has changed the password.",
                     "type": "OAuthException", "code": 190, "error_subcode": 460}},
     "credentials", "password of the person whose token"),
    (400, {"error": {"message": "Error validating access token: The session is invalid.", "type": "OAuthException",
                     "code": 190, "error_subcode": 492}}, "credentials", "no longer has a role on the Page"),
    (403, {"error": {"message": "(#10) Application does not have permission for this action",
                     "type": "OAuthException", "code": 10}}, "permissions", "pages_manage_posts"),
    (403, {"error": {"message": "(#200) The user hasn't authorized the application to perform this action",
                     "type": "OAuthException", "code": 200}}, "permissions", "pages_read_engagement"),
    (400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                     "error_user_msg": "The post's text could not be used."}},
     "invalid", "Facebook said: \u201cThe post's text could not be used.\u201d"),
    (400, {"error": {"message": "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
                     "type": "OAuthException", "code": 368}}, "blocked", "temporarily blocked the Page"),
    (400, {"error": {"message": "There was a problem scraping data from the provided link.",
                     "type": "OAuthException", "code": 1609005}}, "link", "could not read the link"),
    (404, "Not Found", "not_found", "Check the Page ID and the Page access token"),
    (403, "Forbidden", "forbidden", "did not permit this on the Page"),
])
def test_refusals_are_permanent_in_plain_words(fb, publisher, status, body, code, words):
    fb.fail("feed.create", status=status, body=body)
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing())
    assert caught.value.code == code
    assert words in caught.value.plain
    assert caught.value.status == status
    assert str(caught.value) == caught.value.plain
    assert "OAuthException" not in caught.value.plain and "#" not in caught.value.plain.split("said")[0]
    assert fb.live_posts() == []


def test_refusal_keeps_facebooks_record_for_support(fb, publisher):
    fb.fail("feed.create", status=400, body=fb.error(100, "(#100) Invalid parameter"))
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing())
    assert "code 100" in caught.value.detail and "fbtrace_id AbCdEf" in caught.value.detail


@pytest.mark.parametrize("status,body,words", [
    (413, "Request Entity Too Large", "Facebook would not accept photo 2. It is too large."),
    (400, {"error": {"message": "(#100) The photo is too large. Photos must be less than 10MB.",
                     "type": "OAuthException", "code": 100}}, "Facebook would not accept photo 2."),
])
def test_a_photo_facebook_will_not_take_is_permanent_and_named(fb, publisher, status, body, words):
    fb.fail("photos.create", on_call=2, status=status, body=body)
    with pytest.raises(PermanentError) as caught:
        publisher.publish(outgoing(photos=3))
    assert caught.value.code == "photo" and words in caught.value.plain
    assert not fb.calls_to("feed.create")


def test_a_token_facebook_does_not_know_is_refused_as_credentials(fb):
    stranger = FacebookCredentials(page_id=PAGE_ID, page_access_token="EAAGsomeOtherTokenEntirely42")
    with pytest.raises(PermanentError) as caught:
        FacebookPublisher(stranger, HANDLE).publish(outgoing(photos=1))
    assert caught.value.code == "credentials"
    assert fb.auth_failures == ["photos.create: wrong access token"]
    fb.auth_failures.clear()


# 2: takedown -------------------------------------------------------------------------------------------------------

def test_delete(fb, publisher):
    result = publisher.publish(outgoing())
    publisher.delete(result.platform_id)
    assert fb.live_posts() == []
    [call] = fb.calls_to("object.delete")
    assert call.method == "DELETE" and call.url.endswith(f"/{GRAPH_VERSION}/{result.platform_id}")


def test_delete_of_a_post_already_gone_is_success(fb, publisher):
    publisher.delete(f"{PAGE_ID}_1116689038356556")  # Facebook answers code 100, subcode 33
    assert fb.calls_to("object.delete")[0].status == 400
    fb.fail("object.delete", status=404, body="Not Found")
    publisher.delete(f"{PAGE_ID}_1116689038356556")


@pytest.mark.parametrize("fault", [{"status": 503}, {"timeout": True}, {"status": 200, "body": {"success": False}}])
def test_delete_not_confirmed_is_transient_and_the_post_stays_until_it_is(fb, publisher, fault):
    result = publisher.publish(outgoing())
    fb.fail("object.delete", **fault)
    with pytest.raises(Transient) as caught:
        publisher.delete(result.platform_id)
    assert "may still be visible" in caught.value.plain
    assert len(fb.live_posts()) == 1
    publisher.delete(result.platform_id)
    assert fb.live_posts() == []


@pytest.mark.parametrize("status,body,code", [
    (400, {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}},
     "credentials"),
    (403, {"error": {"message": "(#200) Permissions error", "type": "OAuthException", "code": 200}}, "permissions"),
])
def test_delete_refused_is_permanent(fb, publisher, status, body, code):
    fb.fail("object.delete", status=status, body=body)
    with pytest.raises(PermanentError) as caught:
        publisher.delete(f"{PAGE_ID}_1116689038356556")
    assert caught.value.code == code


def test_delete_refuses_a_malformed_id(fb, publisher):
    for bad in ("../1", "1116689038356556", f"{PAGE_ID}_1?x=1", ""):
        with pytest.raises(ValueError):
            publisher.delete(bad)
    assert not fb.calls


# 3: the account's keys ---------------------------------------------------------------------------------------------

def test_check_names_the_page_by_its_username_with_harmless_reads(fb):
    assert PLATFORM.check(HANDLE, TEST_CREDENTIALS) == HANDLE
    assert [(c.method, c.endpoint, c.query) for c in fb.calls] == [
        ("GET", "page", {"fields": "id,name,username"}), ("GET", "me", {"fields": "id"})]


def test_check_of_a_page_without_a_username_gives_its_id(fb):
    fb.username = None
    assert PLATFORM.check(HANDLE, TEST_CREDENTIALS) == PAGE_ID


def test_check_refuses_a_token_that_is_not_the_pages_own(fb):
    fb.fail("me", status=200, body={"id": "10229991234567890", "name": "A Teacher"})
    with pytest.raises(PermanentError) as caught:
        PLATFORM.check(HANDLE, TEST_CREDENTIALS)
    assert caught.value.code == "credentials" and "not this Page's own token" in caught.value.plain


def test_check_of_an_unknown_page_id_says_so(fb):
    with pytest.raises(PermanentError) as caught:
        PLATFORM.check(HANDLE, {**TEST_CREDENTIALS, "page_id": "999999999"})
    assert caught.value.code == "not_found" and "Page ID" in caught.value.plain


@pytest.mark.parametrize("credentials,words", [
    ({"page_id": "greenfield", "page_access_token": TEST_TOKEN}, "Page ID is a number"),
    ({"page_id": PAGE_ID, "page_access_token": " "}, "lack page_access_token"),
    ({"page_id": PAGE_ID, "page_access_token": TEST_TOKEN[:10] + " " + TEST_TOKEN[10:]}, "has spaces"),
])
def test_check_refuses_malformed_credentials_without_echoing_the_token(fb, credentials, words):
    with pytest.raises(PermanentError) as caught:
        PLATFORM.check(HANDLE, credentials)
    assert words in caught.value.plain and TEST_TOKEN[:10] not in caught.value.plain
    assert not fb.calls


def test_check_unreachable_is_transient(fb):
    fb.fail("page", connection_error=True)
    with pytest.raises(Transient):
        PLATFORM.check(HANDLE, TEST_CREDENTIALS)


def test_connect_gives_each_call_a_twelfth_of_the_publish_time(fb):
    publisher = PLATFORM.connect(HANDLE, TEST_CREDENTIALS, SimpleNamespace(publish_timeout=120))
    assert publisher.graph.timeout == (10.0, 10.0)
    assert PLATFORM.connect(HANDLE, TEST_CREDENTIALS, SimpleNamespace(publish_timeout=12)).graph.timeout == (5.0, 5.0)


# 4: https only -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("base", ["https://graph.facebook.com", "https://graph.facebook.com/", "http://127.0.0.1:8080",
                                  "http://[::1]:9000", "http://localhost:8000", "HTTPS://graph.facebook.com"])
def test_https_or_loopback_bases_are_accepted(base):
    assert checked_base(base) == base.rstrip("/")


@pytest.mark.parametrize("base", ["http://graph.facebook.com", "http://10.0.0.5", "http://127.0.0.1.example.com",
                                  "ftp://graph.facebook.com", "https://user:pw@graph.facebook.com",
                                  "https://graph.facebook.com/?x=1", "graph.facebook.com", ""])
def test_other_bases_are_refused(base):
    with pytest.raises(ValueError) as caught:
        FacebookPublisher(CREDS, HANDLE, api_base=base)
    assert "Facebook API address" in str(caught.value)


def test_a_local_test_server_on_loopback_can_stand_in():
    with FacebookApiEmulator(base="http://127.0.0.1:8765") as local:
        publisher = FacebookPublisher(CREDS, HANDLE, api_base="http://127.0.0.1:8765")
        post = outgoing(photos=1)
        result = publisher.publish(post)
        assert publisher.find(post) == result
    assert all(c.url.startswith("http://127.0.0.1:8765/v26.0/") for c in local.calls)
    assert local.auth_failures == []


# 5: no secret anywhere ---------------------------------------------------------------------------------------------

GUARDED = ["", "urllib3", "urllib3.connectionpool", "requests", "gateway.platforms.facebook",
           "gateway.platforms.facebook_graph", "gateway.platforms.facebook_errors"]


def test_the_token_never_reaches_logs_or_messages(fb, publisher, caplog):
    for name in GUARDED:
        caplog.set_level(logging.DEBUG, logger=name)
    errors = _run_everything(fb, publisher)
    logging.getLogger("gateway.platforms.facebook").debug("token %s in %s", TEST_TOKEN,
                                                          f"https://x/?access_token={TEST_TOKEN}")

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logged = [formatter.format(r) + (formatter.formatException(r.exc_info) if r.exc_info else "")
              for r in caplog.records]
    assert any("[redacted]" in line for line in logged), "the filter rewrote the planted record"
    said = logged + [str(e) for e in errors] + [repr(e) for e in errors] + [e.plain + e.detail for e in errors]
    said += [repr(e.__cause__) for e in errors if e.__cause__] + [repr(CREDS), str(CREDS), repr(publisher),
                                                                  repr(publisher.graph)]
    leaks = [line for line in said if TEST_TOKEN in line or "access_token=EAA" in line]
    assert leaks == [], f"the token leaked: {leaks[:1]}"
    assert not any(TEST_TOKEN in c.url for c in fb.calls)


def _run_everything(fb, publisher) -> list[PublishError]:
    """Every kind of call and failure, including Facebook echoing a malformed token and paging links with it."""
    approved = datetime.now(timezone.utc) - timedelta(hours=1)
    for n in range(150):  # a second page of the feed, whose `next` link carries the token
        fb.add_existing_post(f"Notice {n}", created_at=approved + timedelta(minutes=n % 50))
    publisher.check_credentials()
    post = outgoing(photos=2, approved_at=approved)
    result = publisher.publish(post)
    assert publisher.find(post) == result
    publisher.delete(result.platform_id)
    errors: list[PublishError] = []
    for endpoint, fault in [
        ("feed.create", {"status": 400, "body": fb.error(190, f"Malformed access token {TEST_TOKEN}")}),
        ("feed.create", {"status": 400, "body": fb.error(100, f"(#100) bad param access_token={TEST_TOKEN}")}),
        ("feed.create", {"timeout": True}),
        ("photos.create", {"status": 403, "body": fb.error(200, f"(#200) no permission for Bearer {TEST_TOKEN}")}),
        ("feed.create", {"status": 400, "body": fb.error(4, "(#4) Application request limit reached")}),
        ("feed.read", {"status": 503}),
    ]:
        fb.fail(endpoint, **fault)
        with pytest.raises(PublishError) as caught:
            if endpoint == "feed.read":
                publisher.find(outgoing(text="Looking"))
            else:
                publisher.publish(outgoing(text=f"Another notice {endpoint} {len(errors)}", photos=1))
        errors.append(caught.value)
    return errors


def test_redact_blanks_the_token_in_every_form():
    FacebookPublisher(CREDS, HANDLE)  # registers the token
    text = (f"GET /v26.0/1/feed?access_token={TEST_TOKEN}&after=2 {{'Authorization': 'Bearer {TEST_TOKEN}'}} "
            f"\"access_token\": \"{TEST_TOKEN}\" plain {TEST_TOKEN}")
    cleaned = redact(text)
    assert TEST_TOKEN not in cleaned and "access_token=[redacted]&after=2" in cleaned


def test_credentials_hide_the_token():
    assert TEST_TOKEN not in repr(CREDS) and TEST_TOKEN not in str(CREDS) and PAGE_ID in repr(CREDS)
    assert dict(CREDS) == TEST_CREDENTIALS
