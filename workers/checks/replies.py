"""Replies under the school's posts, judged by the same text checks as posts (REPLY_CHECKS).

A post's text is cleaned; a reply cannot be, so what the text checks would take out of a post is a reason to
hide the reply: a pupil's name (in words, a hashtag or a mention), personal data, an offensive word, a link the
school's rules block. What they would only ask a person about (a word that may be a name, a link to check) holds
it for SMT. A check that crashes hides it: fail closed.
"""
from __future__ import annotations

from moderation.findings import BLOCK, REVIEW, Finding
from moderation.replies import ASK, FINE, HIDE
from workers.checks.base import CheckContext, Draft
from workers.checks.post_links import LinksCheck
from workers.checks.post_text import TextCheck
from workers.checks.run import run_checks

REPLY_CHECKS = (TextCheck, LinksCheck)
# The checks take time that grows faster than a text's length (about 0.3 s at 5,000 characters of one long "word",
# 45 s at 100,000): a longer reply is judged on its start and hidden, as the rest could not be checked.
JUDGED = 5_000
# findings that change or block a post: in a reply, which cannot be changed, they hide it
HIDING = {"name_removed", "offensive_language"}


def judge(text: str, context: CheckContext) -> tuple[str, list[Finding]]:
    """(verdict, findings) for one reply's text."""
    outcome = run_checks(Draft(text[:JUDGED].replace("\x00", "")), context, REPLY_CHECKS)
    findings = outcome.findings
    if len(text) > JUDGED:
        findings.append(Finding("reply_too_long", BLOCK, f"This reply is longer than {JUDGED:,} characters, so only "
                                "its start could be checked; it was hidden to be safe. Read it on the network, and "
                                "restore it if it is fine.", "reply"))
    if any(f.severity == BLOCK or f.code in HIDING for f in findings):
        return HIDE, findings
    if any(f.severity == REVIEW for f in findings):
        return ASK, findings
    return FINE, findings
