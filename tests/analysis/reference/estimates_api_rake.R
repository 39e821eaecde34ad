# Reference numbers: apistrat's weights-only design raked to the apipop margins
# of sch.wide and comp.imp (then school type), with rake()'s defaults.
#   Rscript tests/analysis/reference/estimates_api_rake.R   (from the repository root)
source(file.path("tests", "analysis", "reference", "estimates_common.R"))
data(api)
dw <- svydesign(ids = ~1, weights = ~pw, data = api_columns(apistrat))
margins <- list(~sch.wide, ~comp.imp, ~stype)
pops <- list(as.data.frame(xtabs(~sch.wide, apipop)), as.data.frame(xtabs(~comp.imp, apipop)),
             as.data.frame(xtabs(~stype, apipop)))
drk <- rake(dw, margins, pops)
api_case("api_rake", drk,
         "rake(svydesign(ids = ~1, weights = ~pw, data = apistrat), list(~sch.wide, ~comp.imp, ~stype), apipop margins)")
