"""What every platform and its publisher must do, so the worker and reconciler can treat them alike.

Each test runs once per platform in PLATFORMS, on the publisher its `connect` builds: the archive in a temporary
instance folder, each network against its emulator. A new network adds one line to HARNESSES (tests/networks.py).
"""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from gateway.core import settings as settings_module
from gateway.platforms import PLATFORMS
from gateway.platforms.base import Outgoing, OutgoingPhoto, Published
from tests.networks import HANDLE, HARNESSES

_keys = itertools.count(9001)


def _factory():
    def make() -> Outgoing:
        n = next(_keys)  # numeric: publications are keyed by their id
        return Outgoing(
            key=str(n), text=f"Notice {n}: the library is open late on Thursday. https://greenfield.example.sch.uk/",
            photos=[OutgoingPhoto(b"\xff\xd8\xff\xe0" + bytes([n % 256]) * 500 + b"\xff\xd9", "JPEG",
                                  "The library reading corner")],
            approved_by="Head Teacher", approved_at=datetime.now(timezone.utc),
        )

    return make


@pytest.fixture(params=list(HARNESSES))
def platform(request):
    return PLATFORMS[request.param]


@pytest.fixture
def connected(platform):
    """(platform, credentials): the network is there for the test."""
    with HARNESSES[platform.name]() as credentials:
        yield platform, credentials


@pytest.fixture
def subject(connected, tmp_path):
    """(publisher, outgoing factory)"""
    platform, credentials = connected
    yield platform.connect(HANDLE, credentials, settings_module.load({"INSTANCE_DIR": str(tmp_path)})), _factory()


def test_every_platform_is_under_contract():
    assert set(HARNESSES) == set(PLATFORMS)
    assert all(name == platform.name for name, platform in PLATFORMS.items())


def test_the_platform_describes_itself(platform):
    assert platform.title and platform.max_text > 0 and platform.max_photos > 0
    assert platform.max_photo_bytes > 0 and platform.max_alt_text > 0
    assert platform.text_length("") == 0 and platform.text_length("Sports day") == len("Sports day")
    names = [f.name for f in platform.credential_fields]
    assert len(names) == len(set(names)) and all(f.label for f in platform.credential_fields)
    assert not any(f.secret and f.default for f in platform.credential_fields)  # a secret is never prefilled
    # keys taken means they can be checked, and the head is told where to find them
    assert bool(platform.credential_fields) == (platform.check is not None) == bool(platform.credentials_help)


def test_check_names_the_account_the_keys_belong_to(connected):
    platform, credentials = connected
    if platform.check is not None:
        assert platform.check(HANDLE, credentials).lower() == HANDLE


def test_an_accounts_own_text_limit_is_read_from_its_network(connected):
    platform, credentials = connected
    limit = platform.text_limit_of(credentials) if platform.text_limit_of else platform.max_text
    assert isinstance(limit, int) and limit > 0


def test_publish_returns_where_it_went(subject):
    publisher, make = subject
    result = publisher.publish(make())
    assert isinstance(result, Published)
    assert isinstance(result.platform_id, str) and result.platform_id
    assert isinstance(result.url, str) and result.url


def test_find_after_publish_returns_the_same_post(subject):
    publisher, make = subject
    post = make()
    result = publisher.publish(post)
    assert publisher.find(post) == result


def test_find_before_publish_is_none(subject):
    publisher, make = subject
    publisher.publish(make())  # something else is there
    assert publisher.find(make()) is None


def test_publishing_the_same_post_again_does_not_make_a_second(subject):
    publisher, make = subject
    post = make()
    first = publisher.publish(post)
    assert publisher.publish(post) == first
    assert publisher.find(post) == first


def test_delete_then_find_is_none(subject):
    publisher, make = subject
    post = make()
    result = publisher.publish(post)
    publisher.delete(result.platform_id)
    assert publisher.find(post) is None


def test_deleting_twice_is_fine(subject):
    publisher, make = subject
    result = publisher.publish(make())
    publisher.delete(result.platform_id)
    publisher.delete(result.platform_id)


def test_validate_passes_a_good_post(subject):
    publisher, make = subject
    assert publisher.validate(make()) == []


def test_validate_refuses_what_the_platform_does_not_accept(subject, platform):
    publisher, make = subject
    long = make()
    long.text = "a" * (platform.max_text + 1)
    assert platform.text_length(long.text) > platform.max_text and publisher.validate(long)
    fits = make()
    fits.text = "a" * platform.max_text
    assert publisher.validate(fits) == []
    many = make()
    many.photos = many.photos * (platform.max_photos + 1)
    assert publisher.validate(many)
    big = make()
    big.photos[0].data += b"\0" * platform.max_photo_bytes
    assert publisher.validate(big)
    described = make()
    described.photos[0].alt = "a" * (platform.max_alt_text + 1)
    assert publisher.validate(described)
