"""How long checking a post's links takes without fetching anything (finding them in the text and
every rule), next to urllib.parse.urlsplit(url).hostname of the same URLs (uncached) as the baseline."""
from urllib.parse import urlsplit

from benchmarks import median_seconds
from workers.checks.links import DEFAULT_ALLOW, LinkPolicy, check_links, find_links

LINKS = [
    "https://www.bbc.co.uk/news/education-67890123",
    "www.stmarys.herts.sch.uk/news/sports-day",
    "https://bit.ly/3xYzAbc",
    "https://www.gov.uk/school-term-holiday-dates?utm_source=twitter",
    "http://example.co.uk/page",
    "https://раураl.com/login",
    "http://0x7f000001/admin",
    "https://www.nhs.uk/conditions/chickenpox/",
    "https://user:pass@www.gov.uk/",
    "https://example.org/downloads/setup.exe",
]
POLICY = LinkPolicy(allow=DEFAULT_ALLOW + ("stmarys.herts.sch.uk",))
_urlsplit = urlsplit.__wrapped__  # urlsplit keeps an LRU cache; the baseline should parse every time


def _post(links: int) -> str:
    return "Sports day was great! Photos and results: " + " ".join(LINKS[:links])


def _baseline(urls: list[str]) -> None:
    for url in urls:
        _urlsplit(url if "://" in url else f"https://{url}").hostname


def run(repeats: int = 7, posts: int = 200) -> list[dict]:
    """Per post with 1 and with 10 links: median seconds of check_links and of the bare urlsplit baseline."""
    rows = []
    for links in (1, 10):
        text = _post(links)
        urls = find_links(text)
        seconds = median_seconds(lambda: [check_links([("text", text)], POLICY) for _ in range(posts)], repeats) / posts
        baseline = median_seconds(lambda: [_baseline(urls) for _ in range(posts)], repeats) / posts
        rows.append({
            "name": f"check a post with {links} link{'s' * (links > 1)} ({links / seconds:,.0f} links/s)",
            "seconds": seconds,
            "baseline_seconds": baseline,
            "ratio": seconds / baseline,
        })
    return rows
