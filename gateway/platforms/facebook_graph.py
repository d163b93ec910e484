"""The few Graph API calls the Facebook publisher makes, over plain `requests`, each with a timeout.

Every call goes to `{api base}/{GRAPH_VERSION}/{path}` with the Page access token in the `Authorization: Bearer`
header (never in the URL), follows no redirect (one could carry the request to another host), and gives back the
answer's JSON object or raises the PublishError its stage calls for (see facebook_errors.py).
"""
from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import requests

from gateway.platforms.credentials import https_or_loopback
from gateway.platforms.facebook_errors import error_for, fault, parse
from gateway.platforms.facebook_secrets import FacebookCredentials, register_secret

log = logging.getLogger(__name__)

GRAPH_API = "https://graph.facebook.com"
# The newest Graph API version (v26.0, introduced 29 July 2026; the changelog lists no end date for it yet):
# https://developers.facebook.com/docs/graph-api/changelog/versions
GRAPH_VERSION = "v26.0"
BAD_ADDRESS = "The Facebook API address must be a plain address such as https://graph.facebook.com."
HTTP_ADDRESS = ("The Facebook API address must use https (only a local test server on 127.0.0.1, ::1 or localhost "
                "may use http).")


def checked_base(url: str) -> str:
    """The API base as given, without a trailing slash; https only, except a test server on this machine's loopback."""
    https_or_loopback(url, bad=BAD_ADDRESS, unencrypted=HTTP_ADDRESS, path_allowed=True, error=ValueError)
    return url.strip().rstrip("/")


class GraphClient:
    """One Page's Graph API session; `page` names the Page in messages."""

    def __init__(self, credentials: FacebookCredentials, page: str, *, api_base: str = GRAPH_API,
                 timeout: float = 30):
        register_secret(credentials)
        self.page = page
        self.root = f"{checked_base(api_base)}/{GRAPH_VERSION}"
        self.timeout = (min(10.0, timeout), timeout)  # (connect, read)
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {credentials.page_access_token}"

    def __repr__(self) -> str:
        return f"GraphClient({self.root}, {self.page})"

    def call(self, method: str, path: str, stage: str, *, params=None, data=None, files=None,
             photo: int | None = None, gone_ok: bool = False) -> dict | None:
        """The answer's JSON object; None only when `gone_ok` and Facebook says the object does not exist."""
        try:
            response = self._session.request(method, f"{self.root}/{path}", params=params, data=data, files=files,
                                             timeout=self.timeout, allow_redirects=False)
        except requests.ConnectTimeout as exc:
            # requests documents a connect timeout as safe to retry: the request never left this machine.
            raise fault(stage, self.page, type(exc).__name__, sent=False) from exc
        except requests.RequestException as exc:
            raise fault(stage, self.page, type(exc).__name__) from exc
        if not 200 <= response.status_code < 300:
            if gone_ok and parse(response).is_gone():
                return None
            raise error_for(response, stage, self.page, photo=photo)
        try:
            body = response.json()
        except ValueError:
            raise fault(stage, self.page, f"HTTP {response.status_code}: unreadable answer",
                        response.status_code) from None
        if not isinstance(body, dict):
            raise fault(stage, self.page, f"HTTP {response.status_code}: unexpected answer", response.status_code)
        if "error" in body:  # an error object in a 2xx answer is still an error
            if gone_ok and parse(response).is_gone():
                return None
            raise error_for(response, stage, self.page, photo=photo)
        return body


def next_params(page: dict) -> dict | None:
    """The query of Facebook's `paging.next` link, without its access_token; None on the last page.

    The link itself is never followed: it would carry the token in a URL and could point anywhere.
    """
    paging = page.get("paging")
    link = paging.get("next") if isinstance(paging, dict) else None
    if not isinstance(link, str) or not link:
        return None
    query = parse_qs(urlsplit(link).query, keep_blank_values=True)
    return {key: values[-1] for key, values in query.items() if key != "access_token"}


def parse_time(value) -> datetime | None:
    """Facebook's `2026-12-04T10:15:30+0000`, as an aware datetime."""
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
