"""An optional safe-browsing lookup (Google Safe Browsing v4 / Web Risk lookup format)."""
from __future__ import annotations

import http.client
import json
import urllib.parse

from moderation.findings import BLOCK, REVIEW
from workers.checks.links.policy import LinkPolicy

THREAT_WORDS = {
    "MALWARE": "harmful software",
    "SOCIAL_ENGINEERING": "a trick or phishing site",
    "UNWANTED_SOFTWARE": "unwanted software",
    "POTENTIALLY_HARMFUL_APPLICATION": "a harmful app",
}


def safe_browsing_reason(urls: list[str], policy: LinkPolicy) -> tuple[str, str] | None:
    """POST the addresses to the configured lookup service; a block reason if it lists any, a review one if it fails."""
    endpoint = urllib.parse.urlsplit(policy.safe_browsing_url)
    body = json.dumps({
        "client": {"clientId": "school-social-gateway", "clientVersion": "1"},
        "threatInfo": {
            "threatTypes": sorted(THREAT_WORDS), "platformTypes": ["ANY_PLATFORM"],
            "threatEntryTypes": ["URL"], "threatEntries": [{"url": u} for u in urls],
        },
    })
    connection_class = http.client.HTTPSConnection if endpoint.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(endpoint.netloc, timeout=policy.timeout)
    target = f"{endpoint.path or '/'}?key={urllib.parse.quote(policy.safe_browsing_key, safe='')}"
    try:
        connection.request("POST", target, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read(1_000_000) or b"{}") if response.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        answer = None
    finally:
        connection.close()
    matches = answer.get("matches", []) if isinstance(answer, dict) else None
    if not isinstance(matches, list):
        return REVIEW, "the safe-browsing check could not be done, so check the link by hand"
    if not matches:
        return None
    kinds = sorted({THREAT_WORDS.get(m.get("threatType"), "dangerous") if isinstance(m, dict) else "dangerous"
                    for m in matches})
    return BLOCK, f"a safe-browsing service lists it as {' and '.join(kinds)}"
