"""What a log-in is made of besides the password: random tokens kept only as hashes, TOTP codes each accepted
once, and single-use recovery codes."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

import pyotp

from gateway.models import User

STEP = 30  # seconds per TOTP code (RFC 6238's default, which every authenticator app uses)
RECOVERY_CODES = 10


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Tokens are random, so a plain SHA-256 is enough: a stolen table gives nobody a usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str, school: str) -> str:
    """What the enrolment QR code holds: the school's name labels the entry in the authenticator app."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=school)


def accept_code(user: User, secret: str, code: str, now: float | None = None) -> bool:
    """Whether the code is right for now (a step either side allows for a slow phone clock) and later than the
    last one used: a code seen over someone's shoulder cannot be used again. Records the step."""
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(r"\d{6}", code):
        return False
    totp, step = pyotp.TOTP(secret), int((time.time() if now is None else now) // STEP)
    for candidate in (step - 1, step, step + 1):
        if candidate > (user.totp_last_step or -1) and hmac.compare_digest(totp.at(candidate * STEP), code):
            user.totp_last_step = candidate
            return True
    return False


def new_recovery_codes() -> list[str]:
    """Ten codes such as "k7qm-2xh9-wp4d": 60 random bits each, readable aloud, no 0/o or 1/l to confuse."""
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))
            for _ in range(RECOVERY_CODES)]


def recovery_hash(code: str) -> str:
    return token_hash(re.sub(r"[\s-]", "", code.lower()))


def looks_like_recovery_code(code: str) -> bool:
    return len(re.sub(r"[\s-]", "", code)) == 12
