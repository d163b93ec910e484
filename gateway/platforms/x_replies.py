"""Replies under the school's X posts: read by X's recent search, hidden by X's hide-replies, authors muted.

Docs these calls follow (docs.x.com, as stored when this was written):

* `GET /2/tweets/search/recent` (tweepy `Client.search_recent_tweets`) with `query=conversation_id:<post id>`:
  every post of the conversation, at any depth, from the last 7 days, newest first; `since_id` (exclusive),
  `max_results` 10..100, `next_token` for the next page; `{"data": [...], "includes": {"users": [...]},
  "meta": {"newest_id", "oldest_id", "result_count", "next_token"}}`, or `{"meta": {"result_count": 0}}`.
  A `since_id` older than the 7 days is refused: 400 "'since_id' must be a tweet id created after ...".
  Long posts come with a shortened `text` and the whole text in `note_tweet.text`; links are t.co links, with
  the address as written in `entities.urls[].expanded_url`.  X charges per post read, so the cursor (since_id)
  keeps X from returning, and charging for, replies read before.
* `PUT /2/tweets/:id/hidden` `{"hidden": true|false}` (tweepy `hide_reply` / `unhide_reply`) ->
  `{"data": {"hidden": true}}`; only in conversations the account started (x-api/posts/hide-replies).
* `POST /2/users/:id/muting` `{"target_user_id"}` (tweepy `Client.mute`) -> `{"data": {"muting": true}}`
  (x-api/users/mutes).  X's API no longer lets apps block accounts, so block() mutes.

What X cannot say: search does not tell whether a reply is hidden (Reply.hidden is always False), and it cannot
tell a deleted post from a post without new replies: when the school's post is gone the read is simply empty.
"""
from __future__ import annotations

import html
import logging

import requests
import tweepy

from gateway.platforms.base import PermanentError, PublishError, Reply, ReplyPage, Transient
from gateway.platforms.x_errors import error_for

log = logging.getLogger(__name__)

READ_PAGE = 100  # X's maximum for recent search
# A safety stop for a conversation that has gone viral: 5,000 replies in one read.
READ_MAX_PAGES = 50
TWEET_FIELDS = ["author_id", "created_at", "conversation_id", "in_reply_to_user_id", "entities", "note_tweet"]

READ_FAILED = ("X could not be reached, or had a temporary fault, while the gateway was reading the replies to the "
               "school's posts. It will read them again shortly.")
HIDE_FAILED = ("X could not be reached, or had a temporary fault, so it is not yet known whether the reply was "
               "changed. The gateway will try again shortly.")
ALREADY_GONE = "It was already gone from X."


class _StaleCursor(Exception):
    """X refused a since_id older than its 7-day search window."""


# -- reading ------------------------------------------------------------------------------------------------------

def read_replies(publisher, post_id: str, cursor: str | None) -> ReplyPage:
    """Every reply in the post's conversation newer than `cursor`, the school's own left out."""
    post_id = _checked_id(post_id, "post")
    cursor = _checked_id(cursor, "cursor") if cursor else None
    me = _my_id(publisher)
    try:
        return _read(publisher, post_id, cursor, me, floor=cursor)
    except _StaleCursor:
        # Every post X can still search is newer than a cursor older than the window: read them all.
        log.info("X cursor %s for post %s is older than X's search window; reading without it", cursor, post_id)
        return _read(publisher, post_id, None, me, floor=cursor)


def _read(publisher, post_id: str, since: str | None, me: str, floor: str | None) -> ReplyPage:
    replies: list[Reply] = []
    newest = int(floor or 0)
    token = None
    for _ in range(READ_MAX_PAGES):
        page = _search(publisher, post_id, since, token)
        users = {str(u.id): u.username for u in (page.includes or {}).get("users", [])}
        for tweet in page.data or []:
            newest = max(newest, int(tweet.id))
            if str(tweet.author_id) != me:  # the school's own posts in the thread are not replies
                replies.append(_reply(tweet, users))
        token = (page.meta or {}).get("next_token")
        if not token:
            break
    else:
        # Stopping here with a new cursor would skip the older replies for good: keep the old one, so the
        # next read starts again from it (and pays again) rather than miss a reply.
        log.warning("more than %d pages of replies under X post %s; cursor not advanced", READ_MAX_PAGES, post_id)
        return ReplyPage(replies, cursor=floor)
    log.info("read %d repl(ies) under X post %s", len(replies), post_id)
    return ReplyPage(replies, cursor=str(newest) if newest else None)


def _search(publisher, post_id: str, since: str | None, token: str | None):
    try:
        return publisher.client.search_recent_tweets(
            query=f"conversation_id:{post_id}", since_id=since, next_token=token, max_results=READ_PAGE,
            tweet_fields=TWEET_FIELDS, expansions=["author_id"], user_fields=["username"], user_auth=True,
        )
    except tweepy.BadRequest as exc:
        if since and _stale_since_id(exc.response):
            raise _StaleCursor() from exc
        raise _error(exc.response, "read", publisher.handle) from exc
    except tweepy.HTTPException as exc:
        raise _error(exc.response, "read", publisher.handle) from exc
    except (requests.RequestException, ValueError) as exc:
        raise Transient(READ_FAILED, code="network", detail=type(exc).__name__) from exc


def _reply(tweet, users: dict[str, str]) -> Reply:
    """X's post as a Reply: the whole text of a long post, links as written, & < > unescaped."""
    data = tweet.data
    note = data.get("note_tweet") or {}
    text = note.get("text") or tweet.text or ""
    entities = note.get("entities") if note.get("text") else data.get("entities")
    for url in (entities or {}).get("urls") or []:
        if url.get("url") and url.get("expanded_url"):
            text = text.replace(url["url"], url["expanded_url"])
    author_id = str(tweet.author_id or "")
    username = users.get(author_id, "")
    if not username:  # X could not give the author: the account is gone (deleted or suspended)
        author_id = ""
    where = username or "i/web"
    return Reply(platform_id=str(tweet.id), text=html.unescape(text), author=username, author_id=author_id,
                 url=f"https://x.com/{where}/status/{tweet.id}", created_at=tweet.created_at)


def _stale_since_id(response) -> bool:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return False
    return any("since_id" in str(e.get("message", "")) for e in errors if isinstance(e, dict))


# -- hiding and muting --------------------------------------------------------------------------------------------

def set_hidden(publisher, reply: Reply, hidden: bool) -> str:
    """Hide (or show again) a reply in one of the school's conversations."""
    reply_id = _checked_id(reply.platform_id, "reply")
    action = "hide" if hidden else "restore"
    call = publisher.client.hide_reply if hidden else publisher.client.unhide_reply
    try:
        response = call(reply_id, user_auth=True)
    except tweepy.NotFound as exc:
        if hidden:
            log.info("X reply %s was already gone", reply_id)
            return ALREADY_GONE
        raise PermanentError("The reply is no longer on X (its author or X removed it), so it cannot be shown "
                             "again.", code="reply_gone", status=404) from exc
    except tweepy.HTTPException as exc:
        raise _error(exc.response, action, publisher.handle) from exc
    except (requests.RequestException, ValueError) as exc:
        raise Transient(HIDE_FAILED, code="network", detail=type(exc).__name__) from exc
    state = response.data.get("hidden") if isinstance(response.data, dict) else None
    if state is not hidden:
        raise Transient(HIDE_FAILED, code="unconfirmed", detail=f"hidden={state!r}")
    log.info("%s X reply %s", "hid" if hidden else "unhid", reply_id)
    who = f" by @{reply.author}" if reply.author else ""
    if hidden:
        return (f"The reply{who} was hidden on X: it no longer shows under the school's post, though people can "
                "still open it from X's \u201chidden replies\u201d.")
    return f"The reply{who} shows under the school's post on X again."


def mute_author(publisher, reply: Reply) -> str:
    """X's API no longer lets apps block accounts: mute the author, the most it allows."""
    if not reply.author_id:
        return "The reply's author no longer has an X account, so there was nobody to mute."
    target = _checked_id(reply.author_id, "author")
    who = f"@{reply.author}" if reply.author else "The reply's author"
    try:
        response = publisher.client.mute(target, user_auth=True)
    except tweepy.NotFound:
        return f"{who}'s X account is already gone, so there was nobody to mute."
    except tweepy.HTTPException as exc:
        raise _error(exc.response, "block", publisher.handle) from exc
    except (requests.RequestException, ValueError) as exc:
        raise Transient(HIDE_FAILED, code="network", detail=type(exc).__name__) from exc
    state = response.data.get("muting") if isinstance(response.data, dict) else None
    if state is not True:
        raise Transient(HIDE_FAILED, code="unconfirmed", detail=f"muting={state!r}")
    log.info("muted X user %s", target)
    return (f"{who} was muted on X: the school's account no longer sees their posts. X does not let the gateway "
            "block accounts, so they can still see and reply to the school's posts.")


# -- shared -------------------------------------------------------------------------------------------------------

def _error(response, action: str, handle: str) -> PublishError:
    """X's error answer in words about replies (error_for speaks of publishing)."""
    error = error_for(response, "replies", handle)
    kw = {"code": error.code, "status": error.status, "detail": error.detail}
    if isinstance(error, Transient):
        return Transient(READ_FAILED if action == "read" else HIDE_FAILED, **kw)
    if error.code == "forbidden" and action in ("hide", "restore"):
        return PermanentError(
            f"X would not let @{handle} {'hide' if action == 'hide' else 'show again'} this reply. X only allows "
            "this in conversations the school's account started, and never for a reply someone at the school "
            "chose to show again on X itself; it can be reported to X instead.", **kw)
    return error


def _my_id(publisher) -> str:
    try:
        return publisher._whoami(stage="replies")[0]
    except Transient as exc:
        raise Transient(READ_FAILED, code=exc.code, status=exc.status, detail=exc.detail) from exc


def _checked_id(value, what: str) -> str:
    """X ids are digits; anything else would change the request's path or query."""
    value = str(value or "").strip()
    if not value.isdigit():
        raise ValueError(f"bad X {what} id")
    return value
