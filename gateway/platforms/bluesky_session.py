"""Signing in to Bluesky with an app password, and keeping the session so that the gateway seldom signs in again.

Bluesky allows an account 30 sign-ins (com.atproto.server.createSession) in 5 minutes and 300 a day, so each
session is kept for reuse: in this process's memory only (never on disk, never in a log), keyed by the server, the
account and a fingerprint of the app password (new keys entered by the head start a new session).  The SDK renews
the session's access token with its refresh token when it is within 15 minutes of running out (refreshSession), and
every new or renewed session replaces the kept one.  When Bluesky says the session has run out or was revoked, the
call is made once more after signing in afresh from the app password; if that fails too, the keys need a person.

The rq worker forks a child for each job, so a session kept by one job is not seen by the next: there this saves
the sign-ins within a job (its look-up, uploads and post) and across the reconciler's rounds, which run in the
worker itself, not across jobs.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx

from gateway.platforms.base import PermanentError
from gateway.platforms.bluesky_errors import APP_PASSWORDS, SDK_ERRORS, error_for, needs_new_session, remember_secret
from gateway.platforms.credentials import https_or_loopback

log = logging.getLogger(__name__)

DEFAULT_SERVICE = "https://bsky.social"
DEFAULT_DOMAIN = ".bsky.social"  # the handles Bluesky gives its own accounts: greenfieldschool.bsky.social
MAIN_PASSWORD_SCOPE = "com.atproto.access"  # an app password's session has scope com.atproto.appPass
BAD_ADDRESS = ("The Bluesky server address is not right: it is https://bsky.social unless the school runs its own "
               "server, and then that server's https:// address, with nothing after the name.")
HTTP_ADDRESS = ("The Bluesky server address must start with https:// so that the app password is never sent "
                "unencrypted (plain http:// is only allowed for a test server on this computer).")
T = TypeVar("T")

_sessions: dict[tuple[str, str, str], str] = {}
_sessions_lock = threading.Lock()


def service_url(value: str | None) -> str:
    """The server address the head gave, as https://host[:port] (a bare name means https); PermanentError else."""
    return https_or_loopback((value or "").strip() or DEFAULT_SERVICE, bad=BAD_ADDRESS, unencrypted=HTTP_ADDRESS,
                             bare_name_means_https=True)


def identifier_for(handle: str) -> str:
    """The Bluesky handle to sign in with: a handle registered without a dot is short for one on .bsky.social."""
    handle = handle.strip().lstrip("@").lower()
    return handle if "." in handle else handle + DEFAULT_DOMAIN


def as_registered(bluesky_handle: str, handle: str) -> str:
    """A Bluesky handle as the gateway's account writes it: in full, or short (no .bsky.social) if registered so."""
    short = bluesky_handle.removesuffix(DEFAULT_DOMAIN)
    return short if "." not in handle.strip().lstrip("@") else bluesky_handle


@dataclass(frozen=True, repr=False)
class BlueskyAccount:
    """Where and as whom to sign in; the app password is secret and never shown."""

    identifier: str
    app_password: str
    service: str

    def __repr__(self) -> str:
        return f"BlueskyAccount(@{self.identifier} at {self.service})"

    __str__ = __repr__

    @classmethod
    def from_credentials(cls, handle: str, credentials: Mapping[str, str]) -> BlueskyAccount:
        password = (credentials.get("app_password") or "").strip()
        if not password:
            raise PermanentError(f"No Bluesky app password is saved; the headteacher must add one ({APP_PASSWORDS}).",
                                 code="credentials")
        return cls(identifier_for(handle), password, service_url(credentials.get("service")))

    @property
    def who(self) -> str:
        return f"@{self.identifier}"

    @property
    def session_key(self) -> tuple[str, str, str]:
        """Which kept session is this account's: a new app password starts a new one."""
        return self.service, self.identifier, hashlib.sha256(self.app_password.encode()).hexdigest()


class Connection:
    """One signed-in SDK client for an account, with every call's failure turned into a PublishError."""

    def __init__(self, account: BlueskyAccount, timeout: float):
        self.account = account
        self.timeout = timeout
        self._client = None
        remember_secret(account.app_password)

    def __repr__(self) -> str:
        return f"Connection({self.account!r})"

    def call(self, stage: str, work: Callable[..., T], photo: int | None = None) -> T:
        """work(client) with a session; once more after signing in afresh if Bluesky says the session ran out."""
        client = self._signed_in(stage)
        try:
            return work(client)
        except SDK_ERRORS as exc:
            if not needs_new_session(exc):
                raise error_for(exc, stage, self.account.who, photo) from exc
            log.info("the Bluesky session of %s has run out or was revoked; signing in again", self.account.who)
        self.forget()
        client = self._signed_in(stage)
        try:
            return work(client)
        except SDK_ERRORS as exc:
            raise error_for(exc, stage, self.account.who, photo) from exc

    def sign_in(self):
        """A new session from the app password (checking the keys): the SDK's Session, with the account's handle."""
        self.forget()
        return _session_of(self._signed_in("login"))

    def session(self, stage: str):
        """The SDK's Session (did, handle) of the signed-in client; signing in counts as part of `stage`."""
        return _session_of(self._signed_in(stage))

    def forget(self) -> None:
        """Drop the kept session (it was refused), so the next call signs in afresh."""
        with _sessions_lock:
            _sessions.pop(self.account.session_key, None)
        self._client = None

    def _signed_in(self, stage: str):
        """The client with a session: the kept one when there is one (no request needed), else a new sign-in."""
        if self._client is None:
            client = self._new_client()
            with _sessions_lock:
                kept = _sessions.get(self.account.session_key)
            if kept:
                client.login(session_string=kept, fetch_bsky_profile=False)
            else:
                # Nothing is sent to be published while signing in, so a failure here is never ambiguous.
                self._sign_in(client, "login" if stage == "create" else stage)
            self._client = client
        return self._client

    def _new_client(self):
        from atproto_client import Client  # atproto is slow to import: see bluesky_text
        from atproto_client.request import Request

        client = Client(base_url=self.account.service,
                        request=Request(timeout=httpx.Timeout(self.timeout, connect=min(10.0, self.timeout))))
        client.on_session_change(self._keep)
        return client

    def _sign_in(self, client, stage: str) -> None:
        """createSession with the app password; the session is kept only if it is an app password's, on https."""
        log.info("signing in to Bluesky as %s", self.account.who)
        try:
            client.login(self.account.identifier, self.account.app_password, fetch_bsky_profile=False)
            session = _session_of(client)
            scope = session.access_jwt_payload.scope
        except SDK_ERRORS as exc:
            self.forget()
            raise error_for(exc, stage, self.account.who) from exc
        try:
            # Where Bluesky says the account lives; the SDK's own default for it ends in /xrpc.
            https_or_loopback(session.pds_endpoint or self.account.service, bad=BAD_ADDRESS, unencrypted=HTTP_ADDRESS,
                              path_allowed=True)
            if scope == MAIN_PASSWORD_SCOPE:
                raise PermanentError(
                    f"The password saved for {self.account.who} is the account's main password. The gateway uses only "
                    f"an app password, which can post but not change the account: create one ({APP_PASSWORDS}) and "
                    "enter that instead.", code="main_password")
        except PermanentError:
            self.forget()
            raise

    def _keep(self, event, session) -> None:
        """The SDK's session-change callback: every new or renewed session replaces the kept one."""
        with _sessions_lock:
            _sessions[self.account.session_key] = session.encode()


def _session_of(client):
    from atproto_client.client.session import Session

    return Session.decode(client.export_session_string())
