"""X's error answers in plain words, as the PublishError kind that tells the caller what to do next.

Errors (https://docs.x.com/x-api/fundamentals/response-codes-and-errors): problem JSON `{"title", "detail", "type",
"status"}` with types like `about:blank`, `.../client-forbidden`, `.../usage-capped`, or
`{"errors": [{"message": ..., "code": ...}]}`.  Rate limits (https://docs.x.com/fundamentals/rate-limits): 429 with
`x-rate-limit-*` headers, and 24-hour limits for posting in `x-user-limit-24hour-*` / `x-app-limit-24hour-*`.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from gateway.platforms.base import Ambiguous, PermanentError, PublishError, RetryLater, Transient
from gateway.platforms.x_secrets import redact
from gateway.platforms.x_text import MAX_TEXT

FALLBACK_RETRY = timedelta(minutes=15)  # X's usual rate-limit window, when a 429 carries no reset header

UNREACHABLE = ("X could not be reached, or had a temporary fault, before anything was published. It is safe to "
               "try again; the gateway will retry shortly.")
DELETE_FAILED = ("X did not confirm that the post was deleted (X could not be reached or had a temporary fault). "
                 "The post may still be visible; the gateway will try again shortly.")


def ambiguous(handle: str, detail: str, status: int | None = None) -> Ambiguous:
    return Ambiguous(
        f"The connection to X broke while the post was being sent, so it is not yet known whether X "
        f"published it. The gateway will check @{handle} before trying again, so it will not be "
        "posted twice.", code="unknown_outcome", status=status, detail=detail)


def lookup_failed(handle: str, detail: str, status: int | None = None) -> Transient:
    return Transient(
        f"The gateway could not check @{handle} on X just now (X could not be reached or had a "
        "temporary fault). It will check again shortly.", code="lookup_failed", status=status, detail=detail)


def error_for(response, stage: str, handle: str, photo: int | None = None) -> PublishError:
    """Turn X's error answer into a PublishError of the right kind for this stage."""
    status = response.status_code
    payload = _json_or_none(response)
    messages = _x_messages(payload)
    hay = " ".join(messages).lower() + " " + str((payload or {}).get("type", "")).lower()
    kw = {"status": status, "detail": "; ".join(messages)[:500]}
    if status == 429:
        return _rate_limited(response.headers, hay, handle, kw)
    if status >= 500 or status == 408:
        return _server_fault(stage, handle, kw)
    return _refusal(stage, f"@{handle}", hay, _quote_x(messages), photo, kw)


def _rate_limited(headers, hay: str, handle: str, kw: dict) -> RetryLater:
    retry_at = _retry_at(headers)
    when = retry_at.strftime("%H:%M UTC on %d %B %Y")
    if "usage-capped" in hay or "usage cap" in hay or "usagecap" in hay:
        return RetryLater(
            f"The school's X API plan has used up its allowance for now. The gateway will try again at "
            f"{when}; if this keeps happening, the plan's limits need raising.",
            retry_at=retry_at, code="usage_cap", **kw)
    return RetryLater(
        f"X's limit on how often @{handle} may post or be checked has been reached. The gateway will try "
        f"again automatically at {when}.", retry_at=retry_at, code="rate_limited", **kw)


def _server_fault(stage: str, handle: str, kw: dict) -> PublishError:
    """A fault on X's side: after the create request was sent, X may have the post."""
    status = kw["status"]
    if stage == "create":
        return ambiguous(handle, f"HTTP {status}: {kw['detail']}"[:500], status=status)
    if stage == "lookup":
        return lookup_failed(handle, f"HTTP {status}", status=status)
    if stage == "delete":
        return Transient(DELETE_FAILED, code="server", **kw)
    return Transient(UNREACHABLE, code="server", **kw)


def _refusal(stage: str, who: str, hay: str, said: str, photo: int | None, kw: dict) -> PermanentError:
    """X refused: a person must fix something (keys, account, app, content) before trying again."""
    status = kw["status"]
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
        return PermanentError(f"X would not accept photo {photo}.{said} Try a different photo.", code="photo", **kw)
    if status == 403:
        return PermanentError(f"X did not permit {who} to do this.{said}", code="forbidden", **kw)
    if status == 400:
        return PermanentError(f"X rejected the request as invalid.{said}", code="invalid", **kw)
    return PermanentError(f"X refused the request (error {status}).{said}", code="refused", **kw)


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
