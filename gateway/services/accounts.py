"""The school's official accounts: registered by staff, confirmed by the head (policy §6); each change commits."""
from __future__ import annotations

import json
import re
from collections.abc import Mapping

from sqlalchemy import func, select

from gateway.core.crypto import encrypt
from gateway.core.db import utcnow
from gateway.core.errors import Refused
from gateway.models import Account, User
from gateway.platforms import PLATFORMS, credentials_aad
from moderation import audit

# dots: Bluesky handles are domain names, and Facebook Page usernames may have them; never first, so never ".."
# alone, and no slash, so a handle is always one safe folder name (the archive keeps each account's posts in one)
HANDLE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def add_account(session, platform: str, handle: str, url: str, by) -> Account:
    handle = handle.strip().lstrip("@")
    if platform not in PLATFORMS:
        raise Refused(f"the platform must be one of {', '.join(PLATFORMS)}")
    if not HANDLE.match(handle):
        raise Refused("a handle is letters, digits, '_', '-' or '.', at most 100, not starting with '.' or '-'")
    if not url.startswith("https://") and not url.startswith("http://"):
        raise Refused("the account's address must start with https://")
    if session.scalar(select(func.count()).select_from(Account).where(Account.platform == platform, Account.handle == handle)):
        raise Refused(f"the {platform} account {handle} is already registered")
    account = Account(platform=platform, handle=handle, url=url.strip(), created_by_id=getattr(by, "id", None),
                      text_limit=PLATFORMS[platform].max_text)  # the network's own limit, not X's for all
    session.add(account)
    session.flush()
    audit.record(session, by, "account_added", f"account:{account.id}", platform=platform, handle=handle, url=url)
    session.commit()
    return account


def confirm_account(session, account: Account, head: User) -> None:
    """Policy §6: the head confirms each official account before anything is published to it."""
    if not head.can_admin:
        raise Refused("only the headteacher can confirm an official account")
    if account.confirmed:
        raise Refused(f"{account.label} is already confirmed")
    account.confirmed_by_id, account.confirmed_at = head.id, utcnow()
    audit.record(session, head, "account_confirmed", f"account:{account.id}", handle=account.handle)
    session.commit()


def save_credentials(session, account: Account, credentials: Mapping[str, str], key: bytes, by) -> str:
    """Check the keys with the network's harmless authenticated call, then store them encrypted.

    `credentials` holds a value for each of the platform's credential_fields; returns the username they belong to.
    """
    if not getattr(by, "can_admin", False):
        raise Refused("only the headteacher can enter an account's keys")
    platform = PLATFORMS[account.platform]
    if platform.check is None or not platform.credential_fields:
        raise Refused(f"{platform.title} accounts take no keys")
    values = {f.name: (credentials.get(f.name) or "").strip() or f.default for f in platform.credential_fields}
    missing = [f.label for f in platform.credential_fields if not values[f.name]]
    if missing:
        raise Refused(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} needed "
                        f"({platform.credentials_help})")
    username = platform.check(account.handle, values)
    if username.lower() != account.handle.lower():
        raise Refused(f"these keys belong to @{username}, not @{account.handle}")
    if platform.text_limit_of is not None:  # checked before review against the account's own server
        account.text_limit = platform.text_limit_of(values)
    account.credentials = encrypt(key, json.dumps(values, sort_keys=True).encode(), credentials_aad(account.id))
    account.credentials_checked_at = utcnow()
    audit.record(session, by, "account_credentials_saved", f"account:{account.id}", username=username)
    session.commit()
    return username
