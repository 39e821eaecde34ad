# Reference numbers: apisrs as a weights-only single-stage design (fpc removed).
#   Rscript tests/analysis/reference/estimates_api_srs.R   (from the repository root)
source(file.path("tests", "analysis", "reference", "estimates_common.R"))
data(api)
dsrs <- svydesign(ids = ~1, weights = ~pw, data = api_columns(apisrs))
api_case("api_srs", dsrs, "svydesign(ids = ~1, weights = ~pw, data = apisrs)")
