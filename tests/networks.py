"""Each platform's stand-in for its network, for the tests that run on every platform (the contract test, and the
end-to-end publishing test): a context manager that starts the network's emulator and yields the credentials of the
school's account on it, @greenfieldschool. A new network adds one line to HARNESSES."""
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
