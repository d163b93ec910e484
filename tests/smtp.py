"""A real SMTP server on loopback (aiosmtpd) that keeps what it is sent, for the e-mail tests."""
from __future__ import annotations

import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "gateway", "smtpPassw0rdDoNotLog"


class Mailbox:
    """aiosmtpd's handler: every message accepted, parsed, in order."""

    def __init__(self):
        self.messages = []
        self.refuse = 0  # answer the next N messages with a temporary failure

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 Try again later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
        and auth_data.password.decode() == PASSWORD
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(monkeypatch):
    """The server, with SMTP_URL pointing at it (plain SMTP on loopback: no STARTTLS, so no password is sent)."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    mailbox.url = f"smtp://127.0.0.1:{controller.port}"
    monkeypatch.setenv("SMTP_URL", mailbox.url)
    yield mailbox
    controller.stop()


@pytest.fixture
def smtp_with_login():
    """A server that asks for a password but offers no STARTTLS: the gateway must not send the password."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port(), authenticator=_authenticate,
                            auth_require_tls=False)
    controller.start()
    mailbox.url = f"smtp://{USER}:{PASSWORD}@127.0.0.1:{controller.port}"
    yield mailbox
    controller.stop()
