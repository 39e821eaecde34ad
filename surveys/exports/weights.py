"""The weights of an export: the survey report's weighting, per response.

The report (:mod:`surveys.results.services`) weights the responses with the analyst's
settings; the export must carry the very same weights. Its ``weight_responses`` reads
only the respondents' gender, age band and district from the frame it is given, so the
export hands it a frame made of its own records — in the records' order — and gets
weights that line up with them row by row, without a second weighting code path.

An equal-allocation sample also gives each respondent a design weight 1/π
(:func:`surveys.results.services.design_weights`): the export carries it as
``designvikt`` whenever it exists, beside ``vikt`` (calibrated to the population) when
the report can weight, and alone when it cannot (then the report's estimates are
design-weighted, and the codebook says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from analysis.weighting import METHODS
from panel.charts import format_number
from surveys.results.views import method_name, note_text, small_number_filter, variable_name
from surveys.exports.table import ResponseRecord
from surveys.models import Survey
from surveys.results import services as results


@dataclass(frozen=True)
class ExportWeighting:
    """Weights keyed by record (``None``: not weighted to the population), design weights
    1/π keyed by record (``None``: the sample has none) and the codebook's notes on them."""

    weights: dict[str, float] | None
    notes: tuple[str, ...]
    settings: dict[str, Any]
    design_weights: dict[str, float] | None = None


def weighting_frame(records: Sequence[ResponseRecord]) -> pd.DataFrame:
    """The columns the report weights by, as :func:`surveys.results.services.response_frame` makes them."""
    return pd.DataFrame({
        "gender": [r.gender for r in records],
        "age_group": [None if r.age_group in (None, "", "-") else r.age_group for r in records],
        "district": [r.district_code for r in records],
        "language": [r.language for r in records],
    }, index=pd.RangeIndex(len(records)))


def weighting_for(session: Session, survey: Survey, records: Sequence[ResponseRecord]) -> ExportWeighting:
    """The report's weights for ``records`` (with the survey's saved settings), or why none."""
    settings = results.settings_for(session, survey)
    frame = results.ResponseFrame(weighting_frame(records), [], [], {})
    design = results.design_weights(session, survey, frame.data)
    weighting = results.weight_responses(session, survey, settings, frame=frame, design=design)
    settings_note = _settings_note(settings)
    by_design = None
    # Why an equal-allocation sample has no design weights (the note of one that has them is the report's).
    design_notes: list[str] = [note_text(design.note)] if design.note and not design.applied else []
    if design.applied:
        d = np.asarray(design.weights, dtype=float)
        by_design = {record.sort_key: float(w) for record, w in zip(records, d, strict=True)}
        deff = float(len(d) * np.sum(d ** 2) / np.sum(d) ** 2)
        design_notes.append(_(
            "designvikt = urvalets designvikt, 1/sannolikheten att komma med i urvalet (urvalet drogs med lika "
            "många per grupp kön × åldersgrupp × område): hur många panelmedlemmar i gruppen varje inbjuden står "
            "för. Designvikterna från %(low)s till %(high)s, designeffekt (Kish) %(deff)s, effektivt antal svar "
            "%(neff)s.", low=format_number(d.min(), 2), high=format_number(d.max(), 2),
            deff=format_number(deff, 3), neff=format_number(len(d) / deff, 1)))
    if weighting.result is None:
        if by_design is not None:
            notes = [_("Designviktad export: variabeln vikt (viktning till befolkningen) finns inte i filen, "
                       "eftersom rapporten inte kan vikta svaren till befolkningen. Rapportens skattningar "
                       "(”Designviktat”) är viktade med variabeln designvikt ensam; vikta med den för samma "
                       "siffror.")]
        else:
            notes = [_("Ovägd export: variabeln vikt finns inte i filen, eftersom rapporten inte kan vikta svaren.")]
        notes += [_("Skäl: %(reason)s", reason=weighting.reason), settings_note, *design_notes,
                  *(note_text(w) for w in weighting.warnings)]
        return ExportWeighting(None, tuple(notes), settings.to_dict(), by_design)
    result = weighting.result
    weights = np.asarray(result.weights, dtype=float)
    kept = weights[weights > 0]
    dataset = weighting.dataset
    notes = [
        _("Vikterna är desamma som i enkätens rapport: vikt = hur många invånare svaret står för "
          "(summan av vikterna är befolkningens storlek)."),
        *([_("vikt är kalibrerad till befolkningen med designvikt som utgångsvikt; använd vikt för "
             "skattningar av befolkningen, som rapporten.")] if by_design is not None else []),
        *design_notes,
        settings_note,
        _("Viktat till marginalerna: %(margins)s.", margins=", ".join(variable_name(" × ".join(m))
                                                                      for m in weighting.margins)),
    ]
    if dataset is not None:
        notes.append(_("Befolkningssiffror: %(name)s, referensdatum %(date)s, källa %(source)s.",
                       name=dataset.name, date=dataset.reference_date or "–",
                       source=dataset.source_title or dataset.source_name or dataset.source_format or "–"))
    notes.append(_("Konvergerade: %(converged)s efter %(iterations)s iterationer; största relativa fel i "
                   "marginalerna %(error)s.", converged=_("ja") if result.converged else _("nej"),
                   iterations=result.iterations, error=small_number_filter(result.max_relative_error)))
    notes.append(_("Designeffekt (Kish) %(deff)s, effektivt antal svar %(neff)s; vikterna från %(low)s till "
                   "%(high)s, medel %(mean)s, summa %(total)s.", deff=format_number(result.design_effect, 3),
                   neff=format_number(result.effective_sample_size, 1), low=format_number(kept.min(), 2),
                   high=format_number(kept.max(), 2), mean=format_number(kept.mean(), 2),
                   total=format_number(kept.sum(), 0)))
    if result.trimming is not None:
        notes.append(_("Trimning: %(n)s vikter trimmades.", n=int(result.trimming.n_trimmed)))
    notes.extend(note_text(w) for w in weighting.warnings)
    by_record = {record.sort_key: float(weight) for record, weight in zip(records, weights, strict=True)}
    return ExportWeighting(by_record, tuple(notes), settings.to_dict(), by_design)


def _settings_note(settings: results.ReportSettings) -> str:
    method = method_name(settings.method) if settings.method in METHODS else _("okänd (%(name)s)",
                                                                                 name=settings.method)
    trim = _("ingen trimning") if settings.trim_lower is None and settings.trim_upper is None else \
        _("gränser %(low)s–%(high)s gånger medelvikten", low=_decimal(settings.trim_lower),
          high=_decimal(settings.trim_upper))
    collapse = "; ".join(f"{variable_name(variable)}: " + ", ".join("+".join(group) for group in groups)
                         for variable, groups in settings.collapse.items()) or _("inga")
    return _("Viktningsinställningar: %(state)s, metod %(method)s, marginaler %(margins)s, %(trim)s, "
             "sammanslagna grupper %(collapse)s.",
             state=_("viktning på") if settings.enabled else _("viktning avstängd"), method=method,
             margins=", ".join(variable_name(" × ".join(m)) for m in settings.margins), trim=trim,
             collapse=collapse)


def _decimal(value: float | None) -> str:
    """A trimming bound as the analyst gave it, in the locale ("0,3" in Swedish); "–" when none."""
    if value is None:
        return "–"
    return format_number(value, 6).rstrip("0").rstrip(",.") if value != int(value) else format_number(value, 0)
