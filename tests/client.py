"""A Flask test client that logs in and sends forms with their CSRF token, as a browser would."""
from __future__ import annotations

import re
import time

import pyotp

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRETS: dict[str, str] = {}  # e-mail -> TOTP secret, for the test users who have set up an authenticator app
RECOVERY: dict[str, list[str]] = {}  # e-mail -> the recovery codes shown at enrolment
_USED: dict[str, int] = {}  # TOTP secret -> the last time step a code was made for


def totp_code(secret: str) -> str:
    """A code the gateway has not seen yet, as a phone would show it. Each code is accepted once, so a log-in
    soon after another takes the next step's code (the gateway allows one step of clock drift), or waits for it.
    Only this step and the next are used: either stays valid if the request crosses a step boundary."""
    while True:
        step = int(time.time() // 30)
        for candidate in (step, step + 1):
            if candidate > _USED.get(secret, -1):
                _USED[secret] = candidate
                return pyotp.TOTP(secret).at(candidate * 30)
        time.sleep(1)


def enrolled(secret: str, first_code_step: int) -> None:
    """Note the step of the code that confirmed an enrolment: it cannot be used again."""
    _USED[secret] = first_code_step


class Client:
    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.token = None

    def get(self, path, **kw):
        response = self.http.get(path, **kw)
        found = TOKEN.search(response.get_data(as_text=True)) if response.mimetype == "text/html" else None
        if found:
            self.token = found.group(1)
        return response

    def post(self, path, data=None, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        return self.http.post(path, data=data, **kw)

    def login(self, email, password):
        """Log in, with a code from the user's authenticator app when they have one."""
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        if "/login/code" in response.location:
            self.get("/login/code")
            response = self.post("/login/code", {"code": totp_code(SECRETS[email])})
            assert response.status_code == 302, response.get_data(as_text=True)
        self.get("/posts")
        return self
