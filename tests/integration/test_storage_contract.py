"""The storage contract, on both back ends: a folder (file://, the instance folder) and an S3-compatible server on
loopback (s3://: moto's stand-alone server over real HTTP, see tests/s3.py). Every store is made from settings, as
the gateway makes it."""
from __future__ import annotations

import http.server
import io
import math
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from PIL import Image

from gateway.core import settings as settings_module
from gateway.core.db import utcnow
from gateway.core.settings import SettingsError
from gateway.core.storage import EncryptionRefused, FileStore, Missing, S3Store, StorageError
from gateway.platforms import archive
from gateway.platforms.base import Outgoing, OutgoingPhoto
from tests.s3 import ACCESS, free_port

SECRET = ACCESS["AWS_SECRET_ACCESS_KEY"]


@pytest.fixture(params=["file", "s3"])
def made(request, tmp_path):
    """(settings, the S3 server or None), with STORAGE_URL on this back end."""
    env = {"INSTANCE_DIR": str(tmp_path / "instance")}
    s3 = request.getfixturevalue("s3") if request.param == "s3" else None
    if s3:
        env.update(s3.env())
    return settings_module.load(env), s3


def test_each_back_end_is_the_one_storage_url_names(made):
    settings, s3 = made
    assert isinstance(settings.store, S3Store if s3 else FileStore)
    assert settings.store is settings.store  # made once


def test_bytes_go_in_under_a_random_key_and_come_back_until_deleted(made):
    media = made[0].media
    key = media.put(b"\xff\xd8 a photo")
    assert re.fullmatch(r"[0-9a-f]{32}", key) and media.put(b"\xff\xd8 a photo") != key
    assert media.get(key) == b"\xff\xd8 a photo"
    media.delete(key)
    with pytest.raises(Missing):
        media.get(key)
    media.delete(key)  # gone already: nothing happens


def test_a_key_nothing_was_stored_under_is_missing(made):
    settings, _ = made
    with pytest.raises(Missing) as missing:
        settings.media.get(secrets.token_hex(16))
    assert isinstance(missing.value, FileNotFoundError)  # what callers catching OSError have always caught
    with pytest.raises(Missing):
        settings.archive.read("school/posts/1/post.json")


def test_a_key_or_name_that_could_reach_outside_its_area_is_refused(made):
    settings, s3 = made
    media, pages = settings.media, settings.archive.within("school")
    for bad in ("../../secret.key", "ab/" + "c" * 30, "", "0" * 31, "0" * 33, "g" * 32, "A" * 32, "." * 32):
        for call in (media.get, media.delete):
            with pytest.raises(ValueError):
                call(bad)
    for bad in ("../secret.key", "posts/../../../encryption.key", ".hidden", "a//b", "/etc/passwd", "posts/",
                "a\\b", "..", ""):
        for call in (pages.read, pages.remove, lambda name: pages.write(name, b"x")):
            with pytest.raises(ValueError):
                call(bad)
    for bad in ("..", ".", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            settings.store.within(bad)
    for outside_every_area in (lambda: list(settings.store.listing()), lambda: settings.store.put(b"x"),
                               lambda: settings.store.read("secret.key"), lambda: settings.store.delete_older_than(utcnow())):
        with pytest.raises(ValueError):  # file://'s root is the instance folder: its keys and database are no objects
            outside_every_area()
    if s3:
        assert s3.keys() == []  # nothing was written anywhere
    else:
        assert sorted(p.name for p in settings.instance.iterdir()) == ["encryption.key", "outbox", "queue", "secret.key"]


def test_named_objects_are_replaced_whole_and_listed_in_their_area_only(made):
    settings, _ = made
    pages = settings.archive.within("school")
    pages.write("index.html", b"<p>one</p>")
    pages.write("index.html", b"<p>two</p>")
    pages.write("posts/1/post.json", b"{}")
    settings.media.put(b"a photo")
    settings.archive.within("other").write("index.html", b"elsewhere")
    assert pages.read("index.html") == b"<p>two</p>"
    listed = dict(pages.listing())
    assert sorted(listed) == ["index.html", "posts/1/post.json"]
    assert all(abs(written - utcnow()) < timedelta(minutes=1) for written in listed.values())
    pages.remove("posts/1/post.json")
    assert [name for name, _ in pages.listing()] == ["index.html"]
    assert [name for name, _ in pages.within("posts").listing()] == []


def test_delete_older_than_deletes_only_what_was_written_before_and_only_in_its_area(made):
    settings, _ = made
    held, media = settings.held, settings.media
    old, elsewhere = held.put(b"an hour ago"), media.put(b"a photo of a post")
    time.sleep(1.05)
    cutoff = utcnow()
    time.sleep(math.ceil(cutoff.timestamp()) - cutoff.timestamp() + 0.05)  # S3 keeps the time to the second
    young = held.put(b"just now")
    assert held.delete_older_than(cutoff) == 1
    with pytest.raises(Missing):
        held.get(old)
    assert held.get(young) == b"just now" and media.get(elsewhere) == b"a photo of a post"
    assert held.delete_older_than(cutoff - timedelta(hours=1)) == 0
    assert held.delete_older_than(utcnow() + timedelta(hours=1)) == 1
    assert media.get(elsewhere) == b"a photo of a post"


def test_objects_are_private(made):
    settings, s3 = made
    key = settings.media.put(b"a child's photo")
    if s3 is None:  # owner-only file in owner-only folders
        path = settings.instance / "media" / key[:2] / key
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700 and settings.instance.stat().st_mode & 0o777 == 0o700
        return
    address = f"{s3.endpoint}/{s3.bucket}/{s3.prefix}/media/{key[:2]}/{key}"
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(address, timeout=10)
    assert anonymous.value.code == 403
    grants = s3.client().get_object_acl(Bucket=s3.bucket, Key=f"{s3.prefix}/media/{key[:2]}/{key}")["Grants"]
    assert [g["Grantee"]["Type"] for g in grants] == ["CanonicalUser"]  # its owner, and nobody else
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]


def test_objects_are_encrypted_at_rest_by_the_store_unless_told_not_to(s3, tmp_path):
    encrypted = settings_module.load({"INSTANCE_DIR": str(tmp_path), **s3.env()})
    plain = settings_module.load({"INSTANCE_DIR": str(tmp_path), **s3.env(S3_ENCRYPTION="none")})
    key, other = encrypted.media.put(b"a photo"), plain.media.put(b"a photo")
    head = s3.client().head_object
    assert head(Bucket=s3.bucket, Key=f"{s3.prefix}/media/{key[:2]}/{key}")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in head(Bucket=s3.bucket, Key=f"{s3.prefix}/media/{other[:2]}/{other}")


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A store without server-side encryption, answering a PUT as MinIO does without a KMS."""

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>Server side '
                b'encryption specified but KMS is not configured</Message></Error>')
        self.send_response(501)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_store_that_refuses_to_encrypt_stores_nothing_and_says_what_to_do(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = settings_module.load({"INSTANCE_DIR": str(tmp_path), "STORAGE_URL": "s3://school-media/gw",
                                         "S3_ENDPOINT_URL": f"http://127.0.0.1:{server.server_port}", **ACCESS})
        with pytest.raises(EncryptionRefused) as refused:
            settings.media.put(b"a photo")
    finally:
        server.shutdown()
    assert "refused to encrypt" in str(refused.value) and "S3_ENCRYPTION=none" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_a_missing_bucket_or_a_store_out_of_reach_is_a_storage_error_that_names_no_key(s3, tmp_path):
    settings = settings_module.load({"INSTANCE_DIR": str(tmp_path), **s3.env(), "STORAGE_URL": "s3://no-such-bucket"})
    with pytest.raises(StorageError, match="NoSuchBucket") as no_bucket:
        settings.media.put(b"a photo")
    nobody = f"http://127.0.0.1:{free_port()}"  # a port nothing listens on
    away = settings_module.load({"INSTANCE_DIR": str(tmp_path), **s3.env(S3_ENDPOINT_URL=nobody)})
    with pytest.raises(StorageError, match="could not be reached") as unreachable:
        away.media.get(secrets.token_hex(16))
    for shown in (str(no_bucket.value), str(unreachable.value), repr(settings), repr(settings.store),
                  repr(settings.media), repr(away)):
        assert SECRET not in shown


@pytest.mark.parametrize("url, words", [
    ("s3://gatewaykey:s3SecretDoNotLog0123456789@school-media/gw", "must not hold keys"),
    ("ftp://school-media/gw", "must be file://"),
    ("s3://", "must name an S3 bucket"),
    ("s3://Not_A_Bucket/gw", "must name an S3 bucket"),
    ("s3://school-media/../gw", "must have a prefix"),
    ("file://somehost/media", "must be file://"),
    ("file://relative", "must be file://"),
])
def test_a_storage_url_that_cannot_be_used_stops_start_up_naming_it(tmp_path, url, words):
    with pytest.raises(SettingsError, match=f"^STORAGE_URL {words}") as bad:
        settings_module.load({"INSTANCE_DIR": str(tmp_path), "STORAGE_URL": url})
    assert SECRET not in str(bad.value)


@pytest.mark.parametrize("name, value, words", [
    ("S3_ENDPOINT_URL", "ftp://minio.example", "S3_ENDPOINT_URL must be an address"),
    ("S3_ENDPOINT_URL", f"http://gatewaykey:{SECRET}@minio.example", "S3_ENDPOINT_URL must be an address"),
    ("S3_ENCRYPTION", "maybe", "S3_ENCRYPTION must be one of AES256, none"),
])
def test_a_bad_s3_setting_stops_start_up_naming_it(tmp_path, name, value, words):
    with pytest.raises(SettingsError, match=words) as bad:
        settings_module.load({"INSTANCE_DIR": str(tmp_path), "STORAGE_URL": "s3://school-media/gw", name: value})
    assert SECRET not in str(bad.value)


def test_a_folder_of_its_own_can_hold_the_store(tmp_path):
    settings = settings_module.load({"INSTANCE_DIR": str(tmp_path / "instance"),
                                     "STORAGE_URL": f"file://{tmp_path / 'shared'}"})
    key = settings.media.put(b"a photo")
    assert (tmp_path / "shared" / "media" / key[:2] / key).read_bytes() == b"a photo"
    assert not (tmp_path / "instance" / "media").exists()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_the_archive_publishes_indexes_and_takes_down_through_either_store(made):
    settings, _ = made
    publisher, photo = archive.connect("demo_archive", {}, settings), _jpeg()
    outgoing = Outgoing(key="7", text="Sports day https://school.example/results",
                        photos=[OutgoingPhoto(photo, "JPEG", "Children running")], approved_by="Sam Senior",
                        approved_at=utcnow())
    published = publisher.publish(outgoing)
    assert published.url == "/archive/demo_archive/posts/7/"
    assert publisher.publish(outgoing) == published == publisher.find(outgoing)  # at most once
    pages = settings.archive.within("demo_archive")
    assert pages.read("posts/7/photo-1.jpg") == photo
    index = pages.read("index.html").decode()
    assert "Sports day" in index and 'href="posts/7/"' in index and 'alt="Children running"' in index
    assert [entry["id"] for entry in publisher.entries()] == ["7"]
    publisher.delete("7")
    publisher.delete("7")  # gone already
    assert publisher.find(outgoing) is None and publisher.entries() == []
    assert [name for name, _ in pages.listing()] == ["index.html"]
    assert "Nothing published yet" in pages.read("index.html").decode()
