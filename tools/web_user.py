"""A member of staff using the web app over HTTP, for `make chaos` and `make bench`."""
from __future__ import annotations

import re
from contextlib import suppress

import pyotp
import requests

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Web:
    """A logged-in user of the web app: forms go with their CSRF token, as from a browser."""

    def __init__(self, base: str):
        self.base, self.http, self.token = base, requests.Session(), None

    def post(self, path: str, data: dict, files=None) -> requests.Response | None:
        """The response, or None if the web app cannot be reached."""
        with suppress(requests.RequestException):
            return self.http.post(self.base + path, data={**data, "csrf_token": self.token}, files=files,
                                  allow_redirects=False, timeout=120)
        return None

    def _form_token(self, path: str) -> str:
        return TOKEN.search(self.http.get(self.base + path, timeout=60).text).group(1)  # kept by the session

    def login(self, email: str, password: str) -> Web:
        """Log in; a senior leader or the office sets up an authenticator app first, as at their first log-in
        (the key is read off the enrolment page, the code made from it). The CSRF token is new afterwards."""
        self.token = self._form_token("/login")
        response = self.post("/login", {"email": email, "password": password})
        if response is not None and "/login/enrol" in response.headers.get("Location", ""):
            page = self.http.get(self.base + "/login/enrol", timeout=60).text  # each visit makes a new key
            secret, self.token = re.search(r'id="secret">(\w+)<', page).group(1), TOKEN.search(page).group(1)
            response = self.post("/login/enrol", {"code": pyotp.TOTP(secret).now()})  # 200: the recovery codes
        if response is None or response.status_code not in (200, 302):
            raise RuntimeError(f"cannot log in as {email}")
        self.token = self._form_token("/posts")
        return self
