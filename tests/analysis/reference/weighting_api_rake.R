# Reference weights and standard errors for raking, from R's survey package.
# Run from this folder: Rscript weighting_api_rake.R  (writes weighting_api_rake.json)
#
# Lumley (2010), section 7.3 / ?rake: rake the California API cluster sample to
# school type and sch.wide, with one-stage designs (ids=~1) because our
# SurveyDesign is single-stage with replacement. Also a two-way margin, two
# two-way margins, raking by calibrate(calfun="raking"), and apistrat whose
# weights vary within raking cells.
#
# Tight controls: rake() defaults to maxit=10, epsilon=1 (an absolute change of
# one unit of weight), which can stop well before the margins hold; with
# epsilon=1e-12 (< 1: a fraction of the total weight) and maxit=100 the
# reference weights are the converged IPF solution to ~1e-13, so a 1e-8
# comparison tests the method and not R's stopping rule. calibrate() gets
# epsilon=1e-12 for the same reason.
source("weighting_helpers.R")
data(api)

clus <- apiclus1[, c("stype", "sch.wide", "comp.imp", "api00", "api99", "enroll", "pw")]
strat <- apistrat[, c("stype", "sch.wide", "comp.imp", "api00", "api99", "enroll", "pw")]
d <- svydesign(ids = ~1, weights = ~pw, data = clus)
dstrat <- svydesign(ids = ~1, weights = ~pw, data = strat)
ctl <- list(maxit = 100, epsilon = 1e-12)

pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
pop.table <- xtabs(~stype + sch.wide, apipop)
pop.table2 <- xtabs(~stype + comp.imp, apipop)
pop.imp <- data.frame(comp.imp = c("No", "Yes"), Freq = c(1712, 4482))
pop.schwide.all <- as.data.frame(xtabs(~sch.wide, apipop))
pop.imp.all <- as.data.frame(xtabs(~comp.imp, apipop))

tab <- function(t) {
  t <- as.data.frame(t)
  vars <- setdiff(names(t), "Freq")
  list(variables = vars, labels = lapply(seq_len(nrow(t)), function(i) as.character(unlist(t[i, vars]))),
       counts = num(t$Freq))
}

run <- function(design, code) {
  list(r = code, weights = num(weights(design)), estimates = estimates(design, c("api00", "enroll")))
}

cases <- list()
code <- 'rake(d, list(~stype, ~sch.wide), list(pop.types, pop.schwide), control = ctl)'
cases$rake_stype_schwide <- run(eval(parse(text = code)), code)
code <- 'rake(d, list(~stype + sch.wide, ~comp.imp), list(pop.table, pop.imp), control = ctl)'
cases$rake_twoway_imp <- run(eval(parse(text = code)), code)
code <- 'rake(d, list(~stype + sch.wide, ~stype + comp.imp), list(pop.table, pop.table2), control = ctl)'
cases$rake_two_twoways <- run(eval(parse(text = code)), code)
code <- 'calibrate(d, ~stype + sch.wide, pop = c(6194, 755, 1018, 5122), calfun = "raking", epsilon = 1e-12)'
cases$calibrate_raking_stype_schwide <- run(eval(parse(text = code)), code)
code <- 'rake(dstrat, list(~sch.wide, ~comp.imp), list(pop.schwide.all, pop.imp.all), control = ctl)'
cases$strat_rake_schwide_imp <- run(eval(parse(text = code)), code)

write_case("weighting_api_rake.json", list(
  r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  data = list(apiclus1 = frame(clus), apistrat = frame(strat)),
  targets = list(stype = tab(pop.types), sch.wide = tab(pop.schwide), stype_sch.wide = tab(pop.table),
                 stype_comp.imp = tab(pop.table2), comp.imp = tab(pop.imp),
                 sch.wide_all = tab(pop.schwide.all), comp.imp_all = tab(pop.imp.all)),
  cases = cases))
