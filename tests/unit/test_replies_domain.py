"""Replies judged by the text checks, and what may happen to a reply: without Flask, RQ or a database."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from gateway.core.errors import Refused
from gateway.models import User
from gateway.platforms.base import Reply as Incoming
from moderation import replies
from workers.checks.base import CheckContext
from workers.checks.links import DEFAULT_ALLOW, LinkPolicy
from workers.checks.names import NameMatcher, RosterPerson
from workers.checks.photos import PhotoLimits
from workers.checks.replies import judge

CONTEXT = CheckContext(PhotoLimits(), None, NameMatcher((RosterPerson(1, "Amelia", "Smith", None, "pupil"),)),
                       LinkPolicy(allow=DEFAULT_ALLOW))


@pytest.mark.parametrize("text, verdict, code", [
    ("Well done Amelia Smith!", "hide", "name_removed"),
    ("Go @amelia_smith", "hide", "name_removed"),
    ("So proud #WellDoneAmelia", "hide", "name_removed"),
    ("Ring me on 07700 900123", "hide", "personal_phone"),
    ("Write to amelia.parent@example.com", "hide", "personal_email"),
    ("You are all idiots and cr*p", "hide", "offensive_language"),
    ("Prize at http://xn--pypal-4ve.com/login", "hide", "link_block"),
    ("Prize at http://192.168.1.20/login", "hide", "link_block"),
    ("More at https://bit.ly/3abc", "ask", "link_review"),
    ("Lovely photos, thank you!", "fine", None),
    ("مرحبا، عمل رائع \u200f 🎉\u200d🎉", "fine", None),
])
def test_a_reply_is_judged_by_the_text_checks(text, verdict, code):
    got, findings = judge(text, CONTEXT)
    assert got == verdict
    assert (code in {f.code for f in findings}) if code else findings == []


def test_a_long_reply_is_judged_whole_and_a_name_at_its_end_is_found():
    verdict, findings = judge("x " * 2_400 + "Amelia Smith", CONTEXT)
    assert verdict == "hide" and [f.code for f in findings] == ["name_removed"]


@pytest.mark.parametrize("text", ["x" * 100_000, "a.b" * 33_000, "Lovely " * 10_000],
                         ids=["one long word", "dotted", "many words"])
def test_a_huge_reply_is_hidden_as_only_its_start_can_be_checked(text):
    verdict, findings = judge(text, CONTEXT)
    assert verdict == "hide" and "reply_too_long" in {f.code for f in findings}


def test_without_the_roster_a_reply_is_hidden_fail_closed():
    verdict, findings = judge("Lovely photos", CheckContext(PhotoLimits(), None, None, LinkPolicy()))
    assert verdict == "hide" and "check_crashed" in {f.code for f in findings}


def incoming(hidden=False, author_id="42") -> Incoming:
    return Incoming("r1", "text", "parent", author_id, "https://x.com/parent/status/1",
                    datetime(2026, 12, 1, tzinfo=timezone.utc), hidden)


def test_a_reply_to_hide_waits_for_its_job_and_one_to_ask_about_is_held():
    hide = replies.seen(1, incoming(), replies.HIDE, [])
    assert hide.state == replies.SHOWN and hide.action == replies.DO_HIDE and hide.needs_smt
    held = replies.seen(1, incoming(), replies.ASK, [])
    assert held.state == replies.HELD and held.action is None and held.needs_smt
    fine = replies.seen(1, incoming(), replies.FINE, [])
    assert fine.state == replies.SHOWN and fine.action is None and not fine.needs_smt
    already = replies.seen(1, incoming(hidden=True), replies.HIDE, [])
    assert already.state == replies.HIDDEN and already.action is None


def test_what_the_network_did_and_what_it_refused():
    reply = replies.seen(1, incoming(), replies.HIDE, [])
    replies.done(reply, replies.DO_HIDE, "Hidden on X.")
    assert reply.state == replies.HIDDEN and reply.action is None and reply.done == "Hidden on X."
    replies.ask(reply, replies.DO_RESTORE, "user:2 smt@demo.school")
    replies.done(reply, replies.DO_HIDE, "Hidden on X.")  # a slow earlier job: the restore still waits
    assert reply.action == replies.DO_RESTORE
    replies.failed(reply, "X refused.")
    assert reply.action is None and reply.error == "X refused." and reply.state == replies.HIDDEN
    other = replies.seen(1, incoming(), replies.HIDE, [])
    replies.failed(other, "X refused.")
    assert other.state == replies.FAILED and other.needs_smt


def test_smt_cannot_ask_for_what_makes_no_sense():
    reply = replies.seen(1, incoming(author_id=""), replies.FINE, [])
    with pytest.raises(Refused):
        replies.ask(reply, replies.DO_RESTORE, "smt")
    with pytest.raises(Refused):
        replies.ask(reply, replies.DO_BLOCK, "smt")  # the author's account is gone
    with pytest.raises(Refused):
        replies.raise_concern(reply, User(id=2), "   ")
    replies.raise_concern(reply, User(id=2), "Knows the family")
    assert reply.concern == "Knows the family" and reply.concern_by_id == 2 and reply.concern_at
