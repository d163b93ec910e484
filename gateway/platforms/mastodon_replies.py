"""Replies under the school's Mastodon posts: reading them, and dealing with one as far as Mastodon allows.

Reading (`replies`), through Mastodon.py 2.x with the account's token:

* GET /api/v1/statuses/:id/context (`status_context`): every descendant of the post, at any depth (with a token
  up to 4,096, unlimited depth; https://docs.joinmastodon.org/methods/statuses/#context).  The server leaves out
  statuses by accounts the school has blocked or muted, so a reply hidden by `hide()` is no longer read back.
* GET /api/v1/notifications?types[]=mention (`notifications`; methods/notifications/#get), newer than the cursor
  (the newest notification id read before): a reply that mentions the school may have arrived before the server
  has it in the post's context.  One is kept when it answers the post or a status already in its conversation.

The school's own statuses in the thread are not replies.  HTML `content` is made plain; a content warning comes
first.  An author whose account is gone (Mastodon shows it `suspended`) gives author="" and author_id="".

Hiding: no school can delete a reply, least of all one on another server.  `hide` reports it
(POST /api/v1/reports, `forward` so that the author's own server hears of it too; methods/reports/) and then,
as the `mastodon_authors` setting says, blocks (POST /api/v1/accounts/:id/block) or mutes (…/mute) its author,
or does nothing more.  `restore` unblocks or unmutes; a report cannot be withdrawn.  Errors as for publishing
(mastodon_errors.py), re-worded for replies; the token never reaches a message (`redact`).
"""
from __future__ import annotations

import html
import logging
import re
from datetime import datetime, timezone

from mastodon import MastodonAPIError, MastodonNetworkError, MastodonNotFoundError, MastodonRatelimitError

from gateway.platforms.base import PermanentError, PublishError, Reply, ReplyPage, RetryLater, Transient
from gateway.platforms.mastodon_account import redact
from gateway.platforms.mastodon_errors import error_for

log = logging.getLogger(__name__)

_API_ERRORS = (MastodonAPIError, MastodonNetworkError, MastodonRatelimitError)
_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")  # as in mastodon.py: numbers on Mastodon, letters and digits elsewhere
AUTHOR_ACTIONS = ("block", "mute", "none")
NOTIFICATION_PAGE = 80  # Mastodon's largest page of notifications (since 4.1)
# Mentions newer than the cursor, read back this far at most (800): the post's context finds any older ones once
# they have reached it.  With no cursor yet (the first read), only the newest page.
NOTIFICATION_PAGES = 10
# The reason sent with a report (Mastodon takes at most 1,000 characters); it names no pupil and no member of staff.
REPORT_COMMENT = ("Reported by the school's social media safeguarding gateway: this reply under the school's post "
                  "breaks the school's policy for content children may see.")
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


class MastodonReplies:
    """The reply half of a MastodonPublisher: it uses the publisher's client, session and account."""

    def __init__(self, publisher, authors: str = "block"):
        if authors not in AUTHOR_ACTIONS:
            raise ValueError(f"mastodon_authors must be one of {', '.join(AUTHOR_ACTIONS)}")
        self.publisher = publisher
        self.api = publisher.api
        self.host = publisher.host
        self.authors = authors

    # -- reading -----------------------------------------------------------------------------------------------

    def replies(self, post_id: str, cursor: str | None) -> ReplyPage:
        """Every reply in the post's conversation but the school's own; mentions read since `cursor`."""
        post_id = _checked(post_id, "post")
        me = self._my_id()
        try:
            context = self.api.status_context(post_id)
        except MastodonNotFoundError as exc:
            raise PermanentError(
                f"The school's post {post_id} is no longer on {self.host} (it was deleted, or is no longer "
                "visible), so its replies cannot be read.", code="post_gone", status=404,
                detail=redact(str(exc))[:500]) from exc
        except _API_ERRORS as exc:
            raise self._error(exc, "read") from exc
        found = {str(s["id"]): s for s in (context or {}).get("descendants") or []}
        mentions, newest = self._mentions(cursor if cursor and _ID.match(str(cursor)) else None)
        thread = {post_id, *found}
        joined = True
        while joined:  # a reply to a reply that the context lacks as well joins on the next pass
            joined = False
            for status in mentions:
                status_id = str(status.get("id") or "")
                if status_id not in thread and str(status.get("in_reply_to_id") or "") in thread:
                    thread.add(status_id)
                    found[status_id] = status
                    joined = True
        replies = [_reply(s) for s in sorted(found.values(), key=lambda s: _id_order(str(s["id"])))
                   if str((s.get("account") or {}).get("id") or "") != me]
        log.info("read %d repl%s to Mastodon post %s on %s", len(replies), "y" if len(replies) == 1 else "ies",
                 post_id, self.host)
        return ReplyPage(replies, cursor=newest or cursor)

    def _mentions(self, cursor: str | None) -> tuple[list, str | None]:
        """The statuses of mention notifications newer than `cursor` (newest page only without one), and the
        newest notification id seen."""
        statuses, newest, max_id = [], None, None
        for _ in range(NOTIFICATION_PAGES if cursor else 1):
            try:
                page = self.api.notifications(types=["mention"], since_id=cursor, max_id=max_id,
                                              limit=NOTIFICATION_PAGE)
            except _API_ERRORS as exc:
                raise self._error(exc, "read") from exc
            ids = [str(n.get("id") or "") for n in page or []]
            if not ids or not all(_ID.match(i) for i in ids):
                break
            newest = max([*ids, *([newest] if newest else [])], key=_id_order)
            statuses += [n["status"] for n in page if n.get("type") == "mention" and n.get("status")]
            if len(ids) < NOTIFICATION_PAGE:
                break
            max_id = min(ids, key=_id_order)
        return statuses, newest

    def _my_id(self) -> str:
        try:
            return self.publisher._whoami("lookup")[0]
        except PublishError as exc:
            raise self._reworded(exc, "read") from exc

    # -- hiding ------------------------------------------------------------------------------------------------

    def hide(self, post_id: str, reply: Reply) -> str:
        """Report the reply to its server's moderators, then block or mute its author as the settings say."""
        status_id = _checked(reply.platform_id, "reply")
        target = self._author(reply)
        if target is None:
            return "It was already gone from Mastodon."
        account_id, acct = target
        try:
            self.api.report(account_id, status_ids=[status_id], comment=REPORT_COMMENT, forward=True)
        except MastodonNotFoundError:
            log.info("reply %s on %s was already gone when reporting it", status_id, self.host)
            return "It was already gone from Mastodon."
        except _API_ERRORS as exc:
            raise self._error(exc, "hide") from exc
        reported = f"Reported to the moderators of {self._servers(acct)}"
        who = _who(acct)
        log.info("reported reply %s on %s; its author: %s", status_id, self.host, self.authors)
        if self.authors == "none":
            return (f"{reported}; {who} was not blocked or muted, as the gateway is set, and Mastodon does not let "
                    "the school delete the reply itself.")
        if not self._relate(account_id, self.authors):
            return f"{reported}; {who} is gone from Mastodon, so there was no one to {self.authors}."
        if self.authors == "mute":
            return (f"{reported} and {who} muted, so the school's account no longer sees them; Mastodon does not "
                    "let the school delete the reply itself.")
        return (f"{reported} and {who} blocked from the school's account; Mastodon does not let the school delete "
                "the reply itself.")

    def restore(self, post_id: str, reply: Reply) -> str:
        """Unblock or unmute the author; the report stays with the moderators (Mastodon cannot withdraw one)."""
        _checked(reply.platform_id, "reply")
        target = self._author(reply)
        if target is None:
            return "It was already gone from Mastodon, so there was nothing to undo."
        account_id, acct = target
        stays = (f"the report to the moderators of {self._servers(acct)} cannot be withdrawn on Mastodon, so it "
                 "stays with them")
        who = _who(acct)
        if self.authors == "none":
            return f"Nothing was blocked or muted, so nothing was changed; {stays}."
        undo = "unblock" if self.authors == "block" else "unmute"
        if not self._relate(account_id, undo):
            return f"{who[0].upper()}{who[1:]} is gone from Mastodon, so there was nothing to undo; {stays}."
        return f"{'Unblocked' if undo == 'unblock' else 'Unmuted'} {who}; {stays}."

    def block(self, reply: Reply) -> str:
        """Block the reply's author from the school's account."""
        _checked(reply.platform_id, "reply")
        target = self._author(reply)
        if target is None:
            return "The reply and its author are already gone from Mastodon, so there was no one to block."
        account_id, acct = target
        if not self._relate(account_id, "block"):
            return "Its author is gone from Mastodon, so there was no one to block."
        return f"Blocked {_who(acct)} from the school's Mastodon account."

    def _author(self, reply: Reply) -> tuple[str, str] | None:
        """(account id, acct) of the reply's author; looked up (GET /api/v1/statuses/:id) when the reply shows
        none, as when the account is gone: None if the reply itself is gone."""
        if reply.author_id:
            return _checked(reply.author_id, "author"), reply.author
        try:
            status = self.api.status(reply.platform_id)
        except MastodonNotFoundError:
            return None
        except _API_ERRORS as exc:
            raise self._error(exc, "hide") from exc
        account = status.get("account") or {}
        account_id = str(account.get("id") or "")
        return (account_id, "") if _ID.match(account_id) else None

    def _relate(self, account_id: str, action: str) -> bool:
        """Block, unblock, mute or unmute the account; False when it is gone (404)."""
        call = {"block": self.api.account_block, "unblock": self.api.account_unblock,
                "mute": self.api.account_mute, "unmute": self.api.account_unmute}[action]
        try:
            call(account_id)
        except MastodonNotFoundError:
            return False
        except _API_ERRORS as exc:
            raise self._error(exc, "hide") from exc
        log.info("%sed Mastodon account %s from @%s on %s", action.rstrip("e"), account_id,
                 self.publisher.handle, self.host)
        return True

    def _servers(self, acct: str) -> str:
        """The moderators a report reaches: the school's server, and (forwarded) the author's own."""
        theirs = acct.rpartition("@")[2] if "@" in acct.lstrip("@") else ""
        return f"{theirs} and {self.host}" if theirs and theirs != self.host else self.host

    # -- errors ------------------------------------------------------------------------------------------------

    def _error(self, exc: Exception, kind: str) -> PublishError:
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        stage = "lookup" if kind == "read" else "replies"
        err = error_for(exc, stage, self.publisher.handle, self.host, last=self.publisher._session.last)
        return self._reworded(err, kind)

    def _reworded(self, err: PublishError, kind: str) -> PublishError:
        """Publishing's words ("nothing was published") made right for replies; refusals keep theirs."""
        doing = "reading the replies to its posts" if kind == "read" else "dealing with a reply"
        who = f"@{self.publisher.handle} on {self.host}"
        kw = {"code": err.code, "status": err.status, "detail": err.detail}
        if isinstance(err, RetryLater):
            when = err.retry_at.strftime("%H:%M UTC on %d %B %Y")
            return RetryLater(f"Mastodon's limit on how often {who} may be checked has been reached while "
                              f"{doing}. The gateway will try again automatically at {when}.",
                              retry_at=err.retry_at, **kw)
        if isinstance(err, Transient):
            return Transient(f"The Mastodon server {self.host} could not be reached, or had a temporary fault, "
                             f"while the gateway was {doing} for {who}. It will try again shortly.", **kw)
        return err


def _reply(status) -> Reply:
    account = status.get("account") or {}
    gone = not account or bool(account.get("suspended"))
    text = _plain_html(status.get("content") or "")
    warning = str(status.get("spoiler_text") or "")
    return Reply(
        platform_id=str(status["id"]), text=f"{warning}\n\n{text}" if warning else text,
        author="" if gone else str(account.get("acct") or account.get("username") or ""),
        author_id="" if gone else str(account.get("id") or ""),
        url=str(status.get("url") or status.get("uri") or ""), created_at=_utc(status.get("created_at")),
    )


def _plain_html(content: str) -> str:
    """Mastodon's HTML as the text written: paragraphs apart by a blank line, <br> a new line, tags (mentions'
    and links' spans) gone, entities decoded.  No Unicode normalisation: the text stays exactly as written."""
    text = _BREAK.sub("\n", _PARAGRAPH.sub("\n\n", content))
    return html.unescape(_TAG.sub("", text)).strip()


def _who(acct: str) -> str:
    return f"its author @{acct.lstrip('@')}" if acct else "its author"


def _checked(value, what: str) -> str:
    value = str(value or "")
    if not _ID.match(value):
        raise ValueError(f"bad Mastodon {what} id")
    return value


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def _utc(value) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
