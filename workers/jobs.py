"""Job functions: the queue calls them with ids; each loads the settings and calls one service."""
from __future__ import annotations

from gateway.core import settings as settings_module
from gateway.services import checking, publishing


def check_post(post_id: int, attempt: int) -> None:
    """Run the checks on one post; a stale or duplicate job does nothing."""
    checking.check_post(settings_module.load(), post_id, attempt)


def publish(publication_id: int) -> None:
    """Publish one post to one account, at most once."""
    publishing.publish(settings_module.load(), publication_id)


def take_down(takedown_id: int) -> None:
    """Remove one publication, or all of a post's, from the networks."""
    publishing.take_down(settings_module.load(), takedown_id)
