"""SECRET_KEY and ENCRYPTION_KEY from settings (64 hexadecimal digits, or a file holding them, as Docker secrets
are), so that hosts share keys without sharing a disk; without them, keys made in the instance folder (one machine)."""
from __future__ import annotations

import os

import pytest

from gateway.core import settings as settings_module
from gateway.core.settings import SettingsError

# fixed, so that every pytest-xdist worker collects the same parameters (made once with `openssl rand -hex 32`)
SECRET = "3f9c1a7e55d0b2846e1f0c9a7b3d5e2c8a4f6b1d0e9c7a5b3f2e1d0c9b8a7f6e"
ENCRYPTION = "b07e4c2a9d1f63850c7a2e9b4d6f1083a5c7e9b2d4f608a1c3e5b7d9f0a2c4e6"


def load(tmp_path, **env):
    return settings_module.load({"INSTANCE_DIR": str(tmp_path / "instance"), **env})


def test_keys_given_as_hexadecimal_are_used_and_nothing_is_written_to_the_instance_folder(tmp_path):
    s = load(tmp_path, SECRET_KEY=SECRET, ENCRYPTION_KEY=f" {ENCRYPTION.upper()}\n")
    assert s.secret_key == bytes.fromhex(SECRET) and s.encryption_key == bytes.fromhex(ENCRYPTION)
    assert not (s.instance / "secret.key").exists() and not (s.instance / "encryption.key").exists()
    assert SECRET not in repr(s) and ENCRYPTION.upper() not in repr(s) and repr(s.secret_key) not in repr(s)


def test_keys_in_files_named_by_settings_are_used_whatever_the_files_permissions(tmp_path):
    (tmp_path / "secret_key").write_text(SECRET + "\n")
    (tmp_path / "encryption_key").write_text(ENCRYPTION)
    os.chmod(tmp_path / "secret_key", 0o444)  # as Docker mounts a secret
    s = load(tmp_path, SECRET_KEY_FILE=str(tmp_path / "secret_key"),
             ENCRYPTION_KEY_FILE=str(tmp_path / "encryption_key"))
    assert s.secret_key == bytes.fromhex(SECRET) and s.encryption_key == bytes.fromhex(ENCRYPTION)
    assert not (s.instance / "secret.key").exists()


def test_one_key_may_come_from_settings_and_the_other_from_the_instance_folder(tmp_path):
    s = load(tmp_path, ENCRYPTION_KEY=ENCRYPTION)
    assert s.encryption_key == bytes.fromhex(ENCRYPTION)
    assert (s.instance / "secret.key").read_bytes() == s.secret_key and not (s.instance / "encryption.key").exists()


@pytest.mark.parametrize("value", ["", "abc", ENCRYPTION[:-2], ENCRYPTION + "00", "z" * 64, "0x" + ENCRYPTION[2:],
                                   "cGFzc3dvcmQ=" * 4],
                         ids=["empty", "short", "31 bytes", "33 bytes", "not hex", "0x", "base64"])
def test_a_key_given_badly_stops_start_up_naming_the_setting_never_the_key(tmp_path, value):
    if not value:  # empty is unset: a key is made in the instance folder
        assert load(tmp_path, ENCRYPTION_KEY=value).encryption_key
        return
    with pytest.raises(SettingsError) as bad:
        load(tmp_path, ENCRYPTION_KEY=value)
    assert str(bad.value).startswith("ENCRYPTION_KEY must be 64 hexadecimal digits")
    assert value not in str(bad.value)


def test_a_key_file_that_is_missing_unreadable_or_wrong_stops_start_up_naming_the_setting(tmp_path):
    with pytest.raises(SettingsError, match=r"^SECRET_KEY_FILE \(.*nothing-here\) cannot be read: No such file"):
        load(tmp_path, SECRET_KEY_FILE=str(tmp_path / "nothing-here"))
    with pytest.raises(SettingsError, match=r"^SECRET_KEY_FILE \(.*\) cannot be read: Is a directory"):
        load(tmp_path, SECRET_KEY_FILE=str(tmp_path))
    raw = tmp_path / "raw.key"  # the instance folder's own key file holds raw bytes: it must be written as hex
    raw.write_bytes(bytes.fromhex(SECRET))
    with pytest.raises(SettingsError, match=r"^SECRET_KEY_FILE \(.*raw.key\) must be 64 hexadecimal digits") as bad:
        load(tmp_path, SECRET_KEY_FILE=str(raw))
    assert SECRET not in str(bad.value)


def test_a_key_given_twice_or_used_for_both_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="^set SECRET_KEY or SECRET_KEY_FILE, not both$"):
        load(tmp_path, SECRET_KEY=SECRET, SECRET_KEY_FILE=str(tmp_path / "secret_key"))
    with pytest.raises(SettingsError, match="^SECRET_KEY and ENCRYPTION_KEY must be two different keys$"):
        load(tmp_path, SECRET_KEY=SECRET, ENCRYPTION_KEY=SECRET)
