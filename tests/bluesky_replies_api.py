"""The reply part of the Bluesky emulator (tests/bluesky_api.py): conversations under the school's posts, the posts'
reply settings (threadgates) and the school's blocks, with the test controls every network's emulator offers.

Shapes follow the lexicons (bluesky-social/atproto, lexicons/app/bsky/...) and the reference AppView and PDS:
* app.bsky.feed.getPostThread ?uri&depth(0-1000, default 6)&parentHeight(0-1000, default 80) -> {thread, threadgate?}:
  an AppView method; a real PDS proxies it to the AppView (api.bsky.app), here the same server answers it.  The
  thread is a threadViewPost {post: postView, parent?, replies?}; a reply whose author's account is gone is a
  notFoundPost {uri, notFound: true}, one by an account the school blocks a blockedPost {uri, blocked: true,
  author: {did, viewer}}, neither with the replies below it; deleted replies are left out.  The post's threadgate
  view {uri, cid, record, lists} comes with the answer and on the root postView.  An unknown post is 400 NotFound
  "Post not found: <uri>"; a depth outside 0-1000 400 InvalidRequest.
* app.bsky.feed.getPosts ?uris (up to 25) -> {posts: [postView]}, posts not there left out.
* app.bsky.actor.getProfile ?actor -> profileViewDetailed with viewer.blocking; an account that is gone 400
  InvalidRequest "Profile not found".
* com.atproto.repo.putRecord {repo, collection, rkey, record, swapRecord?} -> {uri, cid, commit, validationStatus};
  a swapRecord that is not the current CID 400 InvalidSwap; a threadgate over the lexicon's limits (hiddenReplies
  at most 300, allow at most 5) 400 InvalidRequest.  getRecord and createRecord also take app.bsky.feed.threadgate
  and app.bsky.graph.block {subject, createdAt}.
* A threadgate counts (is_hidden) only under the root post's own record key with `post` naming that post: the
  AppView ignores any other, as the lexicon says.

Test controls: add_reply, is_hidden, rate_limit, unavailable (see each); also delete_reply, blocked,
set_threadgate and threadgate.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import time
from datetime import datetime, timezone

THREADGATE = "app.bsky.feed.threadgate"
BLOCK = "app.bsky.graph.block"
MAX_HIDDEN = 300
DEFS = "app.bsky.feed.defs"
_TID = "234567abcdefghijklmnopqrstuvwxyz"
# What a 429 carries for each kind: reads count against the PDS's 3,000 requests per 5 minutes per address, the
# writes of hiding and blocking against 5,000 points an hour (docs.bsky.app/docs/advanced-guides/rate-limits).
_POLICIES = {"read": ("3000", "3000;w=300"), "hide": ("5000", "5000;w=3600")}
_HIDE_READS = {"app.bsky.feed.getPosts", "app.bsky.actor.getProfile"}


class RepliesMixin:
    """Mixed into BlueskyEmulator: needs its did, handle, handles, records, _lock, _commit and error()."""

    def _init_replies(self) -> None:
        self.thread_posts: dict[str, dict] = {}  # uri -> reply (by anyone, the school too)
        self.actors: dict[str, dict] = {}  # did -> {"handle", "gone"}
        self.gates: dict[str, dict] = {}  # rkey of the school's post -> {"uri", "cid", "value"}
        self.blocks: dict[str, dict] = {}  # rkey -> {"uri", "cid", "value"}
        self.kind_faults: dict[str, object] = {}
        self._tids = itertools.count(int(time.time() * 1_000_000) << 10)

    # -- test controls -----------------------------------------------------------------------------------------

    def add_reply(self, parent_id: str, text: str, *, author: str = "aparent", author_gone: bool = False) -> str:
        """A reply by `author` (a handle; one without a dot is on .bsky.social) under the school's post or another
        reply; returns its at:// URI.  author_gone: the reply's author deleted their account since (a separate
        account, so other replies by `author` stay), and Bluesky serves the reply as a notFoundPost."""
        with self._lock:
            parent = self._entry(parent_id, include_gone=True)
            if parent is None:
                raise KeyError(f"no post or reply {parent_id}")
            handle = author.strip().lstrip("@").lower()
            handle = handle if "." in handle else handle + ".bsky.social"
            did = self.did if handle == self.handle and not author_gone else self._did_for(
                handle + ("#gone%d" % len(self.thread_posts) if author_gone else ""))
            self.actors.setdefault(did, {"handle": handle, "gone": author_gone})
            if not author_gone and did != self.did:
                self.handles.setdefault(handle, did)
            uri = f"at://{did}/app.bsky.feed.post/{self._tid()}"
            root = parent["root"] or parent["uri"]
            root_cid = (self._entry(root, include_gone=True) or parent)["cid"]
            now = _now()
            record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": now, "langs": ["en"],
                      "reply": {"root": {"uri": root, "cid": root_cid},
                                "parent": {"uri": parent["uri"], "cid": parent["cid"]}}}
            self.thread_posts[uri] = {"uri": uri, "cid": _cid(json.dumps(record, sort_keys=True)), "did": did,
                                      "record": record, "indexedAt": now, "parent": parent["uri"], "root": root,
                                      "gone": author_gone, "deleted": False}
            return uri

    def delete_reply(self, reply_id: str) -> None:
        """The reply's author deleted it."""
        self.thread_posts[reply_id]["deleted"] = True

    def is_hidden(self, reply_id: str) -> bool:
        """The reply is in hiddenReplies of its conversation's threadgate (the only hiding Bluesky has)."""
        with self._lock:
            root = self.thread_posts[reply_id]["root"]
            gate = self.gates.get(root.rsplit("/", 1)[-1])
            value = gate["value"] if gate and root.startswith(f"at://{self.did}/") else {}
            return value.get("post") == root and reply_id in (value.get("hiddenReplies") or [])

    def rate_limit(self, kind: str, reset: int) -> None:
        """The next call of `kind` ("read": getPostThread; "hide": the calls hide, restore and block make) is 429
        RateLimitExceeded with ratelimit-* headers, the limit resetting at Unix time `reset`."""
        from tests.bluesky_api import Fault

        limit, policy = _POLICIES[kind]
        self.kind_faults[kind] = Fault(429, self.error("RateLimitExceeded", "Rate Limit Exceeded"), {
            "ratelimit-limit": limit, "ratelimit-remaining": "0", "ratelimit-reset": str(reset),
            "ratelimit-policy": policy})

    def unavailable(self, kind: str) -> None:
        """The next call of `kind` is 503 NotEnoughResources (XRPC's name for 503): Bluesky is down."""
        from tests.bluesky_api import Fault

        assert kind in _POLICIES
        self.kind_faults[kind] = Fault(503, self.error("NotEnoughResources", "Service Unavailable"))

    def blocked(self, who: str) -> bool:
        """The school blocks the account (a DID, or a handle as add_reply took it)."""
        did = who if who.startswith("did:") else next(
            (d for d, a in self.actors.items() if a["handle"] in (who, who + ".bsky.social")), who)
        return any(b["value"].get("subject") == did for b in self.blocks.values())

    def set_threadgate(self, post_id: str, record: dict) -> None:
        """The post's reply settings, as if the school set them in the app."""
        rkey = post_id.rsplit("/", 1)[-1]
        self.gates[rkey] = {"uri": f"at://{self.did}/{THREADGATE}/{rkey}",
                            "cid": _cid(json.dumps(record, sort_keys=True)), "value": record}

    def threadgate(self, post_id: str) -> dict | None:
        gate = self.gates.get(post_id.rsplit("/", 1)[-1])
        return gate and gate["value"]

    # -- faults by kind ----------------------------------------------------------------------------------------

    def _kind_fault(self, call):
        """The fault rate_limit() or unavailable() set for this call's kind, used up."""
        kind = self._kind_of(call)
        return self.kind_faults.pop(kind, None) if kind else None

    def _kind_of(self, call) -> str | None:
        body = call.json if isinstance(call.json, dict) else {}
        if call.nsid == "app.bsky.feed.getPostThread":
            return "read"
        if call.nsid in _HIDE_READS or call.nsid == "com.atproto.repo.putRecord":
            return "hide"
        if (call.query.get("collection") or body.get("collection")) in (THREADGATE, BLOCK):
            return "hide"
        return None

    # -- the AppView -------------------------------------------------------------------------------------------

    def _get_post_thread(self, call):
        q = call.query
        try:
            depth, height = int(q.get("depth", 6)), int(q.get("parentHeight", 80))
        except ValueError:
            return 400, self.error("InvalidRequest", "depth must be an integer"), {}
        for name, value in (("depth", depth), ("parentHeight", height)):
            if not 0 <= value <= 1000:
                return 400, self.error("InvalidRequest", f"{name} must be between 0 and 1000"), {}
        entry = self._entry(q.get("uri", ""))
        if entry is None:
            return 400, self.error("NotFound", f"Post not found: {q.get('uri', '')}"), {}
        thread = self._node(entry, depth)
        node, parent = thread, entry["parent"]
        for _ in range(height):  # the posts above, each without its other replies
            above = self._entry(parent) if parent else None
            if above is None:
                break
            node["parent"] = {"$type": f"{DEFS}#threadViewPost", "post": self._post_view(above)}
            node, parent = node["parent"], above["parent"]
        body = {"thread": thread}
        gate = self._gate_view(entry["root"] or entry["uri"])
        if gate:
            body["threadgate"] = gate
        return 200, body, {}

    def _get_posts(self, call):
        uris = call.multi.get("uris", [])
        if len(uris) > 25:
            return 400, self.error("InvalidRequest", "uris must not have more than 25 elements"), {}
        found = [self._entry(uri) for uri in uris]
        return 200, {"posts": [self._post_view(entry) for entry in found if entry]}, {}

    def _get_profile(self, call):
        actor = call.query.get("actor", "")
        did = actor if actor.startswith("did:") else self.handles.get(actor.lower(), "")
        known = self.actors.get(did) or ({"handle": self.handle, "gone": False} if did == self.did else None)
        if known is None or known["gone"]:
            return 400, self.error("InvalidRequest", "Profile not found"), {}
        viewer = {"muted": False, "blockedBy": False}
        block = self._block_of(did)
        if block:
            viewer["blocking"] = block["uri"]
        return 200, {"did": did, "handle": known["handle"], "followersCount": 3, "followsCount": 5,
                     "postsCount": 8, "viewer": viewer, "labels": []}, {}

    def _node(self, entry: dict, depth: int) -> dict:
        node = {"$type": f"{DEFS}#threadViewPost", "post": self._post_view(entry)}
        if depth > 0:
            node["replies"] = [self._child(child, depth - 1) for child in self.thread_posts.values()
                               if child["parent"] == entry["uri"] and not child["deleted"]]
        return node

    def _child(self, entry: dict, depth: int) -> dict:
        if entry["gone"]:
            return {"$type": f"{DEFS}#notFoundPost", "uri": entry["uri"], "notFound": True}
        block = self._block_of(entry["did"])
        if block:
            return {"$type": f"{DEFS}#blockedPost", "uri": entry["uri"], "blocked": True,
                    "author": {"did": entry["did"], "viewer": {"blockedBy": False, "blocking": block["uri"]}}}
        return self._node(entry, depth)

    def _post_view(self, entry: dict) -> dict:
        handle = self.handle if entry["did"] == self.did else self.actors[entry["did"]]["handle"]
        replies = sum(1 for p in self.thread_posts.values() if p["parent"] == entry["uri"] and not p["deleted"])
        view = {"uri": entry["uri"], "cid": entry["cid"],
                "author": {"did": entry["did"], "handle": handle, "displayName": handle.split(".")[0].title(),
                           "viewer": {"muted": False, "blockedBy": False}, "labels": [],
                           "createdAt": "2023-09-01T08:00:00.000Z"},
                "record": entry["record"], "replyCount": replies, "repostCount": 0, "likeCount": 0,
                "quoteCount": 0, "indexedAt": entry["indexedAt"], "viewer": {"threadMuted": False}, "labels": []}
        gate = None if entry["root"] else self._gate_view(entry["uri"])
        if gate:
            view["threadgate"] = gate
        return view

    def _gate_view(self, root: str) -> dict | None:
        gate = self.gates.get(root.rsplit("/", 1)[-1]) if root.startswith(f"at://{self.did}/") else None
        if gate is None or gate["value"].get("post") != root:
            return None
        return {"uri": gate["uri"], "cid": gate["cid"], "record": gate["value"], "lists": []}

    def _entry(self, uri: str, include_gone: bool = False) -> dict | None:
        """A post the AppView can show: the school's (live) or a reply (not deleted, its author not gone)."""
        reply = self.thread_posts.get(uri)
        if reply is not None:
            return reply if not reply["deleted"] and (include_gone or not reply["gone"]) else None
        prefix = f"at://{self.did}/app.bsky.feed.post/"
        record = self.records.get(uri.removeprefix(prefix)) if uri.startswith(prefix) else None
        if record is None or record["deleted"]:
            return None
        return {"uri": uri, "cid": record["cid"], "did": self.did, "record": record["value"], "parent": None,
                "root": None, "indexedAt": record["value"].get("createdAt", _now()), "gone": False}

    # -- the repository: threadgates and blocks ----------------------------------------------------------------

    def _put_record(self, call):
        body = call.json if isinstance(call.json, dict) else {}
        if body.get("repo") not in (self.did, self.handle):
            return 401, self.error("AuthenticationRequired", "Authentication Required"), {}
        rkey, record = str(body.get("rkey") or ""), body.get("record") or {}
        if body.get("collection") != THREADGATE or record.get("$type") != THREADGATE:
            return 400, self.error("InvalidRequest", "Invalid collection"), {}
        problem = _invalid_threadgate(record)
        if problem:
            return 400, self.error("InvalidRequest", f"Invalid {THREADGATE} record: {problem}"), {}
        current = self.gates.get(rkey)
        if "swapRecord" in body and (current["cid"] if current else None) != body["swapRecord"]:
            return 400, self.error("InvalidSwap", f"Record was at {current['cid'] if current else 'null'}"), {}
        self.set_threadgate(f"at://{self.did}/app.bsky.feed.post/{rkey}", record)
        gate = self.gates[rkey]
        return 200, {"uri": gate["uri"], "cid": gate["cid"], "commit": self._commit(),
                     "validationStatus": "valid"}, {}

    def _create_other_record(self, body: dict):
        """createRecord of a block (the school's other records are posts, handled by the emulator itself)."""
        record = body.get("record") or {}
        if body.get("collection") != BLOCK or record.get("$type") != BLOCK:
            return 400, self.error("InvalidRequest", "Invalid collection"), {}
        if not str(record.get("subject", "")).startswith("did:") or "createdAt" not in record:
            return 400, self.error("InvalidRequest", f"Invalid {BLOCK} record: Record must have the properties "
                                                     "\"subject\" and \"createdAt\""), {}
        rkey = body.get("rkey") or self._tid()
        uri = f"at://{self.did}/{BLOCK}/{rkey}"
        self.blocks[rkey] = {"uri": uri, "cid": _cid(json.dumps(record, sort_keys=True)), "value": record}
        return 200, {"uri": uri, "cid": self.blocks[rkey]["cid"], "commit": self._commit(),
                     "validationStatus": "valid"}, {}

    def _get_other_record(self, q: dict):
        store = {THREADGATE: self.gates, BLOCK: self.blocks}.get(q.get("collection"), {})
        found = store.get(q.get("rkey", "")) if q.get("repo") in (self.did, self.handle) else None
        if found is None:
            uri = f"at://{q.get('repo')}/{q.get('collection')}/{q.get('rkey')}"
            return 400, self.error("RecordNotFound", f"Could not locate record: {uri}"), {}
        return 200, {"uri": found["uri"], "cid": found["cid"], "value": found["value"]}, {}

    def _block_of(self, did: str) -> dict | None:
        return next((b for b in self.blocks.values() if b["value"].get("subject") == did), None)

    def _did_for(self, seed: str) -> str:
        return "did:plc:" + "".join(_TID[b % 32] for b in hashlib.sha256(seed.encode()).digest()[:24])

    def _tid(self) -> str:
        value = next(self._tids)
        return "".join(_TID[(value >> shift) & 31] for shift in range(60, -1, -5))


REPLY_ROUTES = {
    ("GET", "app.bsky.feed.getPostThread"): "_get_post_thread",
    ("GET", "app.bsky.feed.getPosts"): "_get_posts",
    ("GET", "app.bsky.actor.getProfile"): "_get_profile",
    ("POST", "com.atproto.repo.putRecord"): "_put_record",
}


def _invalid_threadgate(record: dict) -> str | None:
    """What the PDS's lexicon check says of a threadgate record; None when it is valid."""
    if not str(record.get("post", "")).startswith("at://") or "createdAt" not in record:
        return "Record must have the properties \"post\" and \"createdAt\""
    hidden = record.get("hiddenReplies", [])
    if not isinstance(hidden, list) or not all(isinstance(u, str) and u.startswith("at://") for u in hidden):
        return "Record/hiddenReplies must be an array of at-uri strings"
    if len(hidden) > MAX_HIDDEN:
        return f"Record/hiddenReplies must not have more than {MAX_HIDDEN} elements"
    if len(record.get("allow", [])) > 5:
        return "Record/allow must not have more than 5 elements"
    return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cid(text: str) -> str:
    from tests.bluesky_api import _cid as cid

    return cid(text.encode())
