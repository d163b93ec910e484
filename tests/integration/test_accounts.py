"""Official accounts' keys, entered on the head's page or at the command line, both built from the platform's fields."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from gateway.core.crypto import decrypt
from gateway.models import Account, User
from gateway.platforms import PLATFORMS, credentials_aad, publisher_for
from gateway.platforms.base import PermanentError
from gateway.platforms.x import XPublisher
from gateway.services.accounts import add_account, confirm_account
from tests.helpers import gateway
from tests.x_api import TEST_CREDENTIALS, XApiEmulator

HANDLE = "greenfieldschool"
KEYS = dict(TEST_CREDENTIALS)


@pytest.fixture
def x_account(school, session):
    """The school's confirmed X account (id 2), no keys saved yet."""
    head = session.scalar(select(User).where(User.role == "head"))
    account = add_account(session, "x", HANDLE, f"https://x.com/{HANDLE}", by=head)
    confirm_account(session, account, head)
    session.commit()
    return account.id


@pytest.fixture
def x(x_account):
    with XApiEmulator(TEST_CREDENTIALS, username=HANDLE) as emulator:
        yield emulator
    assert emulator.auth_failures == []


def test_the_head_sees_a_key_form_built_from_the_platform_fields(login, x_account):
    page = login("head").get("/admin/").get_data(as_text=True)
    for field in PLATFORMS["x"].credential_fields:
        assert f'<label for="{field.name}_{x_account}">{field.label}</label>' in page
        assert re.search(rf'<input id="{field.name}_{x_account}" name="{field.name}" type="password"', page)
    assert "Check with X and save" in page and "not needed" in page  # the archive account takes none
    assert '<option value="archive">Archive</option><option value="x">X</option>' in page


def test_keys_are_checked_saved_encrypted_and_never_shown(login, x, x_account, fetch, settings):
    head = login("head")
    saved = head.post(f"/admin/accounts/{x_account}/credentials", KEYS)
    assert saved.status_code == 302
    page = head.get("/admin/").get_data(as_text=True)
    assert "Keys saved and checked with X." in page and "saved, checked" in page
    account = fetch(Account, x_account)
    assert all(value.encode() not in account.credentials for value in KEYS.values())
    assert json.loads(decrypt(settings.encryption_key, account.credentials, credentials_aad(x_account))) == KEYS
    assert not any(value in page for value in KEYS.values())
    publisher = publisher_for(account, settings)
    assert isinstance(publisher, XPublisher) and publisher.check_credentials() == HANDLE


def test_a_missing_key_is_refused_and_nothing_is_saved(login, x_account, fetch):
    form = {**KEYS, "consumer_secret": "  "}
    page = login("head").post(f"/admin/accounts/{x_account}/credentials", form)
    body = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "The keys were not saved: API key secret is needed (from the X developer portal" in body
    assert KEYS["consumer_key"] not in body and fetch(Account, x_account).credentials is None


def test_an_account_whose_platform_takes_no_keys_refuses_them(login, fetch):
    page = login("head").post("/admin/accounts/1/credentials", KEYS)
    assert page.status_code == 400 and "Archive accounts take no keys" in page.get_data(as_text=True)
    assert fetch(Account, 1).credentials is None


def test_only_the_head_enters_keys(login, x_account, x):
    assert login("smt").post(f"/admin/accounts/{x_account}/credentials", KEYS).status_code == 403
    assert x.calls == []


def test_an_account_without_keys_cannot_publish(x_account, fetch, settings):
    with pytest.raises(PermanentError, match="No X keys are saved for greenfieldschool"):
        publisher_for(fetch(Account, x_account), settings)


def test_the_command_line_reads_name_value_lines_and_never_echoes_a_secret(x, x_account, fetch, settings):
    typed = "".join(f"{name}={value}\n" for name, value in KEYS.items())
    result = gateway("accounts", "credentials", str(x_account), "--by", "head@demo.school", stdin=typed)
    assert result.exit_code == 0, result.output
    assert "keys saved for greenfieldschool (x), checked with X as @greenfieldschool" in result.output
    assert not any(value in result.output for value in KEYS.values())
    assert json.loads(decrypt(settings.encryption_key, fetch(Account, x_account).credentials,
                              credentials_aad(x_account))) == KEYS


def test_the_command_line_refuses_keys_from_anyone_but_the_head_and_for_the_archive(x_account, fetch):
    typed = "".join(f"{name}={value}\n" for name, value in KEYS.items())
    not_head = gateway("accounts", "credentials", str(x_account), "--by", "smt@demo.school", stdin=typed)
    assert not_head.exit_code == 1 and "only the headteacher" in not_head.stderr
    garbled = gateway("accounts", "credentials", str(x_account), "--by", "head@demo.school",
                      stdin=f"consumer_key={KEYS['consumer_key']}\n{KEYS['consumer_secret']}\n")
    assert garbled.exit_code == 1 and "line 2 of standard input is not NAME=VALUE" in garbled.stderr
    assert not any(value in garbled.output for value in KEYS.values())
    archive = gateway("accounts", "credentials", "1", "--by", "head@demo.school")
    assert archive.exit_code == 1 and "Archive accounts take no keys" in archive.stderr
    assert fetch(Account, x_account).credentials is None


def test_the_command_line_offers_every_platform(school):
    added = gateway("accounts", "add", "--platform", "x", "--handle", "school_news", "--url", "https://x.com/school_news")
    assert added.exit_code == 0 and "school_news (x)" in added.stdout
    unknown = gateway("accounts", "add", "--platform", "myspace", "--handle", "a", "--url", "https://myspace.com/a")
    assert unknown.exit_code == 2 and "'archive', 'x'" in unknown.stderr


def test_a_field_with_a_default_is_shown_filled_in_and_a_secret_never_is(login, read):
    head = login("head")
    head.post("/admin/accounts", {"platform": "bluesky", "handle": HANDLE, "url": f"https://bsky.app/profile/{HANDLE}"})
    account_id = read(lambda s: s.scalar(select(Account.id).where(Account.platform == "bluesky")))
    page = head.get("/admin/").get_data(as_text=True)
    assert (f'<input id="service_{account_id}" name="service" type="text" autocomplete="off" '
            'value="https://bsky.social">') in page
    assert (f'<input id="app_password_{account_id}" name="app_password" type="password" autocomplete="off" '
            'required>') in page
