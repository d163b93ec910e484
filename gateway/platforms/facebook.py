"""Publisher for the school's Facebook Page: at most once, never sleeping, in plain words.

How one post goes out (`FacebookPublisher.publish`):

1. `validate()` — problems in plain words stop it before anything is sent (PermanentError).
2. Each photo, in order: `POST /{page-id}/photos` with the file as `source`, `published=false` and its alt text as
   `alt_text_custom`.  Unpublished photos are not shown on the Page, so a failure here, or later, leaves at most a
   few unpublished photos in the Page's storage that nobody sees: harmless, and safe to retry (Transient) or in
   need of a person (PermanentError).  They are not deleted afterwards: that would add a step that can fail.
3. One `POST /{page-id}/feed` with `message` and `attached_media[i]={"media_fbid": "<photo id>"}` in order (a post
   with text only is this call alone).  From the moment it is sent Facebook may have made the post, so a lost
   answer (read timeout, broken connection, 5xx, code 1 or 2) raises `Ambiguous`: the caller must `find()` before
   publishing again.

Docs these calls follow (developers.facebook.com, as stored when this was written):

* Graph API version: v26.0 (facebook_graph.GRAPH_VERSION), the newest in /docs/graph-api/changelog/versions.
* /docs/pages-api/posts: `POST /{page_id}/feed` with `message` -> `{"id": "{page_id}_{post_id}"}`; needs a Page
  access token with pages_manage_posts and pages_read_engagement, from a person who can do CREATE_CONTENT.
  `DELETE /{post_id}` -> `{"success": true}`.
* /docs/graph-api/photo-uploads: a multi-photo post is photos uploaded with `published=false`, then a feed post
  naming them in `attached_media`; "We recommend uploading photos under 4MB" (PNG under 1 MB, or it may look
  pixelated).  The Photo reference (/docs/graph-api/reference/photo): "a photo must be less than 10MB in size",
  and `alt_text_custom`, "Accessible alternative description for an image".  We keep to the 4 MB recommendation.
* Neither reference states how many photos one post may carry, nor a length for alt text: MAX_PHOTOS is 10 (what
  Page-publishing services document for attached_media, e.g. docs.letmepost.dev/platforms/facebook) and
  MAX_ALT_TEXT 1,000 (the limit Sprout Social gives for Facebook alt text).  The text limit is Facebook's
  63,206 characters.
* /docs/graph-api/reference/page/feed: reading gives at most 100 posts a request, paged, `since` a Unix time.
* Errors and rate limits: see facebook_errors.py.  Comments under the posts: see facebook_comments.py.

Client: plain `requests`.  facebook-sdk (PyPI 3.1.0, November 2018) accepts only Graph versions 2.8 to 3.1, all
retired since 2020, and sends the token as a query parameter; Meta's maintained facebook-business SDK (26.0.x)
targets the Marketing API and also sends the token as a parameter.  Four calls over requests, with the token in
a header and a timeout on each, are smaller and safer than either.

The token never reaches a log or a message: see facebook_secrets.py.
"""
from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

from gateway.platforms.base import (CredentialField, Outgoing, PermanentError, Platform, Published, Reply, ReplyPage,
                                    Transient)
from gateway.platforms.facebook_comments import FacebookComments
from gateway.platforms.facebook_errors import DELETE_FAILED, PERMISSIONS, UNREACHABLE, ambiguous, lookup_failed
from gateway.platforms.facebook_graph import GRAPH_API, GraphClient
from gateway.platforms.facebook_graph import next_params as _next_params
from gateway.platforms.facebook_graph import parse_time as _parse_time
from gateway.platforms.facebook_secrets import FacebookCredentials

log = logging.getLogger(__name__)

MAX_TEXT = 63_206
MAX_PHOTOS = 10
MAX_PHOTO_BYTES = 4 * 1024 * 1024
MAX_ALT_TEXT = 1000
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
POST_ID = re.compile(r"^\d+_\d+$")

# find(): a post made for this approval cannot be older than the approval itself; the margin allows for the
# gateway's clock and Facebook's clock disagreeing.
CLOCK_MARGIN = timedelta(minutes=5)
FEED_PAGE = 100  # Facebook's maximum for one read of a Page's feed
FEED_MAX_PAGES = 20  # 2,000 posts since the approval: far beyond any school Page; more is refused, not guessed


def comparable(text: str) -> str:
    """A message as Facebook keeps it: NFC, Unix line ends, no whitespace around it."""
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


class FacebookPublisher:
    can_delete = True

    def __init__(self, credentials: FacebookCredentials, handle: str, timeout: float = 30, api_base: str = GRAPH_API,
                 comments: str = "hide"):
        self.page_id = credentials.page_id
        self.handle = handle.strip().lstrip("@")
        self.graph = GraphClient(credentials, f"\u201c{self.handle or self.page_id}\u201d", api_base=api_base,
                                 timeout=timeout)
        self.comments = FacebookComments(self.graph, self.page_id, comments)  # comments: "hide" or "delete"

    def __repr__(self) -> str:
        return f"FacebookPublisher({self.handle}, page {self.page_id})"

    # -- checks ------------------------------------------------------------------------------------------------

    def check_credentials(self) -> str:
        """Harmless authenticated reads of the Page and of the token's owner; the Page's username (or its id)."""
        page = self.graph.call("GET", self.page_id, "credentials", params={"fields": "id,name,username"})
        owner = self.graph.call("GET", "me", "credentials", params={"fields": "id"})
        if str(page.get("id")) != self.page_id:
            raise PermanentError("Facebook answered with a different Page for the saved Page ID. Check the Page "
                                 "ID.", code="credentials", detail="GET /{page-id} named another id")
        if str(owner.get("id")) != self.page_id:
            raise PermanentError(
                "The access token is not this Page's own token (it belongs to a person or to another Page). Enter "
                f"a Page access token for this Page, with {PERMISSIONS}.", code="credentials",
                detail="GET /me named another id")
        return str(page.get("username") or page["id"])

    def validate(self, outgoing: Outgoing) -> list[str]:
        problems = []
        photos = outgoing.photos or []
        text = outgoing.text or ""
        if not comparable(text):
            # find() recognises a post on the Page by its words: without them a lost answer could never be settled.
            problems.append("Posts to Facebook need some words: the gateway recognises the post on the Page by "
                            "them, which is how it makes sure a post never goes out twice.")
        if len(text) > MAX_TEXT:
            problems.append(f"The text is too long for Facebook: it has {len(text):,} characters and Facebook "
                            f"allows {MAX_TEXT:,}.")
        if len(photos) > MAX_PHOTOS:
            problems.append(f"Facebook posts from the gateway carry at most {MAX_PHOTOS} photos; this post has "
                            f"{len(photos)}.")
        for n, photo in enumerate(photos, 1):
            problems.extend(_photo_problems(n, photo))
        return problems

    # -- publishing --------------------------------------------------------------------------------------------

    def publish(self, outgoing: Outgoing) -> Published:
        problems = self.validate(outgoing)
        if problems:
            raise PermanentError("This post cannot go to Facebook as it is: " + " ".join(problems), code="invalid")
        data = {"message": outgoing.text}
        for i, photo in enumerate(outgoing.photos or []):
            data[f"attached_media[{i}]"] = json.dumps({"media_fbid": self._upload(photo, i + 1)})
        log.info("creating Facebook post for %s on page %s with %d photo(s)", outgoing.key, self.page_id,
                 len(outgoing.photos or []))
        try:
            answer = self.graph.call("POST", f"{self.page_id}/feed", "create", data=data)
        except PermanentError as exc:
            if exc.code != "duplicate":
                raise
            return self._after_duplicate(outgoing, exc)
        post_id = str(answer.get("id") or "")
        if not POST_ID.match(post_id):
            raise ambiguous(self.graph.page, "no post id in Facebook's answer")
        log.info("published %s to Facebook as %s", outgoing.key, post_id)
        return self._published(post_id)

    def find(self, outgoing: Outgoing) -> Published | None:
        """The post on the Page's feed, or None only when it is certainly not there.

        Time rule: Facebook's `created_time` must be no earlier than `approved_at` minus CLOCK_MARGIN (5 minutes):
        nothing made for this approval can predate it; the margin covers the two clocks disagreeing, and leaves
        out older posts with the same words.  Text rule: the same message, exactly (Facebook keeps a message as
        sent; only line ends, Unicode normalisation and surrounding whitespace are allowed to differ).  Several
        matches: the earliest, the one the first attempt made.  Every page back to the time limit is read, in
        full (the feed is ranked, so no page's order is trusted); any failure raises (Transient, RetryLater,
        PermanentError).  The feed may take a moment to show a new post, so publish() also treats Facebook's
        duplicate refusal after an earlier attempt as "not known yet".
        """
        if outgoing.approved_at is None:
            raise ValueError("find() needs the approval time: without it an older post could be taken for this one")
        wanted = comparable(outgoing.text or "")
        if not wanted:
            return None  # publish() never sends a post without words (see validate), so it is not there
        since = outgoing.approved_at - CLOCK_MARGIN
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        params = {"fields": "id,message,created_time", "since": str(int(since.timestamp())), "limit": str(FEED_PAGE)}
        matches: list[tuple[datetime, str]] = []
        for _ in range(FEED_MAX_PAGES):
            page = self.graph.call("GET", f"{self.page_id}/feed", "lookup", params=params)
            matches += self._matches(page, since, wanted)
            params = _next_params(page)
            if params is None:
                break
        else:
            raise lookup_failed(self.graph.page, "too many posts to check")
        return self._published(min(matches)[1]) if matches else None

    def delete(self, platform_id: str) -> None:
        if not POST_ID.match(str(platform_id)):
            raise ValueError("bad Facebook post id")
        answer = self.graph.call("DELETE", str(platform_id), "delete", gone_ok=True)
        if answer is None:
            log.info("Facebook post %s was already gone", platform_id)
            return
        if answer.get("success") is not True:
            # Not confirmed: for a safeguarding removal, keep trying rather than assume it is gone.
            raise Transient(DELETE_FAILED, code="unconfirmed", detail=f"success={answer.get('success')!r}")
        log.info("deleted Facebook post %s", platform_id)

    # -- comments under the posts (facebook_comments.py) ------------------------------------------------------------

    def replies(self, post_id: str, cursor: str | None) -> ReplyPage:
        return self.comments.replies(post_id, cursor)

    def hide(self, post_id: str, reply: Reply) -> str:
        return self.comments.hide(post_id, reply)

    def restore(self, post_id: str, reply: Reply) -> str:
        return self.comments.restore(post_id, reply)

    def block(self, reply: Reply) -> str:
        return self.comments.block(reply)

    # -- the steps ---------------------------------------------------------------------------------------------

    def _upload(self, photo, n: int) -> str:
        extension = "png" if photo.format == "PNG" else "jpg"
        data = {"published": "false"}
        if photo.alt:
            data["alt_text_custom"] = photo.alt
        answer = self.graph.call("POST", f"{self.page_id}/photos", "upload", data=data, photo=n,
                                 files={"source": (f"photo-{n}.{extension}", photo.data, MIME_TYPES[photo.format])})
        photo_id = str(answer.get("id") or "")
        if not photo_id.isdigit():
            raise Transient(UNREACHABLE, code="server", detail="no photo id in Facebook's answer")
        log.info("uploaded photo %d to Facebook (unpublished) as %s", n, photo_id)
        return photo_id

    def _after_duplicate(self, outgoing: Outgoing, refusal: PermanentError) -> Published:
        """Facebook refuses the same words twice in a row; the earlier post may be this very one."""
        found = self.find(outgoing)
        if found:
            log.info("Facebook post for %s already existed as %s", outgoing.key, found.platform_id)
            return found
        if outgoing.earlier_attempts:
            # An earlier attempt's answer was lost and the feed does not show its post yet: calling that a failure
            # would leave a live post unrecorded.
            raise ambiguous(self.graph.page, "Facebook already has these words, but the feed does not show the "
                                             "post yet", refusal.status) from refusal
        raise refusal

    def _matches(self, page: dict, since: datetime, wanted: str) -> list[tuple[datetime, str]]:
        items = page.get("data")
        if not isinstance(items, list):
            raise lookup_failed(self.graph.page, "no list of posts in Facebook's answer")
        found = []
        for item in items:
            post_id = str(item.get("id") or "") if isinstance(item, dict) else ""
            created = _parse_time(item.get("created_time")) if post_id else None
            if not POST_ID.match(post_id) or created is None:
                raise lookup_failed(self.graph.page, "a post without an id or a time in Facebook's answer")
            if created >= since and comparable(str(item.get("message") or "")) == wanted:
                found.append((created, post_id))
        return found

    def _published(self, post_id: str) -> Published:
        page_id, _, story = post_id.partition("_")
        return Published(platform_id=post_id, url=f"https://www.facebook.com/{page_id}/posts/{story}")


def _photo_problems(n: int, photo) -> list[str]:
    problems = []
    if photo.format not in MIME_TYPES:
        problems.append(f"Photo {n} is a {photo.format or 'unknown'} file; only JPEG and PNG photos are sent to "
                        "Facebook.")
    if len(photo.data) > MAX_PHOTO_BYTES:
        problems.append(f"Photo {n} is {len(photo.data) / (1024 * 1024):.1f} MB; Facebook takes photos up to "
                        f"{MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
    if photo.alt and len(photo.alt) > MAX_ALT_TEXT:
        problems.append(f"The description (alt text) of photo {n} is {len(photo.alt):,} characters long; the "
                        f"gateway sends at most {MAX_ALT_TEXT:,} to Facebook.")
    return problems


def _credentials(credentials: Mapping[str, str]) -> FacebookCredentials:
    try:
        return FacebookCredentials.from_mapping(credentials)
    except ValueError as exc:
        raise PermanentError(str(exc), code="credentials") from None


def connect(handle: str, credentials: Mapping[str, str], settings) -> FacebookPublisher:
    """One call to Facebook gets a twelfth of the publish job's time, so a slow Facebook cannot use it all up."""
    return FacebookPublisher(_credentials(credentials), handle, timeout=max(5.0, settings.publish_timeout / 12),
                             comments=getattr(settings, "facebook_comments", "hide"))


def check(handle: str, credentials: Mapping[str, str]) -> str:
    """The Page's username (or id) the credentials belong to, by harmless reads of the Page and the token."""
    return FacebookPublisher(_credentials(credentials), handle, timeout=15).check_credentials()


PLATFORM = Platform(
    name="facebook", title="Facebook", max_text=MAX_TEXT, max_photos=MAX_PHOTOS, max_photo_bytes=MAX_PHOTO_BYTES,
    max_alt_text=MAX_ALT_TEXT, text_length=len,
    credential_fields=(
        CredentialField("page_id", "Page ID", secret=False),
        CredentialField("page_access_token", "Page access token"),
    ),
    credentials_help=("the Page ID is in the Page's settings under 'Page transparency'; the long-lived Page access "
                      "token comes from the school's app on Meta for Developers (Graph API Explorer or Meta "
                      f"Business Suite), made by someone who can create content on the Page, with {PERMISSIONS}"),
    connect=connect, check=check,
    # A Page token's calls count against the Page's Business Use Case limit: 4,800 calls in 24 hours for each
    # engaged user (/docs/graph-api/overview/rate-limiting).  Reading one post's comments every 5 minutes is 288
    # calls a day, so even a Page with one engaged user keeps 15 posts under watch, with room to hide and block
    # (the platform limit of 200 calls per user per hour applies only to user and app tokens, not to a Page's).
    reply_poll_minutes=5,
    hiding=("hides the comment under the post: only its writer and their friends still see it, and they are not "
            "told (with FACEBOOK_COMMENTS=delete the comment is deleted for everyone, which cannot be undone)"),
)
