"""Log-in sessions kept on the server, one-time links by e-mail, and the second factor; each commits."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update

from gateway import sign_in
from gateway.core import crypto, mail
from gateway.core.db import session_for, utcnow
from gateway.models import AccountLink, LoginSession, RecoveryCode, User
from gateway.services.queueing import commit_then_enqueue
from gateway import users
from gateway.users import UserError
from moderation import audit
from workers import queues

log = logging.getLogger(__name__)

SETUP, RESET = "setup", "reset"
LINK_LIFE = {SETUP: timedelta(hours=72), RESET: timedelta(minutes=30)}
RESET_GAP = timedelta(minutes=5)  # at most one reset e-mail per account in this time, so nobody is flooded
SEEN_EVERY = timedelta(minutes=1)  # how often a session's last use is written: not on every request


# --- sessions ---

def start_session(session, user: User, address: str) -> str:
    """A new log-in; returns the token for the browser's cookie (only its hash is stored)."""
    token = sign_in.new_token()
    session.add(LoginSession(token_hash=sign_in.token_hash(token), user_id=user.id, address=address[:64]))
    audit.record(session, user, "login", f"user:{user.id}", user.school_id)
    session.commit()
    return token


def session_user(session, settings, token: str | None, user_id: str) -> User | None:
    """The active user of a log-in that has not ended, been idle too long or outlived its hours; else None."""
    if not token or not user_id.isdigit():
        return None
    row = session.scalar(select(LoginSession).where(LoginSession.token_hash == sign_in.token_hash(token)))
    if row is None or row.ended_at is not None or row.user_id != int(user_id):
        return None
    now = utcnow()
    if now - row.seen_at > timedelta(minutes=settings.session_idle_minutes):
        return _end(session, row, "idle")
    if now - row.started_at > timedelta(hours=settings.session_hours):
        return _end(session, row, "too old")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.seen_at > SEEN_EVERY:
        row.seen_at = now
        session.commit()
    return user


def _end(session, row: LoginSession, why: str) -> None:
    row.ended_at, row.ended_why = utcnow(), why
    session.commit()


def end_session(session, token: str | None) -> None:
    if token:
        session.execute(update(LoginSession).where(
            LoginSession.token_hash == sign_in.token_hash(token), LoginSession.ended_at.is_(None))
            .values(ended_at=utcnow(), ended_why="logged out"))
        session.commit()


def end_sessions(session, user: User, why: str, by=None, keep: str | None = None) -> int:
    """End every log-in of the user (but `keep`, the token of the one making the change); returns how many."""
    query = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if keep:
        query = query.where(LoginSession.token_hash != sign_in.token_hash(keep))
    ended = session.execute(query.values(ended_at=utcnow(), ended_why=why[:40])).rowcount
    if by is not None:
        audit.record(session, by, "sessions_ended", f"user:{user.id}", user.school_id, sessions=ended, why=why)
    session.commit()
    return ended


# --- one-time links ---

def send_link(session, settings, user: User, purpose: str, by) -> None:
    """Make a link and e-mail it through the queue; the token waits encrypted in its row until it is mailed (the
    reconciler queues it again if the queue was out of reach)."""
    token = sign_in.new_token()
    link = AccountLink(user_id=user.id, purpose=purpose, token_hash=sign_in.token_hash(token),
                       expires_at=utcnow() + LINK_LIFE[purpose])
    session.add(link)
    session.flush()
    link.sealed_token = crypto.encrypt(settings.encryption_key, token.encode(), f"account-link:{link.id}")
    audit.record(session, by, f"{purpose}_link_made", f"user:{user.id}")
    link_id = link.id
    commit_then_enqueue(session, settings, lambda conn: queues.enqueue_account_mail(settings, link_id, conn),
                        f"the {purpose} link for user {user.id}")


def forgot_password(settings, email: str) -> None:
    """Queue the look-up with the e-mail as typed: the page answers the same, in the same time, whether or not
    the address has an account (the worker finds out)."""
    try:
        queues.enqueue_reset_mail(settings, email.strip().lower()[:254])
    except queues.ERRORS:
        log.warning("a password reset was asked for while %s is out of reach; the person can ask again",
                    queues.where(settings))


def mail_reset_link(settings, email: str) -> None:
    """The worker's part of "forgot password": a reset link for an active account with this e-mail, at most
    one every RESET_GAP; made here and mailed at once, so only its hash is ever stored."""
    with session_for(settings.database_url) as session:
        user = session.scalar(select(User).where(User.email == email, User.active))
        if user is None or session.scalar(select(AccountLink.id).where(
                AccountLink.user_id == user.id, AccountLink.purpose == RESET,
                AccountLink.created_at > utcnow() - RESET_GAP)) is not None:
            return
        token = sign_in.new_token()
        link = AccountLink(user_id=user.id, purpose=RESET, token_hash=sign_in.token_hash(token),
                           expires_at=utcnow() + LINK_LIFE[RESET])
        session.add(link)
        audit.record(session, "anonymous", "reset_link_made", f"user:{user.id}")
        session.commit()
        try:
            where = mail.send(settings, _link_message(settings, user, RESET, token))
        except mail.MailError:
            session.delete(link)  # so that rq's next try makes a new one instead of waiting out the gap
            session.commit()
            raise
        audit.record(session, "worker", "reset_link_sent", f"user:{user.id}", via=where)
        session.commit()


def mail_link(settings, link_id: int) -> None:
    """The worker's part: e-mail the link, then forget the token (only its hash stays)."""
    with session_for(settings.database_url) as session:
        link = session.get(AccountLink, link_id)
        if link is None or link.sealed_token is None or link.used_at is not None:
            return
        token = crypto.decrypt(settings.encryption_key, link.sealed_token, f"account-link:{link.id}").decode()
        user, purpose = link.user, link.purpose
        session.rollback()
        where = mail.send(settings, _link_message(settings, user, purpose, token))
        session.execute(update(AccountLink).where(AccountLink.id == link_id).values(sealed_token=None))
        audit.record(session, "worker", f"{purpose}_link_sent", f"user:{user.id}", via=where)
        session.commit()


def _link_message(settings, user: User, purpose: str, token: str):
    url = f"{settings.public_url}/account/{purpose}/{token}"
    if purpose == SETUP:
        subject = f"Your account on {settings.school_name}'s social media gateway"
        body = (f"Hello {user.name},\n\nAn account was made for you on {settings.school_name}'s social media "
                f"gateway. Choose your password here within 72 hours:\n\n{url}\n\nThe link works once. If it has "
                "run out, ask the headteacher for a new one.\n")
    else:
        subject = f"Reset your password for {settings.school_name}'s social media gateway"
        body = (f"Hello {user.name},\n\nSomeone, probably you, asked to reset your password. Choose a new one "
                f"here within 30 minutes:\n\n{url}\n\nThe link works once. If you did not ask, ignore this "
                "e-mail: your password stays as it is.\n")
    return mail.message(settings, [user.email], subject, body)


def open_link(session, purpose: str, token: str) -> AccountLink:
    """The unused, unexpired link with this token, else a refusal in words."""
    link = session.scalar(select(AccountLink).where(AccountLink.token_hash == sign_in.token_hash(token),
                                                    AccountLink.purpose == purpose))
    if link is None or link.used_at is not None or not link.user.active:
        raise UserError("This link has already been used or is not right. Ask for a new one.")
    if utcnow() > link.expires_at:
        raise UserError("This link has run out. Ask for a new one.")
    return link


def use_link(session, link_id: int) -> bool:
    """Claim the link once, whatever else is racing for it (and only while it lasts): True for the one that did."""
    now = utcnow()
    claimed = session.execute(update(AccountLink).where(
        AccountLink.id == link_id, AccountLink.used_at.is_(None), AccountLink.expires_at > now)
        .values(used_at=now)).rowcount
    return claimed == 1


# --- the second factor ---

def _secret(settings, user: User) -> str:
    return crypto.decrypt(settings.encryption_key, user.totp_secret, f"totp:{user.id}").decode()


def enrolment_uri(session, settings, user: User, fresh: bool = False) -> tuple[str, str]:
    """The secret being enrolled and its otpauth:// URI. Each visit to the enrolment page (fresh) makes a new one,
    so a secret someone else saw while the account had none is gone by the time its owner enrols."""
    if user.second_factor:
        raise UserError("your authenticator app is already set up; if you lost it, ask the headteacher to reset it")
    if fresh or user.totp_secret is None:
        secret = sign_in.new_totp_secret()
        user.totp_secret = crypto.encrypt(settings.encryption_key, secret.encode(), f"totp:{user.id}")
        user.totp_enabled_at, user.totp_last_step = None, None
        session.commit()
    secret = _secret(settings, user)
    return secret, sign_in.totp_uri(secret, user.email, settings.school_name)


def _claim_code(session, settings, user: User, code: str) -> bool:
    """Whether the code is right and not used before; claimed with a conditional update, so two requests racing
    with the same code cannot both pass."""
    step = sign_in.matching_step(_secret(settings, user), code, user.totp_last_step)
    if step is None:
        return False
    claimed = session.execute(update(User).where(
        User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)).rowcount
    return claimed == 1


def confirm_enrolment(session, settings, user: User, code: str) -> list[str]:
    """Turn the second factor on with a first code from the app; returns ten new recovery codes to show once."""
    if user.totp_secret is None or user.second_factor:
        raise UserError("there is no authenticator app being set up; start again")
    if not _claim_code(session, settings, user, code):
        session.rollback()
        raise UserError("that code is not right: type the six digits the app shows now")
    user.totp_enabled_at = utcnow()
    codes = _new_recovery_codes(session, user)
    audit.record(session, user, "second_factor_enrolled", f"user:{user.id}")
    session.commit()
    return codes


def _new_recovery_codes(session, user: User) -> list[str]:
    session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
                    .values(used_at=utcnow()))
    codes = sign_in.new_recovery_codes()
    session.add_all(RecoveryCode(user_id=user.id, code_hash=sign_in.recovery_hash(c)) for c in codes)
    return codes


def second_factor_ok(session, settings, user: User, code: str) -> bool:
    """A code from the app, or an unused recovery code (then used up); the caller commits. After CODES_A_DAY
    wrong codes in a day only recovery codes are taken: six digits must not be guessed by patient trying."""
    if not user.second_factor or not code.strip():
        return False
    if sign_in.looks_like_recovery_code(code):
        return _use_recovery_code(session, user, code)
    if users.too_many_codes(session, user.email):
        raise UserError("Codes from your app are refused for a day after too many wrong ones. Use one of your "
                        "recovery codes, or ask the headteacher to reset your second factor.")
    return _claim_code(session, settings, user, code)


def _use_recovery_code(session, user: User, code: str) -> bool:
    unused = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                        RecoveryCode.used_at.is_(None))).all()
    match = next((r for r in unused if sign_in.recovery_matches(code, r.code_hash)), None)
    if match is None:
        return False
    used = session.execute(update(RecoveryCode).where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
                           .values(used_at=utcnow())).rowcount
    if used:
        audit.record(session, user, "recovery_code_used", f"user:{user.id}")
    return bool(used)


def reset_second_factor(session, user: User, by) -> None:
    """The head clears a lost phone's enrolment: the user sets up a new app at their next log-in."""
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = None, None, None
    session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
                    .values(used_at=utcnow()))
    audit.record(session, by, "second_factor_reset", f"user:{user.id}")
    end_sessions(session, user, "second factor reset")
