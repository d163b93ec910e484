"""A small Mastodon API emulator on `responses`: real Mastodon.py and requests run against it, only HTTP is faked.

It keeps state (statuses with their source text, photos in order and created_at; uploaded media with their
description; idempotency keys), records every call, checks every call's Bearer token and scopes, and lets a test
inject faults for the Nth call to an endpoint:

    with MastodonApiEmulator() as server:
        server.fail("statuses.create", status=503)
        server.fail("statuses.create", timeout=True, after_effect=True)  # the post was made, the answer was lost

Shapes follow Mastodon's documentation (docs.joinmastodon.org):
* GET /api/v2/instance (methods/instance/#v2): `configuration.statuses.max_characters` (500),
  `max_media_attachments` (4), `characters_reserved_per_url` (23); `configuration.media_attachments.
  image_size_limit` (16 MB), `description_limit` (1,500), `supported_mime_types`.
* GET /api/v1/accounts/verify_credentials (methods/accounts/#verify_credentials): a CredentialAccount.
* POST /api/v2/media (methods/media/#v2): multipart `file` and `description`; 200 with a MediaAttachment, or 202
  with its `url` null while it is processed; GET /api/v1/media/:id answers 206 (url null) until done, then 200.
* POST /api/v1/statuses (methods/statuses/#create): form fields `status`, `media_ids[]`; the `Idempotency-Key`
  header makes a repeat answer with the post already made (Mastodon keeps keys for up to an hour);
  422 `{"error": "Validation failed: ..."}` for what it refuses.
* GET /api/v1/statuses/:id/source (methods/statuses/#source): `{"id", "text", "spoiler_text"}`.
* DELETE /api/v1/statuses/:id (methods/statuses/#delete): the deleted Status with its source `text`; 404
  `{"error": "Record not found"}` for one that is not there.
* GET /api/v1/accounts/:id/statuses (methods/accounts/#statuses): newest first; `limit` (20, at most 40),
  `max_id`, `exclude_reblogs`; a Link header for the next page.  `content` is HTML, as Mastodon renders it.
* Replies under the school's posts, mention notifications, reports, blocks and mutes, with the uniform controls
  add_reply / is_hidden / rate_limit / unavailable: tests/mastodon_replies_api.py (a mixin).
* Errors (entities/Error/): `{"error": "..."}`; 401 "The access token is invalid"; 403 "This action is outside
  the authorized scopes"; 429 with X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (ISO 8601)
  (api/rate-limits/).
"""
from __future__ import annotations

import html
import itertools
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import requests

from gateway.platforms.mastodon_limits import text_length
from tests.emulation import Fault, ResponsesEmulator, multipart_form
from tests.mastodon_replies_api import REPLY_ENDPOINTS, MastodonRepliesMixin

BASE_URL = "https://mastodon.example"
# Distinctive, so a test can search logs and messages for any trace of it.
TEST_TOKEN = "mstdnAccessTokenZq81DoNotLog_c4f2b8"
TEST_CREDENTIALS = {"instance_url": BASE_URL, "access_token": TEST_TOKEN}
ENDPOINTS = {
    # name: (method, path regex, scope it needs; None: public)
    "instance": ("GET", r"/api/v2/instance/?", None),
    "verify_credentials": ("GET", r"/api/v1/accounts/verify_credentials", "read"),
    "media.create": ("POST", r"/api/v2/media", "write"),
    "media.get": ("GET", r"/api/v1/media/(?P<id>[^/?]+)", "write"),
    "statuses.create": ("POST", r"/api/v1/statuses", "write"),
    "statuses.delete": ("DELETE", r"/api/v1/statuses/(?P<id>[^/?]+)", "write"),
    "statuses.source": ("GET", r"/api/v1/statuses/(?P<id>[^/?]+)/source", "read"),
    "accounts.statuses": ("GET", r"/api/v1/accounts/(?P<id>[^/?]+)/statuses", "read"),
    **REPLY_ENDPOINTS,
}
NOT_FOUND = {"error": "Record not found"}
INVALID_TOKEN = {"error": "The access token is invalid"}
OUT_OF_SCOPE = {"error": "This action is outside the authorized scopes"}
TOO_MANY = {"error": "Too many requests"}
STILL_PROCESSING = {"error": "Cannot attach files that have not finished processing. Try again in a moment!"}


@dataclass
class Call:
    endpoint: str
    method: str
    url: str
    headers: dict
    form: dict = field(default_factory=dict)  # name -> list of values
    files: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)  # name -> last value
    timeout: object = None  # the timeout requests was given (None would mean: wait forever)
    status: int | None = None  # what the emulator answered (None: it raised)


class MastodonApiEmulator(MastodonRepliesMixin, ResponsesEmulator):
    ENDPOINTS = ENDPOINTS

    def __init__(self, token: str = TEST_TOKEN, *, base_url: str = BASE_URL, username: str = "greenfieldschool",
                 account_id: str = "109348237598312345", scopes=("read", "write"), clock=None):
        super().__init__()
        self.token, self.base_url, self.username, self.account_id = token, base_url, username, account_id
        self.scopes = set(scopes)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.configuration = {
            "urls": {"streaming": "wss://" + urlsplit(base_url).netloc},
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23},
            "media_attachments": {"supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
                                  "image_size_limit": 16777216, "image_matrix_limit": 33177600,
                                  "video_size_limit": 103809024, "description_limit": 1500},
            "polls": {"max_options": 4, "max_characters_per_option": 50, "min_expiration": 300,
                      "max_expiration": 2629746},
            "translation": {"enabled": False},
        }
        self.statuses: dict[str, dict] = {}
        self.media: dict[str, dict] = {}
        self.idempotency: dict[str, str] = {}
        self.processing_polls = 0  # > 0: uploads answer 202 and GET /api/v1/media/:id 206 this many times
        self._sequence = itertools.count(1)
        self._media_ids = itertools.count(110000000000000001, 7919)
        self._init_replies()
        host = re.escape(base_url.rstrip("/"))
        for name, (method, path, _) in ENDPOINTS.items():
            pattern = re.compile(f"^{host}{path}(?:\\?.*)?$")
            self.mock.add_callback(method, pattern, callback=self._handler(name, pattern),
                                   content_type="application/json; charset=utf-8")

    # -- test controls -----------------------------------------------------------------------------------------------

    def add_existing_status(self, text: str, created_at: datetime, descriptions: list[str] | None = None,
                            spoiler_text: str = "") -> str:
        """A post already on the account (made by hand, or long ago), with photos described as given."""
        media_ids = [self._store_media(b"\xff\xd8old\xff\xd9", "image/jpeg", d)["id"] for d in descriptions or []]
        return self._create(text, media_ids, created_at, spoiler_text=spoiler_text)["id"]

    def forget_idempotency_keys(self) -> None:
        """An hour has passed: Mastodon no longer remembers the keys."""
        self.idempotency.clear()

    def live_statuses(self) -> list[dict]:
        return [s for s in self.statuses.values() if not s["deleted"]]

    @staticmethod
    def rate_limit_headers(reset: datetime, limit: int = 300, remaining: int = 0) -> dict:
        return {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": _iso(reset, digits=6)}

    # -- dispatch ----------------------------------------------------------------------------------------------

    def _handler(self, name: str, pattern):
        scope = ENDPOINTS[name][2]

        def callback(request):
            call = self._record(name, request)
            fault = self._count(name) or self._kind_fault(name)
            refusal = self._check_token(name, call, scope)
            if refusal:
                return self._answer(call, *refusal)
            if fault and not fault.after_effect:
                return self._fault(call, fault)
            answer = getattr(self, "_" + name.replace(".", "_"))(call, pattern.match(request.url))
            if fault:
                return self._fault(call, fault)
            return self._answer(call, *answer)

        return callback

    def _check_token(self, name: str, call: Call, scope: str | None):
        if scope is None:  # public: Mastodon answers with or without a token
            return None
        header = call.headers.get("Authorization", "")
        if header != f"Bearer {self.token}":
            self.auth_failures.append(f"{name}: {'no' if not header.startswith('Bearer ') else 'wrong'} token")
            return 401, INVALID_TOKEN
        if scope not in self.scopes and scope.partition(":")[0] not in self.scopes:  # "write" covers "write:blocks"
            return 403, OUT_OF_SCOPE
        return None

    def _record(self, name: str, request) -> Call:
        parts = urlsplit(request.url)
        call = Call(endpoint=name, method=request.method, url=request.url, headers=dict(request.headers),
                    query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    timeout=getattr(request, "req_kwargs", {}).get("timeout"))
        content_type = request.headers.get("Content-Type", "")
        body = request.body
        raw = body.encode() if isinstance(body, str) else (body or b"")
        if content_type.startswith("application/x-www-form-urlencoded"):
            call.form = parse_qs(raw.decode(), keep_blank_values=True)
        elif content_type.startswith("multipart/form-data"):
            call.files, fields = multipart_form(content_type, raw)
            for name, value in fields:
                call.form.setdefault(name, []).append(value)
        self.calls.append(call)
        return call

    def _answer(self, call: Call, status: int, body, headers: dict | None = None):
        call.status = status
        now = self.clock()
        window = now.replace(second=0, microsecond=0) + timedelta(minutes=5 - now.minute % 5)
        out = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299", "X-RateLimit-Reset": _iso(window, 6)}
        out.update(headers or {})
        out = {k: v for k, v in out.items() if v is not None}  # None: leave the header out
        return status, out, body if isinstance(body, (str, bytes)) else json.dumps(body)

    def _fault(self, call: Call, fault: Fault):
        if fault.timeout:
            raise requests.exceptions.ReadTimeout(f"HTTPSConnectionPool(host='{urlsplit(call.url).netloc}', "
                                                  "port=443): Read timed out. (read timeout=10)")
        if fault.connection_error:
            raise requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end "
                                                      "closed connection without response'))")
        body = fault.body if fault.body is not None else {"error": HTTPStatus(fault.status).phrase}
        return self._answer(call, fault.status, body, fault.headers)

    # -- state -------------------------------------------------------------------------------------------------

    def _new_status_id(self, created_at: datetime) -> str:
        """Mastodon's ids: milliseconds since 1970, shifted 16 bits, plus a sequence (so ids follow time)."""
        return str((int(created_at.timestamp() * 1000) << 16) + (next(self._sequence) & 0xFFFF))

    def _store_media(self, data: bytes, mime: str, description: str | None, polls: int = 0) -> dict:
        media_id = str(next(self._media_ids))
        self.media[media_id] = {"id": media_id, "data": data, "mime": mime, "description": description,
                                "polls_left": polls, "status_id": None}
        return self.media[media_id]

    def _create(self, text: str, media_ids: list[str], created_at: datetime | None = None, key: str | None = None,
                spoiler_text: str = "") -> dict:
        created_at = created_at or self.clock()
        status = {"id": self._new_status_id(created_at), "text": text, "media_ids": list(media_ids),
                  "created_at": created_at, "deleted": False, "idempotency_key": key, "spoiler_text": spoiler_text,
                  "deleted_media": None}
        for media_id in media_ids:
            self.media[media_id]["status_id"] = status["id"]
        self.statuses[status["id"]] = status
        if key:
            self.idempotency[key] = status["id"]
        return status

    # -- entities ----------------------------------------------------------------------------------------------

    def _account_json(self) -> dict:
        profile = f"{self.base_url}/@{self.username}"
        return {"id": self.account_id, "username": self.username, "acct": self.username,
                "display_name": "Greenfield School", "locked": False, "bot": False, "discoverable": True,
                "group": False, "created_at": "2022-11-08T00:00:00.000Z", "note": "<p>Official account</p>",
                "url": profile, "uri": f"{self.base_url}/users/{self.username}",
                "avatar": f"{self.base_url}/avatars/original/missing.png",
                "avatar_static": f"{self.base_url}/avatars/original/missing.png",
                "header": f"{self.base_url}/headers/original/missing.png",
                "header_static": f"{self.base_url}/headers/original/missing.png",
                "followers_count": 120, "following_count": 3, "statuses_count": len(self.live_statuses()),
                "last_status_at": None, "emojis": [], "fields": []}

    def _media_json(self, media: dict) -> dict:
        done = media["polls_left"] <= 0
        files = f"{self.base_url}/system/media_attachments/files/{media['id']}"
        return {"id": media["id"], "type": "image", "url": f"{files}/original/photo.jpg" if done else None,
                "preview_url": f"{files}/small/photo.jpg", "remote_url": None, "preview_remote_url": None,
                "text_url": None, "meta": {"original": {"width": 640, "height": 480, "size": "640x480",
                                                        "aspect": 1.3333333333333333}},
                "description": media["description"], "blurhash": "UFBWY:8_0Jxv4mx]t8t64.%M-:IUWGWAt6M}"}

    def _status_json(self, status: dict) -> dict:
        return {
            "id": status["id"], "created_at": _iso(status["created_at"]), "edited_at": None,
            "in_reply_to_id": status.get("in_reply_to_id"),
            "in_reply_to_account_id": self._parent_account_id(status.get("in_reply_to_id")), "sensitive": False,
            "spoiler_text": status["spoiler_text"], "visibility": "public", "language": "en",
            "uri": f"{self.base_url}/users/{self.username}/statuses/{status['id']}",
            "url": f"{self.base_url}/@{self.username}/{status['id']}", "replies_count": 0, "reblogs_count": 0,
            "favourites_count": 0, "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
            "pinned": False, "content": _as_html(status["text"]), "filtered": [], "reblog": None,
            "application": {"name": "School social gateway", "website": None}, "account": self._account_json(),
            "media_attachments": [self._media_json(self.media[m]) for m in status["media_ids"]],
            "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None,
        }

    # -- endpoints ---------------------------------------------------------------------------------------------

    def _instance(self, call: Call, match):
        return 200, {
            "domain": urlsplit(self.base_url).netloc, "title": "Mastodon Example", "version": "4.3.2",
            "source_url": "https://github.com/mastodon/mastodon", "description": "A server for testing",
            "usage": {"users": {"active_month": 12}}, "languages": ["en"],
            "configuration": self.configuration, "api_versions": {"mastodon": 2},
            "registrations": {"enabled": False, "approval_required": True, "message": None, "url": None},
            "contact": {"email": "admin@mastodon.example", "account": self._account_json()}, "rules": [],
        }

    def _verify_credentials(self, call: Call, match):
        source = {"privacy": "public", "sensitive": False, "language": "en", "note": "Official account",
                  "fields": [], "follow_requests_count": 0}
        return 200, {**self._account_json(), "source": source}

    def _media_create(self, call: Call, match):
        upload = call.files.get("file")
        limits = self.configuration["media_attachments"]
        description = (call.form.get("description") or [None])[-1]
        if upload is None:
            return 422, {"error": "Validation failed: File can't be blank"}
        if upload["content_type"] not in limits["supported_mime_types"]:
            return 422, {"error": "Validation failed: File content type is invalid, File is invalid"}
        if len(upload["data"]) > limits["image_size_limit"]:
            return 422, {"error": "Validation failed: File file size must be less than 16 MB"}
        if description and len(description) > limits["description_limit"]:
            return 422, {"error": f"Validation failed: Description is too long (maximum is "
                                  f"{limits['description_limit']} characters)"}
        media = self._store_media(upload["data"], upload["content_type"], description, self.processing_polls)
        return (202 if media["polls_left"] else 200), self._media_json(media)

    def _media_get(self, call: Call, match):
        media = self.media.get(match.group("id"))
        if media is None:
            return 404, NOT_FOUND
        if media["polls_left"] > 0:
            media["polls_left"] -= 1
            return 206, self._media_json({**media, "polls_left": 1})
        return 200, self._media_json(media)

    def _statuses_create(self, call: Call, match):
        key = call.headers.get("Idempotency-Key")
        known = self.statuses.get(self.idempotency.get(key, ""))
        if key and known and not known["deleted"]:
            return 200, self._status_json(known)
        text = (call.form.get("status") or [""])[-1]
        media_ids = call.form.get("media_ids[]") or []
        limit = self.configuration["statuses"]
        if len(media_ids) > limit["max_media_attachments"]:
            return 422, {"error": f"Cannot attach more than {limit['max_media_attachments']} files"}
        if any(m not in self.media or self.media[m]["status_id"] for m in media_ids):
            return 422, {"error": "Validation failed: Media attachments are invalid"}
        if any(self.media[m]["polls_left"] > 0 for m in media_ids):
            return 422, STILL_PROCESSING
        if not text.strip() and not media_ids:
            return 422, {"error": "Validation failed: Text can't be blank"}
        if text_length(text, limit["characters_reserved_per_url"]) > limit["max_characters"]:
            return 422, {"error": f"Validation failed: Text character limit of {limit['max_characters']} exceeded"}
        return 200, self._status_json(self._create(text, media_ids, key=key))

    def _statuses_delete(self, call: Call, match):
        status = self.statuses.get(match.group("id"))
        if status is None or status["deleted"]:
            return 404, NOT_FOUND
        status["deleted"] = True
        status["deleted_media"] = (call.form.get("delete_media") or call.query.get("delete_media") or [None])[-1]
        return 200, {**self._status_json(status), "text": status["text"]}

    def _statuses_source(self, call: Call, match):
        status = self.statuses.get(match.group("id"))
        if status is None or status["deleted"]:
            return 404, NOT_FOUND
        return 200, {"id": status["id"], "text": status["text"], "spoiler_text": status["spoiler_text"]}

    def _accounts_statuses(self, call: Call, match):
        if match.group("id") != self.account_id:
            return 404, NOT_FOUND
        limit = min(int(call.query.get("limit") or 20), 40)
        newest_first = sorted(self.live_statuses(), key=lambda s: int(s["id"]), reverse=True)
        if call.query.get("max_id"):
            newest_first = [s for s in newest_first if int(s["id"]) < int(call.query["max_id"])]
        page = newest_first[:limit]
        headers = {}
        if page:
            here = f"{self.base_url}/api/v1/accounts/{self.account_id}/statuses"
            headers["Link"] = (f'<{here}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                               f'<{here}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"')
        return 200, [self._status_json(s) for s in page], headers


@contextmanager
def harness(username: str = "greenfieldschool"):
    """The contract test's stand-in for a Mastodon server: yields the account's credentials."""
    with MastodonApiEmulator(username=username) as server:
        yield dict(TEST_CREDENTIALS)
    assert server.auth_failures == [], "every call must carry the account's token"


def _iso(moment: datetime, digits: int = 3) -> str:
    """Mastodon's datetime format: UTC with milliseconds (statuses) or microseconds (rate-limit reset), and Z."""
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:len(text) - 6 + digits] + "Z"


_LINK = re.compile(r"https?://[^\s<]+[^\s<.,:;\"')\]!?]")


def _as_html(text: str) -> str:
    """Plain text as Mastodon renders it: escaped, links made anchors, paragraphs and line breaks kept."""
    def anchor(match) -> str:
        url = match.group(0)
        scheme, _, rest = url.partition("://")
        return (f'<a href="{url}" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">'
                f'{scheme}://</span><span class="">{rest}</span><span class="invisible"></span></a>')

    paragraphs = [p for p in re.split(r"\n{2,}", text) if p.strip()]
    rendered = []
    for paragraph in paragraphs:
        pieces, last = [], 0
        for match in _LINK.finditer(paragraph):
            pieces += [html.escape(paragraph[last:match.start()]), anchor(match)]
            last = match.end()
        pieces.append(html.escape(paragraph[last:]))
        rendered.append("<p>" + "".join(pieces).replace("\n", "<br />") + "</p>")
    return "".join(rendered)
