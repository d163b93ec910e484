"""Private objects: photos and their renditions, held photos, import previews and the archive's pages.

One contract, Store, on two back ends, made once from settings (STORAGE_URL): FileStore, a folder (the instance
folder by default), and S3Store, a bucket of any S3-compatible store (AWS, MinIO, Ceph) through boto3. An object is
named by '/'-separated parts; `put` names it by a random key (never by what a user called it), the archive names
its pages itself (`write`). Nothing here makes a public or presigned address: the web app streams the bytes.
"""
from __future__ import annotations

import copy
import os
import re
import secrets
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")  # never "." or "..", never hidden, never a slash
_KEY = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16)


class Missing(FileNotFoundError):
    """No object has that name (or it was deleted)."""


class StorageError(OSError):
    """The store could not be reached, or refused; the message says which and why, never a credential."""


class EncryptionRefused(StorageError):
    """The store refused to encrypt an object at rest: nothing was stored."""


def _name(name: str) -> str:
    if not all(_PART.fullmatch(part) for part in name.split("/")):
        raise ValueError("bad storage name")
    return name


def _keyed(key: str) -> str:
    """Where a random key's object lives: under its first two digits, as the instance folder always kept them."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError("bad media key")
    return f"{key[:2]}/{key}"


class Store(ABC):
    """Private objects, each within an area: `within(part)` is the same store one level down (media/, held/,
    imports/, archive/<handle>/). Objects under random keys: put, get, delete, delete_older_than. Objects under names
    their caller chose (the archive's pages): write, read, remove, listing. A name or key that could reach outside
    its area is a ValueError; a missing object is Missing; a store that fails is a StorageError."""

    area = ""  # "" at the root, else parts each ending in "/"

    def within(self, part: str) -> Store:
        if not _PART.fullmatch(part):
            raise ValueError("bad storage name")
        inner = copy.copy(self)
        inner.area = f"{self.area}{part}/"
        return inner

    def _full(self, name: str | None = None) -> str:
        """The name below the store's root. Nothing is kept at the root itself: for file:// it is the instance
        folder, whose keys and database are no objects to list or delete."""
        if not self.area:
            raise ValueError("objects are kept within an area of the store (media/, held/, ...)")
        return self.area if name is None else self.area + _name(name)

    def put(self, data: bytes) -> str:
        """Store the bytes under a new random key; returns the key."""
        key = secrets.token_hex(16)
        self.write(_keyed(key), data)
        return key

    def get(self, key: str) -> bytes:
        return self.read(_keyed(key))

    def delete(self, key: str) -> None:
        """Nothing happens if it is gone already."""
        self.remove(_keyed(key))

    def delete_older_than(self, cutoff: datetime) -> int:
        """Delete every object in this store last written before `cutoff`; returns how many."""
        stale = [name for name, written in self.listing() if written < cutoff]
        for name in stale:
            self.remove(name)
        return len(stale)

    @abstractmethod
    def write(self, name: str, data: bytes) -> None:
        """Create or replace the object; a reader sees the old bytes or the new, never half of them."""

    @abstractmethod
    def read(self, name: str) -> bytes:
        ...

    @abstractmethod
    def remove(self, name: str) -> None:
        """Nothing happens if it is gone already."""

    @abstractmethod
    def listing(self) -> Iterator[tuple[str, datetime]]:
        """(name within this store's area, when it was last written, in UTC) of every object in the area."""


class FileStore(Store):
    """Objects as owner-only files under a folder; name parts are folders. Empty folders go with their last file,
    as an object store has no folders."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*self._full(name).split("/"))

    def write(self, name: str, data: bytes) -> None:
        path = self._path(name)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for _attempt in range(3):  # a remove() elsewhere may take away an emptied folder before the file is in it
            try:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".new-")  # owner-only
            except FileNotFoundError:
                continue
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return
        raise StorageError(f"could not write {path}: its folder kept disappearing")

    def read(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise Missing(name) from None

    def remove(self, name: str) -> None:
        path = self._path(name)
        path.unlink(missing_ok=True)
        for folder in path.parents:
            if folder == self.root or self.root not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:  # not empty (or gone already): its parents are not empty either
                break

    def listing(self) -> Iterator[tuple[str, datetime]]:
        base = self.root.joinpath(*self._full().split("/"))
        for folder, _dirs, files in os.walk(base):
            for file in files:
                if file.startswith("."):  # a write in progress
                    continue
                path = Path(folder, file)
                try:
                    written = path.stat().st_mtime
                except FileNotFoundError:
                    continue
                yield path.relative_to(base).as_posix(), datetime.fromtimestamp(written, timezone.utc)


@dataclass(frozen=True)
class S3Access:
    """How to reach an S3-compatible store. Keys left unset are found as boto3 finds them (its own environment
    variables, ~/.aws, an instance or container role)."""

    endpoint_url: str | None = None  # unset: AWS itself
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    encryption: bool = True  # ServerSideEncryption="AES256" on every object written


class _Clients:
    """One boto3 client per process and S3Access, shared by every store made from the same settings (each job loads
    its settings afresh). A forked work horse makes its own rather than sharing its parent's connections, from the
    session its parent made, whose S3 models are loaded already (a client in 15 ms rather than 150 ms). boto3
    clients are safe to share between threads; sessions are not, so clients are made under a lock."""

    def __init__(self):
        self._sessions: dict[S3Access, object] = {}
        self._clients: dict[S3Access, tuple[int, object]] = {}
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork

    def get(self, access: S3Access):
        with self._lock:
            made = self._clients.get(access)
            if made is None or made[0] != os.getpid():
                made = os.getpid(), self._make(access)
                self._clients[access] = made
            return made[1]

    def _make(self, access: S3Access):
        import boto3  # here: a gateway storing files on disk never pays for importing boto3
        from botocore.config import Config

        if access not in self._sessions:
            self._sessions[access] = boto3.session.Session(
                aws_access_key_id=access.access_key_id, aws_secret_access_key=access.secret_access_key,
                aws_session_token=access.session_token, region_name=access.region or "us-east-1")
        config = Config(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 4},
                        s3={"addressing_style": "path" if access.endpoint_url else "auto"})
        return self._sessions[access].client("s3", endpoint_url=access.endpoint_url, config=config)


_CLIENTS = _Clients()


_REFUSED_ENCRYPTION = ("NotImplemented", "InvalidArgument", "InvalidRequest", "InvalidEncryptionAlgorithmError",
                       "KMS.NotConfigured", "KMSNotConfigured", "ServerSideEncryptionConfigurationNotFoundError")


def refusal(code: str, message: str, *, encrypting: bool, what: str) -> StorageError:
    """The error a store's refusal becomes: a refused encryption is said as such, so it is never mistaken for (or
    quietly turned into) storing the object unencrypted."""
    if encrypting and (code in _REFUSED_ENCRYPTION or "encrypt" in message.lower() or "kms" in message.lower()):
        return EncryptionRefused(
            f"the object store refused to encrypt {what} at rest ({code}: {message}); nothing was stored. Turn on "
            "server-side encryption at the store (MinIO: a KMS), or set S3_ENCRYPTION=none to store objects "
            "without it")
    return StorageError(f"the object store refused {what} ({code}: {message})")


class S3Store(Store):
    """Objects in a bucket of an S3-compatible store, private (no ACL is ever set, so the bucket's own, private by
    default, applies), encrypted at rest by the store (SSE-S3) unless S3_ENCRYPTION=none."""

    def __init__(self, bucket: str, prefix: str, access: S3Access):
        self.bucket, self.prefix, self.access = bucket, prefix, access
        _CLIENTS.get(access)  # made now, so that a worker's forked work horses find boto3 and its models loaded

    def __repr__(self) -> str:
        return f"S3Store(s3://{self.bucket}/{self.prefix}{self.area})"

    def _key(self, name: str | None = None) -> str:
        return self.prefix + self._full(name)

    @contextmanager
    def _calling(self, what: str, name: str = "", encrypting: bool = False):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield _CLIENTS.get(self.access)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                raise Missing(name) from None
            raise refusal(code, message, encrypting=encrypting, what=what) from None
        except BotoCoreError as exc:  # unreachable, timed out, no credentials found
            raise StorageError(f"the object store could not be reached for {what}: {exc}") from None

    def write(self, name: str, data: bytes) -> None:
        key = self._key(name)
        encrypting = self.access.encryption
        extra = {"ServerSideEncryption": "AES256"} if encrypting else {}
        with self._calling(f"storing {key}", name, encrypting) as s3:
            s3.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)

    def read(self, name: str) -> bytes:
        key = self._key(name)
        with self._calling(f"reading {key}", name) as s3:
            return s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def remove(self, name: str) -> None:
        key = self._key(name)
        with self._calling(f"deleting {key}", name) as s3:
            s3.delete_object(Bucket=self.bucket, Key=key)

    def listing(self) -> Iterator[tuple[str, datetime]]:
        under = self._key()
        with self._calling(f"listing {under}") as s3:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=under):
                for entry in page.get("Contents", []):
                    yield entry["Key"][len(under):], entry["LastModified"]


def check_url(url: str) -> str | None:
    """Why STORAGE_URL cannot be used (one line that never repeats the URL), or None if it can."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        return "must not hold keys: give them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if parts.scheme == "file":
        return None if not parts.netloc and (not parts.path or parts.path.startswith("/")) else \
            "must be file:// (the instance folder) or file:///absolute/folder"
    if parts.scheme != "s3":
        return "must be file:// (the instance folder, the default) or s3://bucket/prefix"
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", parts.netloc or ""):
        return "must name an S3 bucket (3 to 63 lower-case letters, digits, '.' or '-'): s3://bucket/prefix"
    prefix = parts.path.strip("/")
    if (prefix and not all(_PART.fullmatch(p) for p in prefix.split("/"))) or parts.query or parts.fragment:
        return "must have a prefix of letters, digits, '_', '-' and '.' between slashes: s3://bucket/prefix"
    return None


def open_store(url: str, instance: Path, access: S3Access) -> Store:
    """The store STORAGE_URL names (checked by check_url): file:// is the instance folder itself, so media, held
    photos, import previews and the archive stay where they always were (instance/media/ab/abcd…, and so on)."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        prefix = parts.path.strip("/")
        return S3Store(parts.netloc, f"{prefix}/" if prefix else "", access)
    return FileStore(Path(parts.path) if parts.path else instance)
