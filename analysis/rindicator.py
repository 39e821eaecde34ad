"""R-indicators: how evenly the invited responded (Schouten, Cobben & Bethlehem 2009).

Response propensities ρ_i are estimated with a logistic regression (statsmodels
GLM, Binomial family, logit link) of the response indicator on the main effects
of gender, age band and district of *everyone invited*. The R-indicator is
``R = 1 − 2·S(ρ̂)``: 1 when everyone had the same propensity to respond (the
response is representative with respect to these variables), lower the more the
propensities vary. Partial R-indicators (Schouten, Shlomo & Skinner 2011) say
which variable, and which category, causes the variation.

The population the indicator describes is the set of invited panel members (or,
with design weights, the panel they were sampled from), not the municipality:
how the panel itself compares with the population is
:func:`analysis.representativeness.compare_to_population`'s question.

Example:
    >>> import pandas as pd
    >>> invited = pd.DataFrame({
    ...     "gender": ["kvinna"] * 10 + ["man"] * 10,
    ...     "responded": [1] * 6 + [0] * 4 + [1] * 3 + [0] * 7,
    ... })
    >>> result = r_indicator(invited, variables=["gender"])
    >>> round(result.r, 4), round(result.cv, 4)
    (0.6922, 0.342)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

import numpy as np
import pandas as pd

from analysis.representativeness import (
    Weights,
    _require_columns,
    _require_frame,
    _string_labels,
    _weights_array,
)

__all__ = ["RIndicator", "RIndicatorNote", "RIndicatorWarning", "r_indicator"]

SeMethod = Literal["linearization", "bootstrap"]

#: With at most this many distinct design weights the invited are treated as a
#: stratified simple random sample, one stratum per weight value (as RISQ does).
_MAX_WEIGHT_STRATA = 20

#: Iterations the propensity model's fit may take.
_MAX_ITERATIONS = 100

#: S(ρ̂) below this counts as zero (propensities equal up to the model's convergence).
_EQUAL_PROPENSITIES = 1e-7


class RIndicatorNote(str):
    """A note of :func:`r_indicator`: its English text (it is a ``str``) with what it is
    about as data, for callers that say it in their readers' words.

    ``code`` and ``params``:

    * ``"no_respondents"`` / ``"only_respondents"``: categories of a variable where nobody /
      everybody responded, so their fitted propensity is 0 / 1 and the standard error is
      unreliable (``variable``, ``categories``: every such category, as strings);
    * ``"dependent_dummies"``: the model's dummies are linearly dependent (no params);
    * ``"equal_propensities"``: S(ρ̂) = 0, so the linearized standard error is undefined
      (no params);
    * ``"not_converged"``: the propensity model did not converge (``iterations``);
    * ``"bootstrap_not_converged"``: some bootstrap refits did not converge (``count``,
      ``replicates``, ``iterations``).
    """

    code: str
    params: dict[str, object]

    def __new__(cls, text: str, code: str, **params: object) -> RIndicatorNote:
        note = super().__new__(cls, text)
        note.code = code
        note.params = params
        return note

    def __reduce__(self) -> tuple[object, ...]:  # copies and pickles keep code and params
        return (_note, (str(self), self.code, self.params))

    def __repr__(self) -> str:
        return f"RIndicatorNote({str(self)!r}, code={self.code!r}, params={self.params!r})"


def _note(text: str, code: str, params: dict[str, object]) -> RIndicatorNote:
    return RIndicatorNote(text, code, **params)


class RIndicatorWarning(UserWarning):
    """The warning :func:`r_indicator` raises for each of its notes; ``note`` is the
    :class:`RIndicatorNote` (``str(warning)`` is its English text)."""

    def __init__(self, note: RIndicatorNote) -> None:
        super().__init__(note)
        self.note = note


def _warn(note: RIndicatorNote, stacklevel: int) -> None:
    warnings.warn(RIndicatorWarning(note), stacklevel=stacklevel + 1)


@dataclass(frozen=True, eq=False)
class RIndicator:
    """R-indicator, coefficient of variation and partial R-indicators of a survey's response.

    Attributes:
        r: R = 1 − 2·S(ρ̂), the unadjusted R-indicator of Schouten et al. (2009).
        r_adjusted: 1 − 2·sqrt(max(S²(ρ̂) − bias, 0)), the bias-adjusted R-indicator.
        se: standard error of ``r`` (and, as in RISQ, of ``r_adjusted``).
        ci_low, ci_high: Wald interval ``r ± z·se``, the upper end capped at 1.
        ci_adjusted_low, ci_adjusted_high: the same around ``r_adjusted``.
        cv, cv_adjusted, cv_se: coefficient of variation S(ρ̂)/ρ̄ (also the
            maximal absolute standardised bias of a respondent mean,
            (1 − R)/(2ρ̄)), its bias-adjusted value and standard error.
        mean_propensity: ρ̄, design-weighted mean propensity (= response rate
            when all design weights are equal).
        sd_propensity: S(ρ̂).
        bias: estimated bias of S²(ρ̂) (response-model part minus design part).
        variance_components: the pieces of var(S²(ρ̂)): ``"linear"``,
            ``"quadratic"`` and ``"design"`` (zero when everyone was invited).
        population_size: N = Σ d_i (the number invited when no design weights).
        propensities: ρ̂_i, one per invited person, in the input's row order.
        coefficients: logistic-regression coefficients (log-odds).
        partial_variables: per variable: ``unconditional`` P_u, ``conditional``
            P_c and the partial CVs ``unconditional_cv`` = P_u/ρ̄,
            ``conditional_cv`` = P_c/ρ̄.
        partial_categories: per variable and category: ``invited``,
            ``responded``, ``response_rate`` (design-weighted), ``mean_propensity``,
            ``unconditional`` P_u,k (signed: negative = under-represented among
            respondents) and ``conditional`` P_c,k (non-negative).
        notes: warnings raised while computing (separation, rank, S = 0,
            convergence), as :class:`RIndicatorNote` (English text, ``code`` and
            ``params``); each is also raised as a :class:`RIndicatorWarning`.
    """

    r: float
    r_adjusted: float
    se: float
    ci_low: float
    ci_high: float
    ci_adjusted_low: float
    ci_adjusted_high: float
    cv: float
    cv_adjusted: float
    cv_se: float
    mean_propensity: float
    sd_propensity: float
    bias: float
    variance_components: Mapping[str, float]
    n_invited: int
    n_responded: int
    population_size: float
    variables: tuple[str, ...]
    se_method: str
    alpha: float
    propensities: np.ndarray = field(repr=False)
    coefficients: pd.Series = field(repr=False)
    partial_variables: pd.DataFrame = field(repr=False)
    partial_categories: pd.DataFrame = field(repr=False)
    notes: tuple[RIndicatorNote, ...] = ()


def r_indicator(
    invited: pd.DataFrame,
    responded: str | Sequence[bool] | np.ndarray | pd.Series = "responded",
    *,
    variables: Sequence[str] = ("gender", "age_group", "district"),
    weights: Weights = None,
    alpha: float = 0.05,
    se_method: SeMethod = "linearization",
    n_bootstrap: int = 500,
    seed: int | np.random.Generator = 0,
    counts: str | Sequence[int] | np.ndarray | pd.Series | None = None,
) -> RIndicator:
    """R-indicator, CV and partial R-indicators from logistic response propensities.

    **Propensities.** ρ̂_i = logit⁻¹(x_i'β̂), where x_i holds an intercept and
    dummies for every category of ``variables`` but the first, and β̂ maximises
    the design-weighted Bernoulli likelihood Σ d_i [r_i log ρ_i + (1 − r_i) log(1 − ρ_i)].
    With N = Σ d_i::

        ρ̄  = Σ d_i ρ̂_i / N
        S² = Σ d_i (ρ̂_i − ρ̄)² / (N − 1)
        R  = 1 − 2 S                 CV = S / ρ̄

    **Design weights.** ``weights`` are design weights d_i = 1/π_i (≥ 1) when
    the invited are a sample from the panel; leave them out when everyone
    concerned was invited (d_i = 1): the indicator then describes the invited
    themselves and has no sampling-design variance. As in RISQ, the design
    variance treats units with equal weights as one stratum sampled by simple
    random sampling without replacement (finite population correction
    1 − n_h/N_h, N_h = Σ_h d_i), and, with more than 20 distinct weights, uses
    the with-replacement formula.

    **Standard error** (``se_method="linearization"``, the analytic
    approximation of Shlomo, Skinner & Schouten 2012, as in the RISQ code). With
    z_i = ρ̂_i(1 − ρ̂_i) x_i, z̄ = Σ d_i z_i / N and Σ = J⁻¹ K J⁻¹ the
    covariance of β̂ (J = Σ d_i ρ̂_i(1−ρ̂_i) x_i x_i', K = Σ d_i² ρ̂_i(1−ρ̂_i) x_i x_i';
    Σ = J⁻¹ when d_i = 1)::

        g = 2 Σ d_i (ρ̂_i − ρ̄) z_i / (N − 1)
        B = Σ d_i (z_i − z̄)(z_i − z̄)' / (N − 1)
        var(S²) ≈ g'Σg + 2 tr(BΣBΣ) + V_d(Σ d_i ((ρ̂_i − ρ̄)² − S²)) / (N − 1)²
        se(R)   = sqrt(var(S²) / S²)

    The first term is the delta-method variance from estimating β, the second
    the variance of the quadratic term that dominates when R is near 1, the third
    the sampling-design variance V_d of a Horvitz–Thompson total. When S = 0
    (below 1e-7) the delta method is undefined and ``se`` is NaN. Near R = 1 the
    linearization overstates the spread (in simulations with truly uniform
    response, about twice the actual SD); the bootstrap is closer there.
    ``se_method="bootstrap"`` instead draws ``n_bootstrap`` parametric
    replicates r*_i ~ Bernoulli(ρ̂_i) with a seeded generator, refits the model
    and takes the standard deviation of R* (and CV*), adding the analytic design
    term. Both describe the randomness of response given the invited.

    **Bias adjustment.** S²(ρ̂) overstates S²(ρ) because β̂ is estimated:
    ``bias = tr(BΣ) − V_d(Σ d_i ρ̂_i) / (N(N − 1))`` (the second term is the
    design bias, zero without design weights) and
    ``r_adjusted = 1 − 2 sqrt(max(S² − bias, 0))``. This follows Shlomo, Skinner &
    Schouten (2012) and RISQ, except that the model term is centred (tr(BΣ)
    includes −N z̄'Σz̄, which RISQ leaves out): for a saturated model under
    uniform response it then equals the exact expectation (K − 1)ρ(1 − ρ)/(N − 1)
    of S², where RISQ would subtract Kρ(1 − ρ)/N.

    **Partial R-indicators** (computed from the same ρ̂). For variable Z with
    categories k (N_k = Σ_k d_i, ρ̄_k the mean propensity in k) and for the
    cells c of the cross-classification of all *other* variables::

        P_u(Z, k) = (ρ̄_k − ρ̄) · sqrt(N_k / (N − 1))          signed
        P_u(Z)    = sqrt(Σ_k P_u(Z, k)²)                       between-category SD
        P_c(Z, k) = sqrt(Σ_{i∈k} d_i (ρ̂_i − ρ̄_c(i))² / (N − 1))
        P_c(Z)    = sqrt(Σ_k P_c(Z, k)²)                       within-cell SD

    so P_u(Z)² + S²_within(Z) = S², and P_c(Z) = S when Z is the only variable.
    (Schouten, Shlomo & Skinner divide by N; we use N − 1 throughout so these
    identities are exact. The difference is a factor sqrt(N/(N − 1)).)

    Args:
        invited: one row per eligible invited person (leave out the ineligible,
            see :func:`analysis.representativeness.response_rates`).
        responded: column name or array of 0/1 (or bool): 1 = counts as a
            response (usually a complete interview; include partials for RR2).
        variables: categorical columns of the propensity model.
        weights: design weights (column name or array); None means all 1.
        alpha: 1 − confidence level of the intervals.
        se_method: ``"linearization"`` (default) or ``"bootstrap"``.
        n_bootstrap: bootstrap replicates (``se_method="bootstrap"`` only).
        seed: seed or generator for the bootstrap.
        counts: how many invited persons each row stands for (column name or
            array of whole numbers ≥ 1), for rows grouped by their categories and
            response (for example counted by a database). Same figures as the rows
            repeated that many times; ``propensities`` are then one per row. Not
            with design weights or the bootstrap.

    Returns:
        :class:`RIndicator`.

    References:
        Schouten, B., Cobben, F. & Bethlehem, J. (2009). Indicators for the
        representativeness of survey response. Survey Methodology 35(1), 101–113.
        Schouten, B., Shlomo, N. & Skinner, C. (2011). Indicators for monitoring
        and improving representativeness of response. Journal of Official
        Statistics 27(2), 231–253.
        Shlomo, N., Skinner, C. & Schouten, B. (2012). Estimation of an indicator
        of the representativeness of survey response. Journal of Statistical
        Planning and Inference 142(1), 201–211.
        de Heij, V., Schouten, B. & Shlomo, N. (2015). RISQ manual 2.1.

    Example:
        Ten women of whom 6 answered and ten men of whom 3 answered: the
        model is saturated, ρ̂ = 0.6 and 0.3, ρ̄ = 0.45 and
        S² = (10·0.15² + 10·0.15²)/19 = 0.023684, so R = 1 − 2·0.153897 = 0.692206.

        >>> import pandas as pd
        >>> invited = pd.DataFrame({
        ...     "gender": ["kvinna"] * 10 + ["man"] * 10,
        ...     "responded": [1] * 6 + [0] * 4 + [1] * 3 + [0] * 7,
        ... })
        >>> result = r_indicator(invited, variables=["gender"])
        >>> round(result.r, 6)
        0.692206
        >>> result.partial_categories[["category", "unconditional"]].round(4).to_numpy().tolist()
        [['kvinna', 0.1088], ['man', -0.1088]]
    """
    invited = _require_frame(invited, "invited")
    n = len(invited)
    if n == 0:
        raise ValueError("invited has no rows")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1, for example 0.05")
    if se_method not in ("linearization", "bootstrap"):
        raise ValueError("se_method must be 'linearization' or 'bootstrap'")
    variables = tuple(variables)
    if not variables or len(set(variables)) != len(variables):
        raise ValueError("variables must name one or more distinct columns")
    _require_columns(invited, variables, "invited")
    y = _response_indicator(invited, responded)
    persons = _counts(invited, counts)
    if persons is None:
        d = _design_weights(invited, weights)
    else:
        if weights is not None or se_method != "linearization":
            raise ValueError("counts work with the linearization standard error and without design weights")
        d = persons.astype(float)
        n = int(persons.sum())
    n_responded = int(y.sum()) if persons is None else int(persons[y == 1].sum())
    if n_responded == 0 or n_responded == n:
        which = "nobody" if n_responded == 0 else "everyone"
        raise ValueError(
            f"{which} responded: every propensity is {0 if n_responded == 0 else 1}, "
            "so there is no response pattern to measure"
        )

    notes: list[RIndicatorNote] = []
    X, columns, codes, categories = _design_matrix(invited, variables)
    notes.extend(_separation_notes(y, codes, categories, variables, d if persons is not None else None))
    if np.linalg.matrix_rank(_distinct_rows(X)[0]) < X.shape[1]:  # the distinct rows span the same space
        notes.append(RIndicatorNote(
            "the model's dummies are linearly dependent (a category is determined by others); "
            "propensities are still unique, the covariance of β uses a pseudo-inverse",
            "dependent_dummies",
        ))
    params, rho, converged = _fit(y, X, d)
    if not converged:
        notes.append(RIndicatorNote(
            f"the propensity model did not converge in {_MAX_ITERATIONS} iterations",
            "not_converged", iterations=_MAX_ITERATIONS,
        ))
    for note in notes:
        _warn(note, stacklevel=2)

    pieces = _indicator_pieces(rho, X, d) if persons is None else _pieces(rho, X, d, design_weights=False)
    S2 = pieces["S2"]
    mean = pieces["mean"]
    S = float(np.sqrt(S2))
    r = 1.0 - 2.0 * S
    cv = S / mean
    bias = pieces["bias"]
    S2_adjusted = max(S2 - bias, 0.0)
    r_adjusted = 1.0 - 2.0 * float(np.sqrt(S2_adjusted))
    cv_adjusted = float(np.sqrt(S2_adjusted)) / mean

    components = {
        "linear": pieces["var_linear"],
        "quadratic": pieces["var_quadratic"],
        "design": pieces["var_design"],
    }
    if se_method == "linearization":
        if S > _EQUAL_PROPENSITIES:
            se = float(np.sqrt(sum(components.values()) / S2))
            cv_se = float(np.sqrt(pieces["cv_var"]))
        else:
            se = cv_se = float("nan")
            note = RIndicatorNote(
                "all propensities are equal (S = 0 up to rounding): the linearized standard "
                "error is undefined; use se_method='bootstrap'",
                "equal_propensities",
            )
            _warn(note, stacklevel=2)
            notes.append(note)
    else:
        if n_bootstrap < 2:
            raise ValueError("n_bootstrap must be at least 2")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        r_star, cv_star, failed = _parametric_bootstrap(rho, X, d, params, n_bootstrap, rng)
        if failed:
            note = RIndicatorNote(
                f"{failed} of {n_bootstrap} bootstrap refits of the propensity model did not converge "
                f"in {_MAX_ITERATIONS} iterations",
                "bootstrap_not_converged", count=failed, replicates=n_bootstrap, iterations=_MAX_ITERATIONS,
            )
            _warn(note, stacklevel=2)
            notes.append(note)
        design_r = components["design"] / S2 if S > _EQUAL_PROPENSITIES else 0.0
        se = float(np.sqrt(np.var(r_star, ddof=1) + design_r))
        cv_se = float(np.sqrt(np.var(cv_star, ddof=1) + pieces["cv_var_design"]))

    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    partial_variables, partial_categories = _partial_indicators(
        rho, y, d, codes, categories, variables, mean, persons
    )
    return RIndicator(
        r=r,
        r_adjusted=r_adjusted,
        se=se,
        ci_low=r - z * se,
        ci_high=min(r + z * se, 1.0),
        ci_adjusted_low=r_adjusted - z * se,
        ci_adjusted_high=min(r_adjusted + z * se, 1.0),
        cv=cv,
        cv_adjusted=cv_adjusted,
        cv_se=cv_se,
        mean_propensity=mean,
        sd_propensity=S,
        bias=bias,
        variance_components=components,
        n_invited=n,
        n_responded=n_responded,
        population_size=float(d.sum()),
        variables=variables,
        se_method=se_method,
        alpha=alpha,
        propensities=rho,
        coefficients=pd.Series(params, index=columns, name="log_odds"),
        partial_variables=partial_variables,
        partial_categories=partial_categories,
        notes=tuple(notes),
    )


def _response_indicator(
    invited: pd.DataFrame, responded: str | Sequence[bool] | np.ndarray | pd.Series
) -> np.ndarray:
    if isinstance(responded, str):
        _require_columns(invited, [responded], "invited")
        values = invited[responded]
    else:
        if isinstance(responded, pd.Series) and not responded.index.equals(invited.index):
            raise ValueError("responded is indexed differently from invited; pass .to_numpy()")
        values = pd.Series(np.asarray(responded))
        if len(values) != len(invited):
            raise ValueError(f"responded must have one value per invited person ({len(invited)})")
    if values.isna().any():
        raise ValueError("responded has missing values; use 1 for a response and 0 otherwise")
    y = values.to_numpy(dtype=float)
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("responded must be 0/1 or True/False")
    return y


def _counts(invited: pd.DataFrame, counts: str | Sequence[int] | np.ndarray | pd.Series | None) -> np.ndarray | None:
    if counts is None:
        return None
    if isinstance(counts, str):
        _require_columns(invited, [counts], "invited")
        values = pd.to_numeric(invited[counts], errors="coerce").to_numpy(dtype=float)
    else:
        values = np.asarray(counts, dtype=float)
    if values.shape != (len(invited),):
        raise ValueError(f"counts must have one value per row of invited ({len(invited)})")
    if not np.all(np.isfinite(values)) or np.any(values < 1) or np.any(values != np.round(values)):
        raise ValueError("counts must be whole numbers of invited persons, 1 or more")
    return values.astype(np.int64)


def _design_weights(invited: pd.DataFrame, weights: Weights) -> np.ndarray:
    d = _weights_array(invited, weights, "invited")
    if d is None:
        return np.ones(len(invited))
    if np.any(d < 1.0 - 1e-9):
        raise ValueError(
            "weights are design weights, inverse inclusion probabilities (≥ 1): Σ weights is "
            "the size of the panel the invited were sampled from; leave them out when "
            "everyone was invited"
        )
    return d


def _design_matrix(
    invited: pd.DataFrame, variables: Sequence[str]
) -> tuple[np.ndarray, list[str], list[np.ndarray], list[list[str]]]:
    """Intercept plus treatment dummies (first category is the reference)."""
    n = len(invited)
    blocks = [np.ones((n, 1))]
    columns = ["intercept"]
    codes: list[np.ndarray] = []
    categories: list[list[str]] = []
    for variable in variables:
        labels = _string_labels(invited, variable, "invited")
        if labels.isna().any():
            raise ValueError(
                f"invited[{variable!r}] has {int(labels.isna().sum())} missing values; "
                "give them an explicit category (e.g. 'uppger_ej') or leave those rows out"
            )
        column = invited[variable]
        if isinstance(column.dtype, pd.CategoricalDtype):
            raw = column.cat.codes.to_numpy()
            used = np.unique(raw)
            code = np.searchsorted(used, raw).astype(np.intp)
            order = [str(c) for c in column.cat.categories[used]]
        else:
            code, uniques = pd.factorize(labels, sort=True)
            code = code.astype(np.intp)
            order = [str(c) for c in uniques]
        codes.append(code)
        categories.append(order)
        if len(order) > 1:
            blocks.append((code[:, None] == np.arange(1, len(order))[None, :]).astype(float))
            columns.extend(f"{variable}[{c}]" for c in order[1:])
    return np.hstack(blocks), columns, codes, categories


def _separation_notes(
    y: np.ndarray, codes: list[np.ndarray], categories: list[list[str]], variables: Sequence[str],
    persons: np.ndarray | None = None,
) -> list[RIndicatorNote]:
    notes = []
    for variable, code, order in zip(variables, codes, categories, strict=True):
        invited = np.bincount(code, weights=persons, minlength=len(order))
        answered = np.bincount(code, weights=y if persons is None else y * persons, minlength=len(order))
        none = [order[k] for k in range(len(order)) if answered[k] == 0]
        every = [order[k] for k in range(len(order)) if answered[k] == invited[k]]
        for kind, cats in (("no respondents", none), ("only respondents", every)):
            if cats:
                notes.append(RIndicatorNote(
                    f"{variable} {', '.join(map(repr, cats[:5]))} ha{'s' if len(cats) == 1 else 've'} "
                    f"{kind}: the fitted propensity there is {0 if kind.startswith('no') else 1} "
                    "and the standard error is unreliable; merge small categories",
                    kind.replace(" ", "_"), variable=str(variable), categories=tuple(cats),
                ))
    return notes


def _fit(
    y: np.ndarray, X: np.ndarray, d: np.ndarray, start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, bool]:
    # imported here: statsmodels takes a second to import, and ``import analysis`` should not
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM

    # The covariates are categorical, so many rows share one row of X: fit the grouped
    # binomial on the distinct rows (successes = Σ d_i r_i, trials = Σ d_i per row). Its
    # likelihood is the ungrouped one up to a constant, so β̂ is the same MLE; a fit on
    # ≤ a few hundred cells instead of every invited person.
    cells, inverse = _distinct_rows(X)
    trials = np.bincount(inverse, weights=d, minlength=len(cells))
    successes = np.bincount(inverse, weights=d * y, minlength=len(cells))
    share = np.divide(successes, trials, out=np.zeros_like(trials), where=trials > 0)
    model = GLM(share, cells, family=Binomial(), freq_weights=trials)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation is reported by _separation_notes
        result = model.fit(start_params=start, maxiter=_MAX_ITERATIONS)
    params = np.asarray(result.params, dtype=float)
    return params, np.asarray(result.fittedvalues, dtype=float)[inverse], bool(result.converged)


def _distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of X and, per row of X, the index of its distinct row."""
    if X.shape[0] == 0:
        return X, np.zeros(0, dtype=np.intp)
    contiguous = np.ascontiguousarray(X)
    keys = contiguous.view(np.dtype((np.void, contiguous.dtype.itemsize * contiguous.shape[1]))).ravel()
    _unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return contiguous[first], inverse.reshape(-1).astype(np.intp)


def _total_variance(values: np.ndarray, d: np.ndarray) -> float:
    """Design variance V_d of the Horvitz–Thompson total Σ d_i y_i (RISQ's convention)."""
    distinct, stratum = np.unique(d, return_inverse=True)
    if distinct.size <= _MAX_WEIGHT_STRATA:
        total = 0.0
        for h in range(distinct.size):
            y = values[stratum == h]
            n_h = y.size
            if n_h < 2:
                continue
            N_h = distinct[h] * n_h
            total += N_h**2 * max(1.0 - n_h / N_h, 0.0) * float(np.var(y, ddof=1)) / n_h
        return float(total)
    n = d.size
    t = d * values
    return float(n / (n - 1) * np.sum((t - t.mean()) ** 2))


def _indicator_pieces(rho: np.ndarray, X: np.ndarray, d: np.ndarray) -> dict[str, float]:
    if X.shape[0] > 1 and np.all(d == 1.0):
        # Without design weights every sum below is over persons whose propensity and
        # covariates are those of their row of X: sum over the distinct rows, each
        # times its number of persons (the design terms are 0: one stratum, all invited).
        cells, inverse = _distinct_rows(X)
        if 2 * cells.shape[0] < X.shape[0]:
            first = np.empty(cells.shape[0], dtype=np.intp)
            first[inverse] = np.arange(inverse.size)
            return _pieces(rho[first], cells, np.bincount(inverse, minlength=cells.shape[0]).astype(float),
                           design_weights=False)
    return _pieces(rho, X, d, design_weights=True)


def _pieces(rho: np.ndarray, X: np.ndarray, d: np.ndarray, *, design_weights: bool) -> dict[str, float]:
    """The pieces of :func:`r_indicator`; ``d`` are design weights, or (``design_weights``
    False) how many persons with weight 1 each row stands for."""
    N = float(d.sum())
    if N <= 1:
        raise ValueError("the invited population must be larger than one person")
    mean = float(d @ rho / N)
    dev = rho - mean
    S2 = float(d @ dev**2 / (N - 1))
    w = rho * (1.0 - rho)
    Z = w[:, None] * X
    J = X.T @ ((d * w)[:, None] * X)
    K = X.T @ (((d * d if design_weights else d) * w)[:, None] * X)
    J_inv = np.linalg.pinv(J)
    Sigma = J_inv @ K @ J_inv
    z_bar = d @ Z / N
    Zc = Z - z_bar
    B = Zc.T @ (d[:, None] * Zc) / (N - 1)
    g = 2.0 * (d * dev) @ Z / (N - 1)
    BS = B @ Sigma
    var_linear = float(g @ Sigma @ g)
    var_quadratic = float(2.0 * np.trace(BS @ BS))
    var_design = float(_total_variance(dev**2 - S2, d) / (N - 1) ** 2) if design_weights else 0.0
    bias = float(np.trace(BS)) - (_total_variance(rho, d) / (N * (N - 1)) if design_weights else 0.0)
    out = {
        "N": N,
        "mean": mean,
        "S2": S2,
        "bias": bias,
        "var_linear": var_linear,
        "var_quadratic": var_quadratic,
        "var_design": var_design,
        "cv_var": float("nan"),
        "cv_var_design": 0.0,
    }
    if S2 > 0:
        S = np.sqrt(S2)
        cv = S / mean
        # CV = S/ρ̄: dCV = dS²/(2Sρ̄) − (CV/ρ̄) dρ̄, with dρ̄ ≈ z̄'(β̂ − β) from the model.
        a = g / (2.0 * S * mean) - (cv / mean) * z_bar
        u = (dev**2 - S2) / ((N - 1) * 2.0 * S * mean) - (cv / mean) * dev / N
        cv_var_design = _total_variance(u, d) if design_weights else 0.0
        out["cv_var_design"] = cv_var_design
        out["cv_var"] = float(a @ Sigma @ a) + var_quadratic / (4.0 * S2 * mean**2) + cv_var_design
    return out


def _parametric_bootstrap(
    rho: np.ndarray,
    X: np.ndarray,
    d: np.ndarray,
    params: np.ndarray,
    n_bootstrap: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int]:
    """R* and CV* from responses redrawn as Bernoulli(ρ̂_i) and a refitted model, and how
    many refits did not converge."""
    N = float(d.sum())
    failed = 0
    r_star = np.empty(n_bootstrap)
    cv_star = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        y_star = (rng.random(rho.size) < rho).astype(float)
        if y_star.min() == y_star.max():
            rho_star = np.full(rho.size, y_star[0])
        else:
            _, rho_star, converged = _fit(y_star, X, d, start=params)
            failed += not converged
        mean_star = float(d @ rho_star / N)
        S_star = float(np.sqrt(d @ (rho_star - mean_star) ** 2 / (N - 1)))
        r_star[b] = 1.0 - 2.0 * S_star
        cv_star[b] = S_star / mean_star if mean_star > 0 else np.nan
    return r_star, cv_star[np.isfinite(cv_star)], failed


def _partial_indicators(
    rho: np.ndarray,
    y: np.ndarray,
    d: np.ndarray,
    codes: list[np.ndarray],
    categories: list[list[str]],
    variables: Sequence[str],
    mean: float,
    persons: np.ndarray | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    N = float(d.sum())
    variable_rows: dict[str, list[object]] = {
        "variable": [], "unconditional": [], "conditional": [], "unconditional_cv": [], "conditional_cv": []
    }
    category_columns: dict[str, list[np.ndarray]] = {
        "invited": [], "responded": [], "response_rate": [], "mean_propensity": [],
        "unconditional": [], "conditional": [],
    }
    category_variable: list[str] = []
    category_label: list[str] = []
    for j, (variable, code, order) in enumerate(zip(variables, codes, categories, strict=True)):
        k = len(order)
        size = np.bincount(code, weights=d, minlength=k)
        category_mean = np.bincount(code, weights=d * rho, minlength=k) / size
        unconditional = (category_mean - mean) * np.sqrt(size / (N - 1))
        cell = np.zeros(rho.size, dtype=np.int64)
        for i, other in enumerate(codes):
            if i != j:  # mixed-radix code of the cross-classification of the other variables
                cell = cell * len(categories[i]) + other
        _, cell = np.unique(cell, return_inverse=True)
        cell_mean = np.bincount(cell, weights=d * rho) / np.bincount(cell, weights=d)
        within = d * (rho - cell_mean[cell]) ** 2
        conditional = np.sqrt(np.bincount(code, weights=within, minlength=k) / (N - 1))
        p_u = float(np.sqrt(np.sum(unconditional**2)))
        p_c = float(np.sqrt(np.sum(conditional**2)))
        for name, value in (
            ("variable", variable),
            ("unconditional", p_u),
            ("conditional", p_c),
            ("unconditional_cv", p_u / mean),
            ("conditional_cv", p_c / mean),
        ):
            variable_rows[name].append(value)
        category_variable.extend([variable] * k)
        category_label.extend(order)
        if persons is None:
            category_columns["invited"].append(np.bincount(code, minlength=k))
            category_columns["responded"].append(np.bincount(code, weights=y, minlength=k).astype(np.int64))
        else:
            category_columns["invited"].append(np.bincount(code, weights=persons, minlength=k).astype(np.int64))
            category_columns["responded"].append(
                np.rint(np.bincount(code, weights=y * persons, minlength=k)).astype(np.int64))
        category_columns["response_rate"].append(np.bincount(code, weights=d * y, minlength=k) / size)
        category_columns["mean_propensity"].append(category_mean)
        category_columns["unconditional"].append(unconditional)
        category_columns["conditional"].append(conditional)
    partial_categories = pd.DataFrame(
        {
            "variable": pd.array(category_variable, dtype="string"),
            "category": pd.array(category_label, dtype="string"),
            **{name: np.concatenate(parts) for name, parts in category_columns.items()},
        }
    )
    partial_variables = pd.DataFrame(variable_rows)
    partial_variables["variable"] = partial_variables["variable"].astype("string")
    return partial_variables, partial_categories
