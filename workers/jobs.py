"""Job functions: the queue calls them with ids; each loads the settings and calls one service."""
from __future__ import annotations

from gateway.core import settings as settings_module
from gateway.services import alerts, checking, comments, publishing, sign_in


def check_post(post_id: int, attempt: int) -> None:
    """Run the checks on one post; a stale or duplicate job does nothing."""
    checking.check_post(settings_module.load(), post_id, attempt)


def publish(publication_id: int) -> None:
    """Publish one post to one account, at most once."""
    publishing.publish(settings_module.load(), publication_id)


def take_down(takedown_id: int) -> None:
    """Remove one publication, or all of a post's, from the networks."""
    publishing.take_down(settings_module.load(), takedown_id)


def read_replies(account_id: int, round_: int) -> None:
    """Read, judge and (where needed) hide the new replies under one account's posts."""
    comments.read_replies(settings_module.load(), account_id, round_)


def act_on_reply(reply_id: int) -> None:
    """Hide, restore or block on the network, as the reply waits for."""
    comments.act_on_reply(settings_module.load(), reply_id)


def send_alert(post_id: int) -> None:
    """E-mail SMT about a post's flagged replies."""
    alerts.send_alert(settings_module.load(), post_id)


def send_account_link(link_id: int) -> None:
    """E-mail a one-time set-up or password-reset link."""
    sign_in.mail_link(settings_module.load(), link_id)


def send_reset_link(email: str) -> None:
    """E-mail a password-reset link, if the address has an account."""
    sign_in.mail_reset_link(settings_module.load(), email)
