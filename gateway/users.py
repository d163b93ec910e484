"""Creating users and checking their passwords (argon2)."""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from zxcvbn import zxcvbn

from gateway.core.schools import ALL_SCHOOLS, school_of
from gateway.core.db import utcnow
from gateway.core.errors import Refused
from gateway.models import DPO, ROLES, User
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
MIN_PASSWORD, MAX_PASSWORD = 12, 128
STRONG_ENOUGH = 3  # zxcvbn's score: "safely unguessable: moderate protection from offline slow-hash scenario"
MAX_FAILURES, LOCKOUT_MINUTES = 10, 15
CODES_A_DAY = 10
WRONG_PASSWORD, WRONG_CODE = "login_failed", "code_failed"  # audit actions, counted for the holds
# Hashes run at most this many at a time and wait at most HASH_WAIT seconds for a turn, so a flood of log-ins
# leaves the server's other cores, and the web server's threads, to everyone else's pages.
HASHING = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))
HASH_WAIT = 2.0


def hasher_for(settings) -> PasswordHasher:
    return HASHERS[settings.password_hashing]


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against for unknown e-mails, so a log-in takes as long whether or not the account exists; made
    on first use, as hashing takes a tenth of a second that commands which never log anyone in need not spend."""
    return hasher.hash(secrets.token_urlsafe(16))


class UserError(Refused):
    """A plain-words reason why a user could not be created or changed."""


class Busy(Refused):
    """Too many log-ins are being checked at this moment; the person tries again in a few seconds."""


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def password_problem(password: str, hints: list[str]) -> str | None:
    """Why a new password is not good enough, or None. Hints are words an attacker would try first: the
    school's name and the person's own name and e-mail."""
    if len(password) < MIN_PASSWORD:
        return f"the password must be at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"the password can be at most {MAX_PASSWORD} characters"
    words = [w for hint in hints for w in (*re.split(r"[^\w]+", hint.lower()), re.sub(r"[^\w]+", "", hint.lower()))
             if len(w) > 2]
    verdict = zxcvbn(password[:100], user_inputs=words)  # zxcvbn slows on long input; 100 characters decide
    if verdict["score"] >= STRONG_ENOUGH:
        return None
    advice = verdict["feedback"]["warning"] or "it is too easy to guess"
    return (f"the password is too easy to guess ({advice.rstrip('.').lower()}); a few unrelated words together, "
            "or a longer phrase, are strong and easy to remember")


def hash_password(hasher: PasswordHasher, password: str) -> str:
    with _turn():
        return hasher.hash(password)


def verify(hasher: PasswordHasher, stored: str, password: str) -> bool:
    """Whether the password matches the stored hash ("" never matches, but takes as long). Call it outside any
    database transaction: on SQLite a transaction holds the write lock that every other request waits for."""
    with _turn():
        try:
            return hasher.verify(stored or _dummy_hash(hasher), password) and bool(stored)
        except (VerificationError, InvalidHashError):
            return False


class _turn:
    """A turn at hashing, or Busy after HASH_WAIT seconds."""

    def __enter__(self):
        if not HASHING.acquire(timeout=HASH_WAIT):
            raise Busy("The gateway is busy checking other log-ins. Wait a few seconds and try again.")

    def __exit__(self, *_exc):
        HASHING.release()


def create_user(session, email: str, name: str, role: str, password: str, by, hasher: PasswordHasher,
                hints: tuple[str, ...] = ()) -> User:
    """A new user; with password "" the user has none until they choose one through a set-up link."""
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise UserError(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise UserError("a name is required")
    if role not in ROLES:
        raise UserError(f"the role must be one of {', '.join(ROLES)}")
    if role == DPO and school_of(session) is not None:
        raise UserError("the trust's data protection officer belongs to no one school: the trust adds them, with "
                        "`gateway users add` and no --school")
    problem = password and password_problem(password, [*hints, name, email])
    if problem:
        raise UserError(problem)
    if session.scalar(select(User).where(User.email == email).execution_options(**{ALL_SCHOOLS: True})):
        raise UserError(f"there is already a user {email}")
    user = User(email=email, name=name.strip(), role=role, active=True,
                password_hash=hash_password(hasher, password) if password else "",
                password_set_at=utcnow() if password else None)
    session.add(user)
    session.flush()
    audit.record(session, by, "user_added", f"user:{user.id}", email=email, role=role)
    return user


def find(session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def set_active(session, user: User, active: bool, by) -> None:
    user.active = active
    audit.record(session, by, "user_enabled" if active else "user_disabled", f"user:{user.id}", email=user.email)


def login_subject(email: str) -> str:
    """How the audit log names a sign-in attempt: a hash of the e-mail typed, so that a password typed into the
    e-mail box by mistake never shows on the audit page."""
    return "login:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def _count(session, email: str, actions: tuple[str, ...], since) -> int:
    return session.scalar(select(func.count()).select_from(audit.AuditEntry).where(
        audit.AuditEntry.action.in_(actions), audit.AuditEntry.subject == login_subject(email),
        audit.AuditEntry.at >= since))


def too_many_failures(session, email: str, since=None) -> bool:
    """Ten wrong passwords or codes for one e-mail within 15 minutes (and since `since`, the last new password)
    hold that e-mail: a password alone no longer lets anyone in."""
    since = max(filter(None, (utcnow() - timedelta(minutes=LOCKOUT_MINUTES), since)))
    return _count(session, email, (WRONG_PASSWORD, WRONG_CODE), since) >= MAX_FAILURES


def too_many_codes(session, email: str) -> bool:
    """Ten wrong codes from the app within a day: six digits are then no longer tried for this account."""
    return _count(session, email, (WRONG_CODE,), utcnow() - timedelta(days=1)) >= CODES_A_DAY


def check_new_password(user: User, new: str, again: str, hints: tuple[str, ...]) -> None:
    if new != again:
        raise UserError("the two new passwords are not the same")
    problem = password_problem(new, [*hints, user.name, user.email])
    if problem:
        raise UserError(problem)
