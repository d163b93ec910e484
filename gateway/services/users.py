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


def _wrong(session, action: str, email: str) -> None:
    """Audited under the e-mail's hash; it counts towards the hold."""
    audit.record(session, "anonymous", action, users.login_subject(email))
    session.commit()


def _password_right(session, settings, user_id: int | None, email: str, password: str) -> bool:
    """Checked outside any transaction."""
    stored = session.get(User, user_id).password_hash if user_id else ""
    session.rollback()
    right = users.verify(users.hasher_for(settings), stored, password)
    if not right:
        _wrong(session, users.WRONG_PASSWORD, email)
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


def log_in(session, settings, email: str, password: str, code: str = "", known_device: bool = False) -> Attempt:
    """Check an e-mail and password (and, while the account is held, a second-factor code with them). A browser
    this user logged in from before is not held: someone else's wrong guesses do not lock its owner out.

    Refuses with LockedOut when the account is held and no right code came with the password, and with a
    UserError when the e-mail and password do not match an active account, the same for both."""
    user = users.find(session, email)
    held = not known_device and users.too_many_failures(session, email, since=user.password_set_at if user else None)
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
            _wrong(session, users.WRONG_CODE, email)
            raise LockedOut(HELD_WRONG)
        session.commit()
        return Attempt(user, DONE)
    _rehash(session, settings, user, password)
    user = session.get(User, user.id)
    return Attempt(user, CODE if user.second_factor else ENROL if user.needs_second_factor else DONE)


def waiting_user(session, user_id: int, since: float) -> User:
    """The user whose right password began a log-in at `since`, if that still stands: still active, and no new
    password (a reset by its owner) since."""
    user = session.get(User, user_id)
    if user is None or not user.active or (user.password_set_at and user.password_set_at.timestamp() > since):
        session.rollback()
        raise users.UserError("Your log-in has run out. Start again.")
    return user


def second_step(session, settings, user_id: int, since: float, code: str) -> User:
    """The code after a right password. Wrong codes count towards the hold, and ten in a day stop codes from
    the app (recovery codes still work); the hold itself is for passwords, which were right here."""
    user = waiting_user(session, user_id, since)
    if not sign_in.second_factor_ok(session, settings, user, code):
        _wrong(session, users.WRONG_CODE, user.email)
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
    user_id = user.id
    session.rollback()
    user = _store_password(session, user_id, users.hash_password(users.hasher_for(settings), new), "password_changed")
    session.commit()
    sign_in.end_sessions(session, user, "password changed", keep=keep)


def set_password_by_link(session, settings, purpose: str, token: str, new: str, again: str) -> User:
    """Choose a password through a one-time link; it ends every log-in the user had. The hash is made first and
    the link claimed with it, so a busy server leaves the link for another try."""
    link = sign_in.open_link(session, purpose, token)
    users.check_new_password(link.user, new, again, _hints(settings))
    link_id, user_id = link.id, link.user_id
    session.rollback()
    new_hash = users.hash_password(users.hasher_for(settings), new)
    if not sign_in.use_link(session, link_id):
        session.rollback()
        raise users.UserError("This link has already been used. Ask for a new one.")
    user = _store_password(session, user_id, new_hash, f"password_set_by_{purpose}_link")
    session.commit()
    sign_in.end_sessions(session, user, f"password set by {purpose} link")
    return user


def _store_password(session, user_id: int, new_hash: str, action: str) -> User:
    """The one place a new password is kept: hashed beforehand, outside any transaction; the caller commits."""
    user = session.get(User, user_id)
    user.password_hash, user.password_set_at = new_hash, utcnow()
    audit.record(session, user, action, f"user:{user.id}")
    return user


def all_users(session) -> list[User]:
    """Every user, by e-mail address."""
    return list(session.scalars(select(User).order_by(User.email)))
