"""Text as X counts and keeps it: the weighted length, and the form X's timeline gives a post back in."""
from __future__ import annotations

import html
import re
import unicodedata
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # twitter_text imports the deprecated pkg_resources
    from twitter_text import extract_urls_with_indices, parse_tweet

MAX_TEXT = 280
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)


def weighted_length(text: str) -> int:
    """X's own weighted count: links count 23, most CJK characters and emoji count 2."""
    return parse_tweet(text).weightedLength


def comparable(text: str) -> str:
    """Text as X would keep it, for comparing: no links, NFC, single spaces."""
    text = unicodedata.normalize("NFC", text)
    for url in sorted(extract_urls_with_indices(text), key=lambda u: u["indices"][0], reverse=True):
        start, end = url["indices"]
        text = text[:start] + " " + text[end:]
    text = _LINK.sub(" ", text)
    return " ".join(text.split())


def comparables(x_text: str) -> set[str]:
    """X's text compared both as given and with its HTML escaping (&amp; &lt; &gt;) undone."""
    return {comparable(x_text), comparable(html.unescape(x_text))}
