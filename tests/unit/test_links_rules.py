"""Links judged by the rules alone: verdicts as a browser reads each link, the allow and block entries,
the school's own sites from the settings, finding links in text, and one finding per distinct link.
Nothing here connects anywhere."""
from __future__ import annotations

import socket
import time
import urllib.parse

import pytest

from benchmarks.bench_links import run as run_benchmark
from gateway.core import settings as settings_module
from gateway.core.errors import Refused
from moderation.findings import BLOCK, REVIEW
from moderation.link_rules import school_domains
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


@pytest.fixture(autouse=True)
def no_connections(monkeypatch):
    """The rules alone fetch nothing: any connection attempt fails the test."""

    def refuse(sock, address):
        raise AssertionError(f"the link rules tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


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

# --- the school's own sites, from the SCHOOL_DOMAINS setting ---

def test_school_domains_are_kept_as_written_and_read_by_the_link_rules(tmp_path):
    s = settings_module.load({"INSTANCE_DIR": str(tmp_path), "SCHOOL_DOMAINS": " StMarys.Herts.sch.uk , *.Bücher.de,"})
    assert s.school_domains == ("StMarys.Herts.sch.uk", "*.Bücher.de")
    assert school_domains(s) == ("stmarys.herts.sch.uk", "*.xn--bcher-kva.de")
    assert settings_module.load({"INSTANCE_DIR": str(tmp_path)}).school_domains == ()


@pytest.mark.parametrize(("entry", "message"), [
    ("herts.sch.uk", "SCHOOL_DOMAINS: “herts.sch.uk” is shared by many different owners"),
    ("https://www.stmarys.herts.sch.uk/", "SCHOOL_DOMAINS: “https://www.stmarys.herts.sch.uk/”: give just the site name"),
    ("10.0.0.1", "SCHOOL_DOMAINS: “10.0.0.1” is a numeric address"),
])
def test_a_bad_school_domain_is_a_settings_error_naming_the_setting(tmp_path, entry, message):
    s = settings_module.load({"INSTANCE_DIR": str(tmp_path), "SCHOOL_DOMAINS": f"www.bbc.co.uk,{entry}"})
    with pytest.raises(settings_module.SettingsError) as refused:
        school_domains(s)
    assert str(refused.value).startswith(message)


def test_the_benchmark_runs():
    rows = run_benchmark(repeats=1, posts=2)
    assert [set(row) for row in rows] == [{"name", "seconds", "baseline_seconds", "ratio"}] * 2
    assert all(row["seconds"] > 0 and row["baseline_seconds"] > 0 for row in rows)
