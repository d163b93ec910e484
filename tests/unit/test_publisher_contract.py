"""What every publisher must do, so the worker and reconciler can treat them alike.

Each test runs against the built-in ArchivePublisher (in tmp_path) and XPublisher (against the X API emulator).
"""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from gateway.platforms.base import ArchivePublisher, Outgoing, OutgoingPhoto, Published
from gateway.platforms.x import XPublisher
from tests.x_api import TEST_CREDENTIALS, XApiEmulator

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


@pytest.fixture(params=["archive", "x"])
def subject(request, tmp_path):
    """(publisher, outgoing factory)"""
    if request.param == "archive":
        yield ArchivePublisher(tmp_path / "archive", "/archive/school/"), _factory()
    else:
        with XApiEmulator(TEST_CREDENTIALS, username="greenfieldschool") as x:
            yield XPublisher(TEST_CREDENTIALS, "greenfieldschool", timeout=5), _factory()
        assert x.auth_failures == []


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
