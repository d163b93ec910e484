"""Publisher for the school's official X (Twitter) account: at most once, never sleeping, in plain words.

How one post goes out (`XPublisher.publish`):

1. `validate()` — problems in plain words stop it before anything is sent (PermanentError).
2. Each photo, in order: X API v2 one-shot media upload, then its alt text through v2 media metadata.
   Nothing is public yet, so any failure here is safe to retry (Transient) or needs a person (PermanentError).
3. One `POST /2/tweets` through tweepy with the media ids in upload order.  From the moment this request is
   sent X may have created the post, so a lost answer (timeout, broken connection, 5xx) raises `Ambiguous`:
   the caller must `find()` before publishing again.

Docs these calls follow (docs.x.com, as stored when this was written):

* `POST https://api.x.com/2/media/upload` — https://docs.x.com/x-api/media/upload-media and
  https://docs.x.com/x-api/media/image-or-subtitle-media-upload: fields `media` (required; "base64-encoded in JSON
  bodies, raw bytes in multipart bodies"), `media_category` (required, `tweet_image`), `media_type`
  (`image/jpeg`, `image/png`, ...).  We send multipart with the raw bytes (a third smaller than base64; X's
  best-practices page and xdevplatform's v2 sample send the file as a multipart part named `media`).
  Response: `{"data": {"id": "...", "media_key": "...", "size": ..., "expires_after_secs": ...,
  "processing_info": {...}}}`.  X accepts at most 4 photos per post and images up to 5 MB
  (https://docs.x.com/x-api/media/introduction).
* `POST https://api.x.com/2/media/metadata` — https://docs.x.com/x-api/media/create-media-metadata:
  `{"id": media_id, "metadata": {"alt_text": {"text": "..."}}}`; alt text at most 1,000 characters
  (the v1.1 page for the same metadata says "Must be <= 1000 chars").
* `POST /2/tweets` (tweepy `Client.create_tweet`) — response `{"data": {"id": "...", "text": "..."}}`.
* Errors (https://docs.x.com/x-api/fundamentals/response-codes-and-errors): problem JSON
  `{"title", "detail", "type", "status"}` with types like `about:blank`, `.../client-forbidden`,
  `.../usage-capped`, or `{"errors": [{"message": ..., "code": ...}]}`.  Duplicate text comes back as
  403 "You are not allowed to create a Tweet with duplicate content.".
* Rate limits (https://docs.x.com/fundamentals/rate-limits): 429 with `x-rate-limit-limit`,
  `x-rate-limit-remaining`, `x-rate-limit-reset` (Unix seconds); `POST /2/tweets` also has 24-hour limits
  reported in `x-user-limit-24hour-*` / `x-app-limit-24hour-*` headers.

tweepy 4.17 still talks to `https://api.twitter.com` for v2 calls (same service as api.x.com); the media calls,
which tweepy only offers through X's deprecated v1.1 endpoints, go to `https://api.x.com` here, signed with
OAuth 1.0a user context and the same four credentials.

Credentials never reach a log: requests_oauthlib and oauthlib log the Authorization header, the oauthlib client
(with the consumer key and access token) and the signature base string at DEBUG.  `_SecretFilter` is attached to
those loggers and blanks every credential value and OAuth parameter before any handler sees the record.
"""
from __future__ import annotations

import html
import json
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import requests
import tweepy

from gateway.platforms.base import Ambiguous, Outgoing, PermanentError, PublishError, Published, RetryLater, Transient
from workers.checks.text import weighted_length  # imports twitter_text quietly (see there)
from twitter_text import extract_urls_with_indices  # noqa: E402  (after workers.checks.text on purpose)

log = logging.getLogger(__name__)

API = "https://api.x.com"
MEDIA_UPLOAD_URL = f"{API}/2/media/upload"
MEDIA_METADATA_URL = f"{API}/2/media/metadata"

MAX_TEXT = 280
MAX_PHOTOS = 4
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_ALT_TEXT = 1000
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}

# find(): a post made for this approval cannot be older than the approval itself; the margin allows for the
# gateway's clock and X's clock disagreeing.
CLOCK_MARGIN = timedelta(minutes=5)
TIMELINE_PAGE = 100  # X's maximum for GET /2/users/:id/tweets
TIMELINE_MAX_PAGES = 40  # X keeps only the newest 3,200 posts of a timeline: 32 pages of 100
FALLBACK_RETRY = timedelta(minutes=15)  # X's usual rate-limit window, when a 429 carries no reset header


# ---------------------------------------------------------------------------------------------------------------
# Credentials, and keeping them out of logs


@dataclass(frozen=True, repr=False)
class XCredentials:
    """OAuth 1.0a user-context keys of the school's X developer app and account (all four are secret)."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def __repr__(self) -> str:
        return "XCredentials(<hidden>)"

    __str__ = __repr__

    def to_json(self) -> str:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, s: str | bytes) -> "XCredentials":
        try:
            data = json.loads(s)
        except ValueError:
            raise ValueError("X credentials are not valid JSON") from None
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict):
            raise ValueError("X credentials must be a JSON object")
        missing = [n for n in names if not isinstance(data.get(n), str) or not data[n].strip()]
        if missing:
            raise ValueError(f"X credentials lack {', '.join(missing)}")
        return cls(**{n: data[n].strip() for n in names})


_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_OAUTH_PARAM = re.compile(
    r"(oauth_(?:consumer_key|token|signature|nonce)(?:=|%3D)\"?)(?:(?!%26)[^\",&\s'])+", re.IGNORECASE
)
_BODY_LINE = re.compile(r"^Updated body: ")
MAX_BODY_LOG = 500  # requests_oauthlib logs whole request bodies: photos of pupils must not end up in logs
_CLIENT_REPR = re.compile(r"((?:client_key|resource_owner_key|client_secret|resource_owner_secret)=)[^,>\s]+")
_AUTH_HEADER = re.compile(r"('Authorization':\s*b?)(['\"])(.*?)\2", re.IGNORECASE)
_SIGNATURE_LINE = re.compile(r"^(Signature: ).*$", re.MULTILINE)
_REDACTED = "[redacted]"

# Every logger that is handed the Authorization header or the signing key material.
_GUARDED_LOGGERS = (
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth1_session",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "oauthlib.oauth1.rfc5849.utils",
    "tweepy.client",
    "urllib3.connectionpool",
    __name__,
)


def _register_secrets(credentials: XCredentials) -> None:
    with _SECRETS_LOCK:
        for f in fields(credentials):
            value = getattr(credentials, f.name)
            if len(value) >= 4:
                _SECRETS.update({value, quote(value, safe=""), quote(quote(value, safe=""), safe="")})


def redact(text: str) -> str:
    """The text with every known X credential and every OAuth header parameter blanked."""
    text = _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{_REDACTED}{m.group(2)}", text)
    text = _OAUTH_PARAM.sub(rf"\1{_REDACTED}", text)
    text = _CLIENT_REPR.sub(rf"\1{_REDACTED}", text)
    text = _SIGNATURE_LINE.sub(rf"\1{_REDACTED}", text)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


class _SecretFilter(logging.Filter):
    """Rewrites a record's message with the credentials blanked (a logger filter runs before any handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix; leave it
            return True
        cleaned = redact(message)
        if _BODY_LINE.match(cleaned) and len(cleaned) > MAX_BODY_LOG:
            cleaned = f"Updated body: [{len(message)} characters not logged]"
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _SecretFilter()
for _name in _GUARDED_LOGGERS:
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _SecretFilter) for f in _logger.filters):
        _logger.addFilter(_FILTER)


# ---------------------------------------------------------------------------------------------------------------
# Errors


# ---------------------------------------------------------------------------------------------------------------
# The publisher


class _TimeoutSession(requests.Session):
    """A session that never waits forever: tweepy passes no timeout of its own."""

    def __init__(self, timeout: float):
        super().__init__()
        self.default_timeout = (min(10.0, timeout), timeout)  # (connect, read)

    def request(self, method, url, **kwargs):
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, **kwargs)


class XPublisher:
    can_delete = True

    def __init__(self, credentials: XCredentials, handle: str, timeout: float = 30):
        _register_secrets(credentials)
        self.handle = handle.strip().lstrip("@")
        self.timeout = timeout
        self._session = _TimeoutSession(timeout)
        self._oauth = tweepy.OAuth1UserHandler(
            credentials.consumer_key, credentials.consumer_secret,
            credentials.access_token, credentials.access_token_secret,
        ).apply_auth()
        self.client = tweepy.Client(
            consumer_key=credentials.consumer_key, consumer_secret=credentials.consumer_secret,
            access_token=credentials.access_token, access_token_secret=credentials.access_token_secret,
            wait_on_rate_limit=False,  # never sleep: RetryLater tells the caller when to come back
        )
        self.client.session = self._session
        self._me: tuple[str, str] | None = None  # (user id, username)

    def __repr__(self) -> str:
        return f"XPublisher(@{self.handle})"

    # -- checks ------------------------------------------------------------------------------------------------

    def check_credentials(self) -> str:
        """A harmless authenticated call (GET /2/users/me); returns the account's username."""
        return self._whoami(stage="credentials")[1]

    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = []
        photos = outgoing.photos or []
        text = outgoing.text or ""
        if not text.strip() and not photos:
            problems.append("The post has no text and no photos, so there is nothing to publish.")
        length = weighted_length(text) if text else 0
        if length > MAX_TEXT:
            problems.append(
                f"The text is too long for X: it counts as {length} characters and X allows {MAX_TEXT} "
                "(each link counts as 23, and emoji and many non-Latin characters count as 2)."
            )
        if len(photos) > MAX_PHOTOS:
            problems.append(f"X allows at most {MAX_PHOTOS} photos in a post; this post has {len(photos)}.")
        for n, photo in enumerate(photos, 1):
            if photo.format not in MIME_TYPES:
                problems.append(
                    f"Photo {n} is a {photo.format or 'unknown'} file; only JPEG and PNG photos are sent to X."
                )
            if len(photo.data) > MAX_PHOTO_BYTES:
                problems.append(
                    f"Photo {n} is {len(photo.data) / (1024 * 1024):.1f} MB; X accepts photos up to 5 MB."
                )
            if photo.alt and len(photo.alt) > MAX_ALT_TEXT:
                problems.append(
                    f"The description (alt text) of photo {n} is {len(photo.alt)} characters long; "
                    f"X allows {MAX_ALT_TEXT:,}."
                )
        return problems

    # -- publishing --------------------------------------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.validate(outgoing)
        if problems:
            raise PermanentError("This post cannot go to X as it is: " + " ".join(problems), code="invalid")
        media_ids = []
        for n, photo in enumerate(outgoing.photos or [], 1):
            media_id = self._upload(photo, n)
            if photo.alt:
                self._set_alt_text(media_id, photo.alt, n)
            media_ids.append(media_id)
        log.info("creating X post for %s on @%s with %d photo(s)", outgoing.key, self.handle, len(media_ids))
        try:
            response = self.client.create_tweet(
                text=outgoing.text or None, media_ids=media_ids or None, user_auth=True
            )
        except tweepy.HTTPException as exc:
            error = self._error(exc.response, "create")
            if error.code == "duplicate":
                # X refuses identical text; if the earlier one is this very post (a retry after a lost answer
                # that find() could not yet see), it is published: record it rather than fail.
                found = self.find(outgoing)
                if found:
                    log.info("X post for %s already existed as %s", outgoing.key, found.platform_id)
                    return found
                if outgoing.earlier_attempts:
                    # An earlier attempt's answer was lost and X's timeline lags behind: X says it has the
                    # post but does not show it yet. Calling that a failure would leave a live post unrecorded.
                    raise self._ambiguous("X already has these words, but its timeline does not show the post yet",
                                          exc.response.status_code) from exc
            raise error from exc
        except (requests.RequestException, ValueError) as exc:
            raise self._ambiguous(type(exc).__name__) from exc
        try:
            tweet_id = str(response.data["id"])
        except (TypeError, KeyError):
            raise self._ambiguous("no post id in X's answer") from None
        if not tweet_id.isdigit():
            raise self._ambiguous("unexpected post id in X's answer")
        log.info("published %s to X as %s", outgoing.key, tweet_id)
        return self._published(tweet_id)

    def find(self, outgoing: Outgoing) -> Published | None:
        """The post on the account's timeline, or None only when it is certainly not there.

        Time rule: X's `created_at` must be no earlier than `approved_at` minus CLOCK_MARGIN (5 minutes).  Nothing
        made for this approval can predate the approval; the margin covers the two clocks disagreeing, and
        leaves out older posts with the same words.  Text rule: equal after X's HTML escaping is undone, links
        (X rewrites them to t.co, and appends a t.co link for attached photos) are removed, Unicode is NFC and
        runs of whitespace are one space.  Several matches: the earliest, the one the first attempt made.
        Every page back to the time limit is read; any failure raises (Transient, RetryLater, PermanentError).
        X's timeline can take a little while to show a new post: look a minute or more after the lost answer,
        and publish() also treats X's own duplicate refusal as a second look.
        """
        if outgoing.approved_at is None:
            raise ValueError("find() needs the approval time: without it an older post could be taken for this one")
        since = outgoing.approved_at - CLOCK_MARGIN
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        wanted = _comparable(outgoing.text or "")
        user_id = self._whoami(stage="lookup")[0]
        matches = []
        token = None
        for _ in range(TIMELINE_MAX_PAGES):
            try:
                page = self.client.get_users_tweets(
                    user_id, max_results=TIMELINE_PAGE, start_time=since, pagination_token=token,
                    tweet_fields=["created_at"], exclude=["retweets", "replies"], user_auth=True,
                )
            except tweepy.HTTPException as exc:
                raise self._error(exc.response, "lookup") from exc
            except (requests.RequestException, ValueError) as exc:
                raise self._lookup_failed(type(exc).__name__) from exc
            tweets = page.data or []
            if not tweets and page.errors:
                raise self._lookup_failed("X answered with errors and no posts")
            for tweet in tweets:
                created = tweet.created_at
                if created is None:
                    raise self._lookup_failed("X did not say when a post was made")
                if created >= since and wanted in _comparables(tweet.text or ""):
                    matches.append((int(tweet.id), created))
            token = (page.meta or {}).get("next_token")
            if not token:
                break
        else:
            raise self._lookup_failed("too many posts to check")
        if not matches:
            return None
        return self._published(str(min(matches)[0]))

    def delete(self, platform_id: str) -> None:
        if not str(platform_id).isdigit():
            raise ValueError("bad X post id")
        try:
            response = self.client.delete_tweet(str(platform_id), user_auth=True)
        except tweepy.NotFound:
            log.info("X post %s was already gone", platform_id)
            return
        except tweepy.HTTPException as exc:
            raise self._error(exc.response, "delete") from exc
        except (requests.RequestException, ValueError) as exc:
            raise Transient(self._delete_failed_words(), code="network", detail=type(exc).__name__) from exc
        deleted = (response.data or {}).get("deleted") if isinstance(response.data, dict) else None
        if deleted is not True:
            # Not confirmed: for a safeguarding removal, keep trying rather than assume it is gone.
            raise Transient(self._delete_failed_words(), code="unconfirmed", detail=f"deleted={deleted!r}")
        log.info("deleted X post %s", platform_id)

    # -- the steps ---------------------------------------------------------------------------------------------

    def _whoami(self, stage: str) -> tuple[str, str]:
        if self._me is None:
            try:
                response = self.client.get_me(user_auth=True)
            except tweepy.HTTPException as exc:
                raise self._error(exc.response, stage) from exc
            except (requests.RequestException, ValueError) as exc:
                if stage == "lookup":
                    raise self._lookup_failed(type(exc).__name__) from exc
                raise Transient(self._unreachable_words(), code="network", detail=type(exc).__name__) from exc
            if response.data is None:
                raise Transient(self._unreachable_words(), code="server", detail="no user in X's answer")
            self._me = (str(response.data.id), response.data.username)
        return self._me

    def _upload(self, photo, n: int) -> str:
        mime = MIME_TYPES[photo.format]
        extension = "png" if photo.format == "PNG" else "jpg"
        try:
            response = self._session.post(
                MEDIA_UPLOAD_URL, auth=self._oauth,
                files={"media": (f"photo-{n}.{extension}", photo.data, mime)},
                data={"media_category": "tweet_image", "media_type": mime},
            )
        except requests.RequestException as exc:
            raise Transient(self._unreachable_words(), code="network", detail=type(exc).__name__) from exc
        if not 200 <= response.status_code < 300:
            raise self._error(response, "upload", photo=n)
        try:
            data = response.json()["data"]
            media_id = str(data["id"])
        except (ValueError, KeyError, TypeError):
            raise Transient(self._unreachable_words(), code="server", detail="unreadable upload answer") from None
        if (data.get("processing_info") or {}).get("state") == "failed":
            raise PermanentError(f"X could not process photo {n}. Try a different photo.", code="photo",
                                 detail=json.dumps(data.get("processing_info"))[:300])
        log.info("uploaded photo %d to X as media %s", n, media_id)
        return media_id

    def _set_alt_text(self, media_id: str, alt: str, n: int) -> None:
        body = {"id": media_id, "metadata": {"alt_text": {"text": alt}}}
        try:
            response = self._session.post(MEDIA_METADATA_URL, auth=self._oauth, json=body)
        except requests.RequestException as exc:
            raise Transient(self._unreachable_words(), code="network", detail=type(exc).__name__) from exc
        if not 200 <= response.status_code < 300:
            raise self._error(response, "alt_text", photo=n)

    def _published(self, tweet_id: str) -> Published:
        return Published(platform_id=tweet_id, url=f"https://x.com/{self.handle}/status/{tweet_id}")

    # -- errors in plain words ---------------------------------------------------------------------------------

    def _error(self, response, stage: str, photo: int | None = None) -> PublishError:
        """Turn X's error answer into a PublishError of the right kind for this stage."""
        status = response.status_code
        payload = _json_or_none(response)
        messages = _x_messages(payload)
        said = _quote_x(messages)
        hay = " ".join(messages).lower() + " " + str((payload or {}).get("type", "")).lower()
        who = f"@{self.handle}"
        kw = {"status": status, "detail": "; ".join(messages)[:500]}

        if status == 429:
            retry_at = _retry_at(response.headers)
            when = retry_at.strftime("%H:%M UTC on %d %B %Y")
            if "usage-capped" in hay or "usage cap" in hay or "usagecap" in hay:
                return RetryLater(
                    f"The school's X API plan has used up its allowance for now. The gateway will try again at "
                    f"{when}; if this keeps happening, the plan's limits need raising.",
                    retry_at=retry_at, code="usage_cap", **kw)
            return RetryLater(
                f"X's limit on how often {who} may post or be checked has been reached. The gateway will try "
                f"again automatically at {when}.", retry_at=retry_at, code="rate_limited", **kw)
        if status >= 500 or status == 408:
            if stage == "create":
                return self._ambiguous(f"HTTP {status}: {kw['detail']}"[:500], status=status)
            if stage == "lookup":
                return self._lookup_failed(f"HTTP {status}", status=status)
            if stage == "delete":
                return Transient(self._delete_failed_words(), code="server", **kw)
            return Transient(self._unreachable_words(), code="server", **kw)
        if status == 401:
            return PermanentError(
                f"X did not accept the school's saved access keys for {who}: they may have expired or been "
                "revoked, or the X password was changed. Someone who manages the X account needs to reconnect it "
                "in the gateway.", code="credentials", **kw)
        if "duplicate" in hay and stage == "create":
            return PermanentError(
                f"X refused the post because it is the same as one already on {who} (duplicate content). "
                "Change the wording if it really should go out again.", code="duplicate", **kw)
        if "suspended" in hay:
            return PermanentError(
                f"X has suspended the {who} account, so nothing can be posted. Someone who manages the account "
                "needs to sign in at x.com and follow X's instructions.", code="suspended", **kw)
        if re.search(r"\blocked\b", hay):
            return PermanentError(
                f"X has temporarily locked the {who} account. Someone who manages the account needs to sign in "
                "at x.com and unlock it, then try again.", code="locked", **kw)
        if "oauth1-permissions" in hay or "oauth1 app permissions" in hay or "read-only" in hay:
            return PermanentError(
                "The school's X app is only allowed to read, not to post. In the X developer portal, set the "
                "app's permissions to 'Read and write', then create new access keys and enter them in the "
                "gateway.", code="read_only", **kw)
        if "client-forbidden" in hay or "attached to a project" in hay:
            return PermanentError(
                "The school's X developer app does not have access to this part of X's service (it must "
                "belong to a Project with the right access level). Someone who manages the X developer account "
                "needs to fix this.", code="app_access", **kw)
        if "too long" in hay:
            return PermanentError(
                f"X refused the post because the text is too long (X allows {MAX_TEXT} characters; links count "
                "as 23 and emoji as 2). Shorten it and try again.", code="too_long", **kw)
        if photo is not None and 400 <= status < 500:
            return PermanentError(f"X would not accept photo {photo}.{said} Try a different photo.",
                                  code="photo", **kw)
        if status == 403:
            return PermanentError(f"X did not permit {who} to do this.{said}", code="forbidden", **kw)
        if status == 400:
            return PermanentError(f"X rejected the request as invalid.{said}", code="invalid", **kw)
        return PermanentError(f"X refused the request (error {status}).{said}", code="refused", **kw)

    def _ambiguous(self, detail: str, status: int | None = None) -> Ambiguous:
        return Ambiguous(
            f"The connection to X broke while the post was being sent, so it is not yet known whether X "
            f"published it. The gateway will check @{self.handle} before trying again, so it will not be "
            "posted twice.", code="unknown_outcome", status=status, detail=detail)

    def _lookup_failed(self, detail: str, status: int | None = None) -> Transient:
        return Transient(
            f"The gateway could not check @{self.handle} on X just now (X could not be reached or had a "
            "temporary fault). It will check again shortly.", code="lookup_failed", status=status, detail=detail)

    def _unreachable_words(self) -> str:
        return ("X could not be reached, or had a temporary fault, before anything was published. It is safe to "
                "try again; the gateway will retry shortly.")

    def _delete_failed_words(self) -> str:
        return ("X did not confirm that the post was deleted (X could not be reached or had a temporary fault). "
                "The post may still be visible; the gateway will try again shortly.")


# ---------------------------------------------------------------------------------------------------------------
# Helpers

_LINK = re.compile(r"https?://\S+", re.IGNORECASE)


def _comparable(text: str) -> str:
    """Text as X would keep it, for comparing: no links, NFC, single spaces."""
    text = unicodedata.normalize("NFC", text)
    for url in sorted(extract_urls_with_indices(text), key=lambda u: u["indices"][0], reverse=True):
        start, end = url["indices"]
        text = text[:start] + " " + text[end:]
    text = _LINK.sub(" ", text)
    return " ".join(text.split())


def _comparables(x_text: str) -> set[str]:
    """X's text compared both as given and with its HTML escaping (&amp; &lt; &gt;) undone."""
    return {_comparable(x_text), _comparable(html.unescape(x_text))}


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _x_messages(payload) -> list[str]:
    messages = []
    if isinstance(payload, dict):
        for key in ("detail", "title", "reason", "type"):
            if isinstance(payload.get(key), str) and payload[key] not in ("about:blank",):
                messages.append(payload[key])
        for error in payload.get("errors") or []:
            if isinstance(error, str):
                messages.append(error)
            elif isinstance(error, dict):
                for key in ("message", "detail", "title"):
                    if isinstance(error.get(key), str):
                        messages.append(error[key])
    return list(dict.fromkeys(m.strip() for m in messages if m and m.strip()))


def _quote_x(messages: list[str]) -> str:
    """X's own explanation, short, for the plain message (the problem type URI is left out)."""
    words = [m for m in messages if not m.startswith("http") and m.lower() not in ("forbidden", "bad request")]
    if not words:
        return ""
    said = redact(" ".join(words[:2]))
    said = "".join(ch for ch in said if ch.isprintable())[:300]
    return f" X said: \u201c{said}\u201d."


def _retry_at(headers) -> datetime:
    """When to try again: the latest reset among the exhausted limits X reports."""
    resets = []
    exhausted = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        reset = _int(headers.get(f"{prefix}-reset"))
        if reset is None:
            continue
        resets.append(reset)
        if _int(headers.get(f"{prefix}-remaining")) == 0:
            exhausted.append(reset)
    chosen = max(exhausted) if exhausted else (_int(headers.get("x-rate-limit-reset")) or (max(resets) if resets else None))
    if chosen is None:
        return datetime.now(timezone.utc).replace(microsecond=0) + FALLBACK_RETRY
    return datetime.fromtimestamp(chosen, tz=timezone.utc)


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
