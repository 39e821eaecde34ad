"""Panel health: the active panel against the population, recruitment, attrition and contacts.

Services take a Session and never commit. Every number that reaches a page is a
finite float, an int or None (with the reason beside it): never NaN or Infinity.

Definitions used on the page:

* **active panel**: members with status ``active`` (they can be invited now);
  paused and unsubscribed members are counted under attrition.
* **age**: the age reached in ``today``'s year, in the default age bands.
* **weighted**: the active panel raked to the population's one-way margins
  (gender, age band, district: those the figures have) with
  :func:`analysis.weighting.weight`; members outside every age band or with a
  district the figures lack get weight 0, genders without figures ("annan",
  "uppger_ej") are weighted by the analysis package's rule for uncovered categories.
* **inactive**: an active member who was invited at least once in the last
  ``INACTIVE_MONTHS`` months (invitations older than ``ANSWER_GRACE_DAYS`` days) and
  completed none of those surveys; **never opened**: an active member invited at
  least once who has never opened a survey link.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import Table, and_, func, select
from sqlalchemy.orm import Session

from analysis.representativeness import compare_to_population
from analysis.rindicator import r_indicator
from analysis.targets import DEFAULT_AGE_BANDS, PopulationTable
from analysis.weighting import weight
from panel.db import Base
from panel.health import messages
from panel.models import District, Member, PanelExit, PopulationDataset, RecruitmentWave
from panel.members.forms import GENDER_CHOICES
from panel.models.member import MemberSource, MemberStatus
from panel.population.services import load_population, population_in_use
from panel.recruitment.services import Tally, strata

VARIABLES = ("gender", "age_group", "district")
CROSSES = (("gender", "age_group"), ("district", "gender"), ("district", "age_group"))
INACTIVE_MONTHS = 6
ANSWER_GRACE_DAYS = 14
CONTACT_WINDOWS = (30, 90, 365)
INVITATION_TABLE = "survey_invitation"


def finite(value: object) -> float | None:
    """A float for the page, or None when the value is missing, NaN or infinite."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------- data classes


@dataclass(frozen=True)
class CompareRow:
    keys: tuple[str, ...]  # one level per variable ("kvinna", "16-24")
    count: int
    share: float | None
    population: int
    population_share: float | None
    difference_pp: float | None
    weighted_share: float | None
    weighted_difference_pp: float | None


@dataclass(frozen=True)
class Comparison:
    variables: tuple[str, ...]
    rows: list[CompareRow]
    n_compared: int
    n_excluded: int
    dissimilarity: float | None
    weighted_dissimilarity: float | None
    p_value: float | None
    empty_population: list[tuple[str, ...]]  # categories with zero population (shares explained, not divided by)


@dataclass(frozen=True)
class WeightingSummary:
    method: str
    variables: tuple[str, ...]
    n_weighted: int  # members with a weight above 0
    n_dropped: int
    design_effect: float | None
    effective_n: float | None
    min_weight: float | None
    max_weight: float | None
    converged: bool
    partial: bool  # categories without members were left out (R's partial=TRUE)


@dataclass(frozen=True)
class SourceRow:
    label: str  # "open" or a wave's name
    members: int
    share: float | None


@dataclass(frozen=True)
class RateRow:
    key: str
    invited: int
    joined: int
    rate: float | None


@dataclass(frozen=True)
class JoinRates:
    total: RateRow
    by_wave: list[RateRow]
    by_gender: list[RateRow]
    by_age_group: list[RateRow]
    by_district: list[RateRow]
    by_stratum: list[tuple[str, str, str, RateRow]]  # gender, age band, district code, rates
    r_indicator: float | None
    r_indicator_ci: tuple[float | None, float | None]
    r_indicator_problem: str | None
    r_indicator_notes: tuple[str, ...] = ()  # the computation's warnings, in the page's language


@dataclass(frozen=True)
class Attrition:
    active: int
    paused: int
    unsubscribed: int
    pending: int
    left_total: int
    left_last_12_months: int
    invited_recently: int | None  # active members invited in the window (None: no survey module)
    inactive: int | None
    never_opened: int | None
    never_invited: int | None


@dataclass(frozen=True)
class ContactRow:
    days: int
    invitations: int
    members_contacted: int
    per_active_member: float | None
    max_per_member: int
    distribution: dict[str, int]  # "0", "1", "2", "3+" invitations → active members


@dataclass(frozen=True)
class PanelHealth:
    dataset: PopulationDataset | None
    today: date
    n_active: int
    variables: tuple[str, ...]  # those the population figures have
    missing_variables: tuple[str, ...]  # of VARIABLES, not in the figures
    comparisons: list[Comparison]
    weighting: WeightingSummary | None
    weighting_problem: str | None
    sources: list[SourceRow]
    join_rates: JoinRates
    attrition: Attrition
    contacts: list[ContactRow] | None
    district_names: dict[str, str]
    notes: list[str] = field(default_factory=list)

    def comparison(self, *variables: str) -> Comparison | None:
        return next((c for c in self.comparisons if c.variables == tuple(variables)), None)


# ---------------------------------------------------------------- inputs


def active_members_frame(session: Session, *, today: date) -> pd.DataFrame:
    """One row per active member: gender, age_group (None outside the bands), district (code)."""
    rows = session.execute(select(Member.gender, Member.birth_year, District.code)
                           .join(District, Member.district_id == District.id)
                           .where(Member.status == MemberStatus.ACTIVE)
                           .order_by(Member.id)).all()
    bands = {year: DEFAULT_AGE_BANDS.label_for(today.year - year) for year in {r[1] for r in rows}}
    return pd.DataFrame({
        "gender": pd.Series([r[0] for r in rows], dtype=object),
        "age_group": pd.Series([bands[r[1]] for r in rows], dtype=object),
        "district": pd.Series([r[2] for r in rows], dtype=object),
    })


def population_targets(table: PopulationTable) -> tuple[PopulationTable, tuple[str, ...], list[str]]:
    """The table in the panel's age bands, the variables it has, and notes."""
    notes: list[str] = []
    if "age" in table.dims or "age_group" in table.dims:
        try:
            table = table.with_age_bands(DEFAULT_AGE_BANDS)
        except ValueError as error:
            notes.append(messages.age_bands_problem(error))
            variables = tuple(v for v in VARIABLES if v in table.dims and v != "age_group")
            return table, variables, notes
    variables = tuple(v for v in VARIABLES if v in table.dims)
    return table, variables, notes


def _margins(table: PopulationTable, variables: Sequence[str]) -> dict:
    targets: dict = {v: table.margin(v) for v in variables}
    if not table.one_way:
        for cross in CROSSES:
            if all(v in variables for v in cross):
                targets[cross] = table.margin(cross)
    return targets


# ---------------------------------------------------------------- composition


def _comparisons(members: pd.DataFrame, targets: dict, weights: np.ndarray | None,
                 notes: list[str]) -> list[Comparison]:
    out = []
    for key, target in targets.items():
        variables = (key,) if isinstance(key, str) else tuple(key)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = compare_to_population(members, {key: target}, weights=weights)
        except ValueError as error:
            notes.append(messages.comparison_problem(error, variables))
            continue
        summary = result.summaries[0]
        frame = result.table[result.table["variable"] == summary.variable]
        rows = []
        empty = []
        for _i, row in frame.iterrows():
            keys = tuple(str(row[v]) for v in variables)
            population = int(row["population"])
            if population == 0:
                empty.append(keys)
            rows.append(CompareRow(
                keys=keys, count=int(row["count"]), share=finite(row["share"]), population=population,
                population_share=finite(row["population_share"]), difference_pp=finite(row["difference_pp"]),
                weighted_share=finite(row["weighted_share"]) if weights is not None else None,
                weighted_difference_pp=finite(row["weighted_difference_pp"]) if weights is not None else None,
            ))
        out.append(Comparison(
            variables=variables, rows=rows, n_compared=int(summary.n_compared), n_excluded=summary.n_excluded,
            dissimilarity=finite(summary.dissimilarity),
            weighted_dissimilarity=finite(summary.weighted_dissimilarity) if weights is not None else None,
            p_value=finite(summary.p_value), empty_population=empty,
        ))
    return out


def _weight(members: pd.DataFrame, table: PopulationTable, variables: tuple[str, ...],
            labels: dict[str, str] | None = None) -> tuple[np.ndarray | None, WeightingSummary | None, str | None]:
    if not variables:
        return None, None, _("Befolkningsuppgifterna har varken kön, ålder eller område att väga efter.")
    targets = {v: table.margin(v) for v in variables}
    problem: ValueError | None = None
    for partial in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Leaving out empty categories shrinks only their margin: the partial pass
                # scales every margin to the first one's total, or raking refuses the mismatch.
                result = weight(members[list(variables)], targets, "rake", drop_unmatched=True, partial=partial,
                                align_totals=partial, on_nonconvergence="warn", summary_by=None)
        except ValueError as error:
            problem = error
            continue
        w = np.asarray(result.weights, dtype=float)
        kept = w[w > 0]
        return w, WeightingSummary(
            method="rake", variables=variables, n_weighted=int(kept.size), n_dropped=int((w <= 0).sum()),
            design_effect=finite(result.design_effect), effective_n=finite(result.effective_sample_size),
            min_weight=finite(kept.min()) if kept.size else None, max_weight=finite(kept.max()) if kept.size else None,
            converged=bool(result.converged), partial=partial,
        ), None
    assert problem is not None
    return None, None, messages.weighting_problem(problem, labels or {})


# ---------------------------------------------------------------- sources, join rates


def _sources(session: Session) -> list[SourceRow]:
    wave_names = dict(session.execute(select(RecruitmentWave.id, RecruitmentWave.name)).all())
    rows = session.execute(select(Member.source, Member.recruitment_wave_id, func.count())
                           .where(Member.status == MemberStatus.ACTIVE)
                           .group_by(Member.source, Member.recruitment_wave_id)).all()
    counts: dict[str, int] = {}
    for source, wave_id, n in rows:
        label = MemberSource.OPEN.value if source == MemberSource.OPEN else wave_names.get(wave_id, f"#{wave_id}")
        counts[label] = counts.get(label, 0) + n
    total = sum(counts.values())
    ordered = sorted(counts, key=lambda label: (label != MemberSource.OPEN.value, label))
    return [SourceRow(label, counts[label], counts[label] / total if total else None) for label in ordered]


def _rate(key: str, tally: Tally) -> RateRow:
    return RateRow(key, tally.invited, tally.joined, tally.rate)


def _join_rates(session: Session, district_names: dict[str, str] | None = None) -> JoinRates:
    from panel.recruitment.services import wave_totals

    rows = strata(session)
    total = sum((row.tally for row in rows), Tally())
    margins: dict[str, dict[str, Tally]] = {"gender": {}, "age_group": {}, "district": {}}
    for row in rows:
        for name, key in (("gender", row.gender), ("age_group", row.age_band), ("district", row.district_code)):
            margins[name][key] = margins[name].get(key, Tally()) + row.tally
    bands = list(DEFAULT_AGE_BANDS.labels)
    order = {
        "gender": lambda k: (k != "kvinna", k),
        "age_group": lambda k: (bands.index(k) if k in bands else len(bands), k),
        "district": lambda k: k,
    }
    by = {name: [_rate(k, margins[name][k]) for k in sorted(margins[name], key=order[name])] for name in margins}
    r_value, ci, problem, notes = None, (None, None), None, ()
    if total.invited == 0:
        problem = _("Ingen rekrytering med brev har gjorts ännu.")
    elif total.joined == 0 or total.joined == total.invited:
        problem = _("R-indikatorn kräver att några men inte alla inbjudna har gått med.")
    else:
        records = []
        for row in rows:
            records += [(row.gender, row.age_band, row.district_code, 1)] * row.tally.joined
            records += [(row.gender, row.age_band, row.district_code, 0)] * (row.tally.invited - row.tally.joined)
        frame = pd.DataFrame(records, columns=["gender", "age_group", "district", "joined"])
        variables = [v for v in ("gender", "age_group", "district") if frame[v].nunique() > 1]
        if not variables:
            problem = _("Alla inbjudna tillhör samma grupp, så det finns inget att jämföra.")
        else:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    indicator = r_indicator(frame, "joined", variables=variables)
                r_value = finite(indicator.r)
                ci = (finite(indicator.ci_low), finite(indicator.ci_high))
                labels = {**{str(c.value): str(c.label) for c in GENDER_CHOICES}, **(district_names or {})}
                notes = tuple(messages.r_indicator_notes(
                    indicator.notes, caught, joined=True,
                    category_label=lambda variable, value: labels.get(value, value) if variable != "age_group"
                    else value))
            except (ValueError, np.linalg.LinAlgError) as error:
                problem = messages.r_indicator_problem(error)
    return JoinRates(
        total=_rate("total", total),
        by_wave=[_rate(wave.name, tally) for wave, tally in wave_totals(session)],
        by_gender=by["gender"], by_age_group=by["age_group"], by_district=by["district"],
        by_stratum=[(r.gender, r.age_band, r.district_code, _rate("", r.tally)) for r in rows],
        r_indicator=r_value, r_indicator_ci=ci, r_indicator_problem=problem, r_indicator_notes=notes,
    )


# ---------------------------------------------------------------- attrition, contacts


def invitation_table() -> Table | None:
    """The survey invitations' table, when the surveys package has put it on the metadata.

    panel may not import surveys (see tests/test_architecture.py); the app factory
    registers the surveys blueprints, whose models add the table to the shared metadata.
    """
    return Base.metadata.tables.get(INVITATION_TABLE)


def _attrition(session: Session, now: datetime) -> Attrition:
    statuses = dict(session.execute(select(Member.status, func.count()).group_by(Member.status)).all())
    year_ago = (now - timedelta(days=365)).strftime("%Y-%m")
    left_total = session.scalar(select(func.count()).select_from(PanelExit)) or 0
    left_recent = session.scalar(select(func.count()).select_from(PanelExit)
                                 .where(PanelExit.left_month > year_ago)) or 0
    recent = inactive = never_opened = never_invited = None
    invitations = invitation_table()
    if invitations is not None:
        inv = invitations.c
        active = Member.status == MemberStatus.ACTIVE
        since = now - timedelta(days=30 * INACTIVE_MONTHS)
        until = now - timedelta(days=ANSWER_GRACE_DAYS)
        per_member = (select(inv.member_id, func.count().label("n"), func.count(inv.completed_at).label("done"))
                      .where(inv.member_id.is_not(None), inv.created_at >= since, inv.created_at <= until)
                      .group_by(inv.member_id).subquery())
        recent = session.scalar(select(func.count()).select_from(per_member)
                                .join(Member, Member.id == per_member.c.member_id).where(active)) or 0
        inactive = session.scalar(select(func.count()).select_from(per_member)
                                  .join(Member, Member.id == per_member.c.member_id)
                                  .where(active, per_member.c.done == 0)) or 0
        ever = (select(inv.member_id, func.count(inv.opened_at).label("opened"))
                .where(inv.member_id.is_not(None)).group_by(inv.member_id).subquery())
        never_opened = session.scalar(select(func.count()).select_from(ever)
                                      .join(Member, Member.id == ever.c.member_id)
                                      .where(active, ever.c.opened == 0)) or 0
        invited_ever = session.scalar(select(func.count()).select_from(ever)
                                      .join(Member, Member.id == ever.c.member_id).where(active)) or 0
        never_invited = statuses.get(MemberStatus.ACTIVE, 0) - invited_ever
    return Attrition(
        active=statuses.get(MemberStatus.ACTIVE, 0), paused=statuses.get(MemberStatus.PAUSED, 0),
        unsubscribed=statuses.get(MemberStatus.UNSUBSCRIBED, 0), pending=statuses.get(MemberStatus.PENDING, 0),
        left_total=left_total, left_last_12_months=left_recent, invited_recently=recent, inactive=inactive,
        never_opened=never_opened, never_invited=never_invited,
    )


def _contacts(session: Session, now: datetime, n_active: int) -> list[ContactRow] | None:
    invitations = invitation_table()
    if invitations is None:
        return None
    inv = invitations.c
    out = []
    for days in CONTACT_WINDOWS:
        counts = [n for (n,) in session.execute(
            select(func.count()).select_from(invitations)
            .join(Member, and_(Member.id == inv.member_id, Member.status == MemberStatus.ACTIVE))
            .where(inv.created_at >= now - timedelta(days=days))
            .group_by(inv.member_id))]
        total = sum(counts)
        distribution = {"0": n_active - len(counts), "1": counts.count(1), "2": counts.count(2),
                        "3+": sum(1 for n in counts if n >= 3)}
        out.append(ContactRow(days=days, invitations=total, members_contacted=len(counts),
                              per_active_member=total / n_active if n_active else None,
                              max_per_member=max(counts, default=0), distribution=distribution))
    return out


# ---------------------------------------------------------------- the page


def panel_health(session: Session, *, now: datetime) -> PanelHealth:
    """Everything the panel health page shows, computed from the figures in use."""
    today = now.date()
    dataset = population_in_use(session)
    members = active_members_frame(session, today=today)
    district_names = dict(session.execute(select(District.code, District.name)).all())
    notes: list[str] = []
    comparisons: list[Comparison] = []
    weighting = None
    weighting_problem = None
    variables: tuple[str, ...] = ()
    if dataset is not None:
        table, variables, notes = population_targets(load_population(dataset))
        if len(members) == 0:
            notes.append(_("Panelen har inga aktiva medlemmar ännu, så det finns inget att jämföra."))
        elif variables:
            weights, weighting, weighting_problem = _weight(members, table, variables, district_names)
            comparisons = _comparisons(members, _margins(table, variables), weights, notes)
    n_active = len(members)
    return PanelHealth(
        dataset=dataset, today=today, n_active=n_active, variables=variables,
        missing_variables=tuple(v for v in VARIABLES if v not in variables) if dataset is not None else (),
        comparisons=comparisons, weighting=weighting, weighting_problem=weighting_problem,
        sources=_sources(session), join_rates=_join_rates(session, district_names), attrition=_attrition(session, now),
        contacts=_contacts(session, now, n_active), district_names=district_names, notes=notes,
    )


# ---------------------------------------------------------------- recruitment planner


@dataclass(frozen=True)
class PlanStratum:
    gender: str | None
    age_group: str | None
    district: str | None
    birth_years: tuple[int, int | None] | None  # (earliest, latest) birth year to draw; None: no age
    current_members: int
    join_rate: float | None
    rate_from_prior_only: bool
    invitations: int
    expected_joiners: float | None


@dataclass(frozen=True)
class PlanMargin:
    variable: str
    category: str
    population_share: float | None
    share_before: float | None
    share_after: float | None
    difference_before_pp: float | None
    difference_after_pp: float | None
    within_tolerance: bool


@dataclass(frozen=True)
class Plan:
    variables: tuple[str, ...]
    invitations: int
    expected_new_members: float | None
    tolerance_pp: float
    optimal: bool
    history_invited: int
    prior_rate: float | None
    strata: list[PlanStratum]  # those with invitations > 0, then the rest are left out
    margins: list[PlanMargin]
    year: int


class PlanProblem(ValueError):
    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


def _birth_years(label: str | None, year: int) -> tuple[int, int | None] | None:
    band = next((b for b in DEFAULT_AGE_BANDS.bands if b.label == label), None)
    if band is None:
        return None
    earliest = None if band.upper is None else year - band.upper
    return (year - band.lower, earliest)  # (latest birth year, earliest birth year or None = open)


def plan_recruitment(session: Session, *, now: datetime, tolerance_pp: float = 2.0,
                     new_members: int | None = None, prior_rate: float | None = None) -> Plan:
    """Invitations per stratum for a new wave (analysis.recruitment.plan_recruitment).

    The strata are gender × age band × district, as far as the population figures
    in use have them; the join rates are those of earlier waves (shrunk towards
    their overall rate, or towards ``prior_rate`` when there is no history).
    """
    from analysis.recruitment import plan_recruitment as plan_strata

    dataset = population_in_use(session)
    if dataset is None:
        raise PlanProblem(_("Det finns inga befolkningsuppgifter. Ladda upp SCB:s siffror först."))
    table, variables, _notes = population_targets(load_population(dataset))
    if not variables:
        raise PlanProblem(_("Befolkningsuppgifterna har varken kön, ålder eller område att planera efter."))
    members = active_members_frame(session, today=now.date())
    targets: dict = {v: table.margin(v) for v in variables}
    if len(variables) > 1 and not table.one_way:
        targets[tuple(variables)] = table.margin(list(variables))
    rows = strata(session)
    history = pd.DataFrame(
        [(r.gender, r.age_band, r.district_code, r.tally.invited, r.tally.joined) for r in rows],
        columns=["gender", "age_group", "district", "invited", "joined"],
    )
    history_invited = int(history["invited"].sum()) if len(history) else 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plan = plan_strata(members, targets, history, tolerance_pp=tolerance_pp, new_members=new_members,
                               variables=variables, margins=list(variables), prior_rate=prior_rate,
                               time_limit=5.0)
    except ValueError as error:
        names = dict(session.execute(select(District.code, District.name)).all())
        raise PlanProblem(_("Ingen plan kunde räknas fram med de här inställningarna."),
                          messages.plan_problem(error, names)) from None
    year = now.year
    chosen = []
    for _i, row in plan.strata.iterrows():
        if int(row["invitations"]) <= 0:
            continue
        get = lambda name: str(row[name]) if name in variables else None  # noqa: E731
        chosen.append(PlanStratum(
            gender=get("gender"), age_group=get("age_group"), district=get("district"),
            birth_years=_birth_years(get("age_group"), year) if "age_group" in variables else None,
            current_members=int(row["current_members"]), join_rate=finite(row["join_rate"]),
            rate_from_prior_only=bool(row["rate_from_prior_only"]), invitations=int(row["invitations"]),
            expected_joiners=finite(row["expected_joiners"]),
        ))
    margins = [PlanMargin(
        variable=str(m["variable"]), category=str(m["category"]), population_share=finite(m["population_share"]),
        share_before=finite(m["share_before"]), share_after=finite(m["share_after"]),
        difference_before_pp=finite(m["difference_before_pp"]), difference_after_pp=finite(m["difference_after_pp"]),
        within_tolerance=bool(m["within_tolerance"]),
    ) for _i, m in plan.margins.iterrows()]
    return Plan(variables=variables, invitations=int(plan.invitations),
                expected_new_members=finite(plan.expected_new_members), tolerance_pp=float(tolerance_pp),
                optimal=bool(plan.optimal), history_invited=history_invited, prior_rate=finite(plan.prior_rate),
                strata=chosen, margins=margins, year=year)


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def draw_request_csv(plan: Plan, district_names: dict[str, str]) -> str:
    """How many people per stratum to draw from the population register (folkbokföringen), as CSV."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["kon", "aldersgrupp", "fodd_fran_och_med", "fodd_till_och_med", "omradeskod", "omrade",
                     "antal_att_dra", "forvantad_svarsandel", "forvantat_antal_nya_medlemmar"])
    for s in plan.strata:
        latest, earliest = s.birth_years if s.birth_years else (None, None)
        writer.writerow([
            _cell(s.gender or "alla"), _cell(s.age_group or "alla"), "" if earliest is None else earliest,
            "" if latest is None else latest, _cell(s.district or "alla"),
            _cell(district_names.get(s.district or "", "alla")), s.invitations,
            "" if s.join_rate is None else f"{s.join_rate:.4f}",
            "" if s.expected_joiners is None else f"{s.expected_joiners:.1f}",
        ])
    return "\ufeff" + out.getvalue()


def panel_district_names(session: Session) -> list[tuple[str, str]]:
    return [(code, name) for code, name in session.execute(select(District.code, District.name))]
