"""Builders for test data. Each takes the session and flushes; tests commit if needed."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from panel.accounts.services import create_staff
from panel.db import utcnow
from panel.models import District, Member, StaffUser
from panel.models.member import MemberStatus

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


def make_district(session: Session, code: str | None = None, name: str | None = None) -> District:
    n = next(_seq)
    district = District(code=code or f"{n:04d}", name=name or f"Område {n}")
    session.add(district)
    session.flush()
    return district


def make_staff(session: Session, role: str = "analyst", email: str | None = None) -> StaffUser:
    n = next(_seq)
    return create_staff(session, email=email or f"{role}{n}@kommun.test", name=f"{role.title()} {n}",
                        role=role, password=PASSWORD)


def make_member(session: Session, *, district: District | None = None, status: str = MemberStatus.ACTIVE,
                **fields) -> Member:
    n = next(_seq)
    member = Member(
        email=fields.pop("email", f"boende{n}@example.se"),
        birth_year=fields.pop("birth_year", 1980),
        gender=fields.pop("gender", "kvinna"),
        district=district or make_district(session),
        status=status,
        confirmed_at=utcnow() if status != MemberStatus.PENDING else None,
        **fields,
    )
    session.add(member)
    session.flush()
    return member
