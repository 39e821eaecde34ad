"""Population figures in the database: save what the analysis package read, load it back."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.targets import PopulationTable, Source
from panel.models import PopulationDataset


def save_population(session: Session, table: PopulationTable, *, name: str,
                    uploaded_by_id: int | None = None) -> PopulationDataset:
    """Store an imported table as a new dataset (earlier ones are kept)."""
    frame = table.data.astype(object).where(table.data.notna(), None)
    dataset = PopulationDataset(
        name=name.strip()[:200] or (table.source.name or "Befolkning"),
        source_name=table.source.name,
        source_format=table.source.format,
        source_table_id=table.source.table_id,
        source_title=table.source.title,
        period=table.period,
        reference_date=table.reference_date,
        region_level=table.region_level,
        dims=",".join(table.dims),
        cells_json=json.dumps(frame.to_dict(orient="records"), ensure_ascii=False, default=int),
        warnings_json=json.dumps(list(table.warnings), ensure_ascii=False),
        notes_json=json.dumps(list(table.notes), ensure_ascii=False),
        cell_key_noise=table.cell_key_noise,
        total=int(table.data["population"].sum()),
        uploaded_by_id=uploaded_by_id,
    )
    session.add(dataset)
    session.flush()
    return dataset


def load_population(dataset: PopulationDataset) -> PopulationTable:
    """Rebuild the PopulationTable exactly as it was imported."""
    frame = pd.DataFrame.from_records(json.loads(dataset.cells_json), columns=dataset.dims.split(",") + ["population"])
    frame["population"] = frame["population"].astype("int64")
    return PopulationTable(
        data=frame,
        source=Source(dataset.source_name, dataset.source_format, dataset.source_table_id, dataset.source_title),
        region_level=dataset.region_level,
        notes=tuple(json.loads(dataset.notes_json)),
        cell_key_noise=dataset.cell_key_noise,
        other_warnings=tuple(json.loads(dataset.warnings_json)),
    )


def latest_population(session: Session) -> PopulationDataset | None:
    return session.scalar(select(PopulationDataset).order_by(PopulationDataset.uploaded_at.desc(),
                                                             PopulationDataset.id.desc()).limit(1))
