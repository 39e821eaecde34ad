"""Population figures waiting for the analyst's confirmation, and which stored figures are in use."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow


class PendingPopulationUpload(Base):
    """An uploaded file between its preview and the analyst's confirmation.

    The file's bytes are kept on the server, keyed by a random id, for the staff
    user who uploaded it and until ``expires_at``: confirming reads them again
    with the same choices, so nothing the browser sends back is trusted. In the
    database (not a temporary folder) so that any worker or host can confirm it.
    """

    __tablename__ = "population_upload_pending"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # secrets.token_urlsafe(32)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    name: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(100), default="")  # chosen period, "" = the latest
    region: Mapped[str] = mapped_column(String(40), default="")  # chosen region code, "" = the only one
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PopulationInUse(Base):
    """The stored figures the panel health page and the planner use (one row at most).

    No row: the latest upload is in use.
    """

    __tablename__ = "population_in_use"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("population_dataset.id", ondelete="CASCADE"))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
