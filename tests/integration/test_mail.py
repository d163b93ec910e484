"""The gateway's e-mail: the outbox while SMTP_URL is unset, a real SMTP server on loopback when it is set."""
from __future__ import annotations

import logging
from email import message_from_bytes, policy

import pytest

from gateway.core import mail
from gateway.core import settings as settings_module
from tests.smtp import PASSWORD


def test_without_smtp_url_each_mail_is_an_eml_file_in_the_outbox(tmp_path):
    settings = settings_module.load({"INSTANCE_DIR": str(tmp_path)})
    where = mail.send(settings, mail.message(settings, ["smt@demo.school"], "Replies need you", "Look at them."))
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1 and files[0].name in where
    assert files[0].stat().st_mode & 0o077 == 0  # owner-only: it names staff
    written = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert written["To"] == "smt@demo.school" and written.get_content().strip() == "Look at them."


def test_with_smtp_url_the_mail_reaches_the_server(tmp_path, smtp):
    settings = settings_module.load({"INSTANCE_DIR": str(tmp_path), "SMTP_URL": smtp.url,
                                     "PUBLIC_URL": "https://gateway.greenfield.example"})
    mail.send(settings, mail.message(settings, ["a@demo.school", "b@demo.school"], "Subject", "Body"))
    assert len(smtp.messages) == 1 and smtp.messages[0]["From"] == "gateway@gateway.greenfield.example"
    assert list((tmp_path / "outbox").glob("*.eml")) == []


def test_a_password_is_never_sent_to_a_server_without_starttls(tmp_path, smtp_with_login, caplog):
    caplog.set_level(logging.DEBUG)
    settings = settings_module.load({"INSTANCE_DIR": str(tmp_path), "SMTP_URL": smtp_with_login.url})
    with pytest.raises(mail.MailError) as refused:
        mail.send(settings, mail.message(settings, ["a@demo.school"], "Subject", "Body"))
    assert "STARTTLS" in str(refused.value) and PASSWORD not in str(refused.value)
    assert smtp_with_login.messages == [] and PASSWORD not in caplog.text
    assert PASSWORD not in repr(settings)


def test_a_server_that_is_not_there_is_a_plain_mail_error(tmp_path):
    settings = settings_module.load({"INSTANCE_DIR": str(tmp_path), "SMTP_URL": "smtp://u:secretpw@127.0.0.1:9"})
    with pytest.raises(mail.MailError) as failed:
        mail.send(settings, mail.message(settings, ["a@demo.school"], "Subject", "Body"))
    assert "127.0.0.1:9" in str(failed.value) and "secretpw" not in str(failed.value)


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "mail.example:587"])
def test_a_wrong_smtp_url_is_refused_at_start_in_one_line(tmp_path, url):
    with pytest.raises(settings_module.SettingsError) as wrong:
        settings_module.load({"INSTANCE_DIR": str(tmp_path), "SMTP_URL": url})
    assert "SMTP_URL" in str(wrong.value)
