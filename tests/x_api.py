"""A small X API emulator on `responses`: real tweepy and requests run against it, only HTTP is faked.

It keeps state (posts with their text, media ids in order and created_at; uploaded media with alt text), records
every call, checks the OAuth 1.0a signature of every call against the expected credentials (HMAC-SHA1, as X
does), and lets a test inject faults for the Nth call to an endpoint:

    with XApiEmulator(credentials) as x:
        x.fail("tweets.create", status=503, body=x.problem(503, "Service Unavailable", "Service Unavailable"))
        x.fail("tweets.create", timeout=True, after_effect=True)  # X made the post, the answer was lost

Shapes follow X's documentation (docs.x.com):
* POST /2/media/upload (x-api/media/upload-media): `{"data": {"id", "media_key", "size", "expires_after_secs"}}`;
  images up to 5 MB; fields `media` (raw bytes in multipart, base64 in JSON), `media_category`, `media_type`.
* POST /2/media/metadata (x-api/media/create-media-metadata): `{"id", "metadata": {"alt_text": {"text"}}}` ->
  `{"data": {"id", "associated_metadata": {"alt_text": {"text"}}}}`.
* POST /2/tweets: 201 `{"data": {"id", "text"}}`; duplicate text -> 403 problem "You are not allowed to create a
  Tweet with duplicate content."; too long -> 400 "Your Tweet text is too long. ...".
* DELETE /2/tweets/:id: `{"data": {"deleted": true}}`; unknown id -> 404 resource-not-found problem.
* GET /2/users/me: `{"data": {"id", "name", "username"}}`.
* GET /2/users/:id/tweets: newest first, `{"data": [{"id", "text", "created_at", "edit_history_tweet_ids"}],
  "meta": {"result_count", "newest_id", "oldest_id", "next_token"}}`; `created_at` only when asked for in
  `tweet.fields`; `start_time`, `end_time`, `max_results` (5..100) and `pagination_token` honoured.  Post text is
  given back as X does: links become t.co links, a t.co link is appended for attached photos, and & < > are
  HTML-escaped.
* Errors (x-api/fundamentals/response-codes-and-errors): `{"title", "detail", "type", "status"}`; 429 with
  `x-rate-limit-limit`, `x-rate-limit-remaining`, `x-rate-limit-reset` (fundamentals/rate-limits).

Replies under the school's posts (recent search, hide replies, mutes) and their test controls: tests/x_replies_api.py.

tweepy talks to api.twitter.com, the media calls go to api.x.com: every route is served on both hosts.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import requests
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from gateway.platforms.x_secrets import XCredentials
from gateway.platforms.x_text import weighted_length
from tests.emulation import Fault, ResponsesEmulator, multipart_form
from tests.x_replies_api import REPLY_ENDPOINTS, XRepliesMixin
from twitter_text import extract_urls_with_indices  # noqa: E402  (after x_text, which silences its warning)

HOST = r"https://api\.(?:x|twitter)\.com"
ENDPOINTS = {
    # name: (method, path regex)
    "users/me": ("GET", r"/2/users/me"),
    "media/upload": ("POST", r"/2/media/upload"),
    "media/metadata": ("POST", r"/2/media/metadata"),
    "tweets.create": ("POST", r"/2/tweets"),
    "tweets.delete": ("DELETE", r"/2/tweets/(?P<id>[^/?]+)"),
    "users/tweets": ("GET", r"/2/users/(?P<id>\d+)/tweets"),
    **REPLY_ENDPOINTS,  # replies under the school's posts: tests/x_replies_api.py
}
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Distinctive values, so a test can search logs and messages for any trace of them.
TEST_CREDENTIALS = XCredentials(
    consumer_key="ckZq81LmConsumerKeyDoNotLog",
    consumer_secret="csVx03ConsumerSecretDoNotLog",
    access_token="1234567890123456789-AtAccessTokenDoNotLog",  # X's access tokens start with the user's id
    access_token_secret="atsPp55TokenSecretDoNotLog",
)
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
TOO_LONG_MESSAGE = ("Your Tweet text is too long. For more information on how Twitter determines text length see "
                    "https://github.com/twitter/twitter-text.")


@dataclass
class Call:
    endpoint: str
    method: str
    url: str
    host: str
    headers: dict
    body: bytes | str | None
    json: object = None
    form: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    timeout: object = None  # the timeout requests was given (None would mean: wait forever)
    status: int | None = None  # what the emulator answered (None: it raised)


class XApiEmulator(XRepliesMixin, ResponsesEmulator):
    ENDPOINTS = ENDPOINTS

    def __init__(self, credentials=None, *, username: str = "greenfieldschool", user_id: str = "1234567890123456789",
                 clock=None):
        super().__init__()
        self.credentials = credentials
        self.username = username
        self.user_id = user_id
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.tweets: dict[str, dict] = {}
        self.media: dict[str, dict] = {}
        self.timeline_lag = 0  # how many timeline reads a new post is left out of (X's timeline lags behind)
        self.during_timeline_read = None  # called with the read's number after X has read, before it answers
        self._tweet_ids = itertools.count(1445880548472328192, 7919)
        self._media_ids = itertools.count(1146654567674912769, 104729)
        self._tco = itertools.count(1)
        self._init_replies()
        for name, (method, path) in ENDPOINTS.items():
            self.mock.add_callback(method, re.compile(f"^{HOST}{path}(?:\\?.*)?$"),
                                   callback=self._handler(name, path),
                                   content_type="application/json; charset=utf-8")

    # -- test controls -----------------------------------------------------------------------------------------------

    def add_existing_tweet(self, text: str, created_at: datetime, media_ids: list[str] | None = None) -> str:
        """A post already on the account (e.g. made by hand long ago)."""
        return self._create(text, media_ids or [], created_at)["id"]

    def live_tweets(self) -> list[dict]:
        return [t for t in self.tweets.values() if not t["deleted"]]

    @staticmethod
    def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra) -> dict:
        return {"title": title, "type": type_, "status": status, "detail": detail, **extra}

    @classmethod
    def duplicate(cls) -> dict:
        return cls.problem(403, "Forbidden", DUPLICATE_DETAIL)

    @classmethod
    def unauthorized(cls) -> dict:
        return cls.problem(401, "Unauthorized", "Unauthorized")

    @staticmethod
    def rate_limited_body() -> dict:
        return {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}

    @staticmethod
    def rate_limit_headers(reset: int, limit: int = 100, remaining: int = 0) -> dict:
        return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
                "x-rate-limit-reset": str(reset)}

    # -- dispatch ----------------------------------------------------------------------------------------------

    def _handler(self, name: str, path: str):
        pattern = re.compile(f"^{HOST}{path}(?:\\?.*)?$")

        def callback(request):
            call = self._record(name, request)
            match = pattern.match(request.url)
            fault = self._count(name) or self._kind_fault(name)
            problem = self._check_oauth(request)
            if problem:
                self.auth_failures.append(f"{name}: {problem}")
                return self._answer(call, 401, self.unauthorized())
            if fault and not fault.after_effect:
                return self._fault(call, fault)
            status, body, headers = getattr(self, "_" + name.replace("/", "_").replace(".", "_"))(call, match)
            if fault:
                return self._fault(call, fault)
            return self._answer(call, status, body, headers)

        return callback

    def _record(self, name: str, request) -> Call:
        parts = urlsplit(request.url)
        body = request.body
        call = Call(endpoint=name, method=request.method, url=request.url, host=parts.netloc,
                    headers=dict(request.headers), body=body,
                    query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    timeout=getattr(request, "req_kwargs", {}).get("timeout"))
        content_type = request.headers.get("Content-Type", "")
        raw = body.encode() if isinstance(body, str) else (body or b"")
        if content_type.startswith("application/json"):
            call.json = json.loads(raw or b"null")
        elif content_type.startswith("multipart/form-data"):
            call.files, fields = multipart_form(content_type, raw)
            call.form = dict(fields)
        self.calls.append(call)
        return call

    def _answer(self, call: Call, status: int, body, headers: dict | None = None):
        call.status = status
        out = {"x-rate-limit-limit": "100",
               "x-rate-limit-remaining": "99", "x-rate-limit-reset": str(int(self.clock().timestamp()) + 900)}
        out.update(headers or {})
        if body is None:
            return status, out, ""
        return status, out, body if isinstance(body, (str, bytes)) else json.dumps(body)

    def _fault(self, call: Call, fault: Fault):
        if fault.timeout:
            raise requests.exceptions.ReadTimeout(f"HTTPSConnectionPool(host='{call.host}', port=443): "
                                                  "Read timed out. (read timeout=30)")
        if fault.connection_error:
            raise requests.exceptions.ConnectionError("Connection aborted.")
        body = fault.body if fault.body is not None else self.problem(
            fault.status, HTTPStatus(fault.status).phrase, HTTPStatus(fault.status).phrase)
        return self._answer(call, fault.status, body, fault.headers)

    # -- OAuth 1.0a --------------------------------------------------------------------------------------------

    def _check_oauth(self, request) -> str | None:
        header = request.headers.get("Authorization", "")
        if isinstance(header, bytes):
            header = header.decode()
        if not header.startswith("OAuth ") or "oauth_signature=" not in header:
            return "no OAuth 1.0a Authorization header"
        if self.credentials is None:
            return None
        params = {k: oauth_utils.unescape(v) for k, v in oauth_utils.parse_authorization_header(header)}
        if params.get("oauth_consumer_key") != self.credentials.consumer_key:
            return "wrong consumer key"
        if params.get("oauth_token") != self.credentials.access_token:
            return "wrong access token"
        if params.get("oauth_signature_method") != "HMAC-SHA1":
            return "not HMAC-SHA1"
        content_type = request.headers.get("Content-Type", "")
        body = request.body if content_type.startswith("application/x-www-form-urlencoded") else None
        collected = oauth_signature.collect_parameters(
            uri_query=urlsplit(request.url).query, body=body, headers={"Authorization": header},
            exclude_oauth_signature=True)
        base = oauth_signature.signature_base_string(
            request.method, oauth_signature.base_string_uri(request.url),
            oauth_signature.normalize_parameters(collected))
        key = "&".join(oauth_utils.escape(s) for s in (self.credentials.consumer_secret,
                                                           self.credentials.access_token_secret))
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
            return "bad signature"
        return None

    # -- state -------------------------------------------------------------------------------------------------

    def _tco_link(self) -> str:
        return "https://t.co/" + hashlib.sha1(str(next(self._tco)).encode()).hexdigest()[:10]

    def _as_x_shows(self, text: str, media_ids: list[str]) -> str:
        """Links shortened to t.co, a t.co link for the photos, & < > escaped: as X's v2 text field shows it."""
        for url in sorted(extract_urls_with_indices(text), key=lambda u: u["indices"][0], reverse=True):
            start, end = url["indices"]
            text = text[:start] + self._tco_link() + text[end:]
        text = html.escape(text, quote=False)
        if media_ids:
            text = (text + " " if text else "") + self._tco_link()
        return text

    def _create(self, text: str, media_ids: list[str], created_at: datetime | None = None) -> dict:
        tweet_id = str(next(self._tweet_ids))
        tweet = {"id": tweet_id, "submitted_text": text, "text": self._as_x_shows(text, media_ids),
                 "media_ids": list(media_ids), "created_at": created_at or self.clock(), "deleted": False,
                 "hidden_reads": 0 if created_at else self.timeline_lag}
        self.tweets[tweet_id] = tweet
        return tweet

    # -- endpoints ---------------------------------------------------------------------------------------------

    def _users_me(self, call: Call, match):
        return 200, {"data": {"id": self.user_id, "name": "Greenfield School", "username": self.username}}, None

    def _media_upload(self, call: Call, match):
        if "media" in call.files:
            data = call.files["media"]["data"]
            category, media_type = call.form.get("media_category"), call.form.get("media_type")
        elif isinstance(call.json, dict) and "media" in call.json:
            data = base64.b64decode(call.json["media"])
            category, media_type = call.json.get("media_category"), call.json.get("media_type")
        else:
            return 400, self.problem(400, "Invalid Request", "The `media` field is required.",
                                     "https://api.x.com/2/problems/invalid-request"), None
        if category not in ("tweet_image", "dm_image", "subtitles"):
            return 400, self.problem(400, "Invalid Request", "media_category is required.",
                                     "https://api.x.com/2/problems/invalid-request"), None
        if len(data) > MAX_IMAGE_BYTES:
            return 400, self.problem(400, "Invalid Request", "File size exceeds 5242880 bytes.",
                                     "https://api.x.com/2/problems/invalid-request"), None
        media_id = str(next(self._media_ids))
        self.media[media_id] = {"id": media_id, "size": len(data), "data": data, "media_type": media_type,
                                "category": category, "alt_text": None}
        return 200, {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data),
                              "expires_after_secs": 86400}}, None

    def _media_metadata(self, call: Call, match):
        body = call.json if isinstance(call.json, dict) else {}
        media = self.media.get(str(body.get("id")))
        alt = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if media is None:
            return 400, self.problem(400, "Invalid Request", "The media id is not valid.",
                                     "https://api.x.com/2/problems/invalid-request"), None
        if alt is None or len(alt) > 1000:
            return 400, self.problem(400, "Invalid Request", "alt_text.text must be 1 to 1000 characters.",
                                     "https://api.x.com/2/problems/invalid-request"), None
        media["alt_text"] = alt
        return 200, {"data": {"id": media["id"], "associated_metadata": {"alt_text": {"text": alt}}}}, None

    def _tweets_create(self, call: Call, match):
        body = call.json if isinstance(call.json, dict) else {}
        text = body.get("text") or ""
        media_ids = [str(m) for m in ((body.get("media") or {}).get("media_ids") or [])]
        if not text and not media_ids:
            return 400, self.problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                                     "https://api.twitter.com/2/problems/invalid-request"), None
        if any(m not in self.media for m in media_ids) or len(media_ids) > 4:
            return 400, {"errors": [{"parameters": {"media.media_ids": media_ids},
                                     "message": "Your media IDs are invalid."}],
                         "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                         "type": "https://api.twitter.com/2/problems/invalid-request"}, None
        if text and weighted_length(text) > 280:
            return 400, {"errors": [{"message": TOO_LONG_MESSAGE}], "title": "Invalid Request",
                         "detail": "One or more parameters to your request was invalid.",
                         "type": "https://api.twitter.com/2/problems/invalid-request"}, None
        if text and any(t["submitted_text"] == text for t in self.live_tweets()):
            return 403, self.duplicate(), None
        tweet = self._create(text, media_ids)
        return 201, {"data": {"id": tweet["id"], "text": tweet["text"]}}, None

    def _tweets_delete(self, call: Call, match):
        tweet = self.tweets.get(match.group("id"))
        if tweet is None or tweet["deleted"]:
            return 404, self.problem(
                404, "Not Found Error", f"Could not find tweet with id: [{match.group('id')}].",
                "https://api.twitter.com/2/problems/resource-not-found", resource_type="tweet", parameter="id",
                value=match.group("id")), None
        tweet["deleted"] = True
        return 200, {"data": {"deleted": True}}, None

    def _users_tweets(self, call: Call, match):
        answer = self._timeline(call, match)
        if self.during_timeline_read is not None:  # a slow answer: the world moves on before it arrives
            self.during_timeline_read(self.counts["users/tweets"])
        return answer

    def _timeline(self, call: Call, match):
        if match.group("id") != self.user_id:
            return 404, self.problem(404, "Not Found Error", "Could not find user.",
                                     "https://api.twitter.com/2/problems/resource-not-found"), None
        q = call.query
        max_results = int(q.get("max_results", 10))
        if not 5 <= max_results <= 100:
            return 400, self.problem(400, "Invalid Request", "max_results must be between 5 and 100.",
                                     "https://api.twitter.com/2/problems/invalid-request"), None
        start = _parse_time(q.get("start_time"))
        end = _parse_time(q.get("end_time"))
        fields = set(filter(None, q.get("tweet.fields", "").split(",")))
        tweets = sorted((t for t in self.live_tweets() if t["hidden_reads"] <= 0), key=lambda t: int(t["id"]),
                        reverse=True)
        for tweet in self.live_tweets():
            tweet["hidden_reads"] -= 1
        tweets = [t for t in tweets if (start is None or t["created_at"] >= start)
                  and (end is None or t["created_at"] <= end)]
        offset = int(q.get("pagination_token") or 0)
        page = tweets[offset:offset + max_results]
        if not page:
            return 200, {"meta": {"result_count": 0}}, None
        data = []
        for t in page:
            item = {"edit_history_tweet_ids": [t["id"]], "id": t["id"], "text": t["text"]}
            if "created_at" in fields:
                item["created_at"] = t["created_at"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            if "attachments" in fields and t["media_ids"]:
                item["attachments"] = {"media_keys": [f"3_{m}" for m in t["media_ids"]]}
            data.append(item)
        meta = {"result_count": len(page), "newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if offset + max_results < len(tweets):
            meta["next_token"] = str(offset + max_results)
        return 200, {"data": data, "meta": meta}, None


def _parse_time(value):
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
