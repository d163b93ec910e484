"""The school's official accounts: registered by staff, confirmed by the head (policy §6)."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from gateway.core.crypto import decrypt, encrypt
from gateway.core.db import utcnow
from gateway.models import PLATFORMS, Account, User
from gateway.users import UserError
from moderation import audit

HANDLE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,49}$")


def add_account(session, platform: str, handle: str, url: str, by) -> Account:
    handle = handle.strip().lstrip("@")
    if platform not in PLATFORMS:
        raise UserError(f"the platform must be one of {', '.join(PLATFORMS)}")
    if not HANDLE.match(handle):
        raise UserError("a handle is letters, digits, '_' or '-', at most 50")
    if not url.startswith("https://") and not url.startswith("http://"):
        raise UserError("the account's address must start with https://")
    if session.scalar(select(func.count()).select_from(Account).where(Account.platform == platform, Account.handle == handle)):
        raise UserError(f"the {platform} account {handle} is already registered")
    account = Account(platform=platform, handle=handle, url=url.strip(), created_by_id=getattr(by, "id", None))
    session.add(account)
    session.flush()
    audit.record(session, by, "account_added", f"account:{account.id}", platform=platform, handle=handle, url=url)
    return account


def confirm_account(session, account: Account, head: User) -> None:
    """Policy §6: the head confirms each official account before anything is published to it."""
    if not head.can_admin:
        raise UserError("only the headteacher can confirm an official account")
    if account.confirmed:
        raise UserError(f"{account.label} is already confirmed")
    account.confirmed_by_id, account.confirmed_at = head.id, utcnow()
    audit.record(session, head, "account_confirmed", f"account:{account.id}", handle=account.handle)


def credentials_of(account: Account, key: bytes):
    """The account's X keys, decrypted; None if none are saved."""
    from gateway.platforms.x import XCredentials

    if account.credentials is None:
        return None
    return XCredentials.from_json(decrypt(key, account.credentials, f"account-credentials:{account.id}"))


def save_credentials(session, account: Account, credentials, key: bytes, by) -> str:
    """Check the keys with a harmless authenticated call, then store them encrypted; returns the X username."""
    from gateway.platforms.x import XPublisher

    if account.platform != "x":
        raise UserError("only X accounts take keys")
    username = XPublisher(credentials, account.handle, timeout=15).check_credentials()
    if username.lower() != account.handle.lower():
        raise UserError(f"these keys belong to @{username}, not @{account.handle}")
    account.credentials = encrypt(key, credentials.to_json().encode(), f"account-credentials:{account.id}")
    account.credentials_checked_at = utcnow()
    audit.record(session, by, "account_credentials_saved", f"account:{account.id}", username=username)
    return username
