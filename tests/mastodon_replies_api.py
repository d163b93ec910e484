"""The reply half of the Mastodon API emulator (a mixin of MastodonApiEmulator): replies under the school's posts,
mention notifications, reports, blocks and mutes, with the uniform test controls every network's emulator has.

Shapes follow docs.joinmastodon.org:
* GET /api/v1/statuses/:id (methods/statuses/#get): a Status; 404 `{"error": "Record not found"}` if gone.
* GET /api/v1/statuses/:id/context (methods/statuses/#context, entities/Context/): `{"ancestors": [...],
  "descendants": [...]}`, the descendants at any depth in tree order; as Mastodon's StatusFilter does for the
  signed-in account, statuses by accounts it blocks or mutes are left out (their replies stay); 404 for a post
  that is gone.
* GET /api/v1/notifications (methods/notifications/#get, entities/Notification/): newest first; `types[]`,
  `since_id`, `max_id`, `min_id`, `limit` (40, at most 80); a Link header; none from blocked or muted accounts,
  none for deleted statuses.
* POST /api/v1/reports (methods/reports/, entities/Report/): `account_id`, `status_ids[]`, `comment` (at most
  1,000 characters), `forward`; 404 when the account or one of the statuses is not there.
* POST /api/v1/accounts/:id/block, /unblock, /mute, /unmute (methods/accounts/#block ...): a Relationship
  (entities/Relationship/); 404 for an unknown account.
* Scopes: `read:statuses`, `read:notifications`, `write:reports`, `write:blocks`, `write:mutes`, each also
  granted by the whole `read` / `write` scope (methods/accounts/#block: "now additionally accepts `write`").
* An account that is gone is rendered as Mastodon renders a suspended one (entities/Account/#suspended):
  `suspended: true`, no display name, note or fields; its posts are still there until the server removes them.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timezone
from urllib.parse import parse_qs

from tests.emulation import Fault

REPLY_ENDPOINTS = {
    "statuses.get": ("GET", r"/api/v1/statuses/(?P<id>[^/?]+)", "read:statuses"),
    "statuses.context": ("GET", r"/api/v1/statuses/(?P<id>[^/?]+)/context", "read:statuses"),
    "notifications": ("GET", r"/api/v1/notifications/?", "read:notifications"),
    "reports.create": ("POST", r"/api/v1/reports/?", "write:reports"),
    "accounts.block": ("POST", r"/api/v1/accounts/(?P<id>[^/?]+)/block", "write:blocks"),
    "accounts.unblock": ("POST", r"/api/v1/accounts/(?P<id>[^/?]+)/unblock", "write:blocks"),
    "accounts.mute": ("POST", r"/api/v1/accounts/(?P<id>[^/?]+)/mute", "write:mutes"),
    "accounts.unmute": ("POST", r"/api/v1/accounts/(?P<id>[^/?]+)/unmute", "write:mutes"),
}
# The calls each kind of uniform fault (rate_limit, unavailable) applies to.
KINDS = {"read": {"statuses.context", "notifications"},
         "hide": {"statuses.get", "reports.create", "accounts.block", "accounts.unblock", "accounts.mute",
                  "accounts.unmute"}}
NOT_FOUND = {"error": "Record not found"}
TOO_MANY = {"error": "Too many requests"}
UNAVAILABLE = ("<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service "
               "Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>")


class MastodonRepliesMixin:
    """State: `replies` (id -> reply), `accounts` (acct -> account), `blocked`/`muted` (account ids), `reports`,
    `notifications`.  Needs the emulator's base_url, clock, statuses, _new_status_id, _status_json, _iso."""

    def _init_replies(self) -> None:
        self.replies: dict[str, dict] = {}
        self.accounts: dict[str, dict] = {}
        self.blocked: set[str] = set()
        self.muted: set[str] = set()
        self.reports: list[dict] = []
        self.notifications: list[dict] = []
        self._kind_faults: dict[str, Fault] = {}
        self._account_ids = itertools.count(109500000000000001, 7)
        self._notification_ids = itertools.count(34975861)
        self._report_ids = itertools.count(48914)

    # -- uniform test controls ---------------------------------------------------------------------------------

    def add_reply(self, parent_id: str, text: str, *, author: str = "aparent", author_gone: bool = False) -> str:
        """A reply by `author` ("name" on this server, "name@other.example" on another) under the school's post
        or another reply; it mentions the school, so the school also gets a mention notification."""
        parent = self.replies.get(parent_id) or self.statuses.get(parent_id)
        assert parent is not None, f"no status {parent_id} to reply to"
        account = self._account(author)
        account["gone"] = account["gone"] or author_gone
        created_at = self.clock()
        reply = {"id": self._new_status_id(created_at), "parent": parent_id, "text": text, "acct": account["acct"],
                 "created_at": created_at, "deleted": False, "in_context": True}
        self.replies[reply["id"]] = reply
        self.notifications.append({"id": str(next(self._notification_ids)), "status_id": reply["id"],
                                   "created_at": created_at})
        return reply["id"]

    def is_hidden(self, reply_id: str) -> bool:
        """Reported to its server AND its author blocked or muted: as far as Mastodon lets the school hide it."""
        reply = self.replies[reply_id]
        account_id = self.accounts[reply["acct"]]["id"]
        reported = any(reply_id in r["status_ids"] for r in self.reports)
        return reported and (account_id in self.blocked or account_id in self.muted)

    def rate_limit(self, kind: str, reset: int) -> None:
        """The next call of `kind` ("read" or "hide") answers Mastodon's 429, resetting at Unix time `reset`."""
        assert kind in KINDS, kind
        when = datetime.fromtimestamp(reset, tz=timezone.utc)
        self._kind_faults[kind] = Fault(status=429, body=TOO_MANY, headers=self.rate_limit_headers(when))

    def unavailable(self, kind: str) -> None:
        """The next call of `kind` ("read" or "hide") answers 503, as Mastodon's proxy does while it is down."""
        assert kind in KINDS, kind
        self._kind_faults[kind] = Fault(status=503, body=UNAVAILABLE, headers={"Content-Type": "text/html"})

    # -- Mastodon-only test controls ---------------------------------------------------------------------------

    def add_school_reply(self, parent_id: str, text: str) -> str:
        """The school's own status in the thread (not a reply to be judged)."""
        assert parent_id in self.replies or parent_id in self.statuses
        status = self._create(text, [])
        status["in_reply_to_id"] = parent_id
        return status["id"]

    def hold_from_context(self, reply_id: str) -> None:
        """The reply has reached the school's server as a mention but is not in the post's context yet."""
        self.replies[reply_id]["in_context"] = False

    def delete_reply(self, reply_id: str) -> None:
        """Its author deleted it (its notification goes with it)."""
        self.replies[reply_id]["deleted"] = True

    def _kind_fault(self, name: str) -> Fault | None:
        for kind, endpoints in KINDS.items():
            if name in endpoints and kind in self._kind_faults:
                return self._kind_faults.pop(kind)
        return None

    # -- state -------------------------------------------------------------------------------------------------

    def _account(self, author: str) -> dict:
        acct = author.strip().lstrip("@")
        if acct not in self.accounts:
            username, _, domain = acct.partition("@")
            self.accounts[acct] = {"id": str(next(self._account_ids)), "username": username, "acct": acct,
                                   "domain": domain or self.base_url.split("://", 1)[1], "gone": False,
                                   "base": f"https://{domain}" if domain else self.base_url}
        return self.accounts[acct]

    def _parent_account_id(self, parent_id: str | None) -> str | None:
        if parent_id is None:
            return None
        parent = self.replies.get(parent_id)
        return self.accounts[parent["acct"]]["id"] if parent else self.account_id

    def _account_by_id(self, account_id: str) -> dict | None:
        return next((a for a in self.accounts.values() if a["id"] == account_id), None)

    def _filtered(self, reply: dict) -> bool:
        """Mastodon's StatusFilter for the school's account: authors it blocks or mutes are left out."""
        account_id = self.accounts[reply["acct"]]["id"]
        return account_id in self.blocked or account_id in self.muted

    def _descendants(self, status_id: str) -> list[dict]:
        """Live statuses below `status_id` in tree order (a deleted status cuts its branch off, as in Mastodon)."""
        children: dict[str, list[dict]] = {}
        for reply in self.replies.values():
            if not reply["deleted"] and reply["in_context"]:
                children.setdefault(reply["parent"], []).append(self._reply_json(reply))
        for status in self.statuses.values():
            if not status["deleted"] and status.get("in_reply_to_id"):
                children.setdefault(status["in_reply_to_id"], []).append(self._status_json(status))
        out, stack = [], sorted(children.get(status_id, []), key=lambda s: int(s["id"]), reverse=True)
        while stack:
            status = stack.pop()
            out.append(status)
            stack += sorted(children.get(status["id"], []), key=lambda s: int(s["id"]), reverse=True)
        return [s for s in out if not (s["id"] in self.replies and self._filtered(self.replies[s["id"]]))]

    # -- entities ----------------------------------------------------------------------------------------------

    def _reply_account_json(self, account: dict) -> dict:
        base = account["base"]
        gone = account["gone"]
        out = {"id": account["id"], "username": account["username"], "acct": account["acct"],
               "display_name": "" if gone else account["username"].title(), "locked": False, "bot": False,
               "discoverable": not gone, "group": False, "created_at": "2023-02-01T00:00:00.000Z",
               "note": "" if gone else "<p>Parent and governor</p>", "url": f"{base}/@{account['username']}",
               "uri": f"{base}/users/{account['username']}",
               "avatar": f"{self.base_url}/avatars/original/missing.png",
               "avatar_static": f"{self.base_url}/avatars/original/missing.png",
               "header": f"{self.base_url}/headers/original/missing.png",
               "header_static": f"{self.base_url}/headers/original/missing.png", "followers_count": 0,
               "following_count": 0, "statuses_count": 0, "last_status_at": None, "emojis": [], "fields": []}
        if gone:
            out["suspended"] = True
        return out

    def _reply_json(self, reply: dict) -> dict:
        from tests.mastodon_api import _as_html, _iso  # the emulator's module imports this one

        account = self.accounts[reply["acct"]]
        base = account["base"]
        return {
            "id": reply["id"], "created_at": _iso(reply["created_at"]), "edited_at": None,
            "in_reply_to_id": reply["parent"], "in_reply_to_account_id": self._parent_account_id(reply["parent"]),
            "sensitive": False,
            "spoiler_text": "", "visibility": "public", "language": "en",
            "uri": f"{base}/users/{account['username']}/statuses/{reply['id']}",
            "url": f"{base}/@{account['username']}/{reply['id']}", "replies_count": 0, "reblogs_count": 0,
            "favourites_count": 0, "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
            "pinned": False, "content": _as_html(reply["text"]), "filtered": [], "reblog": None,
            "application": None, "account": self._reply_account_json(account), "media_attachments": [],
            "mentions": [{"id": self.account_id, "username": self.username, "acct": self.username,
                          "url": f"{self.base_url}/@{self.username}"}],
            "tags": [], "emojis": [], "card": None, "poll": None,
        }

    def _relationship(self, account_id: str) -> dict:
        return {"id": account_id, "following": False, "showing_reblogs": False, "notifying": False,
                "languages": None, "followed_by": False, "blocking": account_id in self.blocked,
                "blocked_by": False, "muting": account_id in self.muted,
                "muting_notifications": account_id in self.muted, "muting_expires_at": None, "requested": False,
                "requested_by": False, "domain_blocking": False, "endorsed": False, "note": ""}

    # -- endpoints ---------------------------------------------------------------------------------------------

    def _statuses_get(self, call, match):
        status_id = match.group("id")
        reply = self.replies.get(status_id)
        if reply is not None:
            return (404, NOT_FOUND) if reply["deleted"] else (200, self._reply_json(reply))
        status = self.statuses.get(status_id)
        if status is None or status["deleted"]:
            return 404, NOT_FOUND
        return 200, self._status_json(status)

    def _statuses_context(self, call, match):
        status_id = match.group("id")
        known = self.replies.get(status_id) or self.statuses.get(status_id)
        if known is None or known["deleted"]:
            return 404, NOT_FOUND
        return 200, {"ancestors": [], "descendants": self._descendants(status_id)}

    def _notifications(self, call, match):
        from tests.mastodon_api import _iso

        query = parse_qs(call.url.partition("?")[2])
        types = query.get("types[]")
        limit = min(int(call.query.get("limit") or 40), 80)
        bounds = {k: int(call.query[k]) for k in ("since_id", "max_id", "min_id") if call.query.get(k)}
        rows = []
        for note in sorted(self.notifications, key=lambda n: int(n["id"]), reverse=True):
            reply = self.replies[note["status_id"]]
            n = int(note["id"])
            if reply["deleted"] or self._filtered(reply) or (types and "mention" not in types) or \
                    n <= bounds.get("since_id", -1) or n <= bounds.get("min_id", -1) or \
                    n >= bounds.get("max_id", 1 << 62):
                continue
            rows.append({"id": note["id"], "type": "mention", "created_at": _iso(note["created_at"]),
                         "group_key": f"ungrouped-{note['id']}",
                         "account": self._reply_account_json(self.accounts[reply["acct"]]),
                         "status": self._reply_json(reply)})
        rows = rows[-limit:] if "min_id" in bounds else rows[:limit]
        headers = {}
        if rows:
            here = f"{self.base_url}/api/v1/notifications"
            headers["Link"] = (f'<{here}?max_id={rows[-1]["id"]}>; rel="next", '
                               f'<{here}?min_id={rows[0]["id"]}>; rel="prev"')
        return 200, rows, headers

    def _reports_create(self, call, match):
        from tests.mastodon_api import _iso

        form = call.form
        account = self._account_by_id((form.get("account_id") or [""])[-1])
        status_ids = form.get("status_ids[]") or []
        comment = (form.get("comment") or [""])[-1]
        if account is None:
            return 404, NOT_FOUND
        for status_id in status_ids:
            reply = self.replies.get(status_id)
            if reply is None or reply["deleted"] or reply["acct"] != account["acct"]:
                return 404, NOT_FOUND
        if len(comment) > 1000:
            return 422, {"error": "Validation failed: Comment is too long (maximum is 1000 characters)"}
        forward = (form.get("forward") or ["0"])[-1] in ("1", "true", "True")
        remote = "@" in account["acct"]
        report = {"id": str(next(self._report_ids)), "action_taken": False, "action_taken_at": None,
                  "category": "other", "comment": comment, "forwarded": forward and remote,
                  "created_at": _iso(self.clock()), "status_ids": status_ids, "rule_ids": None,
                  "target_account": self._reply_account_json(account)}
        self.reports.append(report)
        return 200, report

    def _relate(self, match, change) -> tuple:
        account = self._account_by_id(match.group("id"))
        if account is None:
            return 404, NOT_FOUND
        change(account["id"])
        return 200, self._relationship(account["id"])

    def _accounts_block(self, call, match):
        return self._relate(match, self.blocked.add)

    def _accounts_unblock(self, call, match):
        return self._relate(match, self.blocked.discard)

    def _accounts_mute(self, call, match):
        return self._relate(match, self.muted.add)

    def _accounts_unmute(self, call, match):
        return self._relate(match, self.muted.discard)
