"""Which groups to recruit: invitations per stratum that bring the panel's margins in line.

Given the panel as it is, the population and the join rates seen in earlier
recruitment waves, :func:`plan_recruitment` chooses how many residents to invite
in each stratum (gender × age band × district) so that every margin of the
panel is expected to be within a chosen distance of the population share, with
as few invitations as possible.

Example:
    >>> import pandas as pd
    >>> members = pd.DataFrame({"gender": ["kvinna"] * 60 + ["man"] * 40})
    >>> targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
    >>> history = pd.DataFrame({"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 10]})
    >>> plan = plan_recruitment(members, targets, history, variables=["gender"], tolerance_pp=2.0)
    >>> plan.strata[["gender", "invitations"]].to_numpy().tolist()
    [['kvinna', 0], ['man', 148]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd

from analysis.representativeness import (
    Targets,
    _KEY_SEPARATOR,
    _key_variables,
    _label,
    _match_rows,
    _require_columns,
    _require_frame,
    _validate_target,
)

__all__ = ["RecruitmentPlan", "plan_recruitment"]

_SHARE_SLACK = 1e-6  # numerical slack when checking a margin (a share, not percentage points)


class RecruitmentPlanError(ValueError):
    """No plan can be made; the message says why in the analyst's terms.

    A ``ValueError`` (callers that catch that keep working) with the reason as data,
    for callers that explain it in their own words:

    * ``reason``: ``"no_history"`` (no earlier invitations and no ``prior_rate``),
      ``"no_joiners"`` (nobody joined and no ``prior_rate``), ``"no_members"`` (no
      member in any category of ``variable`` that has figures, and no ``new_members``),
      ``"cannot_recruit"`` (too few in ``variable`` ``category`` and nobody can be
      recruited there), ``"cannot_recruit_outside"`` (too many in ``category`` and
      nobody can be recruited elsewhere), ``"whole_invitations"`` (the tolerance is
      tighter than one invitation moves a share), ``"not_enough_residents"`` (``needed``
      expected joiners would be needed) or ``"infeasible"``;
    * ``tolerance_pp`` and ``new_members`` as given.
    """

    def __init__(self, message: str, *, reason: str, variable: str | None = None, category: str | None = None,
                 tolerance_pp: float | None = None, new_members: int | None = None,
                 needed: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.variable = variable
        self.category = category
        self.tolerance_pp = tolerance_pp
        self.new_members = new_members
        self.needed = needed


@dataclass(frozen=True, eq=False)
class RecruitmentPlan:
    """Invitations per stratum and the margins they are expected to produce.

    Attributes:
        strata: one row per stratum: the variables' levels, ``population``
            (residents, when a joint table was given, else NaN),
            ``target_share`` (population share of the stratum),
            ``current_members``, ``history_invited``, ``history_joined``,
            ``join_rate`` (shrunk, see :func:`plan_recruitment`),
            ``rate_from_prior_only`` (no history: the rate is the prior),
            ``max_invitations``, ``invitations`` (the plan), ``expected_joiners``
            (invitations × join rate) and ``members_after``.
        margins: one row per constrained margin category: ``variable``,
            ``category``, ``population_share``, ``members_before``,
            ``share_before``, ``difference_before_pp``, ``members_after``
            (expected), ``share_after``, ``difference_after_pp`` and
            ``within_tolerance``.
        invitations: total invitations.
        expected_new_members: Σ expected joiners.
        tolerance_pp: the distance the plan was asked to respect.
        new_members: the requested number of new members (None = as few
            invitations as the margins allow).
        optimal: False when the solver stopped at its time limit with a
            feasible but possibly not minimal plan.
        stratum_shares: ``"joint population table"`` or
            ``"product of margins (independence)"``.
        prior_rate, prior_strength: the shrinkage prior of the join rates.
    """

    strata: pd.DataFrame
    margins: pd.DataFrame
    invitations: int
    expected_new_members: float
    tolerance_pp: float
    new_members: int | None
    optimal: bool
    stratum_shares: str
    prior_rate: float
    prior_strength: float


def plan_recruitment(
    members: pd.DataFrame,
    targets: Targets,
    join_history: pd.DataFrame,
    *,
    tolerance_pp: float = 2.0,
    new_members: int | None = None,
    variables: Sequence[str] = ("gender", "age_group", "district"),
    margins: Sequence[str | tuple[str, ...]] | None = None,
    prior_rate: float | None = None,
    prior_strength: float = 10.0,
    time_limit: float = 10.0,
) -> RecruitmentPlan:
    """Fewest invitations per stratum that bring every margin within ``tolerance_pp`` points.

    **Strata** s are the cross-classification of the population categories of
    ``variables`` (so only genders with SCB figures: new residents are drawn
    from the population register). **Join rates** are shrunk towards a prior
    rate p₀ (default: the overall rate of the history) with the weight of
    ``prior_strength`` pseudo-invitations — the posterior mean under a
    Beta(m·p₀, m·(1 − p₀)) prior::

        q_s = (joined_s + m·p₀) / (invited_s + m)

    so a stratum never invited gets p₀ (flagged ``rate_from_prior_only``) and a
    stratum with no joiners yet gets a small positive rate instead of zero.

    **Optimisation** (a mixed-integer linear programme, scipy's HiGHS
    ``milp``). Choose whole invitations x_s ≥ 0; the expected new members are
    y_s = q_s·x_s, Y = Σ y_s. For every constrained margin K (by default every
    target whose variables are among ``variables``: each single margin, and
    crosses or the joint table if the targets contain them) and category c,
    with M_K current members that have a population category on K and
    M_{K,c} of them in c, population share π_c and t = tolerance_pp / 100::

        minimise   Σ_s x_s
        subject to (π_c − t)(M_K + Y) ≤ M_{K,c} + Σ_{s∈c} y_s ≤ (π_c + t)(M_K + Y)
                   Y ≥ new_members                                  (if given)
                   0 ≤ x_s ≤ residents of s not yet in the panel    (integer)

    The share constraints are linear once multiplied by M_K + Y > 0. Residents
    per stratum come from a joint target over all ``variables`` if one is
    given, otherwise the smallest of the stratum's margin counts bounds it.
    Members whose gender has no population figure (``"annan"``,
    ``"uppger_ej"``) count in the age and district margins but not in the
    gender margin, as in
    :func:`analysis.representativeness.compare_to_population`.

    The plan meets the constraints *in expectation*: actual joiners vary
    (binomially) around ``expected_joiners``. Only margins are constrained, so
    the cheapest plan may concentrate invitations in few strata; constrain the
    crosses too (add them to ``targets``) when that matters.

    Args:
        members: current panel members, one row each, with the ``variables``.
        targets: population counts per category (see
            :func:`analysis.representativeness.compare_to_population`); needs
            a single-variable margin for each of ``variables``.
        join_history: earlier invitations: either one row per stratum with
            columns ``invited`` and ``joined`` (counts), or one row per invited
            person with a 0/1 ``joined`` column.
        tolerance_pp: allowed distance from the population share, percentage points.
        new_members: expected number of new members to recruit at least; None
            asks for the fewest invitations that meet the margins.
        variables: stratum variables.
        margins: target keys to constrain (default: all that fit ``variables``).
        prior_rate: p₀; default the overall join rate of ``join_history``.
        prior_strength: m, in pseudo-invitations (0 = no shrinkage).
        time_limit: seconds the solver may use.

    Returns:
        :class:`RecruitmentPlan`.

    Raises:
        ValueError: bad input, or no plan can meet the margins, with the reason
            (a margin category nobody can be recruited into, too few residents
            left, a tolerance tighter than whole invitations allow, ...).

    References:
        Schouten, B., Peytchev, A. & Wagner, J. (2017). Adaptive Survey Design.
        CRC Press (allocating effort to strata by their response propensities).
        Gelman, A. et al. (2013). Bayesian Data Analysis, 3rd ed., ch. 2 (the
        beta-binomial posterior mean used for the join rates). Huangfu, Q. &
        Hall, J. A. J. (2018). Parallelizing the dual revised simplex method.
        Mathematical Programming Computation 10, 119–142 (HiGHS, the solver
        behind :func:`scipy.optimize.milp`).

    Example:
        Women are 60 % of the panel; within 2 points of 50 % needs
        60 / (100 + Y) ≤ 0.52, so Y ≥ 15.4 new men. The men's shrunk join rate
        is (10 + 10 · 0.15) / (100 + 10) = 0.1045 (p₀ = 30/200 = 0.15), so
        15.4 / 0.1045 → 148 invitations.

        >>> import pandas as pd
        >>> members = pd.DataFrame({"gender": ["kvinna"] * 60 + ["man"] * 40})
        >>> targets = {"gender": pd.Series({"kvinna": 5000.0, "man": 5000.0})}
        >>> history = pd.DataFrame(
        ...     {"gender": ["kvinna", "man"], "invited": [100, 100], "joined": [20, 10]})
        >>> plan = plan_recruitment(members, targets, history, variables=["gender"])
        >>> plan.invitations, round(plan.expected_new_members, 1)
        (148, 15.5)
        >>> plan.margins[["category", "share_before", "share_after"]].round(3).to_numpy().tolist()
        [['kvinna', 0.6, 0.52], ['man', 0.4, 0.48]]
    """
    members = _require_frame(members, "members")
    join_history = _require_frame(join_history, "join_history")
    variables = tuple(variables)
    if not variables or len(set(variables)) != len(variables):
        raise ValueError("variables must name one or more distinct columns")
    if not np.isfinite(tolerance_pp) or tolerance_pp < 0:
        raise ValueError("tolerance_pp must be a non-negative number of percentage points, e.g. 2.0")
    if new_members is not None and (int(new_members) != new_members or new_members < 1):
        raise ValueError("new_members must be a positive whole number or None")
    if prior_rate is not None and not 0 < prior_rate <= 1:
        raise ValueError("prior_rate must be a join rate in (0, 1]")
    if not np.isfinite(prior_strength) or prior_strength < 0:
        raise ValueError("prior_strength must be ≥ 0 pseudo-invitations")
    if not time_limit > 0:
        raise ValueError("time_limit must be a positive number of seconds")
    _require_columns(members, variables, "members")
    _require_columns(join_history, variables, "join_history")
    t = tolerance_pp / 100.0

    validated = {}
    for key, series in targets.items():
        key_vars, target = _validate_target(key, series)
        if set(key_vars) <= set(variables):
            validated[key_vars] = target
    missing = [v for v in variables if (v,) not in validated]
    if missing:
        raise ValueError(
            f"targets need a single-variable margin for {', '.join(map(repr, missing))} "
            "to define the strata"
        )
    if margins is None:
        constrained = list(validated)
    else:
        constrained = []
        for key in margins:
            key_vars = _key_variables(key)
            match = next((k for k in validated if set(k) == set(key_vars)), None)
            if match is None:
                raise ValueError(f"margins names {key!r}, which is not among the targets")
            constrained.append(match)

    # ---- strata --------------------------------------------------------------------
    levels = [list(validated[(v,)].index) for v in variables]
    level_labels = [[t_[0] for t_ in lv] for lv in levels]
    combos = list(product(*level_labels))
    strata = pd.DataFrame(combos, columns=list(variables), dtype="string")
    S = len(strata)
    joint_key = next((k for k in validated if set(k) == set(variables) and len(k) == len(variables)), None)
    if joint_key is not None and len(variables) > 1:
        joint = validated[joint_key]
        order = [joint_key.index(v) for v in variables]
        lookup = {tuple(k[i] for i in order): float(v) for k, v in joint.items()}
        population = np.array([lookup.get(c, 0.0) for c in combos])
        target_share = population / population.sum()
        stratum_shares = "joint population table"
        residents = population
    else:
        shares = [validated[(v,)] / validated[(v,)].sum() for v in variables]
        target_share = np.array(
            [np.prod([shares[j][(c[j],)] for j in range(len(variables))]) for c in combos]
        )
        population = np.full(S, np.nan)
        if len(variables) == 1:
            population = validated[(variables[0],)].to_numpy(dtype=float)
            residents = population
            stratum_shares = "joint population table"
        else:
            residents = np.array(
                [min(validated[(v,)][(c[j],)] for j, v in enumerate(variables)) for c in combos]
            )
            stratum_shares = "product of margins (independence)"

    stratum_index = pd.Index(combos, tupleize_cols=False)
    member_position = _match_rows(members, variables, stratum_index, "members")
    current = np.bincount(member_position[member_position >= 0], minlength=S).astype(np.int64)

    # ---- join rates ----------------------------------------------------------------
    hist_invited, hist_joined, total_invited, total_joined = _history_counts(
        join_history, variables, stratum_index
    )
    if prior_rate is None:
        if total_invited <= 0:
            raise RecruitmentPlanError("join_history has no invitations: give prior_rate, an assumed join rate",
                                       reason="no_history", tolerance_pp=tolerance_pp, new_members=new_members)
        prior_rate = total_joined / total_invited
        if prior_rate <= 0:
            raise RecruitmentPlanError(
                "nobody in join_history joined, so the prior join rate would be 0; "
                "give prior_rate, an assumed join rate",
                reason="no_joiners", tolerance_pp=tolerance_pp, new_members=new_members,
            )
    denominator = hist_invited + prior_strength
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(
            denominator > 0, (hist_joined + prior_strength * prior_rate) / denominator, prior_rate
        )
    cap = np.floor(np.maximum(np.nan_to_num(residents, nan=0.0) - current, 0.0) + 1e-9)
    cap[rate <= 0] = 0.0

    # ---- constraints ---------------------------------------------------------------
    rows_lower: list[np.ndarray] = []
    rows_upper: list[np.ndarray] = []
    rhs_lower: list[float] = []
    rhs_upper: list[float] = []
    margin_info: list[tuple[str, str, float, int, int, np.ndarray]] = []
    for key_vars in constrained:
        target = validated[key_vars]
        pi = target.to_numpy(dtype=float) / target.sum()
        positions = [variables.index(v) for v in key_vars]
        stratum_category = _target_positions(combos, positions, target.index)
        member_cat = _match_rows(members, key_vars, target.index, "members")
        M_K = int(np.sum(member_cat >= 0))
        M_Kc = np.bincount(member_cat[member_cat >= 0], minlength=len(target))
        if M_K == 0 and new_members is None:
            raise RecruitmentPlanError(
                f"no member has a {_label(key_vars)} category with a population figure; "
                "give new_members, the number of members to recruit",
                reason="no_members", variable=_label(key_vars), tolerance_pp=tolerance_pp,
            )
        for c in range(len(target)):
            inside = (stratum_category == c).astype(float)
            rows_lower.append(rate * (inside - (pi[c] - t)))
            rhs_lower.append((pi[c] - t) * M_K - M_Kc[c])
            rows_upper.append(rate * (inside - (pi[c] + t)))
            rhs_upper.append((pi[c] + t) * M_K - M_Kc[c])
            margin_info.append(
                (_label(key_vars), _label(target.index[c]), float(pi[c]), M_K, int(M_Kc[c]), inside)
            )

    A = np.vstack([np.vstack(rows_lower), np.vstack(rows_upper)])
    lb = np.concatenate([rhs_lower, np.full(len(rhs_upper), -np.inf)])
    ub = np.concatenate([np.full(len(rhs_lower), np.inf), rhs_upper])
    if new_members is not None:
        A = np.vstack([A, rate[None, :]])
        lb = np.append(lb, float(new_members))
        ub = np.append(ub, np.inf)

    x, optimal = _solve(A, lb, ub, cap, time_limit)
    if x is None:
        raise _infeasibility_reason(A, lb, ub, cap, rate, margin_info, t, new_members, tolerance_pp)

    expected = rate * x
    Y = float(expected.sum())
    strata["population"] = population
    strata["target_share"] = target_share
    strata["current_members"] = current
    strata["history_invited"] = hist_invited
    strata["history_joined"] = hist_joined
    strata["join_rate"] = rate
    strata["rate_from_prior_only"] = hist_invited == 0
    strata["max_invitations"] = cap.astype(np.int64)
    strata["invitations"] = x
    strata["expected_joiners"] = expected
    strata["members_after"] = current + expected

    margin_rows = []
    for variable, category, pi_c, M_K, M_Kc, inside in margin_info:
        after = M_Kc + float(inside @ expected)
        share_before = M_Kc / M_K if M_K else float("nan")
        share_after = after / (M_K + Y) if M_K + Y > 0 else float("nan")
        margin_rows.append(
            {
                "variable": variable,
                "category": category,
                "population_share": pi_c,
                "members_before": M_Kc,
                "share_before": share_before,
                "difference_before_pp": 100.0 * (share_before - pi_c),
                "members_after": after,
                "share_after": share_after,
                "difference_after_pp": 100.0 * (share_after - pi_c),
                "within_tolerance": bool(abs(share_after - pi_c) <= t + _SHARE_SLACK),
            }
        )
    margins_table = pd.DataFrame(margin_rows)
    margins_table["variable"] = margins_table["variable"].astype("string")
    margins_table["category"] = margins_table["category"].astype("string")
    return RecruitmentPlan(
        strata=strata,
        margins=margins_table,
        invitations=int(x.sum()),
        expected_new_members=Y,
        tolerance_pp=float(tolerance_pp),
        new_members=None if new_members is None else int(new_members),
        optimal=optimal,
        stratum_shares=stratum_shares,
        prior_rate=float(prior_rate),
        prior_strength=float(prior_strength),
    )


def _solve(
    A: np.ndarray, lb: np.ndarray, ub: np.ndarray, cap: np.ndarray, time_limit: float
) -> tuple[np.ndarray | None, bool]:
    """Whole invitations minimising Σ x subject to lb ≤ A x ≤ ub, 0 ≤ x ≤ cap.

    First the LP relaxation (its optimum is a lower bound), then the integer
    programme on the strata the LP uses (fast: an LP vertex uses at most as many
    strata as there are constraints), then, if that has no solution, on all
    strata. The plan counts as optimal when it is within 0.1 % (or one
    invitation) of the LP bound.
    """
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    S = cap.size
    finite_lb, finite_ub = np.isfinite(lb), np.isfinite(ub)
    A_ub = np.vstack([-A[finite_lb], A[finite_ub]])
    b_ub = np.concatenate([-lb[finite_lb], ub[finite_ub]])
    relaxed = linprog(np.ones(S), A_ub=A_ub, b_ub=b_ub, bounds=np.column_stack([np.zeros(S), cap]), method="highs")
    if relaxed.status != 0:
        return None, False
    bound = float(relaxed.fun)
    support = relaxed.x > 1e-9
    options = {"time_limit": float(time_limit), "disp": False, "mip_rel_gap": 1e-3}
    for upper in (np.where(support, cap, 0.0), cap):
        result = milp(
            c=np.ones(S),
            integrality=np.ones(S),
            bounds=Bounds(np.zeros(S), upper),
            constraints=LinearConstraint(A, lb, ub),
            options=options,
        )
        if result.x is not None:
            x = np.round(result.x).astype(np.int64)
            total = float(x.sum())
            return x, bool(total - bound <= max(1e-3 * total, 1.0) + 1e-9)
    return None, False


def _target_positions(
    combos: list[tuple[str, ...]], positions: list[int], index: pd.Index
) -> np.ndarray:
    """For each stratum, the position of its category in a target's index."""
    keys = pd.Index([_KEY_SEPARATOR.join(t) for t in index], dtype=object)
    labels = [_KEY_SEPARATOR.join(c[p] for p in positions) for c in combos]
    return np.asarray(keys.get_indexer(labels), dtype=np.intp)


def _history_table(join_history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "joined" not in join_history.columns:
        raise ValueError("join_history needs a 'joined' column (and 'invited' when rows are strata)")
    joined = pd.to_numeric(join_history["joined"], errors="coerce").to_numpy(dtype=float)
    if "invited" in join_history.columns:
        invited = pd.to_numeric(join_history["invited"], errors="coerce").to_numpy(dtype=float)
    else:
        invited = np.ones(len(join_history))
        if not np.all(np.isin(joined[np.isfinite(joined)], (0.0, 1.0))):
            raise ValueError("without an 'invited' column, 'joined' must be 0/1 per invited person")
    if not (np.all(np.isfinite(joined)) and np.all(np.isfinite(invited))):
        raise ValueError("join_history has missing or non-numeric 'invited'/'joined' values")
    if np.any(invited < 0) or np.any(joined < 0) or np.any(joined > invited):
        raise ValueError("join_history must have 0 ≤ joined ≤ invited in every row")
    return invited, joined


def _history_counts(
    join_history: pd.DataFrame, variables: Sequence[str], stratum_index: pd.Index
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Invitations and joins per stratum, and the totals over all rows (which inform p₀)."""
    invited, joined = _history_table(join_history)
    position = _match_rows(join_history, variables, stratum_index, "join_history")
    inside = position >= 0
    S = len(stratum_index)
    return (
        np.bincount(position[inside], weights=invited[inside], minlength=S),
        np.bincount(position[inside], weights=joined[inside], minlength=S),
        float(invited.sum()),
        float(joined.sum()),
    )


def _infeasibility_reason(
    A: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    cap: np.ndarray,
    rate: np.ndarray,
    margin_info: list[tuple[str, str, float, int, int, np.ndarray]],
    t: float,
    new_members: int | None,
    tolerance_pp: float,
) -> RecruitmentPlanError:
    """Explain why no plan meets the margins, in the analyst's terms (the error to raise)."""
    from scipy.optimize import linprog

    S = cap.size
    head = f"no recruitment plan brings every margin within {tolerance_pp:g} percentage points"

    def problem(message: str, reason: str, **detail: object) -> RecruitmentPlanError:
        return RecruitmentPlanError(message, reason=reason, tolerance_pp=tolerance_pp, new_members=new_members,
                                    **detail)  # type: ignore[arg-type]

    reachable = rate * cap  # most expected joiners each stratum can give
    for variable, category, pi_c, M_K, M_Kc, inside in margin_info:
        short = M_K > 0 and M_Kc / M_K < pi_c - t
        if short and float(inside @ reachable) <= 0:
            return problem(
                f"{head}: the panel has too few in {variable} {category!r} and nobody can be "
                "recruited there (join rate 0 or no residents left to invite)",
                "cannot_recruit", variable=variable, category=category,
            )
    for variable, category, pi_c, M_K, M_Kc, inside in margin_info:
        over = M_K > 0 and M_Kc / M_K > pi_c + t
        if over and float((1.0 - inside) @ reachable) <= 0:
            return problem(
                f"{head}: the panel has too many in {variable} {category!r} and nobody can be "
                "recruited outside it",
                "cannot_recruit_outside", variable=variable, category=category,
            )
    A_ub = np.vstack([-A[np.isfinite(lb)], A[np.isfinite(ub)]])
    b_ub = np.concatenate([-lb[np.isfinite(lb)], ub[np.isfinite(ub)]])
    relaxed = linprog(np.ones(S), A_ub=A_ub, b_ub=b_ub, bounds=list(zip(np.zeros(S), cap)), method="highs")
    if relaxed.status == 0:
        return problem(
            f"{head} with whole invitations: the tolerance is tighter than one invitation can "
            "move a share; widen tolerance_pp",
            "whole_invitations",
        )
    uncapped = linprog(
        np.ones(S),
        A_ub=A_ub,
        b_ub=b_ub,
        bounds=[(0, None if r > 0 else 0) for r in rate],
        method="highs",
    )
    if uncapped.status == 0:
        needed = float(rate @ uncapped.x)
        wanted = f" {new_members} new members" if new_members is not None else " the margins"
        return problem(
            f"{head}: there are not enough residents left to invite in some strata to reach"
            f"{wanted} (an unlimited population would need about {needed:.0f} expected "
            "joiners); lower new_members or widen tolerance_pp",
            "not_enough_residents", needed=needed,
        )
    return problem(f"{head}: widen tolerance_pp or give a prior_rate for strata without joiners", "infeasible")
