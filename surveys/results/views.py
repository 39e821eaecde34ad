"""The analyst's survey report (/staff/surveys/<id>/report), its weighting settings and
the trend of a question across surveys.

The report is computed when the page is loaded, from the settings as they are (so a
change of settings re-computes it); the page renders the same ReportDocument that a
publication freezes. Charts are server-side SVG with the numbers in a table beside them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import click
from babel.numbers import format_scientific
from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from panel import charts
from panel.charts import format_number, format_percent, number_locale
from panel.accounts.access import role_required
from panel.extensions import db
from panel.health.messages import r_indicator_note
from analysis.targets import DEFAULT_AGE_BANDS
from panel.models import District, PopulationDataset
from panel.models.member import Gender
from panel.population.services import population_in_use
from surveys.models import Survey
from surveys.results import document as doc
from surveys.results import services
from surveys.results.forms import SettingsForm
from surveys.results.methods import METHOD_NAMES, VARIABLE_NAMES
from surveys.results.trend import question_trend

bp = Blueprint("results", __name__, url_prefix="/staff/surveys/<int:survey_id>/report", cli_group="results")


# --------------------------------------------------------------------------- template helpers


def _lang() -> str:
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "sv"


@bp.app_template_filter("texts")
def texts_filter(texts: dict | None, fallback: str = "") -> str:
    """A ``{"sv": ..., "en": ...}`` text in the page's language (else Swedish)."""
    if not texts:
        return fallback
    return texts.get(_lang()) or texts.get("sv") or next(iter(texts.values()), fallback)


@bp.app_template_filter("share")
def share_filter(value: float | None, digits: int = 1) -> str:
    """A proportion as per cent in the page's locale: 0.425 → "42,5 %" (sv), "42.5%" (en); None (or NaN) → "–"."""
    return format_percent(value, digits)


@bp.app_template_filter("number")
def number_filter(value: float | None, digits: int = 2) -> str:
    """A number in the page's locale (Swedish: decimal comma, U+2212 minus); None (or NaN) → "–"."""
    return format_number(value, digits)


@bp.app_template_filter("small_number")
def small_number_filter(value: float | None) -> str:
    """A tiny number (a relative error) in scientific form in the page's locale: "1,2E-07" (sv)."""
    if value is None:
        return "–"
    return format_scientific(value, "0.0E00", locale=number_locale()).replace("-", "\u2212")


@bp.app_template_filter("when")
def when_filter(value: str | datetime | None) -> str:
    """An ISO 8601 time (UTC) as the reader's locale writes it, in Swedish time (Europe/Stockholm,
    the app's Babel time zone): "2026-11-23T07:49:34.790073Z" → "2026-11-23 08:49" (sv)."""
    if not value:
        return "–"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value, "short")


@bp.app_template_filter("variable_name")
def variable_name(name: str | None) -> str:
    """A background variable or margin as readers call it: "gender" → "kön",
    "gender × age_group" → "kön × åldersgrupp" (English pages: "gender × age group")."""
    if not name:
        return ""
    index = 1 if _lang() == "en" else 0
    return " × ".join(VARIABLE_NAMES.get(part.strip(), (part.strip(),) * 2)[index]
                      for part in str(name).split("×"))


@bp.app_template_filter("method_name")
def method_name(name: str | None) -> str:
    """A weighting method as readers call it: "rake" → "räfsning (iterativ proportionell anpassning)"."""
    if not name:
        return ""
    return METHOD_NAMES.get(name, (name, name))[1 if _lang() == "en" else 0]


def _category(variable: str | None, value: Hashable, labels: Mapping[str, Mapping[str, Any]] | None) -> str:
    known = (labels or {}).get(variable or "", {}) or (
        services.GENDER_LABELS if variable == "gender" else {})
    texts = known.get(str(value))
    return texts_filter(texts, str(value)) if texts else str(value)


def _quoted(variable: str | None, values: Iterable[Hashable], labels: Mapping[str, Mapping[str, Any]] | None,
            limit: int = 5) -> str:
    values = list(values)
    shown = [f"”{_category(variable, v, labels)}”" for v in values[:limit]]
    return ", ".join(shown) + (" …" if len(values) > limit else "")


def _cells(variables: Iterable[str], cells: Iterable[Any], labels: Mapping[str, Mapping[str, Any]] | None,
           limit: int = 5) -> str:
    variables = list(variables)
    cells = list(cells)
    shown = []
    for cell in cells[:limit]:
        parts = cell if isinstance(cell, tuple) else (cell,)
        shown.append("”" + ", ".join(_category(v, p, labels) for v, p in zip(variables, parts)) + "”")
    return ", ".join(shown) + (" …" if len(cells) > limit else "")


# Why an estimate has no value or no interval (``analysis.estimates``' flag codes), in the reader's words.
ESTIMATE_REASONS = {
    "empty_domain": _l("inga svarande i gruppen"),
    "no_answers": _l("ingen i gruppen besvarade frågan (med en vikt över noll)"),
    "nonpositive_weight": _l("vikterna för dem som svarade summerar till noll eller mindre"),
    "single_answer": _l("bara ett svar: medelfelet kan inte skattas"),
    "zero_variance": _l("alla svar är lika: medelfelet är 0 och det finns inget intervall"),
    "boundary_share": _l("alla svar är lika (andelen är 0 eller 100 procent): intervallet är Korn och Graubards "
                         "Clopper–Pearson-intervall med vikternas effektiva antal svar (Kish)"),
    "deff_undefined": _l("vikterna summerar till högst antalet svar, så designeffekten kan inte räknas ut"),
    "too_few_rows": _l("färre än två svarande: ingen varians kan skattas"),
    "calibrated": _l("viktningen bestämmer skattningen (den är ett viktningsmål), så medelfelet är 0"),
}


@bp.app_template_filter("estimate_reason")
def estimate_reason(row: doc.ResultRow) -> str:
    """Why ``row`` has no estimate or interval, from its flag codes (the stored English text
    for a code this version does not know)."""
    codes = [code for code in (row.flag or "").split(";") if code]
    if codes and all(code in ESTIMATE_REASONS for code in codes):
        return "; ".join(str(ESTIMATE_REASONS[code]) for code in codes)
    return row.reason


@bp.app_template_filter("note")
def note_text(note: str, labels: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """A warning in the page's language: a :class:`~surveys.results.document.Note` with a
    code (``weighting.*``, ``rindicator.*``) is explained in the reader's words, with variables
    and categories by their labels (``labels``: a report document's ``domain_labels``); any
    other note is shown as it is."""
    code = getattr(note, "code", "")
    params: Mapping[str, Any] = getattr(note, "params", {}) or {}
    if code.startswith("rindicator."):
        return r_indicator_note(code.removeprefix("rindicator."), params, name_of=variable_name,
                                category_label=lambda variable, value: _category(variable, value, labels))
    if not code.startswith("weighting."):
        return str(note)
    kind = code.removeprefix("weighting.")
    variable = params.get("variable")
    margin = params.get("margin")
    margin_variables = params.get("variables") or tuple(p.strip() for p in (margin or "").split("×"))
    n = format_number(params.get("count", 0), 0)
    what = variable_name(variable)
    where = variable_name(margin)
    categories = params.get("categories", ())
    if kind == "collapsed":
        return _("Grupperna %(categories)s av %(variable)s är sammanslagna till ”%(label)s” i både svaren och "
                 "befolkningssiffrorna.", categories=_quoted(variable, categories, labels, limit=10),
                 variable=what, label=_category(variable, params.get("label", ""), labels))
    if kind == "missing":
        return _("%(n)s svarande saknar uppgift om %(variable)s och får vikten 0.", n=n, variable=what)
    if kind == "untargeted" and variable:
        return _("%(n)s svarande har %(variable)s %(categories)s, som saknar befolkningssiffror, och får vikten 0.",
                 n=n, variable=what, categories=_quoted(variable, categories, labels))
    if kind == "untargeted":
        return _("%(n)s svarande är i grupper av marginalen %(margin)s som saknar befolkningssiffror (till exempel "
                 "%(cells)s) och får vikten 0.", n=n, margin=where,
                 cells=_cells(margin_variables, params.get("cells", categories), labels))
    if kind == "uncovered":
        return _("%(n)s svarande har %(variable)s %(categories)s, som befolkningssiffrorna inte har. De räknas med i "
                 "de andra variablernas totaler, och deras andel i varje grupp skattas från svaren.",
                 n=n, variable=what, categories=_quoted(variable, categories, labels))
    if kind == "zero_target":
        return _("Marginalen %(margin)s: %(n)s svarande är i grupper där befolkningen är 0 och får vikten 0.",
                 margin=where, n=n)
    if kind == "empty_target":
        return _("Marginalen %(margin)s: inga svarande i %(cells)s (befolkning %(population)s), så den delen av "
                 "befolkningen representeras inte.", margin=where,
                 cells=_cells(margin_variables, categories, labels),
                 population=format_number(params.get("population"), 0))
    if kind == "tiny_cell":
        return ngettext("Marginalen %(margin)s: %(num)s grupp har färre än %(min)s svarande (%(cells)s). Vikterna "
                        "där vilar på få svar; överväg att slå ihop små grupper.",
                        "Marginalen %(margin)s: %(num)s grupper har färre än %(min)s svarande (%(cells)s). Vikterna "
                        "där vilar på få svar; överväg att slå ihop små grupper.", len(categories), margin=where,
                        min=params.get("min_cell_size", ""), cells=_cells(margin_variables, categories, labels))
    if kind == "totals_disagree":
        return _("Befolkningssiffrorna för marginalen %(margin)s summerar till en annan total än för %(other)s; "
                 "alla marginaler har skalats till samma total.", margin=where,
                 other=variable_name(params.get("other")))
    if kind == "implied_margin":
        return _("Marginalen %(margin)s är summan av %(through)s. Eftersom några svarande saknar "
                 "befolkningssiffror uppfylls den genom %(through)s och viktas inte för sig.",
                 margin=where, through=variable_name(params.get("through")))
    return str(note)


def _question_chart(question: doc.QuestionResult, labels: dict) -> str | None:
    """The whole-sample weighted result of a question (numeric: mean per breakdown)."""
    title = texts_filter(question.item_text) if question.item_text else texts_filter(question.text)
    if question.kind == "numeric":
        rows = [r for r in question.weighted if r.domain_variable in (doc.OVERALL, "gender", "age_group")]
        if not rows:
            return None
        return charts.bar_chart_with_ci(
            [texts_filter(r.domain_label) for r in rows], [r.estimate for r in rows], [r.ci_low for r in rows],
            [r.ci_high for r in rows], title=title, value_format="number",
            value_max=question.scale_max if question.question_type in ("scale", "matrix") else None,
            chart_id=f"q-{question.key}")
    rows = question.rows(weighted=True)
    if not rows:
        return None
    names = {c.value: texts_filter(c.label, c.value) for c in question.categories}
    return charts.bar_chart_with_ci([names.get(r.category, r.category) for r in rows], [r.estimate for r in rows],
                                    [r.ci_low for r in rows], [r.ci_high for r in rows], title=title,
                                    chart_id=f"q-{question.key}")


def _rate_charts(report: doc.ReportDocument) -> dict[str, str]:
    out = {}
    for variable in services.VARIABLES:
        rows = [r for r in report.representativeness.response_rates if r.variable == variable]
        if len(rows) < 2:
            continue
        out[variable] = charts.bar_chart_with_ci(
            [texts_filter(r.label) for r in rows], [r.rate for r in rows], [r.ci_low for r in rows],
            [r.ci_high for r in rows], title=_("Svarsfrekvens efter %(what)s",
                                              what=texts_filter(services.VARIABLE_TITLES[variable]).lower()),
            estimate_label=_("Svarsfrekvens"), chart_id=f"rate-{variable}")
    return out


# --------------------------------------------------------------------------- pages


@bp.get("")
@role_required("analyst")
def report(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    document = services.build_report(db.session, survey)
    db.session.rollback()  # read only
    question_charts = {q.key: _question_chart(q, document.domain_labels) for q in document.questions}
    return render_template("results/report.html", survey=survey, report=document, charts=question_charts,
                           rate_charts=_rate_charts(document), variable_titles=services.VARIABLE_TITLES)


@bp.get("/report.json")
@role_required("analyst")
def report_json(survey_id: int):
    """The report document as JSON (analyst only: it holds the free-text answers)."""
    survey = db.get_or_404(Survey, survey_id)
    document = services.build_report(db.session, survey)
    db.session.rollback()
    return Response(document.to_json(), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="rapport-{survey.id}.json"'})


def _form(survey: Survey) -> SettingsForm:
    settings = services.settings_for(db.session, survey)
    form = SettingsForm(data={
        "enabled": settings.enabled, "method": settings.method,
        "margins": ["×".join(m) for m in settings.margins],
        "population_dataset": str(settings.population_dataset_id or ""),
        "trim_lower": _decimal_text(settings.trim_lower), "trim_upper": _decimal_text(settings.trim_upper),
        "collapse": "\n".join(f"{variable}: {' + '.join(group)}" for variable, groups in settings.collapse.items()
                              for group in groups),
        "crosstabs": "\n".join(f"{a} × {b}" for a, b in settings.crosstabs),
    })
    datasets = db.session.execute(select(PopulationDataset.id, PopulationDataset.name, PopulationDataset.reference_date)
                                  .order_by(PopulationDataset.uploaded_at.desc(), PopulationDataset.id.desc())).all()
    in_use = population_in_use(db.session)
    default = (_("De som används nu: %(name)s", name=f"{in_use.name} ({in_use.reference_date})"
                 if in_use.reference_date else in_use.name) if in_use is not None
               else _("De som används nu (inga är uppladdade än)"))
    form.population_dataset.choices = [SelectChoice("", default)] + [
        SelectChoice(str(i), f"{name} ({date})" if date else name) for i, name, date in datasets]
    form.known_groups = {"gender": [g.value for g in Gender], "age_group": list(DEFAULT_AGE_BANDS.labels),
                         "district": list(db.session.scalars(select(District.code).order_by(District.code)))}
    return form


def _decimal_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}".replace(".", ",")


@bp.route("/settings", methods=["GET", "POST"])
@role_required("analyst")
def settings(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    form = _form(survey)
    if form.validate_on_submit():
        questions = {q.key: q for q in services.analysed_questions(services.definition_of(survey))}
        bad = [f"{a} × {b}" for a, b in form.crosstabs.parsed
               if getattr(questions.get(a), "kind", None) != "single"
               or (b not in services.VARIABLES and getattr(questions.get(b), "kind", None) != "single")]
        if bad:
            form.crosstabs.errors = [_("Okända eller olämpliga nycklar: %(pairs)s. Raden ska börja med en envalsfråga "
                                       "och sluta med gender, age_group, district eller en annan envalsfråga.",
                                       pairs=", ".join(bad))]
        else:
            new = services.ReportSettings(
                enabled=form.enabled.data, method=form.method.data,
                margins=tuple(tuple(m.split("×")) for m in form.margins.data),
                trim_lower=form.trim_lower.data, trim_upper=form.trim_upper.data,
                collapse={k: tuple(tuple(g) for g in v) for k, v in form.collapse.parsed.items()},
                population_dataset_id=int(form.population_dataset.data) if form.population_dataset.data else None,
                crosstabs=tuple(form.crosstabs.parsed))
            refusal = services.settings_refusal(db.session, survey, new)
            if refusal:
                db.session.rollback()
                form.form_errors.append(_("Inställningarna sparades inte, eftersom svaren inte kan viktas med dem: "
                                          "%(reason)s", reason=refusal))
            else:
                services.save_settings(db.session, survey, new, updated_by_id=current_user.id)
                db.session.commit()
                flash(_("Inställningarna är sparade och rapporten är beräknad med dem."), "success")
                return redirect(url_for(".report", survey_id=survey.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("results/settings.html", survey=survey, form=form), status


@bp.get("/trend/<stable_key>")
@role_required("analyst")
def trend(survey_id: int, stable_key: str):
    survey = db.get_or_404(Survey, survey_id)
    result = question_trend(db.session, stable_key)
    db.session.rollback()
    chart = None
    if result.points:
        chart = charts.trend_chart(
            [p.label for p in result.points],
            [charts.TrendSeries(texts_filter(s.label, s.category), s.estimates, s.ci_low, s.ci_high)
             for s in result.series],
            title=texts_filter(result.text) or stable_key,
            value_format="number" if result.kind == "numeric" else "percent", chart_id=f"trend-{stable_key}")
    return render_template("results/trend.html", survey=survey, trend=result, chart=chart), 200


@bp.cli.command("compact")
def compact_command() -> None:
    """Compact every survey's new responses into its column block (the jobs do it every minute)."""
    from surveys.results import store

    written = store.compact_all(db.session)
    db.session.commit()
    for survey_id, rows in written.items():
        click.echo(f"survey {survey_id}: {rows} responses compacted")
    if not written:
        click.echo("every survey's block is up to date")
