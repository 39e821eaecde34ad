# Reference numbers: apistrat's weights-only design post-stratified on
# school type x sch.wide to the counts in apipop.
#   Rscript tests/analysis/reference/estimates_api_poststrat.R   (from the repository root)
source(file.path("tests", "analysis", "reference", "estimates_common.R"))
data(api)
dw <- svydesign(ids = ~1, weights = ~pw, data = api_columns(apistrat))
pop <- as.data.frame(xtabs(~stype + sch.wide, apipop))
dps <- postStratify(dw, ~stype + sch.wide, pop)
api_case("api_poststrat", dps,
         "postStratify(svydesign(ids = ~1, weights = ~pw, data = apistrat), ~stype + sch.wide, xtabs(~stype + sch.wide, apipop))")
