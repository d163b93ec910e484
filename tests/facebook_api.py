"""A small Graph API emulator on `responses`: the real requests code runs against it, only HTTP is faked.

It keeps state (the Page's posts with their message, attached photo ids and created_time; uploaded photos with
their bytes, alt text and published flag), records every call, checks the Page access token of every call, and
lets a test inject faults for the Nth call to an endpoint:

    with FacebookApiEmulator() as fb:
        fb.fail("feed.create", status=503, body=fb.error(2, "Service temporarily unavailable"))
        fb.fail("feed.create", timeout=True, after_effect=True)  # Facebook made the post, the answer was lost

Shapes follow Meta's documentation (developers.facebook.com):
* POST /{page-id}/photos (graph-api/photo-uploads, reference/photo): multipart `source`, `published`,
  `alt_text_custom`; an unpublished photo answers `{"id"}`; a photo "must be less than 10MB in size".
* POST /{page-id}/feed (pages-api/posts): `message`, `attached_media[i]={"media_fbid": ...}` -> `{"id":
  "{page-id}_{post-id}"}`; the same words as the Page's latest post -> code 506 "Duplicate status message"
  (graph-api/guides/error-handling: "Duplicate posts cannot be published consecutively").
* GET /{page-id}/feed (reference/page/feed): newest first, `fields`, `since` (Unix time), `limit` (at most 100),
  `after` cursor; `{"data": [{"id", "message", "created_time"}], "paging": {"cursors": {"before", "after"},
  "next"}}`; `message` is absent for a post without words; `next` carries `access_token`, as Facebook's does.
* DELETE /{post-id} -> `{"success": true}`; an unknown id -> code 100, subcode 33.
* GET /{page-id}?fields=id,name,username and GET /me (a Page token's /me is the Page).
* Errors (graph-api/guides/error-handling): `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`;
  a bad token is code 190; usage headers X-App-Usage and X-Business-Use-Case-Usage
  (graph-api/overview/rate-limiting) are on every answer.
* Comments under the posts, hiding, deleting and blocking, and the test controls add_reply, is_hidden, rate_limit
  and unavailable: tests/facebook_comments_api.py.
"""
from __future__ import annotations

import itertools
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from gateway.platforms.base import Outgoing, OutgoingPhoto
from gateway.platforms.facebook_graph import GRAPH_API
from tests.emulation import Fault, ResponsesEmulator, multipart_form
from tests.facebook_comments_api import COMMENT_ENDPOINTS, CommentsMixin

PAGE_ID = "104173088514235"
# Distinctive, so a test can search logs and messages for any trace of it.
TEST_TOKEN = "EAAGtestPageTokenDoNotLog9x7Q2ZBzKp"
TEST_CREDENTIALS = {"page_id": PAGE_ID, "page_access_token": TEST_TOKEN}
MAX_PHOTO_BYTES = 10 * 1024 * 1024 - 1  # "a photo must be less than 10MB in size"
SAMPLE_TEXT = "Sports day results & photos: well done everyone! More at https://greenfield.example.sch.uk/sports"
ENDPOINTS = {
    # name: (method, path regex after /vNN.N)
    "me": ("GET", r"/me"),
    "photos.create": ("POST", r"/(?P<page>\d+)/photos"),
    "feed.create": ("POST", r"/(?P<page>\d+)/feed"),
    "feed.read": ("GET", r"/(?P<page>\d+)/feed"),
    "page": ("GET", r"/(?P<page>\d+)"),
    "object.delete": ("DELETE", r"/(?P<id>[^/?]+)"),
    **COMMENT_ENDPOINTS,
}


def jpeg(n: int, size: int = 2000) -> bytes:
    """A small JPEG-shaped photo, different for each n."""
    return b"\xff\xd8\xff\xe0" + bytes([n % 256]) * size + b"\r\n\r\n\xff\xd9"


def outgoing(text: str = SAMPLE_TEXT, photos: int = 0, key: str = "41", approved_at: datetime | None = None,
             earlier_attempts: int = 0) -> Outgoing:
    """A post as the gateway hands it to a publisher, with `photos` described photos."""
    return Outgoing(
        key=key, text=text,
        photos=[OutgoingPhoto(jpeg(n), "JPEG", f"Photo {n} of pupils at sports day") for n in range(1, photos + 1)],
        approved_by="Head Teacher", approved_at=approved_at or datetime.now(timezone.utc),
        earlier_attempts=earlier_attempts,
    )


@dataclass
class Call:
    endpoint: str
    method: str
    url: str
    version: str
    headers: dict
    form: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    timeout: object = None  # the timeout requests was given (None would mean: wait forever)
    status: int | None = None  # what the emulator answered (None: it raised)


class FacebookApiEmulator(CommentsMixin, ResponsesEmulator):
    ENDPOINTS = ENDPOINTS

    def __init__(self, token: str = TEST_TOKEN, *, page_id: str = PAGE_ID, username: str | None = "greenfieldschool",
                 base: str = GRAPH_API, clock=None):
        super().__init__()
        self.token = token
        self.page_id = page_id
        self.username = username
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.posts: dict[str, dict] = {}
        self.photos: dict[str, dict] = {}
        self.feed_lag = 0  # how many feed reads a new post is left out of (the feed can lag behind)
        self._post_ids = itertools.count(1116689038356556, 7919)
        self._photo_ids = itertools.count(546349135390552, 104729)
        self._traces = itertools.count(1)
        self._init_comments()
        self.base = base.rstrip("/")
        for name, (method, path) in ENDPOINTS.items():
            pattern = re.compile(f"^{re.escape(self.base)}/(?P<version>v\\d+\\.\\d+){path}(?:\\?.*)?$")
            self.mock.add_callback(method, pattern, callback=self._handler(name, pattern),
                                   content_type="application/json; charset=UTF-8")

    def add_existing_post(self, message: str, created_at: datetime) -> str:
        """A post already on the Page (made by hand, or long ago)."""
        return self._create(message, [], created_at)["id"]

    def live_posts(self) -> list[dict]:
        return [p for p in self.posts.values() if not p["deleted"]]

    def error(self, code: int, message: str, subcode: int | None = None, kind: str = "OAuthException",
              **extra) -> dict:
        """A Graph API error body, as the error-handling guide shows it."""
        error = {"message": message, "type": kind, "code": code, **extra}
        if subcode is not None:
            error["error_subcode"] = subcode
        error["fbtrace_id"] = f"AbCdEf{next(self._traces):04d}"
        return {"error": error}

    @staticmethod
    def usage_headers(regain_minutes: int = 0, call_count: int = 100) -> dict:
        """Usage headers of a throttled Page token: app usage, and the Page's Business Use Case usage."""
        usage = {"call_count": call_count, "total_cputime": 25, "total_time": 25}
        buc = {PAGE_ID: [{"type": "pages", **usage, "estimated_time_to_regain_access": regain_minutes}]}
        return {"X-App-Usage": json.dumps(usage), "X-Business-Use-Case-Usage": json.dumps(buc)}

    # -- dispatch ----------------------------------------------------------------------------------------------

    def _handler(self, name: str, pattern):
        def callback(request):
            match = pattern.match(request.url)
            call = self._record(name, request, match.group("version"))
            fault = self._count(name)
            problem = self._check_token(request, call)
            if problem:
                self.auth_failures.append(f"{name}: {problem}")
                return self._answer(call, 400, self.error(190, "Invalid OAuth access token - Cannot parse "
                                                               "access token"))
            fault = fault or self._kind_fault(name, match)
            if fault and not fault.after_effect:
                return self._fault(call, fault)
            status, body = getattr(self, "_" + name.replace(".", "_"))(call, match)
            if fault:
                return self._fault(call, fault)
            return self._answer(call, status, body)

        return callback

    def _record(self, name: str, request, version: str) -> Call:
        parts = urlsplit(request.url)
        call = Call(endpoint=name, method=request.method, url=request.url, version=version,
                    headers=dict(request.headers),
                    query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    timeout=getattr(request, "req_kwargs", {}).get("timeout"))
        content_type = request.headers.get("Content-Type", "")
        body = request.body
        raw = body.encode() if isinstance(body, str) else (body or b"")
        if content_type.startswith("application/x-www-form-urlencoded"):
            call.form = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        elif content_type.startswith("multipart/form-data"):
            call.files, fields = multipart_form(content_type, raw)
            call.form = dict(fields)
        self.calls.append(call)
        return call

    def _check_token(self, request, call: Call) -> str | None:
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        token = token or call.query.get("access_token") or call.form.get("access_token")
        if not token:
            return "no access token"
        return None if token == self.token else "wrong access token"

    def _answer(self, call: Call, status: int, body, headers: dict | None = None):
        call.status = status
        out = self.usage_headers(regain_minutes=0, call_count=3)
        out["x-fb-trace-id"] = f"AbCdEf{next(self._traces):04d}"
        out.update(headers or {})
        return status, out, body if isinstance(body, (str, bytes)) else json.dumps(body)

    def _fault(self, call: Call, fault: Fault):
        if fault.timeout:
            raise requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='graph.facebook.com', port=443): "
                                                  "Read timed out. (read timeout=10)")
        if fault.connection_error:
            raise requests.exceptions.ConnectionError("Connection aborted.")
        body = fault.body if fault.body is not None else (
            self.error(2, "An unexpected error has occurred. Please retry your request later.")
            if fault.status >= 500 else HTTPStatus(fault.status).phrase)
        return self._answer(call, fault.status, body, fault.headers)

    # -- state -------------------------------------------------------------------------------------------------

    def _create(self, message: str, media: list[str], created_at: datetime | None = None) -> dict:
        post_id = f"{self.page_id}_{next(self._post_ids)}"
        post = {"id": post_id, "message": message, "media": list(media), "created_at": created_at or self.clock(),
                "deleted": False, "hidden_reads": 0 if created_at else self.feed_lag}
        self.posts[post_id] = post
        for photo_id in media:
            self.photos[photo_id]["post_id"] = post_id
        return post

    def _latest(self) -> dict | None:
        live = self.live_posts()
        return max(live, key=lambda p: p["created_at"]) if live else None

    def _invalid(self, message: str, subcode: int | None = None) -> tuple[int, dict]:
        return 400, self.error(100, message, subcode, kind="GraphMethodException" if subcode else "OAuthException")

    def _unsupported(self, verb: str, object_id: str) -> tuple[int, dict]:
        return self._invalid(
            f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation. Please read the Graph API documentation at "
            "https://developers.facebook.com/docs/graph-api", subcode=33)

    # -- endpoints ---------------------------------------------------------------------------------------------

    def _me(self, call: Call, match):
        return 200, {"id": self.page_id, "name": "Greenfield Primary School"}

    def _page(self, call: Call, match):
        if match.group("page") != self.page_id:
            return self._unsupported("get", match.group("page"))
        page = {"id": self.page_id, "name": "Greenfield Primary School"}
        if self.username:
            page["username"] = self.username
        fields = set(filter(None, call.query.get("fields", "id,name").split(",")))
        return 200, {k: v for k, v in page.items() if k in fields or k == "id"}

    def _photos_create(self, call: Call, match):
        if match.group("page") != self.page_id:
            return self._unsupported("post", match.group("page"))
        source = call.files.get("source")
        if source is None and "url" not in call.form:
            return self._invalid("(#324) Requires upload file")
        if source is not None and len(source["data"]) > MAX_PHOTO_BYTES:
            return self._invalid("(#100) The photo is too large. Photos must be less than 10MB.")
        photo_id = str(next(self._photo_ids))
        self.photos[photo_id] = {"id": photo_id, "data": source["data"] if source else b"",
                                 "content_type": source["content_type"] if source else None,
                                 "alt_text_custom": call.form.get("alt_text_custom"),
                                 "published": call.form.get("published", "true") != "false", "post_id": None}
        return 200, {"id": photo_id}

    def _feed_create(self, call: Call, match):
        if match.group("page") != self.page_id:
            return self._unsupported("post", match.group("page"))
        message = call.form.get("message", "")
        media = []
        for i in itertools.count():
            raw = call.form.get(f"attached_media[{i}]")
            if raw is None:
                break
            media_id = str((json.loads(raw) or {}).get("media_fbid", ""))
            photo = self.photos.get(media_id)
            if photo is None or photo["published"] or photo["post_id"]:
                return self._invalid(f"(#100) param attached_media[{i}] must be an unpublished photo of this "
                                     "Page")
            media.append(media_id)
        if not message and not media and "link" not in call.form:
            return self._invalid("(#100) Missing message or attachment")
        latest = self._latest()
        if message and latest is not None and latest["message"] == message:
            return 400, self.error(506, "(#506) Duplicate status message")
        return 200, {"id": self._create(message, media)["id"]}

    def _feed_read(self, call: Call, match):
        if match.group("page") != self.page_id:
            return self._unsupported("get", match.group("page"))
        q = call.query
        limit = int(q.get("limit", 25))
        if limit > 100:
            return self._invalid("(#100) The limit for this endpoint is 100")
        since = datetime.fromtimestamp(int(q["since"]), timezone.utc) if q.get("since") else None
        fields = set(filter(None, q.get("fields", "id,message,created_time").split(",")))
        posts = sorted((p for p in self.live_posts() if p["hidden_reads"] <= 0),
                       key=lambda p: (p["created_at"], p["id"]), reverse=True)
        for post in self.live_posts():
            post["hidden_reads"] -= 1
        posts = [p for p in posts if since is None or p["created_at"] >= since]
        offset = int(q.get("after") or 0)
        page = posts[offset:offset + limit]
        data = []
        for p in page:
            item = {"id": p["id"]}
            if "message" in fields and p["message"]:
                item["message"] = p["message"]
            if "created_time" in fields:
                item["created_time"] = p["created_at"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")
            data.append(item)
        body = {"data": data}
        if page:
            body["paging"] = {"cursors": {"before": str(offset), "after": str(offset + len(page))}}
            if offset + limit < len(posts):
                query = {**q, "access_token": self.token, "after": str(offset + len(page))}
                body["paging"]["next"] = f"{self.base}/{call.version}/{self.page_id}/feed?{urlencode(query)}"
        return 200, body

    def _object_delete(self, call: Call, match):
        if match.group("id") in self.comments:
            return self._comment_delete(match.group("id"))
        post = self.posts.get(match.group("id"))
        if post is None or post["deleted"]:
            return self._unsupported("delete", match.group("id"))
        post["deleted"] = True
        return 200, {"success": True}


@contextmanager
def harness():
    """The Page on the emulator, for the shared contract test: yields the account's credentials."""
    with FacebookApiEmulator() as fb:
        yield dict(TEST_CREDENTIALS)
    assert fb.auth_failures == [], fb.auth_failures
