"""Text measures shared by the web form and the checks."""
from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # twitter_text imports the deprecated pkg_resources
    from twitter_text import parse_tweet


def weighted_length(text: str) -> int:
    """X's own weighted count: links count 23, most CJK characters and emoji count 2."""
    return parse_tweet(text).weightedLength
