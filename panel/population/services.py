"""Population figures in the database: save what the analysis package read, load it back."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, defer

from analysis.targets import DEFAULT_AGE_BANDS, PopulationTable, Source, read_population
from panel.db import utcnow
from panel.models import DesoDistrict, District, PopulationDataset, StaffUser
from panel.population.models import PendingPopulationUpload, PopulationInUse


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
    dims = [d for d in frame.columns if d != "population"]
    # One-way margins (variable,category,population files) leave the other dimensions empty on each row.
    one_way = len(dims) > 1 and bool(frame[dims].isna().any(axis=None))
    return PopulationTable(
        data=frame,
        one_way=one_way,
        source=Source(dataset.source_name, dataset.source_format, dataset.source_table_id, dataset.source_title),
        region_level=dataset.region_level,
        notes=tuple(json.loads(dataset.notes_json)),
        cell_key_noise=dataset.cell_key_noise,
        other_warnings=tuple(json.loads(dataset.warnings_json)),
    )


def latest_population(session: Session) -> PopulationDataset | None:
    return session.scalar(select(PopulationDataset).order_by(PopulationDataset.uploaded_at.desc(),
                                                             PopulationDataset.id.desc()).limit(1))


# ---------------------------------------------------------------- upload, preview, confirm

MAX_UPLOAD_BYTES = 4 * 1024 * 1024  # below MAX_CONTENT_LENGTH, so the form can say so itself
PENDING_LIFETIME = timedelta(hours=2)
SUMMARY_LEVELS_SHOWN = 40


class PopulationRejected(ValueError):
    """The file cannot be used: ``message`` is for the analyst (Swedish), ``detail`` the importer's own words."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class Level:
    key: str  # code as stored ("kvinna", "16-24", "0980R001")
    label: str  # name to show (district name, region name), else the key
    population: int


@dataclass(frozen=True)
class PopulationSummary:
    """What an analyst needs to see of a table before trusting it."""

    source: str
    source_format: str
    table_id: str | None
    title: str | None
    period: str
    reference_date: str
    region_level: str | None
    dims: tuple[str, ...]
    total: int
    by_dim: dict[str, list[Level]]  # "gender", "age_group" (default bands), "district"/"region"
    levels_hidden: dict[str, int]  # levels beyond SUMMARY_LEVELS_SHOWN per dimension
    cell_key_noise: bool
    notes: tuple[str, ...]  # the importer's notes and this module's (English from analysis, Swedish from here)
    warnings: tuple[str, ...]
    age_bands_problem: str | None  # why the default age bands could not be formed, if so


def _reject_unreadable(data: bytes) -> None:
    if not data:
        raise PopulationRejected(_("Filen är tom. Välj filen du laddade ner från SCB."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise PopulationRejected(_("Filen är för stor (högst %(mb)s MB). Ladda ner bara er kommun eller era områden.",
                                   mb=MAX_UPLOAD_BYTES // (1024 * 1024)))
    if data[:4] == b"PK\x03\x04":
        raise PopulationRejected(_("Filen är ett ZIP-arkiv (eller en Excel-fil). Packa upp den, eller ladda ner "
                                   "tabellen som CSV, PX eller JSON-stat2 från SCB."))


def read_upload(session: Session, data: bytes, *, filename: str, period: str = "",
                region: str = "") -> PopulationTable:
    """Read an uploaded SCB file and shape it for the panel; raises PopulationRejected.

    Several periods: ``period`` or else the latest is kept. Several municipalities
    or counties: ``region`` (a code) must choose one. DeSO figures are summed into
    the districts by the DeSO mapping (Områden → DeSO-koppling); RegSO figures are
    taken as the districts when their codes are the districts' codes (or summed by
    the mapping's RegSO column).
    """
    _reject_unreadable(data)
    try:
        table = read_population(data, filename=filename or "fil")
    except ValueError as error:
        raise PopulationRejected(
            _("Filen kunde inte läsas som befolkningsstatistik. Ladda ner tabellen från SCB:s "
              "statistikdatabas som CSV, PX eller JSON-stat2 och försök igen."), str(error)) from None
    notes: list[str] = []
    periods = table.periods
    if len(periods) > 1 or (period and periods):
        chosen = period.strip() or periods[-1]
        if chosen not in periods:
            raise PopulationRejected(_("Perioden %(period)s finns inte i filen. Den har: %(periods)s.",
                                       period=chosen, periods=", ".join(periods)))
        if not period.strip():
            notes.append(_("Filen har %(n)s perioder; den senaste (%(period)s) används.", n=len(periods),
                           period=chosen))
        table = table.select(period=chosen)
    try:
        table = _to_districts(session, table, region.strip(), notes)
    except PopulationRejected:
        raise
    except ValueError as error:
        raise PopulationRejected(_("Filens områden kunde inte kopplas till panelens områden."), str(error)) from None
    return replace(table, notes=table.notes + tuple(notes))


def _to_districts(session: Session, table: PopulationTable, region: str, notes: list[str]) -> PopulationTable:
    dim = table.region_dim
    if dim is None or dim == "district":
        return table
    regions = sorted(table.data[dim].dropna().astype(str).unique().tolist())
    districts = dict(session.execute(select(District.code, District.name)).all())
    if table.region_level == "deso":
        mapping = dict(session.execute(select(DesoDistrict.deso_code, District.code)
                                       .join(District, DesoDistrict.district_id == District.id)).all())
        ours = [code for code in regions if code in mapping]
        if not ours:
            raise PopulationRejected(_("Filen har siffror per DeSO, men ingen av dess DeSO finns i panelens "
                                       "DeSO-koppling. Lägg in kopplingen under Områden först."))
        if len(ours) < len(regions):
            notes.append(_("%(n)s DeSO utanför panelens områden lämnades bort.", n=len(regions) - len(ours)))
            table = table.select(region=ours)
        notes.append(_("Siffrorna per DeSO summerades till panelens områden."))
        return table.to_districts({code: mapping[code] for code in ours}, names=districts)
    if table.region_level == "regso":
        if districts and set(regions) <= set(districts):
            notes.append(_("RegSO-områdena är panelens områden."))
            return table.to_districts(None, names=districts)
        mapping = {}
        for regso, code in session.execute(select(DesoDistrict.regso_code, District.code)
                                           .join(District, DesoDistrict.district_id == District.id)
                                           .where(DesoDistrict.regso_code.is_not(None))):
            mapping.setdefault(regso, set()).add(code)
        ours = [code for code in regions if code in mapping and len(mapping[code]) == 1]
        if ours:
            if len(ours) < len(regions):
                table = table.select(region=ours)
            notes.append(_("Siffrorna per RegSO summerades till panelens områden."))
            return table.to_districts({code: next(iter(mapping[code])) for code in ours}, names=districts)
        notes.append(_("Filens RegSO-områden motsvarar inte panelens områden: jämförelsen per område går inte att göra."))
        return table
    if len(regions) > 1:
        if not region:
            shown = ", ".join(f"{code} {table.region_names.get(code, '')}".strip() for code in regions[:8])
            raise PopulationRejected(_("Filen har %(n)s regioner (%(shown)s …). Skriv koden för er kommun i fältet "
                                       "Region och ladda upp igen.", n=len(regions), shown=shown))
        if region not in regions:
            raise PopulationRejected(_("Regionen %(region)s finns inte i filen.", region=region))
        table = table.select(region=region)
    return table


def summarize(table: PopulationTable) -> PopulationSummary:
    """Totals per gender, per default age band and per district (or region) of a table."""
    by_dim: dict[str, list[Level]] = {}
    hidden: dict[str, int] = {}
    bands_problem = None
    banded = table
    if "age" in table.dims or "age_group" in table.dims:
        try:
            banded = table.with_age_bands(DEFAULT_AGE_BANDS)
        except ValueError as error:
            bands_problem = str(error)
            banded = table
    for dim in ("gender", "age_group", "district", "region"):
        if dim not in banded.dims or (dim == "age_group" and bands_problem):
            continue
        margin = (banded if dim == "age_group" else table).margin(dim)
        names = table.region_names if dim in ("district", "region") else {}
        levels = [Level(str(key), str(names.get(str(key), key)), int(value)) for key, value in margin.items()]
        by_dim[dim] = levels[:SUMMARY_LEVELS_SHOWN]
        if len(levels) > SUMMARY_LEVELS_SHOWN:
            hidden[dim] = len(levels) - SUMMARY_LEVELS_SHOWN
    return PopulationSummary(
        source=table.source.name or "", source_format=table.source.format, table_id=table.source.table_id,
        title=table.source.title, period=table.period if table.periods else "",
        reference_date=table.reference_date if table.periods else "", region_level=table.region_level,
        dims=table.dims, total=table.total, by_dim=by_dim, levels_hidden=hidden,
        cell_key_noise=table.cell_key_noise, notes=table.notes, warnings=table.warnings,
        age_bands_problem=bands_problem,
    )


def create_pending(session: Session, *, staff_id: int, data: bytes, filename: str, name: str,
                   period: str = "", region: str = "", now: datetime | None = None) -> PendingPopulationUpload:
    """Keep an uploaded file for its confirmation (and drop expired ones)."""
    now = now or utcnow()
    session.execute(delete(PendingPopulationUpload).where(PendingPopulationUpload.expires_at < now))
    pending = PendingPopulationUpload(
        id=secrets.token_urlsafe(32), staff_id=staff_id, filename=(filename or "fil")[-255:], content=data,
        name=name.strip()[:200], period=period.strip()[:100], region=region.strip()[:40],
        created_at=now, expires_at=now + PENDING_LIFETIME,
    )
    session.add(pending)
    session.flush()
    return pending


def find_pending(session: Session, pending_id: str, *, staff_id: int,
                 now: datetime | None = None) -> PendingPopulationUpload | None:
    """The staff user's own pending upload, if it has not expired."""
    pending = session.get(PendingPopulationUpload, pending_id[:64])
    if pending is None or pending.staff_id != staff_id or pending.expires_at < (now or utcnow()):
        return None
    return pending


def pending_table(session: Session, pending: PendingPopulationUpload) -> PopulationTable:
    return read_upload(session, pending.content, filename=pending.filename, period=pending.period,
                       region=pending.region)


def confirm_pending(session: Session, pending: PendingPopulationUpload) -> PopulationDataset:
    """Save the pending upload as a new dataset, which becomes the one in use."""
    table = pending_table(session, pending)
    dataset = save_population(session, table, name=pending.name, uploaded_by_id=pending.staff_id)
    session.execute(delete(PopulationInUse))
    session.delete(pending)
    session.flush()
    return dataset


# ---------------------------------------------------------------- versions and the one in use


def population_in_use(session: Session) -> PopulationDataset | None:
    """The figures chosen by an analyst, else the latest upload (None when there are none)."""
    choice = session.get(PopulationInUse, 1)
    if choice is not None:
        dataset = session.get(PopulationDataset, choice.dataset_id)
        if dataset is not None:
            return dataset
    return latest_population(session)


def use_population(session: Session, dataset: PopulationDataset, *, staff_id: int | None) -> None:
    choice = session.get(PopulationInUse, 1) or PopulationInUse(id=1)
    choice.dataset_id = dataset.id
    choice.chosen_at = utcnow()
    choice.chosen_by_id = staff_id
    session.add(choice)
    session.flush()


def population_versions(session: Session) -> list[tuple[PopulationDataset, str | None]]:
    """Every stored dataset, newest first, with the name of the staff user who uploaded it."""
    rows = session.execute(select(PopulationDataset, StaffUser.name)
                           .options(defer(PopulationDataset.cells_json), defer(PopulationDataset.warnings_json))
                           .outerjoin(StaffUser, PopulationDataset.uploaded_by_id == StaffUser.id)
                           .order_by(PopulationDataset.uploaded_at.desc(), PopulationDataset.id.desc())).all()
    return [(dataset, name) for dataset, name in rows]
