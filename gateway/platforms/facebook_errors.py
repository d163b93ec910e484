"""Facebook's error answers in plain words, as the PublishError kind that tells the caller what to do next.

Error bodies (https://developers.facebook.com/docs/graph-api/guides/error-handling):
`{"error": {"message", "type", "code", "error_subcode", "error_user_title", "error_user_msg", "fbtrace_id"}}`.
The codes that page lists, and what we do with them:

* 1 (API Unknown) and 2 (API Service): "temporary issue due to downtime" -> like a 5xx: Transient before the feed
  post is created, Ambiguous for the create itself (Facebook may have made the post before failing).
* 4, 17, 341 (and 32, 613 and 80001 from the rate-limiting page and the Photo reference's error table) -> RetryLater.
  Pages API calls with a Page token count against the Page's Business Use Case limit; its header
  `X-Business-Use-Case-Usage` (and `X-App-Usage` / `X-Page-Usage`) carries `estimated_time_to_regain_access` in
  minutes (https://developers.facebook.com/docs/graph-api/overview/rate-limiting).  Without it we come back after
  FALLBACK_RETRY: the page names rolling windows of one hour (app) and 24 hours (Page) but no reset time.
* 102 and 190 (token expired or invalid; subcodes 458-467 and 492 say why) -> PermanentError: a new Page token.
* 3, 10 and 200-299 (permission not granted or removed) -> PermanentError naming the permissions to grant.
* 368 ("temporarily blocked for policies violations") -> PermanentError: Facebook blocked the Page from posting,
  a person should look before the gateway posts again.
* 506 ("Duplicate Post: duplicate posts cannot be published consecutively") -> PermanentError code "duplicate";
  the publisher first looks for the post, which may be its own earlier attempt.
* 100 (invalid parameter) -> PermanentError with Facebook's own words.  With subcode 33 ("does not exist, cannot
  be loaded due to missing permissions, or does not support this operation"), or a bare 404, the object is not
  there: on a DELETE the post is gone (success); anywhere else the saved Page ID or token is wrong.
* 1609005 (error posting link) -> PermanentError: the link in the text could not be read by Facebook.
* A 413 or any other refusal of a photo upload -> PermanentError naming the photo.

Comments (facebook_comments.py) use the stages "comments" (reading) and "moderate" (hiding, deleting, showing a
comment again, blocking its writer): the same kinds of error, in words about comments rather than publishing.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from gateway.platforms.base import Ambiguous, PermanentError, PublishError, RetryLater, Transient
from gateway.platforms.facebook_secrets import redact

FALLBACK_RETRY = timedelta(minutes=60)  # no estimated_time_to_regain_access in the answer: try again in an hour
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, 80001})
TEMPORARY_CODES = frozenset({1, 2})
TOKEN_CODES = frozenset({102, 190})
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage")
# Publishing needs the first two and pages_show_list; reading comments needs pages_read_user_content, and hiding,
# deleting them and blocking their writers pages_manage_engagement (developers.facebook.com/docs/pages-api).
PERMISSIONS = ("pages_manage_posts, pages_read_engagement, pages_read_user_content, pages_manage_engagement and "
               "pages_show_list")
COMMENT_STAGES = frozenset({"comments", "moderate"})

UNREACHABLE = ("Facebook could not be reached, or had a temporary fault, before anything was published. It is safe "
               "to try again; the gateway will retry shortly.")
DELETE_FAILED = ("Facebook did not confirm that the post was deleted (Facebook could not be reached or had a "
                 "temporary fault). The post may still be visible; the gateway will try again shortly.")
_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")  # "(#100) Invalid parameter": the code is kept in `detail`
NEW_TOKEN = (f"Someone who manages the Page needs to make a new long-lived Page access token (with {PERMISSIONS}) "
             "and enter it in the gateway.")


@dataclass(frozen=True)
class GraphError:
    """What Facebook said went wrong, with any secret already blanked."""

    status: int
    code: int | None = None
    subcode: int | None = None
    kind: str = ""
    message: str = ""
    user_message: str = ""
    trace: str = ""

    @property
    def detail(self) -> str:
        """Facebook's own account of the error, for the record (never shown as the plain message)."""
        code = "" if self.code is None else f" code {self.code}" + (f"/{self.subcode}" if self.subcode else "")
        trace = f" (fbtrace_id {self.trace})" if self.trace else ""
        return f"HTTP {self.status}{code} {self.kind}: {self.message}{trace}".strip()[:500]

    def said(self) -> str:
        """Facebook's words, short, for the plain message."""
        words = self.user_message or _CODE_PREFIX.sub("", self.message)
        return f" Facebook said: \u201c{words}\u201d." if words else ""

    def is_gone(self) -> bool:
        """The object does not exist (any more): 404, or code 100 with subcode 33."""
        return self.status == 404 or (self.code == 100 and self.subcode == 33)


def parse(response) -> GraphError:
    """The error in a Graph API answer (its JSON `error` object, or just the HTTP status)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphError(status=response.status_code)
    return GraphError(
        status=response.status_code, code=_int(error.get("code")), subcode=_int(error.get("error_subcode")),
        kind=_clean(error.get("type"), 60), message=_clean(error.get("message"), 300),
        user_message=_clean(error.get("error_user_msg"), 300), trace=_clean(error.get("fbtrace_id"), 60),
    )


def ambiguous(page: str, detail: str, status: int | None = None) -> Ambiguous:
    return Ambiguous(
        f"The connection to Facebook broke while the post was being sent, so it is not yet known whether Facebook "
        f"published it. The gateway will check the Page {page} before trying again, so it will not be posted "
        "twice.", code="unknown_outcome", status=status, detail=redact(detail)[:500])


def lookup_failed(page: str, detail: str, status: int | None = None) -> Transient:
    return Transient(
        f"The gateway could not check the Facebook Page {page} just now (Facebook could not be reached or had a "
        "temporary fault). It will check again shortly.", code="lookup_failed", status=status,
        detail=redact(detail)[:500])


def fault(stage: str, page: str, detail: str, status: int | None = None, sent: bool = True) -> PublishError:
    """No usable answer (a 5xx, a broken connection, an unreadable body): what it means depends on the stage.

    `sent=False`: the request certainly never reached Facebook, so even a create published nothing.
    """
    if stage == "create" and sent:
        return ambiguous(page, detail, status)
    if stage == "lookup":
        return lookup_failed(page, detail, status)
    if stage == "delete":
        return Transient(DELETE_FAILED, code="server", status=status, detail=redact(detail)[:500])
    if stage == "comments":
        return Transient(f"The gateway could not read the comments on the Facebook Page {page} just now (Facebook "
                         "could not be reached or had a temporary fault). It will read them again shortly.",
                         code="server", status=status, detail=redact(detail)[:500])
    if stage == "moderate":
        return Transient("Facebook could not be reached, or had a temporary fault, so the comment has not been "
                         "changed yet. The gateway will try again shortly.", code="server", status=status,
                         detail=redact(detail)[:500])
    return Transient(UNREACHABLE, code="server", status=status, detail=redact(detail)[:500])


def error_for(response, stage: str, page: str, photo: int | None = None) -> PublishError:
    """Turn Facebook's error answer into a PublishError of the right kind for this stage."""
    error = parse(response)
    if error.status == 429 or error.code in RATE_LIMIT_CODES:
        return _rate_limited(response.headers, page, error, stage)
    temporary = error.status >= 500 or error.status == 408 or error.code in TEMPORARY_CODES
    if temporary or (error.status < 400 and error.code is None):  # the latter: a redirect, never followed
        return fault(stage, page, error.detail, error.status)
    return _refusal(stage, page, error, photo)


def _rate_limited(headers, page: str, error: GraphError, stage: str) -> RetryLater:
    retry_at = retry_at_from(headers)
    when = retry_at.strftime("%H:%M UTC on %d %B %Y")
    done = ("Nothing was changed on Facebook." if stage in COMMENT_STAGES else "Nothing was published.")
    return RetryLater(
        f"Facebook's limit on how often the gateway may post to or check the Page {page} has been reached. "
        f"{done} The gateway will try again automatically at {when}.",
        retry_at=retry_at, code="rate_limited", status=error.status, detail=error.detail)


def _refusal(stage: str, page: str, error: GraphError, photo: int | None) -> PermanentError:
    """Facebook refused: a person must fix something (token, permissions, Page, content) before trying again."""
    kw = {"status": error.status, "detail": error.detail}
    if error.code in TOKEN_CODES or error.status == 401:
        return PermanentError(_token_words(page, error.subcode), code="credentials", **kw)
    if error.code in (3, 10) or (error.code is not None and 200 <= error.code <= 299):
        return PermanentError(
            f"Facebook did not allow the gateway to do this on the Page {page}: the saved Page access token is "
            f"missing a permission.{error.said()} Someone who manages the Page needs to make a new Page access "
            f"token that has {PERMISSIONS} (made by a person who can create content on the Page) and enter it "
            "in the gateway.", code="permissions", **kw)
    if error.code == 368:
        return PermanentError(
            f"Facebook has temporarily blocked the Page {page} from doing this because of its rules on "
            f"content.{error.said()} Someone who manages the Page should sign in to Facebook and check the "
            "Page's notifications before anything else is posted.", code="blocked", **kw)
    if error.code == 506 and stage == "create":
        return PermanentError(
            f"Facebook refused the post because it is the same as the last one on the Page {page} (duplicate "
            "post). Change the wording if it really should go out again.", code="duplicate", **kw)
    if error.code == 1609005:
        return PermanentError(
            f"Facebook could not read the link in the post.{error.said()} Check the web address, then try again.",
            code="link", **kw)
    return _other(page, error, photo, kw)


def _other(page: str, error: GraphError, photo: int | None, kw: dict) -> PermanentError:
    if error.is_gone():
        return PermanentError(
            f"Facebook does not know the Page {page} by the saved Page ID, or the saved token cannot see it. "
            "Check the Page ID and the Page access token.", code="not_found", **kw)
    if photo is not None or error.status == 413:
        which = f"photo {photo}" if photo is not None else "the upload"
        size = " It is too large." if error.status == 413 else ""
        return PermanentError(f"Facebook would not accept {which}.{size}{error.said()} Try a different photo.",
                              code="photo", **kw)
    if error.code == 100:
        return PermanentError(f"Facebook rejected the request as invalid.{error.said()}", code="invalid", **kw)
    if error.status == 403:
        return PermanentError(f"Facebook did not permit this on the Page {page}.{error.said()}", code="forbidden",
                              **kw)
    return PermanentError(f"Facebook refused the request (error {error.status}).{error.said()}", code="refused",
                          **kw)


def _token_words(page: str, subcode: int | None) -> str:
    if subcode in (459, 464):
        return (f"Facebook has put a hold on the account of the person whose token the gateway uses for the Page "
                f"{page}. That person needs to sign in at facebook.com and follow Facebook's instructions. "
                f"{NEW_TOKEN}")
    if subcode == 460:
        return (f"The Facebook password of the person whose token the gateway uses for the Page {page} was "
                f"changed, so the token no longer works. {NEW_TOKEN}")
    if subcode == 492:
        return (f"The person whose token the gateway uses no longer has a role on the Page {page}, so the token "
                f"no longer works. {NEW_TOKEN}")
    return (f"Facebook did not accept the saved Page access token for the Page {page}: it may have expired or "
            f"been revoked. {NEW_TOKEN}")


def retry_at_from(headers) -> datetime:
    """When to try again: the longest `estimated_time_to_regain_access` (minutes) in the usage headers."""
    minutes = [m for name in USAGE_HEADERS for m in _regain_minutes(headers.get(name))]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    wait = max(minutes, default=0)
    return now + (timedelta(minutes=wait) if wait > 0 else FALLBACK_RETRY)


def _regain_minutes(raw) -> list[float]:
    """Every estimated_time_to_regain_access in one usage header (a JSON object, maybe keyed by business id)."""
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return []
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            wait = item.get("estimated_time_to_regain_access")
            if isinstance(wait, (int, float)) and not isinstance(wait, bool) and 0 < wait <= 7 * 24 * 60:
                found.append(float(wait))
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _clean(value, limit: int) -> str:
    text = value if isinstance(value, str) else ""
    return "".join(ch for ch in redact(text) if ch.isprintable())[:limit].strip()


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
