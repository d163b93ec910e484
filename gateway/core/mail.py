"""The gateway's e-mail: through SMTP_URL, or, while that is unset, into the instance folder's outbox/ as .eml files."""
from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

TIMEOUT = 30  # seconds for the SMTP server to answer


class MailError(Exception):
    """The mail could not be handed over; the message names the server, never its password."""


def message(settings, to: list[str], subject: str, body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = settings.mail_from, ", ".join(to), subject
    mail["Date"], mail["Message-ID"] = formatdate(localtime=False), make_msgid(domain="gateway")
    mail.set_content(body)
    return mail


def send(settings, mail: EmailMessage) -> str:
    """Hand the mail over; says where it went (for the log and the audit)."""
    if not settings.smtp_url:
        return _to_outbox(settings, mail)
    url = urlsplit(settings.smtp_url)
    where = f"{url.hostname}:{url.port or (465 if url.scheme == 'smtps' else 587)}"
    context = ssl.create_default_context()
    try:
        if url.scheme == "smtps":
            server = smtplib.SMTP_SSL(url.hostname, url.port or 465, timeout=TIMEOUT, context=context)
        else:
            server = smtplib.SMTP(url.hostname, url.port or 587, timeout=TIMEOUT)
        with server:
            server.ehlo()
            if url.scheme == "smtp" and server.has_extn("starttls"):
                server.starttls(context=context)
                server.ehlo()
            elif url.scheme == "smtp" and url.username:
                raise MailError(f"the mail server {where} offers no STARTTLS, so its password is not sent")
            if url.username:
                server.login(unquote(url.username), unquote(url.password or ""))
            server.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"the mail server {where} did not take the mail ({type(exc).__name__})") from None
    return f"the mail server {where}"


def _to_outbox(settings, mail: EmailMessage) -> str:
    """Written whole or not at all, owner-only, so a reader never sees half a mail."""
    folder = settings.outbox
    folder.mkdir(mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".new-", suffix=".eml")
    with os.fdopen(fd, "wb") as out:
        out.write(bytes(mail))
    final = folder / f"{mail['Message-ID'].strip('<>').replace('@', '-at-')}.eml"
    os.replace(tmp, final)
    return f"the outbox ({final.name})"
