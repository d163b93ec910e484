"""People who log in: adding them, enabling and disabling them, their passwords and their log-ins; each commits."""
from __future__ import annotations

from sqlalchemy import select

from gateway import users
from gateway.models import User
from moderation import audit


class LockedOut(users.UserError):
    """Too many wrong passwords for one e-mail lately: the log-in is refused without looking at the password."""


def add_user(session, settings, email: str, name: str, role: str, by, password: str = "") -> tuple[User, str]:
    """Add a user with the password given, or a generated one; returns the user and the password."""
    password = password or users.generate_password()
    user = users.create_user(session, email, name, role, password, by=by, hasher=users.hasher_for(settings))
    session.commit()
    return user, password


def set_active(session, user: User, active: bool, by: User) -> None:
    """Enable or disable a user; nobody disables (or re-enables) their own account."""
    if user.id == by.id:
        raise users.UserError("You cannot disable your own account.")
    users.set_active(session, user, active, by=by)
    session.commit()


def change_password(session, settings, user: User, current: str, new: str, again: str) -> None:
    users.change_password(session, user, current, new, again, hasher=users.hasher_for(settings))
    session.commit()


def log_in(session, settings, email: str, password: str) -> User:
    """The active user with this e-mail and password; every attempt is audited. Refuses with LockedOut after
    too many wrong passwords, and with a UserError when the e-mail and password do not match."""
    if users.too_many_failures(session, email):
        raise LockedOut(f"Too many wrong passwords for this account. Wait {users.LOCKOUT_MINUTES} minutes and try "
                        "again, or ask the headteacher to check your account.")
    user = users.authenticate(session, email, password, hasher=users.hasher_for(settings))
    if user is None:
        audit.record(session, "anonymous", "login_failed", users.login_subject(email))
        session.commit()
        raise users.UserError("That e-mail and password do not match an active account.")
    audit.record(session, user, "login", f"user:{user.id}")
    session.commit()  # also keeps a password hash that authenticate() brought up to date
    return user


def all_users(session) -> list[User]:
    """Every user, by e-mail address."""
    return list(session.scalars(select(User).order_by(User.email)))
