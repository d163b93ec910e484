"""What a log-in is made of besides the password: random tokens kept only as hashes, TOTP codes each accepted
once, and single-use recovery codes."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

import pyotp


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


def matching_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step the code is right for (now, or a step either side for a slow phone clock), if it is later
    than the last one used: a code seen over someone's shoulder cannot be used again. The caller claims it."""
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp, step = pyotp.TOTP(secret), int((time.time() if now is None else now) // STEP)
    for candidate in (step - 1, step, step + 1):
        if candidate > (last_step if last_step is not None else -1) and hmac.compare_digest(totp.at(candidate * STEP), code):
            return candidate
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes such as "k7qm-2xh9-wp4d-8rtc": 79 random bits each, readable aloud, no 0/o or 1/l to confuse."""
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    return ["-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
            for _ in range(RECOVERY_CODES)]


def _normal(code: str) -> str:
    return re.sub(r"[\s-]", "", code.lower())


def recovery_hash(code: str, salt: str | None = None) -> str:
    """"salt$sha256": a random salt per code (OWASP ASVS 2.6.2 for secrets under 112 bits)."""
    salt = salt or secrets.token_hex(4)
    return f"{salt}${hashlib.sha256((salt + _normal(code)).encode()).hexdigest()}"


def recovery_matches(code: str, stored: str) -> bool:
    salt, _hash = stored.split("$", 1)
    return hmac.compare_digest(recovery_hash(code, salt), stored)


def looks_like_recovery_code(code: str) -> bool:
    return len(_normal(code)) == 16
