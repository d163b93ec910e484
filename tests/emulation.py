"""What the `responses`-based network emulators (X, Facebook, Mastodon) share: starting and stopping the mock,
injecting faults into the Nth call to an endpoint, and reading multipart bodies byte for byte."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Self

import responses
from requests.adapters import HTTPAdapter

_UNPATCHED_SEND = HTTPAdapter.send  # requests' own, before any emulator starts


@dataclass
class Fault:
    status: int | None = None
    body: object = None
    headers: dict | None = None
    timeout: bool = False
    connection_error: bool = False
    after_effect: bool = False  # apply the request's effect (create/delete/upload) before failing


class ResponsesEmulator:
    """Base of an emulator whose `ENDPOINTS` (name -> (method, path, ...)) answer through `self.mock`."""

    ENDPOINTS: dict[str, tuple] = {}

    def __init__(self):
        self.calls: list = []
        self.auth_failures: list[str] = []
        self.counts: Counter = Counter()
        self.faults: dict[tuple[str, int], Fault] = {}
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)

    def __enter__(self) -> Self:
        outer = HTTPAdapter.send
        if outer is not _UNPATCHED_SEND:
            # another emulator is already answering (a post to several networks): what this one does not know
            # goes on to it, never to the real network; `responses` takes that as its "real" send
            self.mock._real_send = outer
            self.mock.add_passthru(re.compile(r".*"))
        self.mock.start()
        return self

    def __exit__(self, *exc) -> None:
        self.mock.stop()
        self.mock.reset()

    def fail(self, endpoint: str, *, on_call: int | None = None, status: int | None = None, body=None,
             headers: dict | None = None, timeout: bool = False, connection_error: bool = False,
             after_effect: bool = False) -> None:
        """Make the Nth call (default: the next one) to `endpoint` answer `status`/`body`/`headers`, or raise
        ReadTimeout / ConnectionError.  after_effect=True applies the request first (the network did it; the answer
        is lost or wrong)."""
        assert endpoint in self.ENDPOINTS, endpoint
        n = on_call if on_call is not None else self.counts[endpoint] + 1
        self.faults[(endpoint, n)] = Fault(status, body, headers, timeout, connection_error, after_effect)

    def calls_to(self, endpoint: str) -> list:
        return [c for c in self.calls if c.endpoint == endpoint]

    def _count(self, name: str) -> Fault | None:
        """Count a call to `name`; the fault set for this call, if any."""
        self.counts[name] += 1
        return self.faults.pop((name, self.counts[name]), None)


def multipart_form(content_type: str, raw: bytes) -> tuple[dict, list[tuple[str, str]]]:
    """The files (name -> filename, data, content_type) and the other fields (name, value) of a multipart body."""
    files, fields = {}, []
    for headers, payload in multipart(content_type, raw):
        disposition = headers.get("content-disposition", "")
        name, filename = param(disposition, "name"), param(disposition, "filename")
        if filename is not None:
            files[name] = {"filename": filename, "data": payload, "content_type": headers.get("content-type")}
        else:
            fields.append((name, payload.decode()))
    return files, fields


def multipart(content_type: str, raw: bytes):
    """(headers, bytes) of each part, byte for byte (the email parser would touch line endings)."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type).group(1).encode()
    for chunk in raw.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, payload = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        yield headers, payload.removesuffix(b"\r\n")


def param(header: str, name: str) -> str | None:
    """A quoted parameter of a header such as Content-Disposition."""
    match = re.search(rf'(?:^|;)\s*{name}="([^"]*)"', header)
    return match.group(1) if match else None
