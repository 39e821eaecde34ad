# Reference weights and standard errors for post-stratification and
# calibration, from R's survey package: the documented examples of
# ?postStratify and ?calibrate on the California API data, with one-stage
# designs (ids=~1) because our SurveyDesign is single-stage with replacement.
# Run from this folder: Rscript weighting_api_calibrate.R
#
# epsilon=1e-12 in calibrate(): the default 1e-7 (on |misfit| / (1 + |total|))
# stops Newton while weights are still ~1e-8 from the solution; the tighter
# value makes the references the converged solution, so a 1e-8 comparison
# tests the method and not R's stopping rule. Linear calibration without
# bounds is solved exactly (regcalibrate) and takes no epsilon.
source("weighting_helpers.R")
data(api)

clus <- apiclus1[, c("stype", "sch.wide", "comp.imp", "api00", "api99", "enroll", "pw")]
strat <- apistrat[, c("stype", "sch.wide", "comp.imp", "api00", "api99", "enroll", "pw")]
d <- svydesign(ids = ~1, weights = ~pw, data = clus)
dstrat <- svydesign(ids = ~1, weights = ~pw, data = strat)

pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.table <- xtabs(~stype + sch.wide, apipop)
pop.strat <- xtabs(~sch.wide + comp.imp, apipop)
pop.totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018)

run <- function(design, code) {
  list(r = code, weights = num(weights(design)), estimates = estimates(design, c("api00", "enroll")))
}

cases <- list()
code <- 'postStratify(d, ~stype, pop.types)'
cases$poststratify_stype <- run(eval(parse(text = code)), code)
code <- 'postStratify(d, ~stype + sch.wide, pop.table)'
cases$poststratify_stype_schwide <- run(eval(parse(text = code)), code)
code <- 'postStratify(dstrat, ~sch.wide + comp.imp, pop.strat)'
cases$strat_poststratify_schwide_imp <- run(eval(parse(text = code)), code)
code <- 'calibrate(d, ~stype, pop.totals)'
cases$linear_stype <- run(eval(parse(text = code)), code)
code <- 'calibrate(d, ~stype + sch.wide, c(pop.totals, sch.wideYes = 5122))'
cases$linear_stype_schwide <- run(eval(parse(text = code)), code)
code <- 'calibrate(d, ~stype + api99, c(pop.totals, api99 = 3914069))'
cases$linear_stype_api99 <- run(eval(parse(text = code)), code)
code <- 'calibrate(d, ~stype + api99, c(pop.totals, api99 = 3914069), bounds = c(0.6, 1.6), epsilon = 1e-12)'
cases$truncated_linear_stype_api99 <- run(eval(parse(text = code)), code)
code <- 'calibrate(d, ~stype + api99, c(pop.totals, api99 = 3914069), calfun = "raking", epsilon = 1e-12)'
cases$raking_stype_api99 <- run(eval(parse(text = code)), code)
code <- 'calibrate(d, ~stype + api99, c(pop.totals, api99 = 3914069), calfun = cal.logit, bounds = c(0.5, 2.5), epsilon = 1e-12)'
cases$logit_stype_api99 <- run(eval(parse(text = code)), code)
code <- 'calibrate(d, ~stype + sch.wide, c(pop.totals, sch.wideYes = 5122), calfun = "logit", bounds = c(0.7, 1.7), epsilon = 1e-12)'
cases$logit_stype_schwide <- run(eval(parse(text = code)), code)
code <- 'calibrate(dstrat, ~stype + sch.wide, c(pop.totals, sch.wideYes = 5122), calfun = "logit", bounds = c(0.8, 1.3), epsilon = 1e-12)'
cases$strat_logit_stype_schwide <- run(eval(parse(text = code)), code)

write_case("weighting_api_calibrate.json", list(
  r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  data = list(apiclus1 = frame(clus), apistrat = frame(strat)),
  targets = list(stype = list(variables = "stype", labels = c("E", "H", "M"), counts = num(c(4421, 755, 1018))),
                 sch.wide = list(variables = "sch.wide", labels = c("No", "Yes"), counts = num(c(1072, 5122))),
                 stype_sch.wide = list(variables = c("stype", "sch.wide"),
                                       labels = lapply(seq_len(6), function(i) as.character(unlist(as.data.frame(pop.table)[i, 1:2]))),
                                       counts = num(as.data.frame(pop.table)$Freq)),
                 sch.wide_comp.imp = list(variables = c("sch.wide", "comp.imp"),
                                          labels = lapply(seq_len(4), function(i) as.character(unlist(as.data.frame(pop.strat)[i, 1:2]))),
                                          counts = num(as.data.frame(pop.strat)$Freq)),
                 api99 = scalar(3914069)),
  cases = cases))
