"""Links: finding them, reading them as a browser does, the school's rules, and expanding shortened
links against real local HTTP servers (nothing here contacts anything but 127.0.0.1)."""
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
from gateway.core.errors import Refused
from workers.checks.links import (
    DEFAULT_ALLOW,
    DEFAULT_SHORTENERS,
    LinkPolicy,
    check_link,
    check_links,
    entry_matches,
    find_links,
    normalise_entry,
)

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

POLICY = LinkPolicy(
    allow=DEFAULT_ALLOW + ("stmarys.herts.sch.uk",),
    block=("*.bet365.com", "www.blocked-example.co.uk"),
)

PASS = "pass"
LONG_QUERY = "https://www.gov.uk/search?" + "&".join(f"filter{i}=value{i}" for i in range(20))
ENCODED_QUERY = "https://www.gov.uk/search?q=" + urllib.parse.quote("шкільний день спорту", safe="")

# (link as written, verdict, a piece of the reason; "" for a link that passes with no reasons)
TABLE = [
    # school, government and BBC pages
    ("https://www.bbc.co.uk/news/education-67890123", PASS, ""),
    ("https://www.bbc.co.uk/bitesize/topics/zkcqn39?utm_source=twitter", PASS, ""),
    ("https://www.bbc.com/news/uk", PASS, ""),
    ("https://www.gov.uk/school-term-holiday-dates", PASS, ""),
    ("https://reports.ofsted.gov.uk/provider/21/117500", PASS, ""),
    ("https://www.nationalarchives.gov.uk/education/resources/", PASS, ""),
    ("https://www.nhs.uk/conditions/chickenpox/", PASS, ""),
    ("https://www.parliament.uk/education/", PASS, ""),
    ("https://www.thinkuknow.co.uk/parents/", PASS, ""),
    ("https://www.stmarys.herts.sch.uk/news/sports-day", PASS, ""),
    ("https://stmarys.herts.sch.uk/", PASS, ""),
    ("www.bbc.co.uk/bitesize", PASS, ""),
    ("gov.uk/apply-free-school-meals", PASS, ""),
    ("https://WWW.BBC.CO.UK/Bitesize", PASS, ""),
    ("HTTPS://www.gov.uk/", PASS, ""),
    ("https://www.gov.uk./guidance", PASS, ""),
    ("https://www.gov.uk:443/", PASS, ""),
    ("https://www.gov.uk/a/../school-admissions", PASS, ""),
    ("https://www.bbc.co.uk/news#section-2", PASS, ""),
    ("https://ｗｗｗ.gov.uk/", PASS, ""),  # full-width letters: browsers open the real www.gov.uk
    # review: plain http, other sites, shorteners, ports, queries
    ("http://www.bbc.co.uk/news", REVIEW, "uses http, not https"),
    ("http://stmarys.herts.sch.uk/", REVIEW, "uses http, not https"),
    ("https://www.example.com/", REVIEW, "not on the school's list of approved sites"),
    ("example.co.uk", REVIEW, "example.co.uk is not on the school's list"),
    ("https://www.tes.com/teaching-resources", REVIEW, "not on the school's list"),
    ("https://someone.github.io/project/", REVIEW, "someone.github.io is not on the school's list"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", REVIEW, "not on the school's list"),
    ("https://youtu.be/dQw4w9WgXcQ", REVIEW, "not on the school's list"),
    ("https://docs.google.com/forms/d/e/1FAIpQLSf/viewform", REVIEW, "not on the school's list"),
    ("https://www.facebook.com/StMarysSchool", REVIEW, "not on the school's list"),
    ("https://holiday.zip/", REVIEW, "not on the school's list"),
    ("https://bücher.de/", REVIEW, "bücher.de is not on the school's list"),
    ("https://herts.sch.uk/", REVIEW, "not on the school's list"),
    ("https://bit.ly/3xYzAbc", REVIEW, "shortened link (bit.ly)"),
    ("https://www.bit.ly/3xYzAbc", REVIEW, "shortened link"),
    ("bit.ly/3xYzAbc", REVIEW, "shortened link"),
    ("https://t.co/AbC123xyz", REVIEW, "shortened link (t.co)"),
    ("https://tinyurl.com/y3k4abcd", REVIEW, "shortened link (tinyurl.com)"),
    ("https://goo.gl/maps/abc123", REVIEW, "shortened link"),
    ("https://ow.ly/xyz1", REVIEW, "shortened link"),
    ("https://buff.ly/3abcdef", REVIEW, "shortened link"),
    ("https://is.gd/abcdef", REVIEW, "shortened link"),
    ("https://rebrand.ly/summer-fair", REVIEW, "shortened link"),
    ("https://cutt.ly/abc", REVIEW, "shortened link"),
    ("https://shorturl.at/abcde", REVIEW, "shortened link"),
    ("https://tiny.cc/abc", REVIEW, "shortened link"),
    ("https://www.gov.uk:8443/", REVIEW, "unusual port (:8443)"),
    ("www.bbc.co.uk:8080/news", REVIEW, "unusual port (:8080)"),
    (LONG_QUERY, REVIEW, "very long"),
    (ENCODED_QUERY, REVIEW, "heavily encoded"),
    ("https://www.google.com/url?q=https://evil.example.net/", REVIEW, "carries another web address"),
    # block: numeric and private addresses, in all the ways resolvers accept them
    ("http://127.0.0.1/admin", BLOCK, "numeric internet address (127.0.0.1)"),
    ("http://0x7f000001/", BLOCK, "numeric internet address (127.0.0.1)"),
    ("http://2130706433/", BLOCK, "numeric internet address (127.0.0.1)"),
    ("http://0177.0.0.1/", BLOCK, "numeric internet address (127.0.0.1)"),
    ("http://127.1/", BLOCK, "numeric internet address (127.0.0.1)"),
    ("http://0x7f.0.0.1/", BLOCK, "private or local network (127.0.0.1)"),
    ("http://0/", BLOCK, "numeric internet address (0.0.0.0)"),
    ("http://[::1]/", BLOCK, "numeric internet address (::1)"),
    ("http://[::ffff:127.0.0.1]/", BLOCK, "private or local network"),
    ("http://10.0.0.1/", BLOCK, "private or local network (10.0.0.1)"),
    ("http://192.168.1.1/router", BLOCK, "private or local network (192.168.1.1)"),
    ("http://169.254.169.254/latest/meta-data/", BLOCK, "private or local network (169.254.169.254)"),
    ("https://8.8.8.8/", BLOCK, "numeric internet address (8.8.8.8)"),
    ("http://localhost:8000/", BLOCK, "localhost is the name of a computer on a private network"),
    ("https://printer.local/", BLOCK, "private network"),
    ("https://grafana.internal/", BLOCK, "private network"),
    ("https://intranet/", BLOCK, "private network"),
    ("https://router.home.arpa/", BLOCK, "private network"),
    ("http://999.1.1.1/", BLOCK, "not a valid web address"),
    # block: credentials, backslashes and addresses different programs read differently
    ("https://user:pass@www.gov.uk/", BLOCK, "user name or password"),
    ("https://www.gov.uk@evil.example.net/", BLOCK, "user name or password"),
    ("http://evil.com\\@good.com", BLOCK, "backslash"),
    ("http://evil.com\\@good.com/", BLOCK, "other programs read it as good.com"),
    ("http://good.com#@evil.com", BLOCK, "other programs read it as evil.com"),
    ("https:\\\\www.gov.uk\\", BLOCK, "backslash"),
    ("https:///www.gov.uk", BLOCK, "other programs read it as no site at all"),
    ("https://exa mple.com/", BLOCK, "not a valid web address"),
    ("https://www.gov.uk:99999/", BLOCK, "not a valid web address"),
    ("https://pay\u200bpal.com/", BLOCK, "hidden characters"),
    ("https://www.gov.uk/\u202egpj.exe", BLOCK, "hidden characters"),
    ("https://www.gov.uk/\x07", BLOCK, "hidden characters"),
    # block: not a web page
    ("javascript:alert(document.cookie)", BLOCK, "runs code"),
    ("JavaScript:alert(1)", BLOCK, "runs code"),
    ("vbscript:msgbox(1)", BLOCK, "runs code"),
    ("data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", BLOCK, "“data:”"),
    ("file:///C:/Windows/System32/", BLOCK, "“file:”"),
    ("ftp://ftp.example.com/pub/", BLOCK, "“ftp:”"),
    ("mailto:office@stmarys.herts.sch.uk", BLOCK, "only web page links"),
    # block: look-alikes of well-known sites
    ("https://раураl.com/login", BLOCK, "pretending to be “paypal.com”"),
    ("https://xn--80aa0cbo65f.com/", BLOCK, "look like English ones but are not"),
    ("https://xn--pple-43d.com/", BLOCK, "pretending to be “apple.com”"),
    ("https://аррӏе.com/", BLOCK, "look like English ones but are not"),
    ("https://gооgle.com/", BLOCK, "mixes letters from different alphabets"),
    ("https://www.bbс.co.uk/news", BLOCK, "pretending to be “www.bbc.co.uk”"),
    ("https://ɑpple.com/", BLOCK, "look like English ones but are not"),
    ("https://xn--google-.com/", BLOCK, "not a valid web address"),
    # block: programs and installers (in the path; .com as a site name is fine)
    ("https://www.gov.uk/downloads/setup.exe", BLOCK, ".exe file"),
    ("https://example.org/app-release.apk", BLOCK, ".apk file"),
    ("https://example.org/Install.MSI", BLOCK, ".msi file"),
    ("https://example.org/run.bat?x=1", BLOCK, ".bat file"),
    ("https://example.org/fix.ps1", BLOCK, ".ps1 file"),
    ("https://example.org/tool.com", BLOCK, ".com file"),
    ("https://example.org/ubuntu.iso", BLOCK, ".iso file"),
    ("https://example.org/file%2Eexe", BLOCK, ".exe file"),
    ("https://example.org/Game.dmg", BLOCK, ".dmg file"),
    # block: the school's block list
    ("https://www.bet365.com/", BLOCK, "www.bet365.com is on the school's list of blocked sites"),
    ("https://sports.bet365.com/football", BLOCK, "list of blocked sites"),
    ("https://www.blocked-example.co.uk/", BLOCK, "list of blocked sites"),
]


def test_the_table_is_big_enough():
    assert len(TABLE) >= 80
    assert len({url for url, _, _ in TABLE}) == len(TABLE)


@pytest.mark.parametrize(("url", "verdict", "reason"), TABLE)
def test_link_rules(url, verdict, reason):
    result = check_link(url, POLICY)
    assert result.url == url
    assert result.verdict == verdict, result.reasons
    if verdict == PASS:
        assert result.reasons == []
    else:
        assert any(reason in r for r in result.reasons), result.reasons


@pytest.mark.parametrize(("url", "normalised", "host"), [
    ("HTTPS://WWW.GOV.UK./A/./b/../C?x=%7e#Top", "https://www.gov.uk/A/C?x=~#Top", "www.gov.uk"),
    ("www.bbc.co.uk/news", "https://www.bbc.co.uk/news", "www.bbc.co.uk"),
    ("https://www.gov.uk:443", "https://www.gov.uk/", "www.gov.uk"),
    ("http://www.gov.uk:80/a b", "http://www.gov.uk/a%20b", "www.gov.uk"),
    ("https://ex%61mple.com/caf\u00e9", "https://example.com/caf%C3%A9", "example.com"),
    ("https://bücher.de/", "https://xn--bcher-kva.de/", "xn--bcher-kva.de"),
    ("http://0x7f000001/", "http://127.0.0.1/", "127.0.0.1"),
    ("https://user:pa ss@www.gov.uk/", "https://user:pa%20ss@www.gov.uk/", "www.gov.uk"),
    ("http://evil.com\\@good.com", "http://evil.com/@good.com", "evil.com"),
    ("https://example.com/%2e%2E/x", "https://example.com/x", "example.com"),
])
def test_links_are_normalised_as_a_browser_reads_them(url, normalised, host):
    result = check_link(url, POLICY)
    assert (result.normalised, result.host) == (normalised, host)


# --- allow and block entries ---

def test_a_shared_suffix_does_not_allow_the_sites_under_it():
    for entry in ("github.io", "*.github.io"):
        assert not entry_matches("someone.github.io", entry)
    assert entry_matches("someone.github.io", "someone.github.io")
    assert entry_matches("www.someone.github.io", "*.someone.github.io")


def test_school_sites_under_sch_uk():
    host = "www.stmarys.herts.sch.uk"
    assert entry_matches(host, "stmarys.herts.sch.uk")
    assert entry_matches(host, "*.stmarys.herts.sch.uk")
    assert entry_matches("stmarys.herts.sch.uk", "*.stmarys.herts.sch.uk")
    assert not entry_matches(host, "herts.sch.uk")
    assert not entry_matches(host, "*.herts.sch.uk")
    assert not entry_matches("www.stjohns.herts.sch.uk", "stmarys.herts.sch.uk")
    assert check_link(f"https://{host}/", LinkPolicy(allow=("stmarys.herts.sch.uk",))).verdict == PASS
    assert check_link(f"https://{host}/", LinkPolicy(allow=("*.stmarys.herts.sch.uk",))).verdict == PASS
    with pytest.raises(Refused, match="shared by many different owners"):
        LinkPolicy(allow=("herts.sch.uk",))


@pytest.mark.parametrize(("host", "entry", "matches"), [
    ("www.bbc.co.uk", "www.bbc.co.uk", True),
    ("WWW.BBC.CO.UK.", "www.bbc.co.uk", True),
    ("news.bbc.co.uk", "www.bbc.co.uk", False),
    ("bbc.co.uk", "www.bbc.co.uk", False),
    ("www.bbc.co.uk", "bbc.co.uk", True),  # a registered name covers its www. form
    ("news.bbc.co.uk", "bbc.co.uk", False),
    ("news.bbc.co.uk", "*.bbc.co.uk", True),
    ("bbc.co.uk", "*.bbc.co.uk", True),
    ("bbc.co.uk.evil.com", "*.bbc.co.uk", False),
    ("notbbc.co.uk", "*.bbc.co.uk", False),
    ("a.b.www.gov.uk", "*.gov.uk", True),
    ("xn--bcher-kva.de", "bücher.de", True),
    ("www.example.com", "*.co.uk", False),
])
def test_entry_matches(host, entry, matches):
    assert entry_matches(host, entry) is matches


@pytest.mark.parametrize(("entry", "message"), [
    ("*.co.uk", "shared by many different owners"),
    ("*.sch.uk", "shared by many different owners"),
    ("co.uk", "shared by many different owners"),
    ("herts.sch.uk", "shared by many different owners"),
    ("*.github.io", "shared by many different owners"),
    ("https://www.bbc.co.uk/news", "just the site name"),
    ("www.bbc.co.uk:443", "just the site name"),
    ("10.0.0.1", "numeric address"),
    ("localhost", "not the name of a public web site"),
    ("printer.local", "not the name of a public web site"),
    ("*.*.example.org", "not a site name"),
    ("", "not a site name"),
])
def test_bad_entries_are_refused_in_plain_words(entry, message):
    with pytest.raises(Refused, match=message):
        normalise_entry(entry)


def test_entries_are_normalised():
    assert normalise_entry(" WWW.BBC.CO.UK. ") == "www.bbc.co.uk"
    assert normalise_entry("*.Bücher.de") == "*.xn--bcher-kva.de"
    assert normalise_entry("*.gov.uk") == "*.gov.uk"  # only vetted public bodies get names under gov.uk
    assert LinkPolicy(block=("WWW.Example.ORG",)).block == ("www.example.org",)


def test_default_lists_are_valid():
    assert {"*.gov.uk", "*.bbc.co.uk", "*.nhs.uk", "*.parliament.uk"} <= set(DEFAULT_ALLOW)
    assert {"bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "buff.ly", "is.gd", "rebrand.ly", "cutt.ly",
            "shorturl.at", "tiny.cc"} <= set(DEFAULT_SHORTENERS)
    for entry in DEFAULT_ALLOW + DEFAULT_SHORTENERS:
        assert normalise_entry(entry) == entry


def test_block_list_beats_allow_list():
    policy = LinkPolicy(allow=("*.bbc.co.uk",), block=("www.bbc.co.uk",))
    assert check_link("https://www.bbc.co.uk/", policy).verdict == BLOCK
    assert check_link("https://news.bbc.co.uk/", policy).verdict == PASS


# --- finding links ---

def test_find_links_with_and_without_scheme():
    text = "Visit www.example.org/page or example.co.uk, and https://www.bbc.co.uk/news today"
    assert find_links(text) == ["www.example.org/page", "example.co.uk", "https://www.bbc.co.uk/news"]


def test_find_links_leaves_out_surrounding_punctuation():
    text = ("(see https://en.wikipedia.org/wiki/Foo_(bar)). Also https://gov.uk, and “https://www.nhs.uk”! "
            "Or <https://www.bbc.co.uk/news>? [www.parliament.uk] 'bit.ly/abc'.")
    assert find_links(text) == [
        "https://en.wikipedia.org/wiki/Foo_(bar)", "https://gov.uk", "https://www.nhs.uk",
        "https://www.bbc.co.uk/news", "www.parliament.uk", "bit.ly/abc",
    ]


def test_find_links_once_each():
    text = "https://www.gov.uk/a and again https://www.gov.uk/a, and bit.ly/x bit.ly/x"
    assert find_links(text) == ["https://www.gov.uk/a", "bit.ly/x"]


def test_find_links_that_x_would_not_link():
    text = ("admin at http://127.0.0.1/admin, login https://user:pass@host.com/x, javascript:alert(1) or "
            "data:text/html,hi; printer 10.0.0.1:8080/setup or [::1] and раураl.com/login, "
            "then http://evil.com\\@good.com and https:\\\\gov.uk")
    assert find_links(text) == [
        "http://127.0.0.1/admin", "https://user:pass@host.com/x", "javascript:alert(1)", "data:text/html,hi",
        "10.0.0.1:8080/setup", "[::1]", "раураl.com/login", "http://evil.com\\@good.com", "https:\\\\gov.uk",
    ]


def test_find_links_ignores_ordinary_text():
    text = ("Email office@stmarys.herts.sch.uk before 10:30. Update your profile: it's 3.5kg, "
            "version 2.1, Mr.Smith, e.g. this, 12.05.2024. Note:done")
    assert find_links(text) == []


def test_find_links_after_emoji_and_in_other_scripts():
    assert find_links("🎉🎉 Well done! https://www.bbc.co.uk/sport 👏") == ["https://www.bbc.co.uk/sport"]
    assert find_links("Дивіться gооgle.com/maps") == ["gооgle.com/maps"]


def test_find_links_stays_fast_on_hostile_text():
    long_link = "http://" + "a." * 40 + "com/x"  # too many dots to ask X about; found by its scheme
    text = " ".join(["a." * 5000, "a-" * 1000 + ".com"] + ["а." * 20 + "б" * 210] * 10 + [long_link])
    started = time.monotonic()
    assert find_links(text) == [long_link]
    assert time.monotonic() - started < 1


# --- check_links: subjects, one row and one finding per distinct link ---

def test_check_links_reports_each_link_once_where_it_was_found():
    rows, findings = check_links([
        ("text", "Sports day! https://www.bbc.co.uk/sport and bit.ly/sports"),
        ("alt text of photo 1", "Pupils racing, see BIT.LY/sports and http://10.0.0.1/"),
        ("alt text of photo 2", "More at https://www.bbc.co.uk/sport"),
    ], POLICY)
    assert [(r["url"], r["verdict"]) for r in rows] == [
        ("https://www.bbc.co.uk/sport", PASS), ("bit.ly/sports", REVIEW), ("http://10.0.0.1/", BLOCK)]
    assert set(rows[0]) == {"url", "host", "verdict", "reasons"}
    assert [(f.code, f.severity, f.subject) for f in findings] == [
        ("link_review", REVIEW, "text"), ("link_block", BLOCK, "alt text of photo 1")]
    shortened, private = findings
    assert shortened.evidence["found_in"] == ["text", "alt text of photo 1"]
    assert "shortened link" in shortened.message and "bit.ly/sports" in shortened.message
    assert private.message.startswith("Remove or change the link http://10.0.0.1/:")
    assert "private or local network" in private.message


def test_check_links_with_nothing_to_check():
    assert check_links([("text", "Sports day was great!"), ("alt text of photo 1", "")], POLICY) == ([], [])


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


def test_the_benchmark_runs():
    from benchmarks.bench_links import run

    rows = run(repeats=1, posts=2)
    assert [set(row) for row in rows] == [{"name", "seconds", "baseline_seconds", "ratio"}] * 2
    assert all(row["seconds"] > 0 and row["baseline_seconds"] > 0 for row in rows)
