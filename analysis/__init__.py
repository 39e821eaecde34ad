"""Pure survey statistics for Medborgarpanel.

Population targets from SCB files, weighting (post-stratification, raking,
calibration, trimming), representativeness and weighted estimates with
calibration-aware standard errors. Imports numpy, pandas, scipy and statsmodels
only: never Flask, SQLAlchemy, ``panel`` or ``surveys``.
"""

# Weighting (analysis.weighting, analysis.trimming, analysis.design).
from analysis.design import (  # noqa: E402
    Adjustment,
    Calibration,
    PostStratification,
    Raking,
    RakingMargin,
    SurveyDesign,
)
from analysis.trimming import TrimmedWeights, trim_weights  # noqa: E402
from analysis.weighting import (  # noqa: E402
    DEFAULT_UNCOVERED,
    METHODS,
    UNCOVERED_RULE,
    ConvergenceError,
    ConvergenceWarning,
    MarginFit,
    Trim,
    TrimmingRecord,
    ValidationIssue,
    ValidationReport,
    WeightingResult,
    calibrate,
    check_targets,
    poststratify,
    rake,
    weight,
    weight_summary,
)

# representativeness (analysis.representativeness, analysis.rindicator, analysis.recruitment).
from analysis.recruitment import RecruitmentPlan, plan_recruitment  # noqa: E402
from analysis.representativeness import (  # noqa: E402
    DISPOSITIONS,
    GENDERS_WITHOUT_POPULATION,
    ComparisonSummary,
    PopulationComparison,
    ResponseRates,
    compare_to_population,
    response_rates,
)
from analysis.rindicator import RIndicator, r_indicator  # noqa: E402

# population targets
from analysis.targets import (  # noqa: E402
    DEFAULT_AGE_BANDS,
    AgeBands,
    PopulationTable,
    Tolerance,
    read_population,
)

# estimates
from analysis.crosstab import CrossTab, RaoScottTest, weighted_crosstab  # noqa: E402
from analysis.estimates import (  # noqa: E402
    OVERALL,
    REPORT_COLUMNS,
    DomainDifference,
    Estimate,
    Question,
    domain_difference,
    estimate_report,
    survey_mean,
    survey_proportions,
    survey_total,
)
from analysis.suppression import SuppressedTable, suppress_report, suppress_table  # noqa: E402
