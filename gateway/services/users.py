"""People who log in: adding them, enabling and disabling them, their passwords and their log-ins; each commits.

A password is hashed only outside any database transaction: on SQLite a transaction holds the write lock that
every other request waits for, and a hash takes a third of a second on purpose.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from gateway import users
from gateway.core.db import utcnow
from gateway.models import User
from gateway.services import sign_in
from moderation import audit

CODE, ENROL, DONE = "code", "enrol", "done"
# one message whichever was wrong, so a held account tells a guesser nothing about the password
HELD_WRONG = (f"That password and code do not match. Use “Forgot your password?” to get a link by e-mail, or "
              f"wait {users.LOCKOUT_MINUTES} minutes.")


class LockedOut(users.UserError):
    """Too many wrong passwords or codes for one e-mail lately: a password alone no longer lets anyone in."""


@dataclass
class Attempt:
    """A password that was right: `step` says what the person does next (CODE, ENROL, or DONE)."""

    user: User
    step: str


def _hints(settings) -> tuple[str, ...]:
    return (settings.school_name, "school", "gateway")


def add_user(session, settings, email: str, name: str, role: str, by, password: str = "") -> User:
    """Add a user; without a password they are e-mailed a one-time link to choose their own."""
    user = users.create_user(session, email, name, role, password, by=by, hasher=users.hasher_for(settings),
                             hints=_hints(settings))
    if password:
        session.commit()
    else:
        sign_in.send_link(session, settings, user, sign_in.SETUP, by)
    return user


def resend_setup(session, settings, user: User, by) -> None:
    if user.password_hash:
        raise users.UserError(f"{user.name} has already chosen a password; they can use “Forgot password”")
    sign_in.send_link(session, settings, user, sign_in.SETUP, by)


def set_active(session, user: User, active: bool, by: User) -> None:
    """Enable or disable a user; nobody disables (or re-enables) their own account. Disabling ends their log-ins."""
    if user.id == by.id:
        raise users.UserError("You cannot disable your own account.")
    users.set_active(session, user, active, by=by)
    if not active:
        sign_in.end_sessions(session, user, "account disabled")
    session.commit()


def _password_right(session, settings, user_id: int | None, email: str, password: str) -> bool:
    """Check outside any transaction; a wrong one is audited (it counts towards the hold)."""
    stored = session.get(User, user_id).password_hash if user_id else ""
    session.rollback()
    right = users.verify(users.hasher_for(settings), stored, password)
    if not right:
        audit.record(session, "anonymous", "login_failed", users.login_subject(email))
        session.commit()
    return right


def _rehash(session, settings, user: User, password: str) -> None:
    """Bring a hash made with other parameters up to the setting's, hashing outside the transaction."""
    hasher = users.hasher_for(settings)
    if not hasher.check_needs_rehash(user.password_hash):
        return
    user_id = user.id
    session.rollback()
    new_hash = users.hash_password(hasher, password)
    session.get(User, user_id).password_hash = new_hash
    session.commit()


def log_in(session, settings, email: str, password: str, code: str = "") -> Attempt:
    """Check an e-mail and password (and, while the account is held, a second-factor code with them).

    Refuses with LockedOut when the account is held and no right code came with the password, and with a
    UserError when the e-mail and password do not match an active account, the same for both."""
    user = users.find(session, email)
    held = users.too_many_failures(session, email, since=user.password_set_at if user else None)
    if held and not code.strip():
        session.rollback()
        raise LockedOut(f"This account is held after too many wrong passwords. Enter your password with a code "
                        f"from your authenticator app, or use “Forgot your password?” to get a link by e-mail. "
                        f"Otherwise wait {users.LOCKOUT_MINUTES} minutes.")
    right = _password_right(session, settings, user.id if user else None, email, password)
    user = session.get(User, user.id) if user else None
    if not right or user is None or not user.active:
        session.rollback()
        raise LockedOut(HELD_WRONG) if held else users.UserError("That e-mail and password do not match an "
                                                                  "active account.")
    if held:
        if not sign_in.second_factor_ok(session, settings, user, code):
            audit.record(session, "anonymous", "login_failed", users.login_subject(email))
            session.commit()
            raise LockedOut(HELD_WRONG)
        session.commit()
        return Attempt(user, DONE)
    _rehash(session, settings, user, password)
    user = session.get(User, user.id)
    return Attempt(user, CODE if user.second_factor else ENROL if user.needs_second_factor else DONE)


def second_step(session, settings, user_id: int, code: str) -> User:
    """The code after a right password; a wrong one counts towards the hold like a wrong password."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise users.UserError("Your log-in has run out. Start again.")
    if users.too_many_failures(session, user.email, since=user.password_set_at):
        session.rollback()
        raise LockedOut("Too many wrong codes. Log in again with your password and a code together, or use "
                        "“Forgot your password?”.")
    if not sign_in.second_factor_ok(session, settings, user, code):
        audit.record(session, "anonymous", "login_failed", users.login_subject(user.email))
        session.commit()
        raise users.UserError("That code is not right. Type the six digits your app shows now, or a recovery code.")
    session.commit()
    return user


def change_password(session, settings, user: User, current: str, new: str, again: str, keep: str | None) -> None:
    """A right current password (held like a log-in) and a strong new one; every other log-in of the user ends."""
    if users.too_many_failures(session, user.email, since=user.password_set_at):
        session.rollback()
        raise LockedOut("too many wrong passwords lately: wait 15 minutes, or log out and use “Forgot your "
                        "password?”")
    users.check_new_password(user, new, again, _hints(settings))
    if not _password_right(session, settings, user.id, user.email, current):
        raise users.UserError("the current password is not right")
    _store_password(session, settings, user.id, new, "password_changed")
    sign_in.end_sessions(session, session.get(User, user.id), "password changed", keep=keep)


def set_password_by_link(session, settings, purpose: str, token: str, new: str, again: str) -> User:
    """Choose a password through a one-time link; it ends every log-in the user had."""
    link = sign_in.open_link(session, purpose, token)
    users.check_new_password(link.user, new, again, _hints(settings))
    user_id = link.user_id
    if not sign_in.use_link(session, link):
        session.rollback()
        raise users.UserError("This link has already been used. Ask for a new one.")
    session.commit()  # claimed before the slow hash, so a second click finds it used
    _store_password(session, settings, user_id, new, f"password_set_by_{purpose}_link")
    user = session.get(User, user_id)
    sign_in.end_sessions(session, user, f"password set by {purpose} link")
    return user


def _store_password(session, settings, user_id: int, new: str, action: str) -> None:
    session.rollback()
    new_hash = users.hash_password(users.hasher_for(settings), new)
    user = session.get(User, user_id)
    user.password_hash, user.password_set_at = new_hash, utcnow()
    audit.record(session, user, action, f"user:{user.id}")
    session.commit()


def all_users(session) -> list[User]:
    """Every user, by e-mail address."""
    return list(session.scalars(select(User).order_by(User.email)))
