"""A Flask test client that logs in and sends forms with their CSRF token, as a browser would."""
from __future__ import annotations

import re

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


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
        self.get("/login")
        response = self.post("/login", {"email": email, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)
        self.get("/posts")
        return self
