"""The analyst's survey report (/staff/surveys/<id>/report), its weighting settings and
the trend of a question across surveys.

The report is computed when the page is loaded, from the settings as they are (so a
change of settings re-computes it); the page renders the same ReportDocument that a
publication freezes. Charts are server-side SVG with the numbers in a table beside them.
"""

from __future__ import annotations


import click
from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from panel import charts
from panel.charts import format_number, format_percent
from panel.accounts.access import role_required
from panel.extensions import db
from panel.models import PopulationDataset
from panel.population.services import population_in_use
from surveys.models import Survey
from surveys.results import document as doc
from surveys.results import services
from surveys.results.forms import SettingsForm
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
