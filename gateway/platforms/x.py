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
* Errors and rate limits: see x_errors.py.

tweepy 4.17 still talks to `https://api.twitter.com` for v2 calls (same service as api.x.com); the media calls,
which tweepy only offers through X's deprecated v1.1 endpoints, go to `https://api.x.com` here, signed with
OAuth 1.0a user context and the same four credentials.

Credentials never reach a log: see x_secrets.py.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import timedelta, timezone

import requests
import tweepy

from gateway.platforms import x_replies
from gateway.platforms.base import (
    CredentialField, Outgoing, PermanentError, Platform, Published, Reply, ReplyPage, Transient,
)
from gateway.platforms.x_errors import DELETE_FAILED, UNREACHABLE, ambiguous, error_for, lookup_failed
from gateway.platforms.x_secrets import XCredentials, register_secrets
from gateway.platforms.x_text import MAX_TEXT, comparable, comparables, weighted_length

log = logging.getLogger(__name__)

API = "https://api.x.com"
MEDIA_UPLOAD_URL = f"{API}/2/media/upload"
MEDIA_METADATA_URL = f"{API}/2/media/metadata"

MAX_PHOTOS = 4
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_ALT_TEXT = 1000
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}

# find(): a post made for this approval cannot be older than the approval itself; the margin allows for the
# gateway's clock and X's clock disagreeing.
CLOCK_MARGIN = timedelta(minutes=5)
TIMELINE_PAGE = 100  # X's maximum for GET /2/users/:id/tweets
TIMELINE_MAX_PAGES = 40  # X keeps only the newest 3,200 posts of a timeline: 32 pages of 100


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
        register_secrets(credentials)
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
            error = error_for(exc.response, "create", self.handle)
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
                    raise ambiguous(self.handle, "X already has these words, but its timeline does not show the post yet",
                                          exc.response.status_code) from exc
            raise error from exc
        except (requests.RequestException, ValueError) as exc:
            raise ambiguous(self.handle, type(exc).__name__) from exc
        try:
            tweet_id = str(response.data["id"])
        except (TypeError, KeyError):
            raise ambiguous(self.handle, "no post id in X's answer") from None
        if not tweet_id.isdigit():
            raise ambiguous(self.handle, "unexpected post id in X's answer")
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
        wanted = comparable(outgoing.text or "")
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
                raise error_for(exc.response, "lookup", self.handle) from exc
            except (requests.RequestException, ValueError) as exc:
                raise lookup_failed(self.handle, type(exc).__name__) from exc
            tweets = page.data or []
            if not tweets and page.errors:
                raise lookup_failed(self.handle, "X answered with errors and no posts")
            for tweet in tweets:
                created = tweet.created_at
                if created is None:
                    raise lookup_failed(self.handle, "X did not say when a post was made")
                if created >= since and wanted in comparables(tweet.text or ""):
                    matches.append((int(tweet.id), created))
            token = (page.meta or {}).get("next_token")
            if not token:
                break
        else:
            raise lookup_failed(self.handle, "too many posts to check")
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
            raise error_for(exc.response, "delete", self.handle) from exc
        except (requests.RequestException, ValueError) as exc:
            raise Transient(DELETE_FAILED, code="network", detail=type(exc).__name__) from exc
        deleted = (response.data or {}).get("deleted") if isinstance(response.data, dict) else None
        if deleted is not True:
            # Not confirmed: for a safeguarding removal, keep trying rather than assume it is gone.
            raise Transient(DELETE_FAILED, code="unconfirmed", detail=f"deleted={deleted!r}")
        log.info("deleted X post %s", platform_id)

    # -- replies (x_replies.py) ----------------------------------------------------------------------------------

    def replies(self, post_id: str, cursor: str | None) -> ReplyPage:
        """Replies at any depth from X's last 7 days, newer than `cursor` (X's since_id: not read, not charged)."""
        return x_replies.read_replies(self, post_id, cursor)

    def hide(self, post_id: str, reply: Reply) -> str:
        return x_replies.set_hidden(self, reply, hidden=True)

    def restore(self, post_id: str, reply: Reply) -> str:
        return x_replies.set_hidden(self, reply, hidden=False)

    def block(self, reply: Reply) -> str:
        """Mutes: X's API no longer lets apps block."""
        return x_replies.mute_author(self, reply)

    # -- the steps ---------------------------------------------------------------------------------------------

    def _whoami(self, stage: str) -> tuple[str, str]:
        if self._me is None:
            try:
                response = self.client.get_me(user_auth=True)
            except tweepy.HTTPException as exc:
                raise error_for(exc.response, stage, self.handle) from exc
            except (requests.RequestException, ValueError) as exc:
                if stage == "lookup":
                    raise lookup_failed(self.handle, type(exc).__name__) from exc
                raise Transient(UNREACHABLE, code="network", detail=type(exc).__name__) from exc
            if response.data is None:
                raise Transient(UNREACHABLE, code="server", detail="no user in X's answer")
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
            raise Transient(UNREACHABLE, code="network", detail=type(exc).__name__) from exc
        if not 200 <= response.status_code < 300:
            raise error_for(response, "upload", self.handle, photo=n)
        try:
            data = response.json()["data"]
            media_id = str(data["id"])
        except (ValueError, KeyError, TypeError):
            raise Transient(UNREACHABLE, code="server", detail="unreadable upload answer") from None
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
            raise Transient(UNREACHABLE, code="network", detail=type(exc).__name__) from exc
        if not 200 <= response.status_code < 300:
            raise error_for(response, "alt_text", self.handle, photo=n)

    def _published(self, tweet_id: str) -> Published:
        return Published(platform_id=tweet_id, url=f"https://x.com/{self.handle}/status/{tweet_id}")


def connect(handle: str, credentials: Mapping[str, str], settings) -> XPublisher:
    """One call to X gets a twelfth of the publish job's time, so a slow X cannot use it all up."""
    return XPublisher(XCredentials.from_mapping(credentials), handle, timeout=max(5.0, settings.publish_timeout / 12))


def check(handle: str, credentials: Mapping[str, str]) -> str:
    """The username the keys belong to, by X's harmless GET /2/users/me."""
    return XPublisher(XCredentials.from_mapping(credentials), handle, timeout=15).check_credentials()


PLATFORM = Platform(
    name="x", title="X", max_text=MAX_TEXT, max_photos=MAX_PHOTOS, max_photo_bytes=MAX_PHOTO_BYTES,
    max_alt_text=MAX_ALT_TEXT, text_length=weighted_length,
    credential_fields=(
        CredentialField("consumer_key", "API key"),
        CredentialField("consumer_secret", "API key secret"),
        CredentialField("access_token", "Access token"),
        CredentialField("access_token_secret", "Access token secret"),
    ),
    credentials_help="from the X developer portal, with read and write access",
    connect=connect, check=check,
    # X's recent search allows 300 requests per 15 minutes per user (docs.x.com/x-api/fundamentals/rate-limits):
    # one read per published post every 15 minutes keeps up to 300 recent posts inside that window, and each
    # read is paid for, so reading more often would cost more without staying any safer.
    reply_poll_minutes=15, paid_reads=True,
    hiding=("hides the reply under the post; people can still open it from X's \u201chidden replies\u201d, and "
            "its author is not told"),
)
