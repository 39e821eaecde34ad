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

from analysis.targets import DEFAULT_AGE_BANDS, GENDERS, PopulationTable, Source, read_population
from analysis.targets.regions import region_level_of
from analysis.targets.vocabulary import age_range_of
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
    totals_warnings: tuple[str, ...] = ()  # published totals that differ from their parts (within tolerance)


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
            raise PopulationRejected(_("Regionen %(region)s finns inte i filen.", region=region)
                                     + _region_hint(region, regions, table))
        table = table.select(region=region)
    return table


def _region_hint(region: str, regions: list[str], table: PopulationTable) -> str:
    """What to write instead when a region code is not in the file (a municipality in a file of counties)."""
    levels = {region_level_of(code) for code in regions}
    if levels == {"län"} and region_level_of(region) == "kommun":
        county = region[:2]
        inside = next((code for code in regions if _county_of(code) == county), None)
        if inside and ONE_MUNICIPALITY_COUNTIES.get(county) == region:
            return " " + _("Filen har siffror per län. Kommunen %(region)s är ensam i sitt län, så skriv länets kod "
                           "%(county)s.", region=region, county=inside)
        return " " + _("Filen har siffror per län, inte per kommun. Ta ut tabellen per kommun hos SCB.")
    shown = ", ".join(f"{code} {table.region_names.get(code, '')}".strip() for code in regions[:8])
    return " " + _("Filen har: %(shown)s%(more)s.", shown=shown, more=" …" if len(regions) > 8 else "")


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
        totals_warnings=tuple(w for w in table.warnings if _is_totals_warning(w)),
    )


# ---------------------------------------------------------------- does the file fit the panel?

# The NUTS 3 codes some SCB CSV exports use for the counties ("SE214 Gotlands län").
NUTS3_COUNTIES = {
    "SE110": "01", "SE121": "03", "SE122": "04", "SE123": "05", "SE211": "06", "SE212": "07", "SE213": "08",
    "SE214": "09", "SE221": "10", "SE224": "12", "SE231": "13", "SE232": "14", "SE311": "17", "SE124": "18",
    "SE125": "19", "SE312": "20", "SE313": "21", "SE321": "22", "SE322": "23", "SE331": "24", "SE332": "25",
}
# More people than any municipality has (Stockholm: about 1 million in 2025).
LARGEST_MUNICIPALITY = 1_200_000
# Files that end at this age without an open group (100+) still cover the panel's open age band.
OLDEST_AGE = 100
# Counties with a single municipality: the county's figures are the municipality's.
ONE_MUNICIPALITY_COUNTIES = {"09": "0980"}


@dataclass(frozen=True)
class FitProblem:
    """Something in a population file that does not fit the panel, explained in Swedish.

    ``serious`` problems (another area, a missing gender, part of a category, part of
    the ages) make the figures wrong for the panel: saving needs an explicit confirmation.
    """

    code: str  # other_area, whole_country, county, one_gender, partial_category, partial_ages, ...
    serious: bool
    short: str  # a few words naming the problem, for the confirmation ("filen gäller Upplands Väsby")
    message: str
    advice: str = ""  # what to download instead
    detail: str = ""  # the importer's own (English) words, if any


def panel_municipality_code(session: Session) -> str | None:
    """The municipality code shared by all the panel's district codes (0980 for 0980R001…), if any."""
    prefixes = set()
    for (code,) in session.execute(select(District.code)):
        level = region_level_of(str(code))
        if level not in ("kommun", "regso", "deso"):
            return None
        prefixes.add(str(code)[:4])
    return prefixes.pop() if len(prefixes) == 1 else None


def _county_of(code: str) -> str | None:
    if code in NUTS3_COUNTIES:
        return NUTS3_COUNTIES[code]
    return code if code.isdigit() and len(code) == 2 else None


def _plain_name(name: str) -> str:
    """'Region Gotland', 'Gotlands län', 'Gotlands kommun' → 'gotland', to compare names loosely."""
    text = " ".join(name.lower().split())
    for prefix in ("region ",):
        text = text.removeprefix(prefix)
    for suffix in (" län", " kommun", " stad", " county", " municipality"):
        text = text.removesuffix(suffix)
    return text.removesuffix("s")


def _is_totals_warning(warning: str) -> bool:
    """The importer's lines on SCB's published totals that differ from their parts (within tolerance)."""
    return getattr(warning, "code", None) is None and (
        (" but its " in warning and " sum to " in warning)
        or (" published totals differ from the sum of their parts" in warning))


def _region_problems(session: Session, table: PopulationTable, municipality: str) -> list[FitProblem]:
    dim = table.region_dim
    ours = panel_municipality_code(session)
    where = (f"{municipality} ({ours})" if municipality and ours else municipality or ours or _("panelens kommun"))
    if dim is None:
        if table.total > LARGEST_MUNICIPALITY:
            return [FitProblem(
                "whole_country", True, _("filen har fler invånare än någon kommun"),
                _("Filen har ingen region och %(total)s invånare, fler än någon svensk kommun har. Den gäller "
                  "troligen hela Sverige, inte %(where)s.", total=f"{table.total:,}".replace(",", "\u00a0"),
                  where=where),
                _("Ta ut tabellen hos SCB med er kommun (%(where)s) vald under Region.", where=where))]
        return [FitProblem(
            "no_region", False, _("filen saknar region"),
            _("Filen har ingen region, så det går inte att se vilket område siffrorna gäller. Kontrollera att "
              "de gäller %(where)s och inte till exempel hela Sverige.", where=where),
            _("Ta helst ut tabellen med er kommun vald under Region, så att den kan kontrolleras."))]
    codes = sorted(table.data[dim].dropna().astype(str).unique().tolist())
    if dim == "district":
        districts = set(session.scalars(select(District.code)))
        if not districts:
            return []
        problems = []
        unknown = [code for code in codes if code not in districts]
        missing = sorted(districts - set(codes))
        if unknown:
            problems.append(FitProblem(
                "unknown_districts", True, _("filen har områden som panelen inte har"),
                _("%(n)s av filens områden finns inte bland panelens områden: %(codes)s.", n=len(unknown),
                  codes=", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")),
                _("Kontrollera att filen gäller %(where)s och att områdenas koder är desamma som under Områden.",
                  where=where)))
        if missing:
            problems.append(FitProblem(
                "districts_missing", True, _("filen saknar några av panelens områden"),
                _("Filen har inga siffror för %(n)s av panelens områden: %(codes)s. Medlemmarna där skulle "
                  "jämföras med en befolkning på 0.", n=len(missing),
                  codes=", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")),
                _("Ta ut tabellen med alla områden i kommunen.")))
        return problems
    problems = []
    for code in codes:
        level = region_level_of(code)
        name = table.region_names.get(code, code)
        if level == "riket" and name == code:
            name = _("hela riket")
        shown = f"{name} ({code})" if name != code else code
        if level == "riket" or level == "riksområde":
            problems.append(FitProblem(
                "whole_country", True, _("filen gäller %(region)s, inte %(where)s", region=shown, where=where),
                _("Filen gäller %(region)s, inte %(where)s. Siffrorna skulle jämföra panelen med fel befolkning.",
                  region=shown, where=where),
                _("Ta ut tabellen hos SCB med er kommun (%(where)s) vald under Region.", where=where)))
            continue
        if level == "län":
            county = _county_of(code)
            if ours and county == ours[:2] and ONE_MUNICIPALITY_COUNTIES.get(county) == ours:
                continue  # Gotland: the county is the municipality
            if ours is None and county in ONE_MUNICIPALITY_COUNTIES and (
                    not municipality or _plain_name(municipality) == _plain_name(name)):
                continue
            same_county = ours is not None and county == ours[:2]
            problems.append(FitProblem(
                "county", True, _("filen gäller hela %(region)s, inte %(where)s", region=shown, where=where),
                _("Filen gäller hela länet %(region)s, inte bara %(where)s.", region=shown, where=where)
                if same_county or ours is None else
                _("Filen gäller länet %(region)s, inte %(where)s. Siffrorna skulle jämföra panelen med fel "
                  "befolkning.", region=shown, where=where),
                _("Ta ut tabellen per kommun och skriv er kommuns kod (%(code)s) i fältet Region.",
                  code=ours or "0980")))
            continue
        if level in ("kommun", "regso", "deso"):
            if ours is not None:
                if code[:4] != ours:
                    problems.append(FitProblem(
                        "other_area", True, _("filen gäller %(region)s, inte %(where)s", region=shown, where=where),
                        _("Filen gäller %(region)s, inte %(where)s. Siffrorna skulle jämföra panelen med en "
                          "annan kommuns befolkning.", region=shown, where=where),
                        _("Ta ut tabellen hos SCB med er kommun (%(code)s) vald under Region, eller skriv "
                          "%(code)s i fältet Region om filen har flera kommuner.", code=ours)))
            elif level == "kommun" and municipality and _plain_name(municipality) != _plain_name(name):
                problems.append(FitProblem(
                    "check_area", False, _("filen gäller %(region)s", region=shown),
                    _("Filen gäller %(region)s, men panelen heter %(municipality)s. Panelens kommunkod kunde inte "
                      "avgöras (områdenas koder är inte SCB:s). Kontrollera att det är rätt kommun.",
                      region=shown, municipality=municipality)))
    return problems


def _age_problems(table: PopulationTable) -> list[FitProblem]:
    if "age" in table.dims:
        margin = table.margin("age")
        spans = [(int(age), None if table.open_age is not None and int(age) == table.open_age else int(age))
                 for age, value in margin.items() if value > 0]
    elif "age_group" in table.dims:
        try:  # wide groups (10-19) or groups that cut the panel's bands cannot be used
            table.with_age_bands(DEFAULT_AGE_BANDS)
        except ValueError as error:
            groups = [str(label) for label in table.margin("age_group").index]
            return [FitProblem(
                "age_bands", True, _("filens åldersgrupper passar inte panelens"),
                _("Filens åldersgrupper (%(groups)s) kan inte delas upp i panelens åldersgrupper (%(bands)s): "
                  "panelen skulle inte kunna jämföras eller viktas per åldersgrupp, och de unga i panelen skulle "
                  "ställas mot en grupp som också har barn.",
                  groups=", ".join(groups[:6]) + (" …" if len(groups) > 6 else ""),
                  bands=", ".join(DEFAULT_AGE_BANDS.labels)),
                _("Ta ut tabellen efter ålder (ettårsklasser) och kön."), str(error))]
        spans = []
        for label, value in table.margin("age_group").items():
            found = age_range_of(None, str(label))
            if value > 0 and isinstance(found, tuple):
                spans.append(found)
    else:
        return [FitProblem(
            "no_age", True, _("filen saknar ålder"),
            _("Filen har inga åldrar: siffrorna gäller alla åldrar, också barn, och panelen kan inte jämföras "
              "per åldersgrupp."),
            _("Ta ut tabellen efter ålder (ettårsklasser) och kön."))]
    first, last = DEFAULT_AGE_BANDS.bands[0].lower, DEFAULT_AGE_BANDS.bands[-1].upper
    panel_ages = (_("%(lower)s år och äldre", lower=first) if last is None
                  else _("%(lower)s–%(upper)s år", lower=first, upper=last))
    reached: int | None = first  # the youngest panel age not yet covered; None once all are
    for lower, upper in sorted(spans, key=lambda span: span[0]):
        if reached is None or (upper is not None and upper < reached):
            continue
        if lower > reached:
            break
        reached = None if upper is None else upper + 1
    if reached is None or reached > (last if last is not None else OLDEST_AGE):
        return []
    if spans:
        lowest = min(lower for lower, _upper in spans)
        open_top = any(upper is None for _lower, upper in spans)
        highest = max(upper for _lower, upper in spans if upper is not None) if not open_top else None
        file_ages = (_("%(lower)s år och äldre", lower=lowest) if open_top
                     else _("%(lower)s år", lower=lowest) if highest == lowest
                     else _("%(lower)s–%(upper)s år", lower=lowest, upper=highest))
    else:
        file_ages = _("inga")
    return [FitProblem(
        "partial_ages", True, _("filen har bara åldrarna %(ages)s", ages=file_ages),
        _("Filen har bara åldrarna %(ages)s, men panelen jämförs med åldrarna %(panel)s. Åldersgrupper "
          "utan siffror skulle få befolkningen 0.", ages=file_ages, panel=panel_ages),
        _("Ta ut tabellen med alla åldrar markerade (till exempel ettårsklasser 0–100+)."))]


def _gender_problems(table: PopulationTable) -> list[FitProblem]:
    if "gender" not in table.dims:
        return [FitProblem(
            "no_gender", False, _("filen saknar kön"),
            _("Filen har inte kön: panelen kan inte jämföras eller vägas efter kön med dessa uppgifter."),
            _("Ta ut tabellen efter kön, med både kvinnor och män."))]
    present = {str(key) for key, value in table.margin("gender").items() if value > 0}
    missing = [gender for gender in GENDERS if gender not in present]
    if not missing:
        return []
    names = {"kvinna": _("kvinnor"), "man": _("män")}
    shown = (" " + _("och") + " ").join(names[gender] for gender in missing)  # (not in an f-string: extracted)
    return [FitProblem(
        "one_gender", True, _("filen saknar %(missing)s", missing=shown),
        _("Filen har inga %(missing)s. Panelens %(missing)s skulle jämföras med en befolkning på 0 och få "
          "vikten 0.", missing=shown),
        _("Ta ut tabellen med både kvinnor och män markerade under Kön."))]


def _importer_problems(table: PopulationTable) -> list[FitProblem]:
    problems = []
    for warning in table.warnings:
        code = getattr(warning, "code", None)
        params = getattr(warning, "params", {})
        if code == "partial_category":
            dimension = params["dimension"]
            problems.append(FitProblem(
                "partial_category", True,
                _("filen har bara en del av %(dimension)s (%(kept)s)", dimension=dimension,
                  kept=", ".join(params["kept"])),
                _("Filen har bara en del av kategorierna i %(dimension)s: %(kept)s. %(missing)s saknas, så "
                  "siffrorna gäller inte hela befolkningen.", dimension=dimension, kept=", ".join(params["kept"]),
                  missing=", ".join(params["missing"]).capitalize()),
                _("Ta ut tabellen igen med alla kategorier i %(dimension)s markerade, eller välj bort "
                  "%(dimension)s.", dimension=dimension), str(warning)))
        elif code == "missing_combinations":
            problems.append(FitProblem(
                "missing_combinations", False, _("kombinationer saknas"),
                _("%(n)s kombinationer (till exempel kön och ålder) saknades i filen och räknas som 0.",
                  n=params["count"]), _("Kontrollera att inga val saknas i tabellen hos SCB."), str(warning)))
        elif code == "unknown_dimension":
            problems.append(FitProblem(
                "unknown_dimension", False, _("okänd dimension"),
                _("Filen har en dimension som inläsningen inte känner till, %(dimension)s; siffrorna summerades "
                  "över den. Kontrollera att dess kategorier inte överlappar.", dimension=params["dimension"]),
                "", str(warning)))
        elif code == "regions_unchecked":
            problems.append(FitProblem(
                "regions_unchecked", False, _("regioner lades åt sidan"),
                _("Några större regioner i filen (%(regions)s) lades åt sidan utan kontroll mot sina delar.",
                  regions=", ".join(params["regions"][:5])), "", str(warning)))
        elif not _is_totals_warning(warning):
            problems.append(FitProblem(
                "importer", False, _("en varning från inläsningen"),
                _("Inläsningen gav en varning som du bör läsa: se den tekniska detaljen."), "", str(warning)))
    return problems


def check_fit(session: Session, table: PopulationTable, *, municipality: str = "") -> list[FitProblem]:
    """Compare a table with the panel: its municipality, districts, genders and age range.

    ``municipality`` is the panel's name (config PANEL_MUNICIPALITY); its code is read
    from the districts' codes. Serious problems first.
    """
    problems = (_region_problems(session, table, municipality) + _gender_problems(table)
                + _age_problems(table) + _importer_problems(table))
    return sorted(problems, key=lambda problem: not problem.serious)


def serious(problems: list[FitProblem]) -> list[FitProblem]:
    return [problem for problem in problems if problem.serious]


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


def confirm_pending(session: Session, pending: PendingPopulationUpload,
                    table: PopulationTable | None = None) -> PopulationDataset:
    """Save the pending upload (``table``: as already read from it) as a new dataset, which becomes the one in use."""
    table = table if table is not None else pending_table(session, pending)
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
