"""A demo school for trying the gateway: one user per role and a confirmed archive account."""
from __future__ import annotations

from sqlalchemy import func, select

from gateway.services.accounts import add_account, confirm_account
from gateway.models import CONSENT_OFFICER, HEAD, SMT, TEACHER, User
from gateway.users import create_user, generate_password, hasher_for

DEMO_USERS = [
    ("head@demo.school", "Helen Head", HEAD),
    ("smt@demo.school", "Sam Senior", SMT),
    ("teacher@demo.school", "Tara Teacher", TEACHER),
    ("office@demo.school", "Olu Office", CONSENT_OFFICER),
]


def seed_if_empty(session, settings) -> list[tuple[str, str, str]]:
    """Create the demo school in an empty database; returns (email, role, password) to print once."""
    if session.scalar(select(func.count()).select_from(User)):
        return []
    created = []
    for email, name, role in DEMO_USERS:
        password = generate_password()
        create_user(session, email, name, role, password, by="demo", hasher=hasher_for(settings))
        created.append((email, role, password))
    head = session.scalar(select(User).where(User.role == HEAD))
    account = add_account(session, "archive", "demo_archive", "https://demo.school/archive", by="demo")
    confirm_account(session, account, head)
    session.commit()
    return created
