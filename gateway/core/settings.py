"""Settings from the environment (and an optional .env), and the instance folder."""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values
from limits import parse_many
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.core import storage


class SettingsError(Exception):
    """A setting is missing or wrong; the message is one line for the person starting the gateway."""


def _int(env, name, default, minimum=1):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


def _float(env, name, default, low, high):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _domains(env) -> tuple[str, ...]:
    """The SCHOOL_DOMAINS entries as written. What makes a usable entry is the link rules' business
    (moderation.link_rules.school_domains checks and normalises them), and core imports nothing of ours."""
    return tuple(entry.strip() for entry in (env.get("SCHOOL_DOMAINS") or "").split(",") if entry.strip())


def _smtp_url(env) -> str | None:
    """SMTP_URL as given; its password is never repeated in a message."""
    raw = env.get("SMTP_URL") or None
    if raw is not None:
        parts = urlsplit(raw)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SettingsError("SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465")
    return raw


def _replies_and_mail(env) -> dict:
    public_url = (env.get("PUBLIC_URL") or f"http://{env.get('HOST') or '127.0.0.1'}:{env.get('PORT') or 5000}")
    if not public_url.startswith(("http://", "https://")):
        raise SettingsError(f"PUBLIC_URL must start with http:// or https://, not {public_url!r}")
    public_url = public_url.rstrip("/")
    return dict(
        comments_days=_int(env, "COMMENTS_DAYS", 14),
        comments_poll_minutes=_int(env, "COMMENTS_POLL_MINUTES", 15),
        facebook_comments=_choice(env, "FACEBOOK_COMMENTS", "hide", ("hide", "delete")),
        mastodon_authors=_choice(env, "MASTODON_AUTHORS", "block", ("block", "mute", "none")),
        x_read_cost=_float(env, "X_READ_COST", 0.005, 0.0, 10.0),
        smtp_url=_smtp_url(env),
        mail_from=env.get("MAIL_FROM") or f"gateway@{urlsplit(public_url).hostname or 'localhost'}",
        public_url=public_url,
    )


def _sign_in(env) -> dict:
    limit = env.get("LOGIN_LIMIT") or "20 per minute; 200 per hour"
    try:
        parse_many(limit)
    except ValueError:
        raise SettingsError(f"LOGIN_LIMIT must be limits such as '20 per minute; 200 per hour', not {limit!r}") from None
    return dict(
        session_idle_minutes=_int(env, "SESSION_IDLE_MINUTES", 30),
        session_hours=_int(env, "SESSION_HOURS", 12),
        login_limit=limit,
        behind_tls=_choice(env, "BEHIND_TLS", "no", ("yes", "no")) == "yes",
        proxies=_int(env, "PROXIES", 0, minimum=0),
    )


def _choice(env, name, default, choices):
    value = env.get(name) or default
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    instance: Path
    database_url: str
    redis_url: str | None
    school_name: str
    host: str
    port: int
    max_photo_mb: int
    max_photos: int
    check_timeout: int
    publish_timeout: int
    publish_lookup_delay: int
    approval_hours: int
    reconcile_seconds: int
    retention_days: int
    secret_key: bytes = field(repr=False)
    encryption_key: bytes = field(repr=False)
    store: storage.Store = field(repr=False, compare=False)  # made once, from STORAGE_URL; see media, archive, ...
    storage_url: str = "file://"
    face_tolerance: float = 0.5
    face_margin: float = 0.06
    face_detector: str = "retinaface"
    face_upsample: int = 2
    face_threshold: float = 0.5
    face_policy: str = "obscure"
    names_include_staff: bool = False
    school_domains: tuple[str, ...] = ()  # as written; moderation.link_rules.school_domains reads them
    link_expand: bool = False
    takedown_auto: bool = True
    safe_browsing_url: str | None = None
    safe_browsing_key: str | None = field(default=None, repr=False)
    password_hashing: str = "rfc9106"
    timezone: str = "Europe/London"
    log_level: str = "INFO"
    comments_days: int = 14            # how long after publication the replies to a post are read
    comments_poll_minutes: int = 15    # how often an account's replies are read (at least its network's minimum)
    facebook_comments: str = "hide"    # what is done to an inappropriate Facebook comment: "hide" or "delete"
    mastodon_authors: str = "block"    # after reporting a Mastodon reply to its server: "block", "mute" or "none"
    x_read_cost: float = 0.005         # US dollars X charges per post read, for the cost shown to the head
    smtp_url: str | None = field(default=None, repr=False)  # unset: mail is written to the instance's outbox/
    mail_from: str = "gateway@localhost"
    public_url: str = "http://127.0.0.1:5000"  # where staff reach the gateway, for the links in e-mails
    session_idle_minutes: int = 30     # a log-in unused this long ends
    session_hours: int = 12            # and every log-in ends this long after it began
    login_limit: str = "20 per minute; 200 per hour"  # failed sign-in attempts allowed per client address
    behind_tls: bool = False           # served over HTTPS (by a proxy): Secure cookies and HSTS
    proxies: int = 0                   # how many proxies in front add X-Forwarded-For/-Proto, to trust them

    @property
    def media(self) -> storage.Store:
        """Originals, clean renditions and their memos, under random keys."""
        return self.store.within("media")

    @property
    def held(self) -> storage.Store:
        """Photos held for an author's next try after a submission with problems (an hour)."""
        return self.store.within("held")

    @property
    def imports(self) -> storage.Store:
        """MIS files waiting for the consent officer to confirm their preview (an hour)."""
        return self.store.within("imports")

    @property
    def archive(self) -> storage.Store:
        """The archive platform's published pages, one store within it per account."""
        return self.store.within("archive")

    @property
    def queue_dir(self) -> Path:
        return self.instance / "queue"

    @property
    def outbox(self) -> Path:
        return self.instance / "outbox"


def _storage(env, instance: Path) -> dict:
    """STORAGE_URL, S3_ENDPOINT_URL, S3_ENCRYPTION and the AWS keys: the store, made once. Keys are never repeated
    in a message, and STORAGE_URL is not either (it must not hold keys, but someone may have put them there)."""
    url = env.get("STORAGE_URL") or "file://"
    problem = storage.check_url(url)
    if problem:
        raise SettingsError(f"STORAGE_URL {problem}")
    endpoint = env.get("S3_ENDPOINT_URL") or None
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise SettingsError("S3_ENDPOINT_URL must be an address such as https://minio.example:9000 (no keys in "
                                "it: give them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    access = storage.S3Access(
        endpoint_url=endpoint, region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        access_key_id=env.get("AWS_ACCESS_KEY_ID") or None, secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        session_token=env.get("AWS_SESSION_TOKEN") or None,
        encryption=_choice(env, "S3_ENCRYPTION", "AES256", ("AES256", "none")) == "AES256",
    )
    return dict(storage_url=url, store=storage.open_store(url, instance, access))


_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


def _key(env, name: str, default: Path) -> bytes:
    """A 32-byte key: NAME (64 hexadecimal digits, as `openssl rand -hex 32` makes), or the file NAME_FILE names
    (the same digits; a Docker secret), or else a file in the instance folder made on first run (one machine only).
    A bad one is named by its setting; the key itself is never repeated."""
    value, file = env.get(name) or None, env.get(f"{name}_FILE") or None
    if value and file:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    source = name
    if file:
        source = f"{name}_FILE ({file})"
        try:
            with open(file, "rb") as given:
                value = given.read(1024).decode("ascii", errors="replace")
        except OSError as exc:
            raise SettingsError(f"{source} cannot be read: {exc.strerror or exc}") from None
    if value is None:
        return _key_file(default, 32)
    if not _HEX_KEY.fullmatch(value.strip()):
        raise SettingsError(f"{source} must be 64 hexadecimal digits (a 32-byte key; make one with "
                            "`openssl rand -hex 32`)")
    return bytes.fromhex(value.strip())


def _keys(env, instance: Path) -> dict:
    keys = dict(secret_key=_key(env, "SECRET_KEY", instance / "secret.key"),
                encryption_key=_key(env, "ENCRYPTION_KEY", instance / "encryption.key"))
    if keys["secret_key"] == keys["encryption_key"]:
        raise SettingsError("SECRET_KEY and ENCRYPTION_KEY must be two different keys")
    return keys


def _key_file(path: Path, size: int) -> bytes:
    """Read a key, creating it with owner-only permissions on first run."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(size))
    if path.stat().st_mode & 0o077:
        raise SettingsError(f"{path} must be readable by its owner only (chmod 600 {path})")
    key = path.read_bytes()
    if len(key) != size:
        raise SettingsError(f"{path} is damaged: expected {size} bytes, found {len(key)}")
    return key


def load(environ=None) -> Settings:
    """Settings from .env (if present) overlaid by the environment; creates the instance folder."""
    env = {**dotenv_values(".env"), **(os.environ if environ is None else environ)}
    instance = Path(env.get("INSTANCE_DIR") or "instance").resolve()
    try:
        instance.mkdir(mode=0o700, parents=True, exist_ok=True)
        for sub in ("queue", "outbox"):  # media and the archive are in the store (made as it needs them)
            (instance / sub).mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"cannot create the instance folder {instance}: {exc.strerror}") from None
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'gateway.db'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql://" + database_url[len("postgres://"):]
    if not database_url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise SettingsError(f"DATABASE_URL must be a sqlite:// or postgresql:// URL, not {database_url!r}")
    redis_url = env.get("REDIS_URL") or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(f"REDIS_URL must start with redis://, rediss:// or unix://, not {redis_url!r}")
    timezone = env.get("TIMEZONE") or "Europe/London"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"TIMEZONE must be a time zone name such as Europe/London, not {timezone!r}") from None
    return Settings(
        instance=instance,
        database_url=database_url,
        redis_url=redis_url,
        school_name=env.get("SCHOOL_NAME") or "Demo Primary School",
        host=env.get("HOST") or "127.0.0.1",
        port=_int(env, "PORT", 5000),
        max_photo_mb=_int(env, "MAX_PHOTO_MB", 25),
        max_photos=_int(env, "MAX_PHOTOS", 4),
        check_timeout=_int(env, "CHECK_TIMEOUT", 600),
        publish_timeout=_int(env, "PUBLISH_TIMEOUT", 120),
        publish_lookup_delay=_int(env, "PUBLISH_LOOKUP_DELAY", 90, minimum=0),
        approval_hours=_int(env, "APPROVAL_HOURS", 72),
        reconcile_seconds=_int(env, "RECONCILE_SECONDS", 60),
        retention_days=_int(env, "RETENTION_DAYS", 30),
        face_tolerance=_float(env, "FACE_TOLERANCE", 0.5, 0.2, 0.6),
        face_margin=_float(env, "FACE_MARGIN", 0.06, 0.0, 0.3),
        face_detector=_choice(env, "FACE_DETECTOR", "retinaface", ("retinaface", "hog", "centerface")),
        face_upsample=_int(env, "FACE_UPSAMPLE", 2, minimum=0),
        face_threshold=_float(env, "FACE_THRESHOLD", 0.5, 0.1, 0.9),
        face_policy=_choice(env, "FACE_POLICY", "obscure", ("obscure", "block")),
        school_domains=_domains(env),
        takedown_auto=_choice(env, "TAKEDOWN_AUTO", "yes", ("yes", "no")) == "yes",
        link_expand=_choice(env, "LINK_EXPAND", "no", ("yes", "no")) == "yes",
        safe_browsing_url=env.get("SAFE_BROWSING_URL") or None,
        safe_browsing_key=env.get("SAFE_BROWSING_KEY") or None,
        names_include_staff=_choice(env, "NAMES_INCLUDE_STAFF", "no", ("yes", "no")) == "yes",
        password_hashing=_choice(env, "PASSWORD_HASHING", "rfc9106", ("rfc9106", "owasp-minimum")),
        timezone=timezone,
        log_level=_choice(env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        **_replies_and_mail(env),
        **_sign_in(env),
        **_storage(env, instance),
        **_keys(env, instance),
    )
