"""A senior leader corrects a post's words on the review page: it is checked again with them, the author is told, the
change is audited, and the one who changed it cannot approve it; someone else must."""
from __future__ import annotations

import io

from sqlalchemy import select

from gateway.models import Notice, User
from moderation import lifecycle
from moderation.audit import AuditEntry
from moderation.models import Post
from tests.helpers import audit_count, big_photo, post_id_of, submit


def _checked_post(login, work) -> int:
    photo = {"photo_1": (io.BytesIO(big_photo(1, (400, 300))), "match.jpg"), "alt_new_1": "The team"}
    post_id = post_id_of(submit(login("teacher"), "Well done to our team", **photo))
    work()
    return post_id


def test_the_corrected_words_are_checked_again_and_someone_else_approves(login, work, fetch, read):
    post_id = _checked_post(login, work)
    smt, head = login("smt"), login("head")
    changed = smt.post(f"/review/{post_id}/edit", {"text": "Well done to our netball team!",
                                                   "alt_1": "Our netball team on the court"}, follow_redirects=True)
    assert "another senior leader or the head must approve it" in changed.get_data(as_text=True)
    assert fetch(Post, post_id).state == lifecycle.SUBMITTED
    work()
    post = fetch(Post, post_id)
    assert post.state == lifecycle.AWAITING_REVIEW and post.cleaned_text == "Well done to our netball team!"
    assert post.images[0].clean_alt_text == "Our netball team on the court"
    smt_id = read(lambda s: s.scalar(select(User.id).where(User.email == "smt@demo.school")))
    assert post.editor_ids == [smt_id]

    page = smt.get(f"/review/{post_id}").get_data(as_text=True)
    assert "You changed its words" in page and "Approve and publish" not in page
    refused = smt.post(f"/review/{post_id}/approve", follow_redirects=True).get_data(as_text=True)
    assert "you changed its words" in refused and fetch(Post, post_id).state == lifecycle.AWAITING_REVIEW

    assert "Approve and publish" in head.get(f"/review/{post_id}").get_data(as_text=True)
    head.post(f"/review/{post_id}/approve")
    work()
    assert fetch(Post, post_id).state == lifecycle.PUBLISHED

    entry = read(lambda s: s.scalar(select(AuditEntry).where(AuditEntry.action == "edited_by_reviewer")))
    assert entry.subject == f"post:{post_id}" and entry.details["changed"] == ["text", "description of photo 1"]
    told = read(lambda s: s.scalars(select(Notice.event).join(User).where(User.email == "teacher@demo.school")))
    assert "edited" in list(told)


def test_the_checks_judge_the_new_words(login, work, fetch):
    """An e-mail address typed in by the reviewer blocks the post as it would the author's."""
    post_id = _checked_post(login, work)
    login("smt").post(f"/review/{post_id}/edit", {"text": "Questions to parent.helper@gmail.com please",
                                                  "alt_1": "The team"})
    work()
    post = fetch(Post, post_id)
    assert lifecycle.shown_state(post) == lifecycle.NEEDS_CHANGES
    assert post.blocking


def test_nothing_changed_or_no_longer_waiting_changes_nothing(login, work, fetch, read):
    post_id = _checked_post(login, work)
    smt = login("smt")
    same = smt.post(f"/review/{post_id}/edit", {"text": "Well done to our team", "alt_1": "The team"},
                    follow_redirects=True).get_data(as_text=True)
    assert "Not changed: nothing was changed." in same
    empty_alt = smt.post(f"/review/{post_id}/edit", {"text": "Well done", "alt_1": " "},
                         follow_redirects=True).get_data(as_text=True)
    assert "every photo needs its description" in empty_alt
    login("head").post(f"/review/{post_id}/approve")
    late = smt.post(f"/review/{post_id}/edit", {"text": "Too late", "alt_1": "The team"},
                    follow_redirects=True).get_data(as_text=True)
    assert "only a post waiting for review can be changed by a reviewer" in late
    post = fetch(Post, post_id)
    assert post.text == "Well done to our team" and post.editor_ids == []
    assert audit_count(read, "edited_by_reviewer", post_id) == 0
