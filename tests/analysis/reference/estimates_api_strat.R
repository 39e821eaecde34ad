# Reference numbers: apistrat's weights (they differ by school type) as a
# weights-only single-stage design, strata and fpc removed.
#   Rscript tests/analysis/reference/estimates_api_strat.R   (from the repository root)
source(file.path("tests", "analysis", "reference", "estimates_common.R"))
data(api)
dw <- svydesign(ids = ~1, weights = ~pw, data = api_columns(apistrat))
api_case("api_strat", dw, "svydesign(ids = ~1, weights = ~pw, data = apistrat)")
