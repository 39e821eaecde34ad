"""Results as stored: the analyst's weighting settings per survey.

One ``WeightingSettings`` row per survey, written when the analyst saves the
settings form; a survey without one uses the defaults of
:func:`surveys.results.services.settings_for`. The report is always computed from
the settings as they are now: changing them re-computes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow


class WeightingSettings(Base):
    """How a survey's responses are weighted and cross-tabulated."""

    __tablename__ = "survey_weighting_settings"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    # False: report unweighted figures only (the analyst's choice, stated in the report).
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # A method of analysis.weighting.METHODS ("rake", "poststratify", "linear", ...).
    method: Mapped[str] = mapped_column(String(32), default="rake")
    # The margins: a list of lists of variable names, e.g. [["gender"], ["age_group"]] or
    # [["gender", "age_group"], ["district"]] (a cross is one margin of two variables).
    margins: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Trimming bounds as multiples of the mean weight (NULL: no bound); re-weighted after.
    trim_lower: Mapped[float | None] = mapped_column(Float)
    trim_upper: Mapped[float | None] = mapped_column(Float)
    # Categories merged before weighting: {"age_group": [["65-74", "75+"]], ...}.
    collapse: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The population figures (panel.models.PopulationDataset); NULL: the latest upload.
    population_dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("population_dataset.id", ondelete="SET NULL"))
    # Cross-tabs to report: [[row question key, column question key or breakdown], ...].
    crosstabs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
