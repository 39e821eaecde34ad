"""Staff accounts: creation, password checks and login throttling.

Services take a Session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from panel.db import utcnow
from panel.models import LoginFailure, StaffUser
from panel.models.staff import Role

MIN_PASSWORD_LENGTH = 12
# Compared against when the e-mail is unknown, so that timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0000")


class LoginThrottled(Exception):
    """Too many failed logins for this account or address within the window."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def staff_email_or_none(session: Session, email: str) -> str | None:
    """The address if it belongs to a staff account, else None: the audit log, which nothing
    may change or delete, must not keep what a stranger (or a resident) typed at the login."""
    email = normalise_email(email)
    return email if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) else None


def create_staff(session: Session, *, email: str, name: str, role: str, password: str) -> StaffUser:
    email = normalise_email(email)
    if role not in set(Role):
        raise ValueError(f"okänd roll {role!r}: välj admin, analyst eller committee")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken")
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise ValueError(f"det finns redan ett konto för {email}")
    user = StaffUser(email=email, name=name.strip(), role=role, password_hash=generate_password_hash(password))
    session.add(user)
    session.flush()
    return user


def change_role(session: Session, user: StaffUser, role: str) -> None:
    if role not in set(Role):
        raise ValueError(f"okänd roll {role!r}")
    if user.role != role:
        user.role = role
        user.session_version += 1  # sessions with the old role stop working


def set_password(user: StaffUser, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken")
    user.password_hash = generate_password_hash(password)
    user.session_version += 1


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    remote_addr: str,
    max_failures: int,
    window: timedelta,
    now: datetime | None = None,
) -> StaffUser | None:
    """Return the staff user for a correct password, None for a wrong one.

    Raises LoginThrottled when the account or the address has had ``max_failures``
    failures within ``window``; the password is then not even checked. Each wrong
    password is recorded; a correct one clears the account's failures.
    """
    now = now or utcnow()
    email = normalise_email(email)
    since = now - window
    recent = session.scalar(
        select(func.count(LoginFailure.id)).where(
            LoginFailure.at >= since,
            or_(LoginFailure.email == email, LoginFailure.remote_addr == remote_addr),
        )
    )
    if recent >= max_failures:
        raise LoginThrottled()
    user = session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        ok = False
    else:
        ok = check_password_hash(user.password_hash, password)
    if not ok:
        session.add(LoginFailure(email=email, remote_addr=remote_addr, at=now))
        return None
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    user.last_login_at = now
    return user


def load_user(session: Session, user_id: str) -> StaffUser | None:
    """Resolve Flask-Login's "id:session_version" cookie value."""
    try:
        ident, version = (int(part) for part in user_id.split(":", 1))
    except ValueError:
        return None
    user = session.get(StaffUser, ident)
    if user is None or user.session_version != version or not user.active:
        return None
    return user
