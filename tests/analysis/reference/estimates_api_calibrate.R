# Reference numbers: apisrs's weights-only design calibrated (linear, GREG) to
# the apipop totals of school type and api99, as in ?calibrate.
#   Rscript tests/analysis/reference/estimates_api_calibrate.R   (from the repository root)
source(file.path("tests", "analysis", "reference", "estimates_common.R"))
data(api)
dsrs <- svydesign(ids = ~1, weights = ~pw, data = api_columns(apisrs))
pop.totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = sum(apipop$api99))
dcal <- calibrate(dsrs, ~stype + api99, pop.totals)
api_case("api_calibrate", dcal,
         "calibrate(svydesign(ids = ~1, weights = ~pw, data = apisrs), ~stype + api99, apipop totals)")
