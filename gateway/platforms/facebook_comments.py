"""Comments under the school's Facebook posts: read them all, hide (or delete) one, show it again, block its writer.

Calls (developers.facebook.com, Graph API v26.0, with the Page access token):

* Reading: `GET /{post-id}/comments?filter=stream&order=chronological&fields=...&limit=100`
  (/docs/graph-api/reference/object/comments): `filter=stream` gives every comment the token may see, replies to
  comments included, in one chronological list; `{"data": [...], "paging": {"cursors": {"before", "after"},
  "next"}}`, followed through `paging.next` until there is none.  `from` is left out when Facebook does not share
  the writer (a deleted or non-public account).  A comment id is `{post-part}_{comment-id}`
  (/docs/graph-api/reference/comment: the `{page-id}_{post_id}_{comment-id}` format is deprecated).  Comments by
  the Page itself (`from.id` is the Page's id) are the school's own words, not replies.  The school's post gone:
  code 100, subcode 33 ("Object with ID ... does not exist") -> PermanentError code "post_gone".
* Hiding: `POST /{comment-id}` with `is_hidden=true` -> `{"success": true}` (Graph API changelog v2.2: "hide and
  unhide comments on a Page Post ... POST /{comment_id}?is_hidden=true"); a hidden comment is still seen by its
  writer and their friends.  With FACEBOOK_COMMENTS=delete: `DELETE /{comment-id}` -> `{"success": true}`, for
  everyone and for good.  Showing again: `is_hidden=false`; a deleted comment cannot come back.
* Blocking: `POST /{page-id}/blocked` with `user={id}` -> `{"{id}": true}` (/docs/graph-api/reference/page/blocked).

The cursor: Facebook's paging docs (/docs/graph-api/results) say an app "shouldn't store cursors or assume that
they will be valid in the future" (a cursor dies with the comment it points at), and a comment can be edited after
it was read.  So every read reads all of a post's comments (a school post rarely has more than one page of 100) and
gives back no cursor; Facebook does not charge for reads.
"""
from __future__ import annotations

import logging
import re

from gateway.platforms.base import PermanentError, Reply, ReplyPage, Transient
from gateway.platforms.facebook_graph import GraphClient, next_params, parse_time

log = logging.getLogger(__name__)

FIELDS = "id,message,from{id,name},created_time,is_hidden,permalink_url,parent{id}"
COMMENTS_PAGE = 100  # as many as one read asks for
COMMENTS_MAX_PAGES = 100  # 10,000 comments under one school post: beyond that a person looks, nothing is guessed
MODES = ("hide", "delete")
POST_ID = re.compile(r"^\d+_\d+$")
COMMENT_ID = re.compile(r"^\d+(?:_\d+)?$")
PERSON_ID = re.compile(r"^\d{1,30}$")
ALREADY_GONE = "It was already gone from Facebook."


class FacebookComments:
    """The comments on one Page's posts, through that Page's Graph API session."""

    def __init__(self, graph: GraphClient, page_id: str, mode: str = "hide"):
        if mode not in MODES:
            raise ValueError(f"FACEBOOK_COMMENTS must be one of {', '.join(MODES)}")
        self.graph = graph
        self.page_id = page_id
        self.mode = mode

    def replies(self, post_id: str, cursor: str | None) -> ReplyPage:
        """Every comment under the post, at any depth, but the Page's own; `cursor` is not used (see above)."""
        if not POST_ID.match(str(post_id)):
            raise ValueError("bad Facebook post id")
        params: dict | None = {"filter": "stream", "order": "chronological", "fields": FIELDS,
                               "limit": str(COMMENTS_PAGE)}
        found: list[Reply] = []
        for _ in range(COMMENTS_MAX_PAGES):
            page = self.graph.call("GET", f"{post_id}/comments", "comments", params=params, gone_ok=True)
            if page is None:
                raise _post_gone(post_id)
            found += self._replies_in(post_id, page)
            params = next_params(page)
            if params is None:
                log.info("read %d comment(s) under Facebook post %s", len(found), post_id)
                return ReplyPage(found)
        raise PermanentError(
            f"The Facebook post has more than {COMMENTS_MAX_PAGES * COMMENTS_PAGE:,} comments, more than the "
            "gateway reads. Someone who manages the Page should look through its comments on Facebook.",
            code="too_many", detail=f"post {post_id}")

    def hide(self, post_id: str, reply: Reply) -> str:
        """Hide the comment (or delete it, when the school chose that); a comment already gone is done."""
        comment_id = _comment_id(reply)
        if self.mode == "delete":
            answer = self.graph.call("DELETE", comment_id, "moderate", gone_ok=True)
            done = (f"Deleted the comment{_by(reply)} under the school's Facebook post: nobody can see it any more, "
                    "and it cannot be brought back.")
        else:
            answer = self.graph.call("POST", comment_id, "moderate", data={"is_hidden": "true"}, gone_ok=True)
            done = (f"Hid the comment{_by(reply)} under the school's Facebook post: only its writer and their "
                    "friends can still see it.")
        if answer is None:
            log.info("Facebook comment %s was already gone", comment_id)
            return ALREADY_GONE
        _confirmed(answer, comment_id)
        log.info("Facebook comment %s: %s", comment_id, "deleted" if self.mode == "delete" else "hidden")
        return done

    def restore(self, post_id: str, reply: Reply) -> str:
        """Show a hidden comment again; a deleted one cannot come back (PermanentError)."""
        comment_id = _comment_id(reply)
        answer = self.graph.call("POST", comment_id, "moderate", data={"is_hidden": "false"}, gone_ok=True)
        if answer is None:
            raise PermanentError(
                f"The comment{_by(reply)} cannot be shown again: it is no longer on Facebook (it was deleted, by "
                "the gateway, the Page or its writer), and Facebook cannot bring back a deleted comment.",
                code="reply_gone", detail=f"comment {comment_id}")
        _confirmed(answer, comment_id)
        log.info("Facebook comment %s shown again", comment_id)
        return f"Showed the comment{_by(reply)} under the school's Facebook post to everyone again."

    def block(self, reply: Reply) -> str:
        """Block the comment's writer from the Page (Facebook's Page block: no more comments or messages)."""
        who = reply.author or "the writer of this comment"
        if not reply.author_id:
            raise PermanentError(
                "Facebook does not say who wrote this comment (their account may have been deleted, or is not "
                "shared with the Page), so the gateway cannot block them.", code="no_author")
        if not PERSON_ID.match(reply.author_id):
            raise ValueError("bad Facebook person id")
        answer = self.graph.call("POST", f"{self.page_id}/blocked", "moderate", data={"user": reply.author_id},
                                 gone_ok=True)
        if answer is None:
            raise PermanentError(f"Facebook no longer knows the account of {who} (it may have been deleted), so "
                                 "there is nobody to block.", code="no_author", detail=f"user {reply.author_id}")
        if answer.get(reply.author_id) is not True:
            raise PermanentError(f"Facebook did not block {who} from the school's Page. Someone who manages the "
                                 "Page can block them on Facebook instead.", code="not_blocked",
                                 detail=f"answer for user {reply.author_id}: {answer.get(reply.author_id)!r}")
        log.info("blocked Facebook user %s from page %s", reply.author_id, self.page_id)
        return (f"Blocked {who} from the school's Facebook Page: they can no longer comment on its posts or send "
                "it messages.")

    def _replies_in(self, post_id: str, page: dict) -> list[Reply]:
        items = page.get("data")
        if not isinstance(items, list):
            raise _unreadable("no list of comments in Facebook's answer")
        replies = []
        for item in items:
            comment_id = str(item.get("id") or "") if isinstance(item, dict) else ""
            if not COMMENT_ID.match(comment_id):
                raise _unreadable("a comment without an id in Facebook's answer")
            author = item.get("from") if isinstance(item.get("from"), dict) else {}
            author_id = str(author.get("id") or "")
            if author_id == self.page_id:
                continue  # the school's own words in the conversation
            replies.append(Reply(
                platform_id=comment_id, text=str(item.get("message") or ""),
                author=str(author.get("name") or "") if author_id else "", author_id=author_id,
                url=_url(item.get("permalink_url"), post_id, comment_id),
                created_at=parse_time(item.get("created_time")), hidden=item.get("is_hidden") is True))
        return replies


def _comment_id(reply: Reply) -> str:
    if not COMMENT_ID.match(str(reply.platform_id)):
        raise ValueError("bad Facebook comment id")
    return reply.platform_id


def _by(reply: Reply) -> str:
    return f" by {reply.author}" if reply.author else ""


def _url(permalink, post_id: str, comment_id: str) -> str:
    """Facebook's permalink; without one, the post's address that opens at the comment."""
    if isinstance(permalink, str) and permalink.startswith("https://"):
        return permalink
    page_id, _, story = post_id.partition("_")
    return f"https://www.facebook.com/{page_id}/posts/{story}?comment_id={comment_id.rpartition('_')[2]}"


def _confirmed(answer: dict, comment_id: str) -> None:
    if answer.get("success") is not True:
        # Not confirmed: for a safeguarding action, try again rather than assume it was done.
        raise Transient("Facebook did not confirm the change to the comment. The gateway will try again shortly.",
                        code="unconfirmed", detail=f"comment {comment_id}: success={answer.get('success')!r}")


def _post_gone(post_id: str) -> PermanentError:
    return PermanentError(
        "The school's post is no longer on Facebook (it was deleted, or the Page's saved token can no longer see "
        "it), so there are no comments to read under it.", code="post_gone", detail=f"post {post_id}")


def _unreadable(detail: str) -> Transient:
    return Transient("Facebook's answer listing the comments could not be read. The gateway will read them again "
                     "shortly.", code="server", detail=detail)
