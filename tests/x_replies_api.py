"""The replies part of the X API emulator (a mixin of XApiEmulator): replies by other people under the school's
posts, at any depth, X's recent search over them, hiding replies and muting their authors.

Shapes follow X's documentation (docs.x.com):
* GET /2/tweets/search/recent (x-api/posts/search-recent-posts; search/integrate/build-a-query for the
  `conversation_id:` operator): posts of the last 7 days, newest first; `since_id` exclusive, `max_results`
  10..100 (400 otherwise), `next_token`; fields only when asked for in `tweet.fields` (`author_id`, `created_at`,
  `conversation_id`, `in_reply_to_user_id`, `entities`, `note_tweet`), `includes.users` with `expansions=author_id`
  (`username` always, as X gives `id`, `name`, `username` by default).  `{"data", "includes", "meta":
  {"newest_id", "oldest_id", "result_count", "next_token"}}`; nothing: `{"meta": {"result_count": 0}}`.
  A since_id older than 7 days: 400 with `errors[].message` "'since_id' must be a tweet id created after ...".
  Text as X shows it: t.co links (the address in `entities.urls[].expanded_url`), & < > escaped; a text longer than
  280 is cut short in `text` and whole in `note_tweet.text` (long posts).  An author X cannot give (the account is
  gone) is left out of `includes.users` and named in a partial error (`errors[]` with `resource-not-found`,
  "Could not find user with author_id: [id].").  Once the school's post is deleted, its conversation is no longer
  found (as this project's brief describes X; unverified: X may keep returning the replies).  Every post returned
  is counted in `posts_read` (X charges per post read).
* PUT /2/tweets/:id/hidden (x-api/posts/hide-replies): `{"hidden": bool}` -> `{"data": {"hidden": bool}}`,
  hiding twice succeeds; a reply in a conversation the account did not start, or the account's own reply: 403
  (X's wording for this is not documented; "You are not permitted to hide this reply." here); unknown id: 404.
* POST /2/users/:id/muting (x-api/users/mutes): `{"target_user_id"}` -> `{"data": {"muting": true}}`; `:id` must be
  the authenticated user (its id is the number before the '-' of the access token); an unknown or gone target: 404.
* 429: X's problem "Too Many Requests" with `x-rate-limit-*` headers (fundamentals/rate-limits: recent search 300,
  hide replies 50, mutes 50 per 15 minutes per user).

Test controls, the same for every network: add_reply, is_hidden, rate_limit(kind, reset), unavailable(kind), with
kind "read" (recent search) or "hide" (hide/unhide and mute).  X only: add_other_post, remove_reply, `mutes`,
`posts_read`.
"""
from __future__ import annotations

import itertools
import re
from datetime import timedelta, timezone

from tests.emulation import Fault

REPLY_ENDPOINTS = {
    "tweets/search/recent": ("GET", r"/2/tweets/search/recent"),
    "tweets/hidden": ("PUT", r"/2/tweets/(?P<id>\d+)/hidden"),
    "users/muting": ("POST", r"/2/users/(?P<id>\d+)/muting"),
}
KINDS = {"tweets/search/recent": "read", "tweets/hidden": "hide", "users/muting": "hide"}
RATE_LIMITS = {"read": 300, "hide": 50}  # per 15 minutes per user, as X documents them
SEARCH_WINDOW = timedelta(days=7)
LONG_TEXT = 280
INVALID = "https://api.twitter.com/2/problems/invalid-request"
TOKEN_PREFIX = "b26v89c19zqg8o3f"  # X's tokens are opaque; this one carries the offset of the next page
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


class XRepliesMixin:
    """Needs from the emulator: tweets, clock, user_id, username, _tweet_ids, _as_x_shows, problem."""

    def _init_replies(self) -> None:
        self.replies: dict[str, dict] = {}
        self.others: dict[str, dict] = {}  # posts by other people, starting conversations not the school's
        self.users: dict[str, dict] = {self.user_id: {"id": self.user_id, "username": self.username, "gone": False}}
        self.mutes: set[str] = set()
        self.posts_read = 0
        self._kind_faults: dict[str, Fault] = {}
        self._user_ids = itertools.count(2244994945, 7777)

    # -- test controls (the same on every network) ---------------------------------------------------------------

    def add_reply(self, parent_id: str, text: str, *, author: str = "aparent", author_gone: bool = False) -> str:
        """A reply by `author` under the school's post or under another reply; its X post id."""
        parent = self._any_post(parent_id)
        user = self._user(author)
        if author_gone:
            user["gone"] = True
        reply_id = str(next(self._tweet_ids))
        shown, links = self._shown_with_links(text)
        self.replies[reply_id] = {
            "id": reply_id, "submitted_text": text, "text": shown, "links": links, "author_id": user["id"],
            "conversation_id": parent["conversation_id"], "in_reply_to_user_id": parent["author_id"],
            "created_at": self.clock(), "deleted": False, "hidden": False,
        }
        return reply_id

    def is_hidden(self, reply_id: str) -> bool:
        return self.replies[reply_id]["hidden"]

    def rate_limit(self, kind: str, reset: int) -> None:
        """The next call of `kind` answers X's 429 with its rate-limit headers, reset at Unix time `reset`."""
        assert kind in RATE_LIMITS, kind
        self._kind_faults[kind] = Fault(
            status=429, body=self.problem(429, "Too Many Requests", "Too Many Requests"),
            headers={"x-rate-limit-limit": str(RATE_LIMITS[kind]), "x-rate-limit-remaining": "0",
                     "x-rate-limit-reset": str(reset)})

    def unavailable(self, kind: str) -> None:
        assert kind in RATE_LIMITS, kind
        self._kind_faults[kind] = Fault(status=503, body=self.problem(503, "Service Unavailable",
                                                                      "Service Unavailable"))

    # -- X only --------------------------------------------------------------------------------------------------

    def add_other_post(self, text: str, *, author: str = "anotherschool") -> str:
        """A post by someone else: its conversation is not the school's to moderate."""
        post_id = str(next(self._tweet_ids))
        self.others[post_id] = {"id": post_id, "author_id": self._user(author)["id"], "conversation_id": post_id,
                                "deleted": False}
        return post_id

    def remove_reply(self, reply_id: str) -> None:
        """The reply's author deleted it."""
        self.replies[reply_id]["deleted"] = True

    # -- internals -----------------------------------------------------------------------------------------------

    def _kind_fault(self, endpoint: str) -> Fault | None:
        kind = KINDS.get(endpoint)
        return self._kind_faults.pop(kind, None) if kind else None

    def _user(self, username: str) -> dict:
        for user in self.users.values():
            if user["username"].lower() == username.lower():
                return user
        user = {"id": str(next(self._user_ids)), "username": username, "gone": False}
        self.users[user["id"]] = user
        return user

    def _any_post(self, post_id: str) -> dict:
        if post_id in self.tweets:
            return {"conversation_id": post_id, "author_id": self.user_id}
        return self.replies.get(post_id) or self.others[post_id]

    def _conversation_root(self, conversation_id: str) -> dict | None:
        if conversation_id in self.tweets:
            return {"author_id": self.user_id, "deleted": self.tweets[conversation_id]["deleted"]}
        return self.others.get(conversation_id)

    def _shown_with_links(self, text: str) -> tuple[str, list[dict]]:
        """X's text and the t.co links in it with the addresses they stand for."""
        from twitter_text import extract_urls_with_indices

        links = []
        for url in extract_urls_with_indices(text):
            links.append({"expanded_url": url["url"] if "://" in url["url"] else "http://" + url["url"]})
        shown = self._as_x_shows(text, [])
        tco = re.findall(r"https://t\.co/[0-9a-f]{10}", shown)
        for link, short in zip(links, tco):
            link.update(url=short, display_url=link["expanded_url"].split("://", 1)[1][:26])
        return shown, links

    # -- endpoints -----------------------------------------------------------------------------------------------

    def _tweets_search_recent(self, call, match):
        q = call.query
        query = q.get("query", "").strip()
        if not query.startswith("conversation_id:") or not query.split(":", 1)[1].isdigit():
            return 400, self.problem(400, "Invalid Request", "This emulator only answers conversation_id:<id>.",
                                     INVALID), None
        max_results = int(q.get("max_results", 10))
        if not 10 <= max_results <= 100:
            return 400, self.problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                                     INVALID, errors=[{"parameters": {"max_results": [str(max_results)]},
                                                       "message": "The `max_results` query parameter value ["
                                                       f"{max_results}] is not between 10 and 100"}]), None
        since = q.get("since_id")
        oldest = self.clock() - SEARCH_WINDOW
        known = self.replies.get(since) or self.tweets.get(since or "")
        if known is not None and known["created_at"] < oldest:
            return 400, self.problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                                     INVALID, errors=[{"parameters": {"since_id": [since]}, "message": (
                                         "'since_id' must be a tweet id created after "
                                         f"{oldest.astimezone(timezone.utc):%Y-%m-%dT%H:%MZ}. Please use a "
                                         "'since_id' that is larger than " + self._oldest_searchable(oldest))}]), None
        found = self._conversation(query.split(":", 1)[1], int(since or 0), oldest)
        token = q.get("next_token") or ""
        if token and not (token.startswith(TOKEN_PREFIX) and token[len(TOKEN_PREFIX):].isdigit()):
            return 400, self.problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                                     INVALID), None
        offset = int(token[len(TOKEN_PREFIX):]) if token else 0
        page = found[offset:offset + max_results]
        self.posts_read += len(page)
        if not page:
            return 200, {"meta": {"result_count": 0}}, None
        body = self._search_page(page, set(filter(None, q.get("tweet.fields", "").split(","))),
                                 "author_id" in q.get("expansions", ""))
        body["meta"] = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if offset + max_results < len(found):
            body["meta"]["next_token"] = f"{TOKEN_PREFIX}{offset + max_results}"
        return 200, body, None

    def _oldest_searchable(self, oldest) -> str:
        newer = [int(r["id"]) for r in self.replies.values() if r["created_at"] >= oldest]
        return str(min(newer) - 1 if newer else next(self._tweet_ids))

    def _conversation(self, conversation_id: str, since: int, oldest) -> list[dict]:
        root = self._conversation_root(conversation_id)
        if root is None or root["deleted"]:
            return []
        found = [r for r in self.replies.values() if r["conversation_id"] == conversation_id and not r["deleted"]
                 and int(r["id"]) > since and r["created_at"] >= oldest]
        return sorted(found, key=lambda r: int(r["id"]), reverse=True)

    def _search_page(self, page: list[dict], fields: set[str], expand_authors: bool) -> dict:
        data, errors, users = [], [], {}
        for r in page:
            item = {"edit_history_tweet_ids": [r["id"]], "id": r["id"], "text": r["text"]}
            long_text = len(r["submitted_text"]) > LONG_TEXT
            if long_text:
                item["text"] = r["text"][:LONG_TEXT - 6] + "\u2026"
            entities = {"urls": [dict(link, start=0, end=0) for link in r["links"]]} if r["links"] else None
            if "note_tweet" in fields and long_text:
                item["note_tweet"] = {"text": r["text"], **({"entities": entities} if entities else {})}
            if "entities" in fields and entities and not long_text:
                item["entities"] = entities
            for name in ("author_id", "conversation_id", "in_reply_to_user_id"):
                if name in fields:
                    item[name] = r[name]
            if "created_at" in fields:
                item["created_at"] = r["created_at"].astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            data.append(item)
            user = self.users[r["author_id"]]
            if expand_authors and user["gone"]:
                errors.append({"value": user["id"], "detail": f"Could not find user with author_id: [{user['id']}].",
                               "title": "Not Found Error", "resource_type": "user", "parameter": "author_id",
                               "resource_id": user["id"], "type": NOT_FOUND})
            elif expand_authors:
                users[user["id"]] = {"id": user["id"], "name": user["username"].title(), "username": user["username"]}
        body = {"data": data}
        if users:
            body["includes"] = {"users": list(users.values())}
        if errors:
            body["errors"] = errors
        return body

    def _tweets_hidden(self, call, match):
        body = call.json if isinstance(call.json, dict) else {}
        if not isinstance(body.get("hidden"), bool):
            return 400, self.problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                                     INVALID), None
        reply = self.replies.get(match.group("id"))
        if reply is None or reply["deleted"]:
            if match.group("id") not in self.tweets:
                return 404, self.problem(
                    404, "Not Found Error", f"Could not find tweet with id: [{match.group('id')}].", NOT_FOUND,
                    resource_type="tweet", parameter="id", value=match.group("id")), None
        root = self._conversation_root(reply["conversation_id"]) if reply else None
        if reply is None or root is None or root["author_id"] != self.user_id or reply["author_id"] == self.user_id:
            return 403, self.problem(403, "Forbidden", "You are not permitted to hide this reply."), None
        reply["hidden"] = body["hidden"]
        return 200, {"data": {"hidden": body["hidden"]}}, None

    def _users_muting(self, call, match):
        if match.group("id") != self.user_id:
            return 403, self.problem(403, "Forbidden", "You are not permitted to mute on behalf of this user."), None
        target = str((call.json or {}).get("target_user_id", "")) if isinstance(call.json, dict) else ""
        user = self.users.get(target)
        if user is None or user["gone"]:
            return 404, self.problem(404, "Not Found Error", f"Could not find user with id: [{target}].", NOT_FOUND,
                                     resource_type="user", parameter="target_user_id", value=target), None
        self.mutes.add(target)
        return 200, {"data": {"muting": True}}, None
