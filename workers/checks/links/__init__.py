"""Links in a post (policy §6: links "appropriate and safe"): found as X and other readers would
find them, read the way a browser reads them, and checked against the school's rules.

url: reading an address as a browser does · hosts: names, addresses and list entries · policy: the
school's rules as one object · rules: judging one link · expand: following shortened links ·
safe_browsing: the optional lookup · find: finding links in text, and the check's entry points."""
from workers.checks.links.find import LinkResult, check_link, check_links, find_links
from workers.checks.links.hosts import entry_matches, normalise_entry
from workers.checks.links.policy import DEFAULT_ALLOW, DEFAULT_SHORTENERS, LinkPolicy

__all__ = [
    "DEFAULT_ALLOW", "DEFAULT_SHORTENERS", "LinkPolicy", "LinkResult",
    "check_link", "check_links", "entry_matches", "find_links", "normalise_entry",
]
