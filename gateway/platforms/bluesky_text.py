"""Text as Bluesky counts and marks it up: grapheme clusters, and links, #tags and @mentions as facets.

Bluesky limits a post to 300 graphemes (`app.bsky.feed.post` text: maxGraphemes 300, maxLength 3000 UTF-8 bytes),
counted by graphemes.grapheme_length.
"""
from __future__ import annotations

from collections.abc import Callable

MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000


def rich_text(text: str, resolve: Callable[[str], str | None]):
    """The post's text and its facets, so that Bluesky shows links, #tags and @mentions as links.

    Links, tags and mentions are found as Bluesky's own app finds them (the SDK's port of `detectFacets`), and the
    text is rebuilt with the SDK's TextBuilder, which measures each facet in UTF-8 bytes as Bluesky requires.
    `resolve(handle)` gives a mentioned account's DID, or None to leave a handle that does not resolve as plain text.
    """
    # atproto takes over half a second to import; loaded on first use so the web app and CLI do not pay for it.
    from atproto_client import models
    from atproto_client.utils import TextBuilder, detect_facets, detect_mentions

    spans = [(f.index.byte_start, f.index.byte_end, f.features[0]) for f in detect_facets(text)]
    for mention in detect_mentions(text):
        did = resolve(mention.handle)
        if did:
            spans.append((mention.byte_start, mention.byte_end, models.AppBskyRichtextFacet.Mention(did=did)))
    raw = text.encode("utf-8")
    builder = TextBuilder()
    done = 0
    for start, end, feature in sorted(spans, key=lambda span: span[:2]):
        if start < done:
            continue  # overlaps the facet before it: Bluesky does not allow overlapping facets
        builder.text(raw[done:start].decode("utf-8"))
        words = raw[start:end].decode("utf-8")
        if isinstance(feature, models.AppBskyRichtextFacet.Link):
            builder.link(words, feature.uri)
        elif isinstance(feature, models.AppBskyRichtextFacet.Tag):
            builder.tag(words, feature.tag)
        else:
            builder.mention(words, feature.did)
        done = end
    builder.text(raw[done:].decode("utf-8"))
    return builder.build_text(), builder.build_facets()
