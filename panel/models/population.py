from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow


class PopulationDataset(Base):
    """Population figures as imported from one file (SCB export or the municipality's own).

    The tidy cells (dims + population) are stored as JSON records exactly as the
    analysis package read them; earlier uploads are kept, never overwritten.
    """

    __tablename__ = "population_dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source_name: Mapped[str | None] = mapped_column(String(300))
    source_format: Mapped[str] = mapped_column(String(40))
    source_table_id: Mapped[str | None] = mapped_column(String(40))
    source_title: Mapped[str | None] = mapped_column(String(500))
    period: Mapped[str] = mapped_column(String(100), default="")
    reference_date: Mapped[str] = mapped_column(String(100), default="")
    region_level: Mapped[str | None] = mapped_column(String(20))
    dims: Mapped[str] = mapped_column(String(200))  # comma-separated dimension names
    cells_json: Mapped[str] = mapped_column(Text)
    warnings_json: Mapped[str] = mapped_column(Text, default="[]")
    notes_json: Mapped[str] = mapped_column(Text, default="[]")
    cell_key_noise: Mapped[bool] = mapped_column(Boolean, default=False)
    total: Mapped[int] = mapped_column(Integer, default=0)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))


import panel.population.models  # noqa: E402,F401  (pending uploads and the choice in use, on the metadata)
