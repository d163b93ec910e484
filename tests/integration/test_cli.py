"""The `gateway` command line, run as a school's IT person would run it.

Most tests run the command in this process with Click's runner: the same parsing, output and exit status,
without a new interpreter importing dlib and OpenCV again for every command. What only a real process shows
(its exit status and all it prints when the settings are broken) is checked on `python -m gateway`.
"""
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import select, text

from gateway.core.db import session_for
from moderation.audit import AuditEntry
from tests.helpers import gateway, on_its_own
from gateway.core import settings as settings_module
from gateway.models import AccountLink
from gateway.users import find, hasher_for, verify


def gateway_process(*args, env):
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_check_prints_the_documented_object_for_a_clean_text(tmp_path):
    result = gateway("check", "--text", "Sports day was great", "--json", env=on_its_own(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "verdict": "pass", "findings": [], "text": "Sports day was great", "images": [], "links": []}


def test_check_exits_1_on_block_and_2_on_usage_errors(tmp_path):
    env = on_its_own(tmp_path)
    too_long = gateway("check", "--text", "x" * 281, "--json", env=env)
    assert too_long.exit_code == 1
    body = json.loads(too_long.stdout)
    assert body["verdict"] == "block" and body["findings"][0]["code"] == "text_too_long"
    assert gateway("check", env=env).exit_code == 2
    assert gateway("check", "--image", str(tmp_path / "missing.jpg"), env=env).exit_code == 2


def test_broken_settings_stop_with_one_clear_line(tmp_path):
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path), "PORT": "eighty"}
    result = gateway_process("db", "upgrade", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == "gateway: PORT must be a whole number, not 'eighty'"
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path), "DATABASE_URL": "mysql://db/school"}
    result = gateway_process("db", "upgrade", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("gateway: DATABASE_URL must be")


def test_keys_are_created_owner_only_on_first_run(tmp_path):
    s = settings_module.load({"INSTANCE_DIR": str(tmp_path / "inst")})
    for name in ("secret.key", "encryption.key"):
        assert (s.instance / name).stat().st_mode & 0o777 == 0o600
    assert s.instance.stat().st_mode & 0o777 == 0o700
    assert settings_module.load({"INSTANCE_DIR": str(tmp_path / "inst")}).secret_key == s.secret_key
    os.chmod(s.instance / "secret.key", 0o644)
    with pytest.raises(settings_module.SettingsError, match="owner only"):
        settings_module.load({"INSTANCE_DIR": str(tmp_path / "inst")})


def test_users_add_reads_the_password_or_emails_a_set_up_link(env, settings):
    given = gateway("users", "add", "Amy@School.org", "--name", "Amy Adams", "--role", "smt",
                    stdin="violet kettle harbour drum\n")
    assert given.exit_code == 0 and "password" not in given.stdout
    linked = gateway("users", "add", "bob@school.org", "--name", "Bob", "--role", "teacher", stdin="")
    assert linked.exit_code == 0 and "a link to choose a password is being e-mailed" in linked.stdout
    weak = gateway("users", "add", "cy@school.org", "--name", "Cy", "--role", "teacher", stdin="password1234\n")
    assert weak.exit_code == 1 and "too easy to guess" in weak.stderr
    duplicate = gateway("users", "add", "amy@school.org", "--name", "Amy", "--role", "teacher",
                        stdin="another long passphrase here\n")
    assert duplicate.exit_code == 1 and "already a user amy@school.org" in duplicate.stderr

    hasher = hasher_for(settings)
    with session_for(settings.database_url) as s:
        assert verify(hasher, find(s, "amy@school.org").password_hash, "violet kettle harbour drum")
        bob = find(s, "bob@school.org")
        assert bob.password_hash == "" and not verify(hasher, bob.password_hash, "")
        assert s.scalar(select(AccountLink.purpose).where(AccountLink.user_id == bob.id)) == "setup"
        assert find(s, "cy@school.org") is None


def test_users_reset_second_factor_clears_a_lost_app(env, settings, school, read):
    reset = gateway("users", "reset-second-factor", "Head@demo.school")
    assert reset.exit_code == 0 and "set up their authenticator app again" in reset.stdout
    assert not read(lambda s: find(s, "head@demo.school").second_factor)
    assert gateway("users", "reset-second-factor", "nobody@demo.school").exit_code == 1

def test_accounts_are_usable_only_after_a_head_confirms_them(env, settings, school):
    added = gateway("accounts", "add", "--platform", "archive", "--handle", "news", "--url", "https://demo.school/news")
    assert added.exit_code == 0 and "a headteacher must confirm it" in added.stdout
    assert "news\thttps://demo.school/news\tnot confirmed" in gateway("accounts", "list").stdout
    not_head = gateway("accounts", "confirm", "2", "--by", "smt@demo.school")
    assert not_head.exit_code == 1 and "only the headteacher" in not_head.stderr
    confirmed = gateway("accounts", "confirm", "2", "--by", "head@demo.school")
    assert confirmed.exit_code == 0
    assert "news\thttps://demo.school/news\tconfirmed by Helen Head" in gateway("accounts", "list").stdout
    bad = gateway("accounts", "add", "--platform", "archive", "--handle", "../etc", "--url", "https://x.org")
    assert bad.exit_code == 1 and "a handle is letters" in bad.stderr


def test_audit_verify_detects_an_edited_or_deleted_entry(env, settings, school):
    ok = gateway("audit", "verify")
    assert ok.exit_code == 0 and "audit log intact" in ok.stdout
    with session_for(settings.database_url) as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        assert [e.action for e in entries][:4] == ["user_added"] * 4
        s.execute(text("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2"))
        s.commit()
    edited = gateway("audit", "verify")
    assert edited.exit_code == 1 and "entry 2 (user_added user:2) was changed" in edited.stderr
    with session_for(settings.database_url) as s:
        s.execute(text("UPDATE audit_log SET actor = :a WHERE seq = 2"), {"a": entries[1].actor})
        s.execute(text("DELETE FROM audit_log WHERE seq = 3"))
        s.commit()
    deleted = gateway("audit", "verify")
    assert deleted.exit_code == 1 and "entry 3 is missing" in deleted.stderr


def test_a_trust_adds_a_school_and_acts_for_it(env, settings):
    assert "cannot be listed as a whole" in gateway("schools", "add", "Hill School", "--domain", "hill.sch.uk").output
    added = gateway("schools", "add", "Hill School", "--domain", "Hill.Herts.sch.uk")
    assert added.exit_code == 0 and added.output.strip() == "added school 2: Hill School"
    assert "2\tHill School\thill.herts.sch.uk\tretention 30 days\tface detector retinaface" in gateway(
        "schools", "list").output
    changed = gateway("schools", "set", "2", "--retention-days", "7", "--face-detector", "hog")
    assert changed.output.strip() == "school 2: retention 7 days, face detector hog"
    assert "face detector is one of" in gateway("schools", "set", "2", "--face-detector", "magic").output
    assert "there is no school 9" in gateway("schools", "set", "9", "--retention-days", "7").output
    assert gateway("--school", "2", "users", "add", "hana@hill.sch.uk", "--name", "Hana", "--role", "teacher",
                   stdin="").exit_code == 0
    assert gateway("users", "add", "amy@school.org", "--name", "Amy", "--role", "teacher", stdin="").exit_code == 0
    theirs, everyone = gateway("--school", "2", "users", "list").output, gateway("users", "list").output
    assert "hana@hill.sch.uk" in theirs and "amy@school.org" not in theirs
    assert "hana@hill.sch.uk" in everyone and "amy@school.org" in everyone
    assert "there is already a user" in gateway("--school", "2", "users", "add", "amy@school.org", "--name", "A",
                                                "--role", "teacher", stdin="").output
