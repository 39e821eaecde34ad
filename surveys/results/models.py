"""Results as stored: the analyst's weighting settings per survey, and the responses in columns.

One ``WeightingSettings`` row per survey, written when the analyst saves the
settings form; a survey without one uses the defaults of
:func:`surveys.results.services.settings_for`. The report is always computed from
the settings as they are now: changing them re-computes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from panel.db import Base, UTCDateTime, utcnow


class WeightingSettings(Base):
    """How a survey's responses are weighted and cross-tabulated."""

    __tablename__ = "survey_weighting_settings"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    # False: no weighting to the population (the analyst's choice, stated in the report): the
    # figures are unweighted, or weighted by the design weights alone for an equal-allocation sample.
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


class ResponseBlock(Base):
    """A survey's responses compacted into columns, so a report never decodes their JSON.

    Written by ``medborgarpanel results compact`` (a job every minute) from the stored
    responses: one row per survey, rewritten whole. A report reads it and decodes only
    the responses stored since (those whose ids are not in ``ids``); when a response in
    it is gone (deleted or replaced), the report decodes every response again and the
    next compaction rewrites the block. ``digest`` (of the sorted ids) tells at a glance
    whether the block holds exactly the survey's responses. The rows are in the order
    of their random ids, so the block says nothing about who answered when.
    See :mod:`surveys.results.store`.
    """

    __tablename__ = "survey_response_block"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    # The encoding (surveys.results.store.FORMAT) and the columns' layout (a digest of the
    # analysed questions, their categories and columns): either changed, the block is unused.
    format: Mapped[int] = mapped_column(Integer)
    layout: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    # sha256 of the sorted response ids (as text, one a line).
    digest: Mapped[str] = mapped_column(String(64))
    # zlib: the sorted response ids, one a line; the encoded columns (store.encode).
    ids: Mapped[bytes] = mapped_column(LargeBinary)
    columns: Mapped[bytes] = mapped_column(LargeBinary)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
