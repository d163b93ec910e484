"""Links that are followed: expanding shortened links and the optional safe-browsing lookup, against
real local HTTP servers (nothing here contacts anything but 127.0.0.1)."""
from __future__ import annotations

import dataclasses
import json
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from moderation.findings import BLOCK, REVIEW
from workers.checks.links import DEFAULT_ALLOW, LinkPolicy, check_link

# Every socket connection attempted during these tests, from Python's audit hooks: the proof that
# nothing connected to an address the checks refused. The hook also refuses any address but
# 127.0.0.1, so even a broken check cannot send traffic elsewhere.
CONNECTIONS: list = []
GUARD = {"armed": False}


def _guard_connections(event: str, args: tuple) -> None:
    if event != "socket.connect" or not GUARD["armed"]:
        return
    address = args[1]
    CONNECTIONS.append(address)
    if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
        raise ConnectionRefusedError(f"the link tests only connect to 127.0.0.1, not {address}")


sys.addaudithook(_guard_connections)


@pytest.fixture(autouse=True)
def only_local_connections():
    CONNECTIONS.clear()
    GUARD["armed"] = True
    yield
    GUARD["armed"] = False


PASS = "pass"


# --- expanding shortened links, against local servers ---

class Recorder(BaseHTTPRequestHandler):
    """A server that must never be reached: it records every request."""

    hits: list = []

    def do_GET(self):
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Redirector(BaseHTTPRequestHandler):
    """A shortener: each path redirects somewhere (or does not)."""

    requests: list = []
    a_port = b_port = 0

    def routes(self) -> dict:
        a, b = self.a_port, self.b_port
        k = int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/chain/") else 0
        return {
            "/chain/": f"http://go.example.com:{a}/chain/{k - 1}" if k > 1 else "https://www.bbc.co.uk/news",
            "/loop/a": "/loop/b",
            "/loop/b": f"http://go.example.com:{a}/loop/a",
            "/hop/rel": "../chain/1",
            "/to-loopback": f"http://127.0.0.1:{b}/secret",
            "/to-private": "http://10.0.0.1/admin",
            "/to-name-loopback": f"http://sneaky.example.com:{b}/secret",
            "/to-name-private": "http://intranet.example.com/",
            "/to-mixed": f"http://mixed.example.com:{a}/x",
            "/to-program": "https://www.gov.uk/setup.exe",
            "/to-script": "javascript:alert(1)",
            "/to-lookalike": "https://раураl.com/login",
            "/rebind": "https://www.bbc.co.uk/rebound",
        }

    def do_GET(self):
        self.requests.append((self.headers["Host"], self.path))
        if self.path == "/slow":
            time.sleep(1.5)
        routes = self.routes()
        target = routes.get("/chain/" if self.path.startswith("/chain/") else self.path)
        self.send_response(302 if target else 200)
        if target:
            self.send_header("Location", urllib.parse.quote(target, safe=":/?#@=&.%-_~"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def servers():
    shortener, forbidden = _serve(Redirector), _serve(Recorder)
    Redirector.a_port, Redirector.b_port = shortener.server_address[1], forbidden.server_address[1]
    yield Redirector.a_port, Redirector.b_port
    for server in (shortener, forbidden):
        server.shutdown()
        server.server_close()


class Resolver:
    """The policy's resolver: fixed answers per name, and a record of every question."""

    def __init__(self):
        self.calls: list = []
        self.rebinds = 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        if host == "rebind.example.com":  # public the first time, private afterwards
            self.rebinds += 1
            return ["127.0.0.1"] if self.rebinds == 1 else ["10.0.0.1"]
        answers = {
            "go.example.com": ["127.0.0.1"],
            "www.bbc.co.uk": ["127.0.0.1"],
            "sneaky.example.com": ["127.0.0.1"],
            "intranet.example.com": ["10.0.0.1"],
            "mixed.example.com": ["127.0.0.1", "10.0.0.1"],
        }
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name")
        return answers[host]


@pytest.fixture
def resolver():
    return Resolver()


@pytest.fixture
def expanding(servers, resolver):
    """A policy that expands shortened links: the local shortener's port is treated as public, the recorder's is not."""
    a_port, _ = servers
    Redirector.requests.clear()
    Recorder.hits.clear()
    return LinkPolicy(
        allow=DEFAULT_ALLOW,
        shorteners=("*.example.com",),
        expand_shortened=True,
        timeout=1.0,
        resolver=resolver,
        allowed_ports=(80, 443, a_port),
        treat_as_public=(f"127.0.0.1:{a_port}", "127.0.0.1:443"),
    )


def _never_connected_to(address: str) -> bool:
    return all(connection[0] != address for connection in CONNECTIONS if isinstance(connection, tuple))


def test_a_redirect_chain_to_an_allowed_host_passes(servers, expanding):
    a_port, _ = servers
    result = check_link(f"http://go.example.com:{a_port}/chain/3", expanding)
    assert result.verdict == PASS
    assert result.reasons == ["it is a shortened link that leads to https://www.bbc.co.uk/news"]
    assert Redirector.requests == [(f"go.example.com:{a_port}", f"/chain/{k}") for k in (3, 2, 1)]


def test_relative_redirects_are_followed(servers, expanding):
    a_port, _ = servers
    assert check_link(f"http://go.example.com:{a_port}/hop/rel", expanding).verdict == PASS
    assert [path for _, path in Redirector.requests] == ["/hop/rel", "/chain/1"]


def test_the_destination_is_checked_like_any_link(servers, expanding):
    a_port, _ = servers
    result = check_link(f"http://go.example.com:{a_port}/to-name-private", expanding)
    assert result.verdict == BLOCK


def test_ten_redirects_are_followed_and_an_eleventh_is_not(servers, expanding):
    a_port, _ = servers
    assert check_link(f"http://go.example.com:{a_port}/chain/10", expanding).verdict == PASS
    Redirector.requests.clear()
    result = check_link(f"http://go.example.com:{a_port}/chain/11", expanding)
    assert result.verdict == BLOCK
    assert any("more than 10 redirects" in r for r in result.reasons)
    assert len(Redirector.requests) == 10


def test_a_redirect_loop_stops(servers, expanding):
    a_port, _ = servers
    result = check_link(f"http://go.example.com:{a_port}/loop/a", expanding)
    assert result.verdict == BLOCK
    assert any("redirects in a circle" in r for r in result.reasons)
    assert len(Redirector.requests) == 2


def test_a_redirect_to_a_loopback_address_never_reaches_it(servers, expanding):
    a_port, b_port = servers
    result = check_link(f"http://go.example.com:{a_port}/to-loopback", expanding)
    assert result.verdict == BLOCK
    assert any(f"redirects to http://127.0.0.1:{b_port}/secret" in r and "private or local network" in r
               for r in result.reasons)
    assert Recorder.hits == []
    assert ("127.0.0.1", b_port) not in CONNECTIONS


def test_a_redirect_to_a_private_address_never_connects(servers, expanding, resolver):
    a_port, _ = servers
    result = check_link(f"http://go.example.com:{a_port}/to-private", expanding)
    assert result.verdict == BLOCK
    assert any("private or local network (10.0.0.1)" in r for r in result.reasons)
    assert _never_connected_to("10.0.0.1")
    assert all(host != "10.0.0.1" for host, _ in resolver.calls)


def test_a_redirect_to_a_name_for_a_loopback_address_never_reaches_it(servers, expanding, resolver):
    a_port, b_port = servers
    result = check_link(f"http://go.example.com:{a_port}/to-name-loopback", expanding)
    assert result.verdict == BLOCK
    assert any("sneaky.example.com points at a private or local network (127.0.0.1)" in r for r in result.reasons)
    assert ("sneaky.example.com", b_port) in resolver.calls
    assert Recorder.hits == []
    assert ("127.0.0.1", b_port) not in CONNECTIONS


def test_a_redirect_to_a_name_for_a_private_address_never_connects(servers, expanding):
    a_port, _ = servers
    result = check_link(f"http://go.example.com:{a_port}/to-name-private", expanding)
    assert any("intranet.example.com points at a private or local network (10.0.0.1)" in r for r in result.reasons)
    assert _never_connected_to("10.0.0.1")


def test_one_private_answer_among_public_ones_is_enough_to_refuse(servers, expanding):
    a_port, _ = servers
    result = check_link(f"http://go.example.com:{a_port}/to-mixed", expanding)
    assert result.verdict == BLOCK
    assert any("mixed.example.com points at a private or local network (10.0.0.1)" in r for r in result.reasons)
    assert [path for _, path in Redirector.requests] == ["/to-mixed"]


def test_a_shortened_link_whose_own_name_is_private_is_never_fetched(expanding):
    result = check_link("http://intranet.example.com/abc", expanding)
    assert result.verdict == BLOCK
    assert _never_connected_to("10.0.0.1")


def test_a_name_is_resolved_once_per_hop_and_the_checked_address_is_used(servers, expanding, resolver):
    a_port, _ = servers
    result = check_link(f"http://rebind.example.com:{a_port}/rebind", expanding)
    assert result.verdict == PASS, result.reasons
    assert resolver.calls.count(("rebind.example.com", a_port)) == 1
    assert Redirector.requests == [(f"rebind.example.com:{a_port}", "/rebind")]


@pytest.mark.parametrize(("path", "reason"), [
    ("/to-program", ".exe file"),
    ("/to-script", "runs code"),
    ("/to-lookalike", "pretending to be “paypal.com”"),
])
def test_every_hop_is_checked_by_the_same_rules(servers, expanding, path, reason):
    a_port, _ = servers
    result = check_link(f"http://go.example.com:{a_port}{path}", expanding)
    assert result.verdict == BLOCK
    assert any("it redirects to" in r and reason in r for r in result.reasons)


def test_a_shortened_link_that_does_not_redirect_needs_review(servers, expanding):
    a_port, _ = servers
    result = check_link(f"http://go.example.com:{a_port}/no-such-link", expanding)
    assert result.verdict == REVIEW
    assert any("did not lead on to another page (the site answered 200)" in r for r in result.reasons)
    assert any("shortened link" in r for r in result.reasons)


def test_a_slow_shortener_times_out(servers, expanding):
    a_port, _ = servers
    started = time.monotonic()
    result = check_link(f"http://go.example.com:{a_port}/slow", expanding)
    assert time.monotonic() - started < 1.4
    assert result.verdict == REVIEW
    assert any("did not answer in time" in r for r in result.reasons)


def test_only_the_allowed_ports_are_followed(servers, expanding):
    a_port, _ = servers
    strict = dataclasses.replace(expanding, allowed_ports=(80, 443))
    result = check_link(f"http://go.example.com:{a_port}/chain/1", strict)
    assert result.verdict == REVIEW
    assert any(f"uses port {a_port}, which the gateway does not follow" in r for r in result.reasons)
    assert Redirector.requests == []


def test_nothing_is_fetched_or_looked_up_by_default(servers, expanding, resolver):
    a_port, _ = servers
    quiet = dataclasses.replace(expanding, expand_shortened=False)
    result = check_link(f"http://go.example.com:{a_port}/chain/1", quiet)
    assert result.verdict == REVIEW
    assert resolver.calls == [] and Redirector.requests == [] and CONNECTIONS == []


def test_treat_as_public_needs_address_and_port():
    with pytest.raises(ValueError, match="address and port"):
        LinkPolicy(treat_as_public=("127.0.0.1",))


# --- the optional safe-browsing lookup, against a local stand-in for the service ---

class SafeBrowsing(BaseHTTPRequestHandler):
    """Answers like the Safe Browsing v4 lookup API: any address containing "malware" is listed."""

    received: list = []
    fail = False

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, body))
        urls = [entry["url"] for entry in body["threatInfo"]["threatEntries"]]
        matches = [{"threatType": "MALWARE", "threat": {"url": u}} for u in urls if "malware" in u]
        answer = json.dumps({"matches": matches} if matches else {}).encode()
        self.send_response(500 if self.fail else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def safe_browsing():
    server = _serve(SafeBrowsing)
    yield LinkPolicy(
        allow=DEFAULT_ALLOW,
        safe_browsing_url=f"http://127.0.0.1:{server.server_address[1]}/v4/threatMatches:find",
        safe_browsing_key="test key",
    )
    server.shutdown()
    server.server_close()


def test_safe_browsing_listed_links_are_blocked(safe_browsing):
    SafeBrowsing.received.clear()
    result = check_link("https://www.gov.uk/malware-sample", safe_browsing)
    assert result.verdict == BLOCK
    assert "a safe-browsing service lists it as harmful software" in result.reasons
    path, body = SafeBrowsing.received[0]
    assert path == "/v4/threatMatches:find?key=test%20key"
    assert body["threatInfo"]["threatEntries"] == [{"url": "https://www.gov.uk/malware-sample"}]


def test_safe_browsing_clean_links_pass(safe_browsing):
    assert check_link("https://www.gov.uk/school-admissions", safe_browsing).verdict == PASS


def test_blocked_links_are_not_sent_for_lookup(safe_browsing):
    SafeBrowsing.received.clear()
    assert check_link("http://10.0.0.1/malware", safe_browsing).verdict == BLOCK
    assert SafeBrowsing.received == []


def test_a_failed_safe_browsing_lookup_asks_for_review(safe_browsing):
    SafeBrowsing.fail = True
    try:
        result = check_link("https://www.gov.uk/school-admissions", safe_browsing)
    finally:
        SafeBrowsing.fail = False
    assert result.verdict == REVIEW
    assert any("safe-browsing check could not be done" in r for r in result.reasons)
