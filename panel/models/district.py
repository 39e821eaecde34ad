from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.db import Base


class District(Base):
    """One of the municipality's districts (stadsdel, kommundel, valdistrikt...)."""

    __tablename__ = "district"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Codes keep their leading zeros: always strings.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class PostcodeDistrict(Base):
    """Optional: which district a postcode belongs to (five digits, no space)."""

    __tablename__ = "postcode_district"

    postcode: Mapped[str] = mapped_column(String(5), primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"))
    district: Mapped[District] = relationship()


class DesoDistrict(Base):
    """Optional: which district an SCB DeSO area belongs to (for population figures)."""

    __tablename__ = "deso_district"

    deso_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    regso_code: Mapped[str | None] = mapped_column(String(16))
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"))
    district: Mapped[District] = relationship()
