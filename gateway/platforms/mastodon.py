"""Publisher for the school's Mastodon account: at most once, never sleeping on a rate limit, in plain words.

How one post goes out (`MastodonPublisher.publish`), through Mastodon.py 2.x:

1. `validate()` against the server's own limits (GET /api/v2/instance, read once per publisher) — problems in
   plain words stop it before anything is sent (PermanentError).
2. Each photo, in order: `media_post(..., description=alt)` (POST /api/v2/media).  Images are processed at once
   (200) since Mastodon 4.0; an answer of 202 (its `url` still null) is polled with GET /api/v1/media/:id until
   the url appears, for at most `media_wait` seconds in all.  Nothing is public yet, so any failure here is safe
   to retry (Transient) or needs a person (PermanentError).
3. One `status_post(..., idempotency_key=...)` (POST /api/v1/statuses with an `Idempotency-Key` header).  The key
   is the same for every attempt at this publication, so Mastodon answers a repeat within an hour with the post it
   already made.  From the moment this request is sent the server may have made the post, so a lost answer
   (timeout, broken connection, 5xx) raises `Ambiguous`: the caller must `find()` before publishing again.

`find()` recognises the post without any visible marker in it: see its docstring.  Docs these calls follow:
https://docs.joinmastodon.org/methods/statuses/ , /methods/media/ , /methods/instance/ , /entities/Error/ ,
/api/rate-limits/.  Errors and rate limits: mastodon_errors.py.  The token never reaches a message or a log:
Mastodon.py logs nothing (it prints requests only with debug_requests, which stays off) and every message built
from the server's words goes through `redact`.
"""
from __future__ import annotations

import hashlib
import html
import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import requests
from mastodon import Mastodon, MastodonAPIError, MastodonNetworkError, MastodonNotFoundError, MastodonRatelimitError

from gateway.platforms.base import (
    CredentialField, Outgoing, PermanentError, Platform, Published, Reply, ReplyPage, RetryLater, Transient,
)
from gateway.platforms.mastodon_account import MastodonCredentials, redact, register_secret
from gateway.platforms.mastodon_errors import ambiguous, error_for, lookup_failed, unreachable
from gateway.platforms.mastodon_limits import (
    MAX_ALT_TEXT, MAX_PHOTO_BYTES, MAX_PHOTOS, MAX_TEXT, MIME_TYPES, InstanceLimits, text_length,
)
from gateway.platforms.mastodon_replies import MastodonReplies

log = logging.getLogger(__name__)

_API_ERRORS = (MastodonAPIError, MastodonNetworkError, MastodonRatelimitError)
# Mastodon.py only talks to /api/v2/media when it believes the server is 3.1.4 or later, and with no version
# given it would ask GET /api/v1/instance first and quietly fall back to 1.0.0 (and /api/v1/media) if that failed.
# The gateway needs 4.0 (GET /api/v2/instance), so it says so; "created" mode refuses any call newer than that.
SERVER_VERSION = "4.0.0"
USER_AGENT = "school-social-gateway"
IDEMPOTENCY_PREFIX = "school-gateway-publication-"
# find(): a post made for this approval cannot be older than the approval itself; the margin allows for the
# gateway's clock and the server's disagreeing.
CLOCK_MARGIN = timedelta(minutes=5)
PAGE = 40  # Mastodon's largest page for GET /api/v1/accounts/:id/statuses
MAX_PAGES = 40  # 1,600 posts back: beyond that, say "could not check" rather than "not there"
_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")  # Mastodon's ids are numbers; other servers use letters and digits
_BREAK = re.compile(r"<br\s*/?>|</p>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


class _Session(requests.Session):
    """Remembers the last answer's status and headers: a MastodonRatelimitError carries neither."""

    def __init__(self):
        super().__init__()
        self.last: tuple[int, Mapping[str, str]] | None = None

    def request(self, method, url, **kwargs):
        self.last = None
        response = super().request(method, url, **kwargs)
        self.last = (response.status_code, response.headers)
        return response


class MastodonPublisher:
    can_delete = True

    def __init__(self, credentials: MastodonCredentials, handle: str, timeout: float = 30,
                 media_wait: float | None = None, authors: str = "block"):
        register_secret(credentials.access_token)
        self.handle = handle.strip().lstrip("@")
        self.base_url = credentials.instance_url
        self.host = credentials.host
        self.timeout = timeout
        self.media_wait = timeout if media_wait is None else media_wait
        self._session = _Session()
        self.api = Mastodon(
            api_base_url=self.base_url, request_timeout=timeout, session=self._session, user_agent=USER_AGENT,
            ratelimit_method="throw",  # never sleep: RetryLater tells the caller when to come back
            mastodon_version=SERVER_VERSION, version_check_mode="created",
        )
        # Set after construction: given to the constructor, a token that happened to name a file would be read
        # from that file.
        self.api.access_token = credentials.access_token
        self._limits: InstanceLimits | None = None
        self._me: tuple[str, str] | None = None  # (account id, username)
        self._replies = MastodonReplies(self, authors)  # authors: what hide() does to a reply's author

    def __repr__(self) -> str:
        return f"MastodonPublisher(@{self.handle} on {self.host})"

    # -- checks ------------------------------------------------------------------------------------------------

    def check_credentials(self) -> str:
        """A harmless authenticated call (GET /api/v1/accounts/verify_credentials); returns the username."""
        return self._whoami("credentials")[1]

    def limits(self) -> InstanceLimits:
        """The server's limits, read once per publisher; Mastodon's defaults on a server without /api/v2/instance."""
        if self._limits is None:
            try:
                instance = self.api.instance_v2()
            except MastodonNotFoundError:
                log.info("%s has no /api/v2/instance; using Mastodon's default limits", self.host)
                instance = {}
            except _API_ERRORS as exc:
                raise self._error(exc, "instance") from exc
            self._limits = InstanceLimits.from_instance(instance)
        return self._limits

    def validate(self, outgoing: Outgoing) -> list[str]:
        """Problems by the server's own limits; [] while they cannot be read (publish() reads them and says why)."""
        try:
            limits = self.limits()
        except (Transient, RetryLater) as exc:
            log.warning("could not read the limits of %s yet (%s); publishing will read them again", self.host,
                        exc.code)
            return []
        return limits.problems(outgoing, self.host)

    # -- publishing --------------------------------------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.limits().problems(outgoing, self.host)
        if problems:
            raise PermanentError(f"This post cannot go to {self.host} as it is: " + " ".join(problems),
                                 code="invalid")
        media_ids = [self._upload(photo, n) for n, photo in enumerate(outgoing.photos or [], 1)]
        log.info("creating Mastodon post for %s on @%s at %s with %d photo(s)", outgoing.key, self.handle,
                 self.host, len(media_ids))
        try:
            status = self.api.status_post(outgoing.text or "", media_ids=media_ids or None,
                                          idempotency_key=idempotency_key(outgoing))
        except _API_ERRORS as exc:
            raise self._error(exc, "create") from exc
        status_id = str((status or {}).get("id") or "")
        if not _ID.match(status_id):
            raise ambiguous(self._who(), "no usable post id in the server's answer")
        log.info("published %s to Mastodon as %s", outgoing.key, status_id)
        return self._published(status)

    def find(self, outgoing: Outgoing) -> Published | None:
        """The post on the account, or None only when it is certainly not there.

        Mastodon keeps idempotency keys for an hour, and a post gives its key back nowhere, so the post is
        recognised by what it is, with no marker added to it.  A post on the account's own list (GET
        /api/v1/accounts/:id/statuses, newest first, boosts left out) is this one when all of these hold:
        it was made no earlier than the approval minus CLOCK_MARGIN (nothing made for this approval can be older;
        the margin covers the two clocks disagreeing); it has no content warning; its photos are as many as ours
        and their descriptions (alt text) are ours, in order; and its source text (GET /api/v1/statuses/:id/source,
        the text exactly as it was sent, not the HTML the server shows) equals ours, after Unicode NFC, line
        endings and surrounding whitespace are made alike.  The source is asked for only when everything else
        matched and every word of the post as shown (its HTML `content`, which holds every word of the text it was
        made from, a remote mention's server aside) is one of ours, so other posts cost no call.  Several matches:
        the earliest, the one the first attempt made.  Every page back to the time limit is read; any failure
        raises (Transient, RetryLater, PermanentError).
        """
        if outgoing.approved_at is None:
            raise ValueError("find() needs the approval time: without it an older post could be taken for this one")
        since = _utc(outgoing.approved_at) - CLOCK_MARGIN
        alts = [_plain(p.alt) for p in outgoing.photos or []]
        wanted = _words(outgoing.text)
        account_id = self._whoami("lookup")[0]
        matches = []
        max_id = None
        for _ in range(MAX_PAGES):
            page = self._statuses(account_id, max_id)
            for status in page:
                if _utc(status["created_at"]) >= since and not (status.get("spoiler_text") or "") and \
                        _same_photos(status, alts) and _may_say(status, wanted) and \
                        self._same_text(status, outgoing.text):
                    matches.append(status)
            if not page or _utc(page[-1]["created_at"]) < since:
                break
            max_id = str(page[-1]["id"])
        else:
            raise lookup_failed(self._who(), "too many posts to check")
        if not matches:
            return None
        return self._published(min(matches, key=lambda s: (_utc(s["created_at"]), _id_order(str(s["id"])))))

    def delete(self, platform_id: str) -> None:
        """Deletes the post and its photos at once (delete_media: Mastodon otherwise keeps them for a day)."""
        if not _ID.match(str(platform_id)):
            raise ValueError("bad Mastodon post id")
        try:
            self.api.status_delete(str(platform_id), delete_media=True)
        except MastodonNotFoundError:
            log.info("Mastodon post %s on %s was already gone", platform_id, self.host)
            return
        except _API_ERRORS as exc:
            raise self._error(exc, "delete") from exc
        log.info("deleted Mastodon post %s on %s", platform_id, self.host)

    # -- replies (mastodon_replies.py) -------------------------------------------------------------------------

    def replies(self, post_id: str, cursor: str | None) -> ReplyPage:
        return self._replies.replies(post_id, cursor)

    def hide(self, post_id: str, reply: Reply) -> str:
        return self._replies.hide(post_id, reply)

    def restore(self, post_id: str, reply: Reply) -> str:
        return self._replies.restore(post_id, reply)

    def block(self, reply: Reply) -> str:
        return self._replies.block(reply)

    # -- the steps ---------------------------------------------------------------------------------------------

    def _whoami(self, stage: str) -> tuple[str, str]:
        if self._me is None:
            try:
                account = self.api.account_verify_credentials()
            except _API_ERRORS as exc:
                raise self._error(exc, stage) from exc
            account_id, username = str(account.get("id") or ""), account.get("username") or account.get("acct")
            if not _ID.match(account_id) or not username:
                if stage == "lookup":
                    raise lookup_failed(self._who(), "no account in the answer")
                raise Transient(unreachable(self.host), code="server", detail="no account in the answer")
            self._me = (account_id, str(username))
        return self._me

    def _upload(self, photo, n: int) -> str:
        extension = "png" if photo.format == "PNG" else "jpg"
        try:
            media = self.api.media_post(photo.data, mime_type=MIME_TYPES[photo.format], description=photo.alt or None,
                                        file_name=f"photo-{n}.{extension}")
        except _API_ERRORS as exc:
            raise self._error(exc, "upload", photo=n) from exc
        media_id = str((media or {}).get("id") or "")
        if not _ID.match(media_id):
            raise Transient(unreachable(self.host), code="server", detail="no media id in the upload answer")
        if media.get("url") is None:  # 202: the server is still processing it
            self._wait_for(media_id, n)
        log.info("uploaded photo %d to %s as media %s", n, self.host, media_id)
        return media_id

    def _wait_for(self, media_id: str, n: int) -> None:
        """Poll GET /api/v1/media/:id (206 while processing) until its url appears, for `media_wait` seconds."""
        waited, delay = 0.0, 0.5
        while waited + delay <= self.media_wait:
            time.sleep(delay)
            waited, delay = waited + delay, min(delay * 2, 4.0)
            try:
                media = self.api.media(media_id)
            except _API_ERRORS as exc:
                raise self._error(exc, "processing", photo=n) from exc
            if media.get("url"):
                return
        raise Transient(f"{self.host} was still processing photo {n} after {waited:.0f} seconds, so nothing was "
                        "published yet. The gateway will try again shortly.", code="media_processing")

    def _statuses(self, account_id: str, max_id: str | None) -> list:
        try:
            page = self.api.account_statuses(account_id, exclude_reblogs=True, limit=PAGE, max_id=max_id)
        except _API_ERRORS as exc:
            raise self._error(exc, "lookup") from exc
        if not isinstance(page, list):
            raise lookup_failed(self._who(), "the account's posts were not a list")
        for status in page:
            if not _ID.match(str(status.get("id") or "")) or _utc(status.get("created_at")) is None:
                raise lookup_failed(self._who(), "a post without an id or a time")
        return page

    def _same_text(self, status, text: str) -> bool:
        """Whether the status was sent with exactly this text (its source); False if it vanished meanwhile."""
        try:
            source = self.api.status_source(str(status["id"]))
        except MastodonNotFoundError:
            return False
        except _API_ERRORS as exc:
            raise self._error(exc, "lookup") from exc
        return not (source.get("spoiler_text") or "") and _plain(source.get("text")) == _plain(text)

    def _published(self, status) -> Published:
        status_id = str(status["id"])
        url = status.get("url") or f"{self.base_url}/@{self.handle}/{status_id}"
        return Published(platform_id=status_id, url=str(url))

    def _who(self) -> str:
        return f"@{self.handle} on {self.host}"

    def _error(self, exc: Exception, stage: str, photo: int | None = None):
        """The PublishError for `exc`, which stays chained to it with the token blanked from its words."""
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        return error_for(exc, stage, self.handle, self.host, photo=photo, last=self._session.last)


def idempotency_key(outgoing: Outgoing) -> str:
    """One key per publication, the same on every attempt: its id, and a digest of exactly what goes out.

    The digest keeps two installations of the gateway (whose publication ids both start at 1) that post to one
    account from ever being given each other's post; an approval is for exact content, so it never changes
    between attempts.
    """
    digest = hashlib.sha256((outgoing.text or "").encode())
    for photo in outgoing.photos or []:
        digest.update(b"\0" + hashlib.sha256(photo.data).digest() + (photo.alt or "").encode())
    return f"{IDEMPOTENCY_PREFIX}{outgoing.key}-{digest.hexdigest()[:16]}"


def _same_photos(status, alts: list[str]) -> bool:
    attachments = status.get("media_attachments") or []
    return len(attachments) == len(alts) and all(
        _plain(a.get("description")) == alt for a, alt in zip(attachments, alts))


def _may_say(status, wanted: Counter) -> bool:
    """Whether every word of the status as shown is one of ours: a post made from our text always passes."""
    return not _words(_shown_text(status.get("content") or "")) - wanted


def _shown_text(content: str) -> str:
    """The text of Mastodon's HTML: paragraphs and line breaks as new lines, other tags (links' spans) removed."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content)))


def _words(text) -> Counter:
    return Counter(re.findall(r"\w+", _plain(text).casefold()))


def _plain(text) -> str:
    return unicodedata.normalize("NFC", str(text or "")).replace("\r\n", "\n").strip()


def _utc(value) -> datetime | None:
    """An aware UTC datetime from Mastodon.py's datetime or an ISO 8601 string; None if it is neither."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _id_order(status_id: str) -> tuple[int, str]:
    return (int(status_id), "") if status_id.isdigit() else (0, status_id)


def connect(handle: str, credentials: Mapping[str, str], settings) -> MastodonPublisher:
    """One call to the server gets a twelfth of the publish job's time, so a slow server cannot use it all up."""
    timeout = max(5.0, settings.publish_timeout / 12)
    # Settings made before replies were read (and stand-ins for them) have no mastodon_authors: its default.
    authors = getattr(settings, "mastodon_authors", "block")
    return MastodonPublisher(MastodonCredentials.from_mapping(credentials), handle, timeout=timeout, authors=authors)


def check(handle: str, credentials: Mapping[str, str]) -> str:
    """The username the token belongs to, by Mastodon's harmless GET /api/v1/accounts/verify_credentials."""
    return MastodonPublisher(MastodonCredentials.from_mapping(credentials), handle, timeout=15).check_credentials()


def text_limit_of(credentials: Mapping[str, str]) -> int:
    """The server's own limit (500 unless its administrators changed it), from GET /api/v2/instance."""
    return MastodonPublisher(MastodonCredentials.from_mapping(credentials), "", timeout=15).limits().max_text


PLATFORM = Platform(
    name="mastodon", title="Mastodon", max_text=MAX_TEXT, max_photos=MAX_PHOTOS, max_photo_bytes=MAX_PHOTO_BYTES,
    max_alt_text=MAX_ALT_TEXT, text_length=text_length,
    credential_fields=(
        CredentialField("instance_url", "Server address (such as https://mastodon.social)", secret=False),
        CredentialField("access_token", "Access token"),
    ),
    credentials_help=("the address of the school's Mastodon server, and an access token made on that server "
                      "under Preferences, Development, New application, with the 'read' and 'write' scopes"),
    connect=connect, check=check, text_limit_of=text_limit_of,
    # Mastodon allows 300 calls in 5 minutes per account (https://docs.joinmastodon.org/api/rate-limits/), in
    # one window that resets every 5 minutes; a read of one post's replies costs two (its context and the
    # mentions), so one read per post every 5 minutes keeps an account with 100 posts under watch inside it.
    reply_poll_minutes=5,
    hiding=("reports the reply to the moderators of its author's server and blocks (or mutes) its author, so "
            "the school no longer sees them; Mastodon lets no one delete another person's reply, so others can "
            "still see it until those moderators remove it"),
)
