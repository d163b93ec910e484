"""Bluesky's answers turned into the gateway's errors: the right kind for each step, in plain words, with no secret.

Bluesky (like every AT Protocol server) answers an error with an HTTP status and an XRPC body
`{"error": "Name", "message": "..."}` (https://docs.bsky.app/docs/api/ and the lexicons):

* 400 `InvalidRequest` (a record Bluesky will not take, with its reason), `ExpiredToken` / `InvalidToken` (the
  session has run out or was revoked: sign in again), `RecordNotFound` (getRecord: no such post);
* 401 `AuthenticationRequired` ("Invalid identifier or password" from createSession), `AccountTakedown`,
  `AccountDeactivated`, `AuthFactorTokenRequired` (a main password with email sign-in codes); 403 `Forbidden`;
* 404 (no such method: the server address is wrong), 413 `PayloadTooLarge`;
* 429 `RateLimitExceeded` with `ratelimit-limit`, `-remaining`, `-reset` (Unix seconds) and `-policy` headers
  (https://docs.bsky.app/docs/advanced-guides/rate-limits: createSession 30 per 5 minutes and 300 a day per account,
  writes 5,000 points an hour and 35,000 a day, a create costing 3);
* 5xx `InternalServerError`, `UpstreamFailure`, `UpstreamTimeout`, `NotEnoughResources`.

The SDK raises BadRequestError (400), UnauthorizedError (401, 403), RateLimitExceededError (429), NetworkError (409,
413, 502, and network failures, with no response), InvokeTimeoutError (timeouts) and RequestException (the rest);
a connection dropped mid-answer comes through as httpx's own TransportError.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import httpx
from atproto_core.exceptions import AtProtocolError  # the SDK's base error; this part of atproto imports quickly

from gateway.platforms.base import Ambiguous, PermanentError, PublishError, RetryLater, Transient
from gateway.platforms.bluesky_text import MAX_GRAPHEMES
from gateway.platforms.credentials import REDACTED, SecretRegistry

# What an SDK call raises: its own errors, httpx's for a connection that broke mid-answer, and pydantic's (a
# ValueError) for an answer not shaped as documented.
SDK_ERRORS = (AtProtocolError, httpx.HTTPError, ValueError)
FALLBACK_RETRY = timedelta(minutes=5)  # Bluesky's shortest window (createSession), when a 429 carries no reset

APP_PASSWORDS = "the Bluesky app: Settings, Privacy and security, App passwords"
UNREACHABLE = ("Bluesky could not be reached, or had a temporary fault, before anything was published. It is safe "
               "to try again; the gateway will retry shortly.")
DELETE_FAILED = ("Bluesky did not confirm that the post was deleted (Bluesky could not be reached or had a temporary "
                 "fault). The post may still be visible; the gateway will try again shortly.")
READ_FAILED = ("The gateway could not read the replies on Bluesky just now (Bluesky could not be reached or had a "
               "temporary fault). It will read them again shortly.")
HIDE_FAILED = ("Bluesky could not be reached, or had a temporary fault, so nothing was changed yet. The gateway will "
               "try again shortly.")
NO_ANSWER = {"delete": DELETE_FAILED, "replies": READ_FAILED, "moderate": HIDE_FAILED}
SESSION_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})

# What must never reach a message: session tokens (JWTs), anything shaped like an app password, and the app
# passwords in use.
_SECRETS = SecretRegistry(
    "bluesky",
    (re.compile(r"eyJ[\w-]*\.[\w-]*\.?[\w-]*|\b[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}\b"), REDACTED),
)
redact = _SECRETS.redact
remember_secret = _SECRETS.remember


def xrpc_error(exc: BaseException) -> tuple[int | None, str, str]:
    """(HTTP status, XRPC error name, message) of an SDK error; (None, "", "") when no answer came."""
    response = getattr(exc, "response", None)
    if response is None:
        return None, "", ""
    content = response.content
    if isinstance(content, dict):
        name, message = content.get("error"), content.get("message")
    else:
        name, message = getattr(content, "error", None), getattr(content, "message", None)
    return response.status_code, str(name or ""), str(message or "")


def needs_new_session(exc: BaseException) -> bool:
    """The session ran out or was revoked (not the account or its password): signing in again may mend it."""
    from atproto_client.exceptions import LoginRequiredError  # atproto is slow to import: see bluesky_text
    from atproto_server.exceptions import InvalidTokenError

    if isinstance(exc, (LoginRequiredError, InvalidTokenError)):
        return True
    status, name, _ = xrpc_error(exc)
    return status in (400, 401) and name in SESSION_ERRORS


def is_not_found(exc: BaseException) -> bool:
    """getRecord's answer for a record that is not there (older servers say so only in the message)."""
    status, name, message = xrpc_error(exc)
    return status == 400 and (name == "RecordNotFound" or message.startswith("Could not locate record"))


def ambiguous(who: str, detail: str, status: int | None = None) -> Ambiguous:
    return Ambiguous(
        f"The connection to Bluesky broke while the post was being sent, so it is not yet known whether Bluesky "
        f"published it. The gateway will check {who} before trying again, so it will not be posted twice.",
        code="unknown_outcome", status=status, detail=redact(detail)[:500])


def lookup_failed(who: str, detail: str, status: int | None = None) -> Transient:
    return Transient(
        f"The gateway could not check {who} on Bluesky just now (Bluesky could not be reached or had a temporary "
        "fault). It will check again shortly.", code="lookup_failed", status=status, detail=redact(detail)[:500])


def error_for(exc: BaseException, stage: str, who: str, photo: int | None = None) -> PublishError:
    """The PublishError for a failed call at `stage`: login, prepare (before anything goes up), upload, create,
    lookup (find), delete, replies (reading them) or moderate (hiding, restoring, blocking)."""
    status, name, message = xrpc_error(exc)
    if status is None:
        return _no_answer(stage, who, type(exc).__name__)
    kw = {"status": status, "detail": redact(f"{name}: {message}" if message else name)[:500]}
    if status == 429:
        return _rate_limited(exc, who, kw)
    if status >= 500 or status in (408, 409):
        return _no_answer(stage, who, kw["detail"] or f"HTTP {status}", status)
    return _refusal(stage, who, name, message, photo, kw)


def _credentials_refused(who: str, **kw) -> PermanentError:
    return PermanentError(
        f"Bluesky did not accept the app password saved for {who}: it may have been deleted, or the account's handle "
        f"changed. Someone who manages the Bluesky account needs to create a new app password ({APP_PASSWORDS}) and "
        "enter it in the gateway.", code="credentials", **kw)


def _no_answer(stage: str, who: str, detail: str, status: int | None = None) -> PublishError:
    """No answer, or a fault on Bluesky's side: once the create request was sent, Bluesky may have the post."""
    detail = redact(detail)[:500]
    if stage == "create":
        return ambiguous(who, detail, status)
    if stage == "lookup":
        return lookup_failed(who, detail, status)
    code = "network" if status is None else "server"
    return Transient(NO_ANSWER.get(stage, UNREACHABLE), code=code, status=status, detail=detail)


def _rate_limited(exc: BaseException, who: str, kw: dict) -> RetryLater:
    retry_at = _retry_at(exc.response.headers)
    when = retry_at.strftime("%H:%M UTC on %d %B %Y")
    return RetryLater(
        f"Bluesky's limit on how often {who} may post, sign in, be checked or moderate replies has been reached. The "
        f"gateway will try again automatically at {when}.", retry_at=retry_at, code="rate_limited", **kw)


def _refusal(stage: str, who: str, name: str, message: str, photo: int | None, kw: dict) -> PermanentError:
    """Bluesky refused: a person must fix something (password, account, address, content) before trying again."""
    status, said = kw["status"], _quote(message)
    if name == "AccountTakedown":
        return PermanentError(
            f"Bluesky has taken down the {who} account, so nothing can be posted. Someone who manages the account "
            "needs to sign in at bsky.app and follow Bluesky's instructions.", code="suspended", **kw)
    if name == "AccountDeactivated":
        return PermanentError(
            f"The {who} account is deactivated on Bluesky. Someone who manages it needs to sign in at bsky.app to "
            "reactivate it.", code="deactivated", **kw)
    if name == "AuthFactorTokenRequired":
        return PermanentError(
            f"Bluesky asked for a sign-in code from email, so the password saved for {who} is the account's main "
            f"password. Create an app password ({APP_PASSWORDS}) and enter that in the gateway instead.",
            code="credentials", **kw)
    if status == 401 or name in SESSION_ERRORS:
        return _credentials_refused(who, **kw)
    if status == 413 or name == "PayloadTooLarge":
        what = f"Photo {photo} is" if photo else "The post is"
        return PermanentError(f"{what} too large for Bluesky.{said}", code="too_large", **kw)
    if photo is not None:
        return PermanentError(f"Bluesky would not accept photo {photo}.{said} Try a different photo.", code="photo",
                              **kw)
    if "grapheme" in message or "too long" in message.lower():
        return PermanentError(
            f"Bluesky refused the post because the text is too long (Bluesky allows {MAX_GRAPHEMES} characters, an "
            f"emoji counting as one).{said} Shorten it and try again.", code="too_long", **kw)
    if status == 404:
        return PermanentError(
            f"The Bluesky server address saved for {who} does not offer what the gateway needs (error 404). Check "
            "the server address: it is https://bsky.social unless the school runs its own.", code="address", **kw)
    if status == 403:
        return PermanentError(f"Bluesky did not permit {who} to do this.{said}", code="forbidden", **kw)
    if status == 400:
        return PermanentError(f"Bluesky rejected the request as invalid.{said}", code="invalid", **kw)
    return PermanentError(f"Bluesky refused the request (error {status}).{said}", code="refused", **kw)


def _quote(message: str) -> str:
    """Bluesky's own explanation, short, for the plain message."""
    said = "".join(ch for ch in redact(message) if ch.isprintable()).strip()[:300]
    return f" Bluesky said: \u201c{said}\u201d." if said else ""


def _retry_at(headers) -> datetime:
    """When to try again: the reset of the exhausted limit, else Retry-After, else a short wait."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    reset = _int(headers.get("ratelimit-reset"))
    if reset is not None:
        return datetime.fromtimestamp(reset, tz=timezone.utc)
    after = _int(headers.get("retry-after"))
    return now + (timedelta(seconds=after) if after is not None else FALLBACK_RETRY)


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
