"""Panel health (/staff/health) and the recruitment planner for analysts."""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from panel.accounts.access import role_required
from panel.db import utcnow
from panel.extensions import db
from panel import charts
from panel.health import services
from panel.health.forms import PlanForm
from panel.overview.views import LABELS
from panel.recruitment.forms import WaveForm

bp = Blueprint("health", __name__, url_prefix="/staff/health")


@bp.app_template_filter("percent_value")
def percent_value(value: float | None, digits: int = 1) -> str:
    """A proportion as per cent in the page's locale: "42,5\u00a0%" (sv), "42.5%" (en); None → "–"."""
    return charts.format_percent(value, digits)


@bp.app_template_filter("number_value")
def number_value(value: float | None, digits: int = 1) -> str:
    """A number in the page's locale ("1\u00a0234,5" / "1,234.5", minus U+2212 in Swedish); None → "–"."""
    return charts.format_number(value, digits)


@bp.app_template_filter("points_value")
def points_value(value: float | None, digits: int = 1) -> str:
    """A difference in percentage points with its sign ("+1,5", "−2,0"); None → "–"."""
    return charts.format_number(value, digits, signed=True)


@bp.app_template_filter("count_value")
def count_value(value: int | None) -> str:
    """A count with the locale's digit grouping ("50\u00a0000" / "50,000"); None → "–"."""
    return charts.format_number(value, 0)


TITLES = {"gender": _l("Kön: panelen och befolkningen"), "age_group": _l("Ålder: panelen och befolkningen"),
          "district": _l("Område: panelen och befolkningen")}


@bp.get("/")
@role_required("analyst")
def index():
    health = services.panel_health(db.session, now=utcnow())
    labels = {**LABELS, **health.district_names}
    return render_template("health/index.html", health=health, labels=labels, charts=_charts(health, labels),
                           inactive_months=services.INACTIVE_MONTHS, grace_days=services.ANSWER_GRACE_DAYS)


@lru_cache(maxsize=64)
def _grouped_chart(categories: tuple[str, ...], series: tuple[tuple[str, tuple], ...], title: str,
                   locale: str) -> str:
    """panel.charts is deterministic (same input and locale, same SVG), so an unchanged panel
    reuses its charts; ``locale`` is part of the key because the numbers are written in it."""
    return charts.grouped_bar_chart(list(categories), {name: list(values) for name, values in series}, title=title)


def _charts(health: services.PanelHealth, labels: dict) -> dict[str, str]:
    """One SVG per one-way margin: the panel's share beside the population's (the table has the same numbers)."""
    out = {}
    for comparison in health.comparisons:
        if len(comparison.variables) != 1:
            continue
        variable = comparison.variables[0]
        out[variable] = _grouped_chart(
            tuple(str(labels.get(row.keys[0], row.keys[0])) for row in comparison.rows),
            ((_("Panelen"), tuple(row.share for row in comparison.rows)),
             (_("Befolkningen"), tuple(row.population_share for row in comparison.rows))),
            str(TITLES[variable]), str(charts.number_locale()))
    return out


def _plan(form: PlanForm):
    """The plan for the form's settings, or the problem; (None, None) when the form is invalid."""
    if request.args and not form.validate():
        return None, None
    try:
        plan = services.plan_recruitment(
            db.session, now=utcnow(),
            tolerance_pp=float(form.tolerance.data if form.tolerance.data is not None else 2),
            new_members=form.new_members.data,
            prior_rate=float(form.prior_rate.data) / 100 if form.prior_rate.data is not None else None)
    except services.PlanProblem as problem:
        return None, problem
    return plan, None


@bp.get("/planner")
@role_required("analyst")
def planner():
    form = PlanForm(request.args)
    plan, problem = _plan(form)
    names = dict(services.panel_district_names(db.session))
    wave_form = WaveForm(formdata=None, name=_("Rekrytering enligt plan %(date)s", date=utcnow().date().isoformat()))
    status = 400 if form.errors else 200
    return render_template("health/planner.html", form=form, plan=plan, problem=problem,
                           labels={**LABELS, **names}, wave_form=wave_form,
                           has_population=services.population_in_use(db.session) is not None), status


@bp.get("/planner/draw-request.csv")
@role_required("analyst")
def draw_request():
    form = PlanForm(request.args)
    plan, problem = _plan(form)
    if plan is None:
        return render_template("health/planner.html", form=form, plan=None, problem=problem, labels=LABELS,
                               wave_form=None, has_population=True), 400
    body = services.draw_request_csv(plan, dict(services.panel_district_names(db.session)))
    return Response(body, content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=urvalsbestallning-{plan.year}.csv"})
