from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime


class JobRun(Base):
    """The state of one scheduled job (see panel.jobs): when it last ran, how it went, and
    who runs it right now. Shared by every host that runs ``medborgarpanel jobs``."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))  # "ok" or "failed"
    last_error: Mapped[str | None] = mapped_column(String(500))
    runs: Mapped[int] = mapped_column(Integer, default=0)
    # Set while a runner holds the job (SQLite's lock; PostgreSQL uses advisory locks).
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runner: Mapped[str | None] = mapped_column(String(64))
