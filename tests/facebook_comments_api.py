"""The comments part of the Graph API emulator (tests/facebook_api.py): a mixin keeping the comments under the Page's
posts, who wrote them, hidden and deleted flags and the Page's blocked people, with the test controls every
network's emulator shares.

Shapes follow Meta's documentation (developers.facebook.com):
* GET /{post-id}/comments (graph-api/reference/object/comments): `filter` toplevel (the default) or stream (every
  comment, replies included), `order` chronological (the default) or reverse_chronological, `fields` (nested ones
  as `from{id,name}`), `limit`, `after` cursor; `{"data": [{"id", "message", "from": {"id", "name"},
  "created_time", "is_hidden", "permalink_url", "parent": {"id"}}], "paging": {"cursors": {"before", "after"},
  "next"}}`; `from` is absent when the writer's account is gone; `parent` only on a reply; hidden comments are
  listed to the Page (with is_hidden true), deleted ones (and the replies under them) are not.  A comment's id is
  `{post-part}_{comment-id}` (graph-api/reference/comment).  Facebook threads go two levels deep: a reply to a
  reply is filed under the top-level comment.  A post that is gone: code 100, subcode 33.
* POST /{comment-id} with `is_hidden` -> `{"success": true}` (graph-api/changelog/version2.2); DELETE
  /{comment-id} -> `{"success": true}`; a comment that is gone: code 100, subcode 33.
* POST /{page-id}/blocked with `user` (or `uid`, `psid`, `asid`) -> `{"{id}": true}` (graph-api/reference/page/
  blocked); an id Facebook does not know answers false.
* Throttling (graph-api/overview/rate-limiting): Facebook answers HTTP 400 with error code 80001 ("There have been
  too many calls to this Page account") and `estimated_time_to_regain_access` (whole minutes) in
  X-Business-Use-Case-Usage; it has no HTTP 429 for this.

Test controls (the same names on every network's emulator): add_reply, is_hidden, rate_limit, unavailable.
"""
from __future__ import annotations

import base64
import itertools
import math
import time
from urllib.parse import urlencode

from tests.emulation import Fault

COMMENT_ENDPOINTS = {
    "comments.read": ("GET", r"/(?P<post>\d+_\d+)/comments"),
    "comment.update": ("POST", r"/(?P<id>\d+_\d+)"),
    "page.block": ("POST", r"/(?P<page>\d+)/blocked"),
}
HIDE_ENDPOINTS = ("comment.update", "page.block")  # and object.delete of a comment
THROTTLED = ("(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more "
             "info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.")


class CommentsMixin:
    """Comments, people and blocks; the emulator class provides posts, error bodies and the clock."""

    def _init_comments(self) -> None:
        self.comments: dict[str, dict] = {}
        self.people: dict[str, str] = {}  # name -> Facebook id
        self.gone_people: set[str] = set()
        self.blocked: set[str] = set()
        self.kind_faults: dict[str, tuple] = {}
        self._comment_ids = itertools.count(3920417706541238, 1009)
        self._person_ids = itertools.count(6117812045012345, 211)

    # -- test controls -----------------------------------------------------------------------------------------

    def add_reply(self, parent_id: str, text: str, *, author: str = "aparent", author_gone: bool = False) -> str:
        """A comment by `author` under the post `parent_id`, or under the comment `parent_id`; its id."""
        if parent_id in self.comments:
            top = self.comments[parent_id]
            top = self.comments.get(top["parent"], top)  # Facebook keeps threads two levels deep
            post_id, parent = top["post"], top["id"]
        elif parent_id in self.posts:
            post_id, parent = parent_id, None
        else:
            raise KeyError(f"no post or comment {parent_id}")
        if author_gone:
            self.gone_people.add(author)
        comment_id = f"{post_id.partition('_')[2]}_{next(self._comment_ids)}"
        self.comments[comment_id] = {"id": comment_id, "post": post_id, "parent": parent, "message": text,
                                     "author": author, "created_at": self.clock(), "hidden": False,
                                     "deleted": False}
        return comment_id

    def is_hidden(self, reply_id: str) -> bool:
        """Hidden from the post's readers: hidden, or deleted (itself, or the comment it replies to)."""
        comment = self.comments[reply_id]
        parent = self.comments.get(comment["parent"]) if comment["parent"] else None
        return comment["hidden"] or comment["deleted"] or bool(parent and parent["deleted"])

    def rate_limit(self, kind: str, reset: int) -> None:
        """The next call of `kind` ("read" or "hide") is throttled until the Unix time `reset`."""
        assert kind in ("read", "hide"), kind
        self.kind_faults[kind] = ("throttled", reset)

    def unavailable(self, kind: str) -> None:
        """The next call of `kind` ("read" or "hide") answers 503."""
        assert kind in ("read", "hide"), kind
        self.kind_faults[kind] = ("down",)

    def person_id(self, name: str) -> str:
        """The Facebook id of the person called `name` (the Page's own id for the Page)."""
        if name in (self.username, self.page_id):
            return self.page_id
        if name not in self.people:
            self.people[name] = str(next(self._person_ids))
        return self.people[name]

    # -- faults by kind ----------------------------------------------------------------------------------------

    def _kind_fault(self, name: str, match) -> Fault | None:
        if name == "comments.read":
            kind = "read"
        elif name in HIDE_ENDPOINTS or (name == "object.delete" and match.group("id") in self.comments):
            kind = "hide"
        else:
            return None
        planned = self.kind_faults.pop(kind, None)
        if planned is None:
            return None
        if planned[0] == "down":
            return Fault(status=503)
        minutes = max(1, math.ceil((planned[1] - time.time()) / 60))  # Facebook counts whole minutes from now
        return Fault(status=400, body=self.error(80001, THROTTLED),
                     headers=self.usage_headers(regain_minutes=minutes, call_count=100))

    # -- endpoints ---------------------------------------------------------------------------------------------

    def _comments_read(self, call, match):
        post = self.posts.get(match.group("post"))
        if post is None or post["deleted"]:
            return self._unsupported("get", match.group("post"))
        q = call.query
        listed = [c for c in self.comments.values() if c["post"] == post["id"] and not self._removed(c)]
        if q.get("filter", "toplevel") != "stream":
            listed = [c for c in listed if c["parent"] is None]
        order = list(self.comments)  # creation order: created_time has only whole seconds
        listed.sort(key=lambda c: (c["created_at"], order.index(c["id"])),
                    reverse=q.get("order") == "reverse_chronological")
        limit = int(q.get("limit", 25))
        offset = int(base64.b64decode(q["after"]).decode().partition(":")[2]) if q.get("after") else 0
        page = listed[offset:offset + limit]
        fields = _fields(q.get("fields", "id,message,created_time"))
        body = {"data": [self._comment_fields(c, fields) for c in page]}
        if page:
            after = _cursor(offset + len(page))
            body["paging"] = {"cursors": {"before": _cursor(offset), "after": after}}
            if offset + limit < len(listed):
                query = {**q, "access_token": self.token, "after": after}
                body["paging"]["next"] = (f"{self.base}/{call.version}/{post['id']}/comments?"
                                          f"{urlencode(query)}")
        return 200, body

    def _comment_update(self, call, match):
        comment = self.comments.get(match.group("id"))
        if comment is None or self._removed(comment):
            return self._unsupported("post", match.group("id"))
        value = call.form.get("is_hidden", call.query.get("is_hidden"))
        if value not in ("true", "false"):
            return self._invalid("(#100) Param is_hidden must be a boolean")
        comment["hidden"] = value == "true"
        return 200, {"success": True}

    def _comment_delete(self, comment_id: str):
        comment = self.comments[comment_id]
        if self._removed(comment):
            return self._unsupported("delete", comment_id)
        comment["deleted"] = True
        return 200, {"success": True}

    def _page_block(self, call, match):
        if match.group("page") != self.page_id:
            return self._unsupported("post", match.group("page"))
        raw = next((call.form[k] for k in ("user", "uid", "psid", "asid") if call.form.get(k)), None)
        if raw is None:
            return self._invalid("(#100) The parameter user is required")
        known = {v: k for k, v in self.people.items() if k not in self.gone_people}
        answer = {}
        for person in raw.split(","):
            answer[person] = person in known
            if answer[person]:
                self.blocked.add(person)
        return 200, answer

    # -- helpers -----------------------------------------------------------------------------------------------

    def _removed(self, comment: dict) -> bool:
        """Deleted, or under a deleted comment (deleting a comment takes its replies with it), or its post gone."""
        parent = self.comments.get(comment["parent"]) if comment["parent"] else None
        post = self.posts.get(comment["post"])
        return comment["deleted"] or bool(parent and parent["deleted"]) or post is None or post["deleted"]

    def _comment_fields(self, comment: dict, fields: dict) -> dict:
        cid = comment["id"].partition("_")[2]
        page_id, _, story = comment["post"].partition("_")
        link = f"https://www.facebook.com/{page_id}/posts/{story}?comment_id={cid}"
        if comment["parent"]:
            link = (f"https://www.facebook.com/{page_id}/posts/{story}?comment_id="
                    f"{comment['parent'].partition('_')[2]}&reply_comment_id={cid}")
        full = {"id": comment["id"], "message": comment["message"],
                "created_time": comment["created_at"].strftime("%Y-%m-%dT%H:%M:%S+0000"),
                "is_hidden": comment["hidden"], "permalink_url": link}
        if comment["author"] not in self.gone_people:
            person = self.person_id(comment["author"])
            name = "Greenfield Primary School" if person == self.page_id else comment["author"]
            full["from"] = {"id": person, "name": name}
        if comment["parent"]:
            full["parent"] = {"id": comment["parent"]}
        item = {"id": comment["id"]}
        for name, sub in fields.items():
            if name in full:
                value = full[name]
                item[name] = {k: v for k, v in value.items() if k in sub or k == "id"} if sub else value
        return item


def _fields(spec: str) -> dict[str, set[str]]:
    """`id,from{id,name},parent{id}` -> {"id": set(), "from": {"id", "name"}, "parent": {"id"}}."""
    fields, depth, name, sub = {}, 0, "", ""
    for ch in spec + ",":
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            if name:
                fields[name.strip()] = set(filter(None, sub.split(",")))
            name, sub = "", ""
        elif depth:
            sub += ch
        else:
            name += ch
    return fields


def _cursor(offset: int) -> str:
    """An opaque cursor, base64 like Facebook's."""
    return base64.b64encode(f"offset:{offset}".encode()).decode()
