"""Each platform's stand-in for its network, for the tests that run on every platform (the contract test, and the
end-to-end publishing test): a context manager that starts the network's emulator and yields the credentials of the
school's account on it, @greenfieldschool. A new network adds one line to HARNESSES, and one to EMULATORS.

EMULATORS give the emulator too, for the tests of replies: each has the same controls, add_reply(parent_id, text,
author=, author_gone=) -> reply id, is_hidden(reply_id), rate_limit(kind, reset) and unavailable(kind), where kind
is "read" or "hide"."""
from __future__ import annotations

from contextlib import contextmanager

from tests import bluesky_api, facebook_api, mastodon_api
from tests.x_api import TEST_CREDENTIALS, XApiEmulator

HANDLE = "greenfieldschool"


@contextmanager
def _archive():
    yield {}


@contextmanager
def _x():
    with XApiEmulator(TEST_CREDENTIALS, username=HANDLE) as x:
        yield dict(TEST_CREDENTIALS)
    assert x.auth_failures == []


HARNESSES = {
    "archive": _archive,
    "x": _x,
    "mastodon": mastodon_api.harness,
    "bluesky": bluesky_api.harness,
    "facebook": facebook_api.harness,
}


@contextmanager
def _x_emulator():
    with XApiEmulator(TEST_CREDENTIALS, username=HANDLE) as x:
        yield dict(TEST_CREDENTIALS), x
    assert x.auth_failures == []


@contextmanager
def _mastodon_emulator():
    with mastodon_api.MastodonApiEmulator(username=HANDLE) as server:
        yield dict(mastodon_api.TEST_CREDENTIALS), server
    assert server.auth_failures == []


@contextmanager
def _bluesky_emulator():
    with bluesky_api.BlueskyEmulator() as bsky:
        yield {"app_password": bluesky_api.APP_PASSWORD, "service": bsky.url}, bsky


@contextmanager
def _facebook_emulator():
    with facebook_api.FacebookApiEmulator() as fb:
        yield dict(facebook_api.TEST_CREDENTIALS), fb
    assert fb.auth_failures == []


EMULATORS = {
    "x": _x_emulator,
    "mastodon": _mastodon_emulator,
    "bluesky": _bluesky_emulator,
    "facebook": _facebook_emulator,
}
