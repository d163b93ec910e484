"""Replies under the school's Bluesky posts: reading them, hiding and restoring them, blocking their authors.

Reading (`app.bsky.feed.getPostThread`, an AppView method that the account's PDS proxies): the whole conversation
under the post, `depth` 1000 (the lexicon's maximum) and `parentHeight` 0, in one call.  The answer is a tree of
`threadViewPost`s; a reply that was deleted, or whose author's account is gone, comes as a `notFoundPost` and one by
an account the school blocks as a `blockedPost`: neither has text, and neither carries the replies below it, so
those are not read (nor shown under the post to anyone reading it in the app).  Bluesky cannot tell what is new,
so every read returns every reply and the cursor stays None.  A post that is not there is 400 `NotFound`.

Hiding: a post's reply settings are its threadgate record (`app.bsky.feed.threadgate`, in the school's repository,
under the post's own record key), whose `hiddenReplies` lists the hidden replies' addresses (at most 300, by the
lexicon).  Bluesky then shows them only behind "hidden replies", where anyone can still open them.  The current
record is read (`com.atproto.repo.getRecord`; `RecordNotFound` means none yet) and written back whole with
`com.atproto.repo.putRecord`, swapping on its CID, so that who-may-reply rules (`allow`, whose absence means
anyone may) stay exactly as the school set them.  With 300 hidden already, no more can be hidden: PermanentError.

Blocking: an `app.bsky.graph.block` record naming the author's DID, after `app.bsky.actor.getProfile` has shown
that the account still exists and is not blocked already.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from gateway.platforms.base import PermanentError, Reply, ReplyPage, Transient
from gateway.platforms.bluesky_errors import SDK_ERRORS, is_not_found, xrpc_error

log = logging.getLogger(__name__)

POST = "app.bsky.feed.post"
THREADGATE = "app.bsky.feed.threadgate"
BLOCK = "app.bsky.graph.block"
THREAD_VIEW = "app.bsky.feed.defs#threadViewPost"
MAX_DEPTH = 1000  # getPostThread's largest depth
MAX_HIDDEN = 300  # app.bsky.feed.threadgate: hiddenReplies maxLength
GONE = "It was already gone from Bluesky."
PROFILE_GONE = ("InvalidRequest", "AccountDeactivated", "AccountTakedown")  # getProfile of an account not there
_POST_URI = re.compile(r"^at://(did:[a-z]+:[A-Za-z0-9._:%-]+)/app\.bsky\.feed\.post/([A-Za-z0-9._~:-]{1,512})$")


class BlueskyReplies:
    """What the publisher's replies(), hide(), restore() and block() do, through its signed-in Connection."""

    def __init__(self, connection):
        self.connection = connection
        self.who = connection.account.who

    def read(self, post_id: str, cursor: str | None) -> ReplyPage:
        """Every reply at any depth, the school's own left out; Bluesky has no cursor, so all of them each time."""
        post_uri = _uri(post_id, "post")
        me = self.connection.session("replies").did
        response = self.connection.call("replies", lambda client: self._thread(client, post_uri))
        root = response.thread
        if _kind(root) != THREAD_VIEW:  # the lexicon allows a notFoundPost or blockedPost at the top too
            raise self._post_gone(post_uri)
        hidden = _hidden(response)
        replies = [_reply(node.post, hidden) for node in _walk(root) if str(node.post.author.did) != me]
        log.info("read %d Bluesky replies under %s", len(replies), post_uri)
        return ReplyPage(replies, cursor=None)

    def hide(self, post_id: str, reply: Reply) -> str:
        did, rkey = self._own_post(post_id, "hidden")
        post_uri, uri, who = f"at://{did}/{POST}/{rkey}", _uri(reply.platform_id, "reply"), _who(reply)
        found = self.connection.call("moderate", lambda client: client.app.bsky.feed.get_posts({"uris": [uri]}))
        if not found.posts:
            return GONE
        if _root_of(found.posts[0]) != post_uri:
            raise PermanentError(f"The reply by {who} is not in the conversation under this post of {self.who}, so "
                                 "the post's reply settings cannot hide it.", code="not_in_thread")

        def add(hidden: list[str]) -> list[str] | None:
            if uri in hidden:
                return None
            if len(hidden) >= MAX_HIDDEN:
                raise PermanentError(
                    f"Bluesky lets an account hide at most {MAX_HIDDEN} replies under one post, and this post has "
                    f"that many hidden already, so the reply by {who} was not hidden. Delete the post, or turn off "
                    "replies to it in the Bluesky app (the post's menu, 'Edit interaction settings').",
                    code="hide_limit")
            return hidden + [uri]

        if not self._update_gate(did, rkey, post_uri, add):
            return f"The reply by {who} was already hidden under the school's post on Bluesky."
        log.info("hid Bluesky reply %s under %s", uri, post_uri)
        return (f"Hid the reply by {who} under the school's post on Bluesky: it is now behind 'hidden replies', "
                "where people can still open it.")

    def restore(self, post_id: str, reply: Reply) -> str:
        did, rkey = self._own_post(post_id, "restored")
        post_uri, uri, who = f"at://{did}/{POST}/{rkey}", _uri(reply.platform_id, "reply"), _who(reply)

        def remove(hidden: list[str]) -> list[str] | None:
            return [u for u in hidden if u != uri] if uri in hidden else None

        if not self._update_gate(did, rkey, post_uri, remove):
            return f"The reply by {who} was not hidden on Bluesky, so there was nothing to restore."
        log.info("restored Bluesky reply %s under %s", uri, post_uri)
        return f"Restored the reply by {who}: it shows under the school's post on Bluesky again."

    def block(self, reply: Reply) -> str:
        who, did = _who(reply), reply.author_id
        if not did:
            return "Nobody was blocked: the reply's author no longer has a Bluesky account."
        me = self.connection.session("moderate").did
        if did == me:
            return "Nobody was blocked: that reply is the school's own."
        profile = self.connection.call("moderate", lambda client: _profile(client, did))
        if profile is None:
            return f"Nobody was blocked: the account of {who} is already gone from Bluesky."
        if profile.viewer is not None and profile.viewer.blocking:
            return f"{who} was already blocked on Bluesky."
        record = {"$type": BLOCK, "subject": did, "createdAt": _now()}
        self.connection.call("moderate", lambda client: client.com.atproto.repo.create_record(
            {"repo": me, "collection": BLOCK, "record": record}))
        log.info("blocked Bluesky account %s", did)
        return (f"Blocked {who} on Bluesky: they can no longer reply to, quote or mention the school's account, and "
                "the school's account no longer sees their posts.")

    # -- the steps ---------------------------------------------------------------------------------------------

    def _thread(self, client, post_uri: str):
        try:
            return client.app.bsky.feed.get_post_thread({"uri": post_uri, "depth": MAX_DEPTH, "parentHeight": 0})
        except SDK_ERRORS as exc:
            if xrpc_error(exc)[:2] == (400, "NotFound"):
                raise self._post_gone(post_uri) from exc
            raise

    def _post_gone(self, post_uri: str) -> PermanentError:
        return PermanentError(f"The post of {self.who} is no longer on Bluesky, so it has no replies to read or "
                              "hide.", code="post_gone", status=400, detail=f"NotFound: {post_uri}")

    def _own_post(self, post_id: str, done: str) -> tuple[str, str]:
        """The post's DID and record key; only the post's own account can change its reply settings."""
        did, rkey = _POST_URI.match(_uri(post_id, "post")).groups()
        if did != self.connection.session("moderate").did:
            raise PermanentError(f"This post is on another Bluesky account, not {self.who}, so its replies cannot be "
                                 f"{done} with this account's app password.", code="other_account")
        return did, rkey

    def _update_gate(self, did: str, rkey: str, post_uri: str, change) -> bool:
        """Writes the post's threadgate with change(hiddenReplies), unless that is None; False if nothing changed."""
        for _ in range(2):  # a second try only when the record changed between reading and writing it
            current, cid = self._gate(did, rkey)
            hidden = change([str(uri) for uri in current.get("hiddenReplies") or []])
            if hidden is None:
                return False
            # Everything else in the record, `allow` above all, stays exactly as it was.
            record = {**current, "hiddenReplies": hidden} if current else {
                "$type": THREADGATE, "post": post_uri, "createdAt": _now(), "hiddenReplies": hidden}
            data = {"repo": did, "collection": THREADGATE, "rkey": rkey, "record": record}
            if cid:
                data["swapRecord"] = cid  # someone editing the reply settings meanwhile is not overwritten
            if self.connection.call("moderate", lambda client: _put(client, data)):
                return True
        raise Transient("The post's reply settings on Bluesky were being changed at the same moment, so nothing "
                        "was changed yet. The gateway will try again shortly.", code="conflict")

    def _gate(self, did: str, rkey: str) -> tuple[dict, str | None]:
        """The post's threadgate record as Bluesky holds it, and its CID; ({}, None) when there is none."""
        def get(client):
            try:
                return client.com.atproto.repo.get_record({"repo": did, "collection": THREADGATE, "rkey": rkey})
            except SDK_ERRORS as exc:
                if is_not_found(exc):
                    return None
                raise

        response = self.connection.call("moderate", get)
        if response is None:
            return {}, None
        return _as_dict(response.value), response.cid


def _put(client, data: dict) -> bool:
    """putRecord; False when the record is no longer the one read (InvalidSwap)."""
    try:
        client.com.atproto.repo.put_record(data)
        return True
    except SDK_ERRORS as exc:
        if xrpc_error(exc)[:2] == (400, "InvalidSwap"):
            return False
        raise


def _profile(client, did: str):
    """The author's profile as the school's account sees it; None when the account is gone or suspended."""
    try:
        return client.app.bsky.actor.get_profile({"actor": did})
    except SDK_ERRORS as exc:
        status, name, _ = xrpc_error(exc)
        if status == 400 and name in PROFILE_GONE:
            return None
        raise


def _walk(root):
    """The readable replies below `root`, depth first in Bluesky's order (no recursion: threads may be deep)."""
    stack = list(reversed(root.replies or []))
    while stack:
        node = stack.pop()
        if _kind(node) != THREAD_VIEW or node.post is None:
            continue  # notFoundPost or blockedPost: no text, and the replies below it are not given
        yield node
        stack.extend(reversed(node.replies or []))


def _reply(post, hidden: set[str]) -> Reply:
    author, record, uri = post.author, post.record, str(post.uri)
    handle, did = str(author.handle or ""), str(author.did or "")
    # "handle.invalid" is Bluesky's mark for a handle that no longer checks out; the DID still finds the profile
    profile = did if not handle or handle.endswith(".invalid") else handle
    return Reply(platform_id=uri, text=str(getattr(record, "text", None) or ""), author=handle, author_id=did,
                 url=f"https://bsky.app/profile/{profile}/post/{uri.rsplit('/', 1)[-1]}",
                 created_at=_when(getattr(record, "created_at", None)) or _when(post.indexed_at),
                 hidden=uri in hidden)


def _hidden(response) -> set[str]:
    """The hidden replies' addresses, from the thread's threadgate (also given on the post itself)."""
    gate = response.threadgate or getattr(response.thread.post, "threadgate", None)
    record = getattr(gate, "record", None)
    return {str(uri) for uri in (getattr(record, "hidden_replies", None) or [])}


def _root_of(post) -> str | None:
    """The address of the conversation's first post, from the reply's record; None when it is not a reply."""
    reply = getattr(post.record, "reply", None)
    root = getattr(reply, "root", None)
    return str(root.uri) if root is not None and root.uri else None


def _kind(node) -> str:
    """A union member's $type: SDK models carry it as py_type, the SDK's fallback DotDict as "$type"."""
    from atproto_client.models.dot_dict import DotDict  # atproto is slow to import: see bluesky_text

    kind = node["$type"] if isinstance(node, DotDict) else getattr(node, "py_type", None)
    return str(kind or "")


def _as_dict(value) -> dict:
    """A record the SDK parsed, back as the JSON Bluesky holds (unknown fields kept)."""
    from atproto_client.models.dot_dict import DotDict
    from atproto_client.models.utils import get_model_as_dict

    if isinstance(value, DotDict):
        return value.to_dict()
    return dict(value) if isinstance(value, dict) else get_model_as_dict(value)


def _uri(value: str, what: str) -> str:
    if not _POST_URI.match(str(value or "")):
        raise ValueError(f"bad Bluesky {what} id")
    return str(value)


def _who(reply: Reply) -> str:
    return f"@{reply.author}" if reply.author else "an account that is gone"


def _when(value) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
