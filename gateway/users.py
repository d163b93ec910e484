"""Creating users and checking their passwords (argon2)."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from gateway.core.db import utcnow
from gateway.core.errors import Refused
from gateway.models import ROLES, User
from moderation import audit

_hasher = PasswordHasher()
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_FAILURES, LOCKOUT_MINUTES = 10, 15


@cache
def _dummy_hash() -> str:
    """Verified against for unknown e-mails, so a log-in takes as long whether or not the account exists; made
    on first use, as hashing takes a tenth of a second that commands which never log anyone in need not spend."""
    return _hasher.hash(secrets.token_urlsafe(16))


class UserError(Refused):
    """A plain-words reason why a user could not be created or changed."""


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session, email: str, name: str, role: str, password: str, by) -> User:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise UserError(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise UserError("a name is required")
    if role not in ROLES:
        raise UserError(f"the role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.email == email)):
        raise UserError(f"there is already a user {email}")
    user = User(email=email, name=name.strip(), role=role, password_hash=_hasher.hash(password), active=True)
    session.add(user)
    session.flush()
    audit.record(session, by, "user_added", f"user:{user.id}", email=email, role=role)
    return user


def authenticate(session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def set_active(session, user: User, active: bool, by) -> None:
    user.active = active
    audit.record(session, by, "user_enabled" if active else "user_disabled", f"user:{user.id}", email=user.email)


def login_subject(email: str) -> str:
    """How the audit log names a log-in attempt (the audit subject holds 100 characters)."""
    return f"login:{email.strip().lower()[:90]}"


def too_many_failures(session, email: str) -> bool:
    """Ten wrong passwords for one e-mail within 15 minutes hold that e-mail back for the rest of them."""
    since = utcnow() - timedelta(minutes=LOCKOUT_MINUTES)
    failures = session.scalar(select(func.count()).select_from(audit.AuditEntry).where(
        audit.AuditEntry.action == "login_failed", audit.AuditEntry.subject == login_subject(email),
        audit.AuditEntry.at >= since))
    return failures >= MAX_FAILURES


def change_password(session, user: User, current: str, new: str, again: str) -> None:
    try:
        _hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise UserError("the current password is not right") from None
    if new != again:
        raise UserError("the two new passwords are not the same")
    if len(new) < MIN_PASSWORD:
        raise UserError(f"the new password must be at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(new)
    audit.record(session, user, "password_changed", f"user:{user.id}")
