"""Creating users and checking their passwords (argon2)."""
from __future__ import annotations

import re
import secrets
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from gateway.core.db import utcnow
from gateway.core.errors import Refused
from gateway.models import ROLES, User
from moderation import audit

# argon2id, chosen by the PASSWORD_HASHING setting. "rfc9106" is RFC 9106's second recommended option (3 passes
# over 64 MiB in 4 lanes; 0.3 CPU-s to hash and verify here); "owasp-minimum" is the OWASP Password Storage Cheat
# Sheet's minimum (2 passes over 19 MiB, 1 lane; 0.04 CPU-s), for small servers and for the tests, which create
# and log in users hundreds of times. A hash carries its own parameters, so either verifies any stored hash, and a
# log-in re-hashes a password stored with parameters other than the setting's.
HASHERS = {
    "rfc9106": PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY),
    "owasp-minimum": PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1),
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
MAX_FAILURES, LOCKOUT_MINUTES = 10, 15


def hasher_for(settings) -> PasswordHasher:
    return HASHERS[settings.password_hashing]


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against for unknown e-mails, so a log-in takes as long whether or not the account exists; made
    on first use, as hashing takes a tenth of a second that commands which never log anyone in need not spend."""
    return hasher.hash(secrets.token_urlsafe(16))


class UserError(Refused):
    """A plain-words reason why a user could not be created or changed."""


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session, email: str, name: str, role: str, password: str, by, hasher: PasswordHasher) -> User:
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
    user = User(email=email, name=name.strip(), role=role, password_hash=hasher.hash(password), active=True)
    session.add(user)
    session.flush()
    audit.record(session, by, "user_added", f"user:{user.id}", email=email, role=role)
    return user


def authenticate(session, email: str, password: str, hasher: PasswordHasher) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        hasher.verify(user.password_hash if user else _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
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


def change_password(session, user: User, current: str, new: str, again: str, hasher: PasswordHasher) -> None:
    try:
        hasher.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise UserError("the current password is not right") from None
    if new != again:
        raise UserError("the two new passwords are not the same")
    if len(new) < MIN_PASSWORD:
        raise UserError(f"the new password must be at least {MIN_PASSWORD} characters")
    user.password_hash = hasher.hash(new)
    audit.record(session, user, "password_changed", f"user:{user.id}")
