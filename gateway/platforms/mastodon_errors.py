"""Mastodon's refusals and faults, as the gateway's PublishError family in plain words.

Mastodon.py 2.x raises (mastodon/internals.py, `__api_request`):

* `MastodonNetworkError` — the request could not be completed (connection refused or broken, timeout);
* `MastodonRatelimitError` — a 429 with ratelimit_method="throw" (no response attached: the publisher keeps the
  last answer's headers for `X-RateLimit-Reset`), or a rate-limit header it could not read on any answer;
* `MastodonUnauthorizedError` (401), `MastodonNotFoundError` (404), `MastodonServerError` and its 500/502/503/504
  subclasses, and `MastodonAPIError` for every other status, each with args
  ("Mastodon API returned error", status, reason, the body's `error`); also `MastodonAPIError` with other args
  when a successful answer was not JSON.

Mastodon's error body is `{"error": "..."}` (https://docs.joinmastodon.org/entities/Error/); a 429 carries
`X-RateLimit-Reset` as an ISO 8601 time (https://docs.joinmastodon.org/api/rate-limits/, rack_attack.rb).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from mastodon import (
    MastodonAPIError, MastodonNetworkError, MastodonNotFoundError, MastodonRatelimitError, MastodonServerError,
    MastodonUnauthorizedError,
)

from gateway.platforms.base import Ambiguous, PermanentError, PublishError, RetryLater, Transient
from gateway.platforms.mastodon_account import redact

FALLBACK_RETRY = timedelta(minutes=5)  # Mastodon's general window (300 calls in 5 minutes), when no reset is given
STILL_PROCESSING = "not finished processing"  # 422 on create: "Cannot attach files that have not finished processing"


def unreachable(host: str) -> str:
    return (f"The Mastodon server {host} could not be reached, or had a temporary fault, before anything was "
            "published. It is safe to try again; the gateway will retry shortly.")


def delete_failed(host: str) -> str:
    return (f"The Mastodon server {host} did not confirm that the post was deleted (it could not be reached or had "
            "a temporary fault). The post may still be visible; the gateway will try again shortly.")


def ambiguous(who: str, detail: str, status: int | None = None) -> Ambiguous:
    return Ambiguous(
        f"The connection to Mastodon broke while the post was being sent, so it is not yet known whether it was "
        f"published. The gateway will check {who} before trying again, so it will not be posted twice.",
        code="unknown_outcome", status=status, detail=redact(detail)[:500])


def lookup_failed(who: str, detail: str, status: int | None = None) -> Transient:
    return Transient(
        f"The gateway could not check {who} just now (the server could not be reached or had a temporary "
        "fault). It will check again shortly.", code="lookup_failed", status=status, detail=redact(detail)[:500])


def error_for(exc: Exception, stage: str, handle: str, host: str, *, photo: int | None = None,
              last=None) -> PublishError:
    """The PublishError for a Mastodon.py exception raised at `stage`.

    Stages: credentials, instance, upload, processing, create, lookup, delete.  `last` is the last answer the
    server gave (status, headers), or None.  From the moment the create request is sent Mastodon may have the
    post, so there a fault or a lost answer is Ambiguous; anywhere else it is Transient (nothing was published).
    """
    who = f"@{handle} on {host}"
    status, said = _status_and_words(exc)
    kw = {"status": status, "detail": redact(f"{type(exc).__name__}: HTTP {status}: {said}")[:500]}
    if isinstance(exc, MastodonRatelimitError):
        if last is not None and last[0] == 429:
            return _rate_limited(last[1], who, {"status": 429, "detail": kw["detail"]})
        return _fault(stage, who, host, kw)  # a rate-limit header it could not read, on an answer that was no 429
    if isinstance(exc, (MastodonNetworkError, MastodonServerError)) or status == 408:
        return _fault(stage, who, host, kw)
    if isinstance(exc, MastodonAPIError) and status is None:  # an answer that was not what Mastodon sends
        return _fault(stage, who, host, kw)
    if status == 422 and STILL_PROCESSING in said.lower():
        return Transient(f"{host} is still processing a photo, so nothing was published yet. The gateway will try "
                         "again shortly.", code="media_processing", **kw)
    if isinstance(exc, MastodonUnauthorizedError):
        status = kw["status"] = 401
    if isinstance(exc, MastodonNotFoundError):
        status = kw["status"] = 404
    return _refusal(status, said, stage, who, host, photo, kw)


def _fault(stage: str, who: str, host: str, kw: dict) -> PublishError:
    if stage == "create":
        return ambiguous(who, kw["detail"], kw["status"])
    if stage == "lookup":
        return lookup_failed(who, kw["detail"], kw["status"])
    if stage == "delete":
        return Transient(delete_failed(host), code="server", **kw)
    return Transient(unreachable(host), code="server", **kw)


def _rate_limited(headers, who: str, kw: dict) -> RetryLater:
    retry_at = retry_at_from(headers)
    when = retry_at.strftime("%H:%M UTC on %d %B %Y")
    return RetryLater(f"Mastodon's limit on how often {who} may post or be checked has been reached. Nothing was "
                      f"published. The gateway will try again automatically at {when}.",
                      retry_at=retry_at, code="rate_limited", **kw)


def _refusal(status, said: str, stage: str, who: str, host: str, photo: int | None, kw: dict) -> PermanentError:
    """The server refused: a person must fix something (token, account, content) before trying again."""
    hay = said.lower()
    quoted = _quote(said, host)
    if status == 401:
        return PermanentError(
            f"{host} did not accept the school's saved access token for {who}: it may have been revoked, or the "
            "application deleted. Someone who manages the account needs to sign in to Mastodon, create a new "
            "access token (Preferences, Development) with the 'read' and 'write' scopes, and enter it in the "
            "gateway.", code="credentials", **kw)
    if status == 403:
        return _forbidden(hay, who, host, quoted, kw)
    if status == 413 or (photo is not None and "too large" in hay):
        which = f"photo {photo}" if photo is not None else "the post"
        return PermanentError(f"{host} refused {which} because it is too large.{quoted} Use a smaller photo.",
                              code="too_large", **kw)
    if photo is not None and status in (400, 415, 422):
        return PermanentError(f"{host} would not accept photo {photo}.{quoted} Try a different photo.",
                              code="photo", **kw)
    if status == 422:
        return PermanentError(f"{host} refused the post.{quoted} Change the post and try again.",
                              code="invalid", **kw)
    if status == 404:
        return PermanentError(
            f"{host} did not find what the gateway asked for ({_WHAT.get(stage, 'the request')}).{quoted} Check "
            "that the server address is the account's Mastodon server, and that the account still exists.",
            code="not_found", **kw)
    if status == 410:
        return PermanentError(f"{host} says {who} no longer exists.{quoted}", code="gone", **kw)
    if status == 400:
        return PermanentError(f"{host} rejected the request as invalid.{quoted}", code="invalid", **kw)
    return PermanentError(f"{host} refused the request (error {status}).{quoted}", code="refused", **kw)


_WHAT = {"credentials": "the account", "instance": "the server's settings", "upload": "the photo upload",
         "processing": "an uploaded photo", "create": "a new post", "lookup": "the account's posts"}


def _forbidden(hay: str, who: str, host: str, quoted: str, kw: dict) -> PermanentError:
    if "scope" in hay:
        return PermanentError(
            f"The access token for {who} is not allowed to do this: it needs the 'read' and 'write' scopes. "
            "Someone who manages the account needs to create a new access token with both scopes (Mastodon: "
            "Preferences, Development) and enter it in the gateway.", code="scope", **kw)
    if "disabled" in hay or "suspended" in hay:
        return PermanentError(
            f"{host} has disabled or suspended {who}, so nothing can be posted. Someone who manages the account "
            "needs to sign in and follow the server's instructions, or contact its moderators.",
            code="suspended", **kw)
    if "confirmed" in hay or "pending approval" in hay:
        return PermanentError(
            f"{who} cannot post yet: its e-mail address must be confirmed or its sign-up approved by the "
            "server's moderators. Someone who manages the account needs to sign in and finish this.",
            code="not_ready", **kw)
    return PermanentError(f"{host} did not permit {who} to do this.{quoted}", code="forbidden", **kw)


def retry_at_from(headers) -> datetime:
    """When to try again: X-RateLimit-Reset (ISO 8601, or seconds since 1970), else five minutes from now."""
    value = str((headers or {}).get("X-RateLimit-Reset") or "").strip()
    parsed = None
    if value.isdigit():
        parsed = datetime.fromtimestamp(int(value), tz=timezone.utc)
    elif value:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        return datetime.now(timezone.utc).replace(microsecond=0) + FALLBACK_RETRY
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _status_and_words(exc: Exception) -> tuple[int | None, str]:
    """(HTTP status, the server's own `error` words) from a Mastodon.py exception."""
    args = getattr(exc, "args", ())
    if isinstance(exc, MastodonAPIError) and len(args) >= 4 and isinstance(args[1], int):
        return args[1], str(args[3] or "")
    return None, str(args[0]) if args else ""


def _quote(said: str, host: str) -> str:
    """The server's own explanation, short, for the plain message."""
    said = "".join(ch for ch in redact(said) if ch.isprintable()).strip()[:300]
    if not said or said.lower() in ("forbidden", "not found", "record not found", "unprocessable entity"):
        return ""
    return f" {host} said: \u201c{said}\u201d."
