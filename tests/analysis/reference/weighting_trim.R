# Reference weights and standard errors for trimming, from R's survey package.
# Run from this folder: Rscript weighting_trim.R
#
# 1. ?trimWeights example on the API data with a one-stage design (ids=~1):
#    linear calibration on stype + api99, then trimWeights(lower=20, upper=45),
#    not strict and strict. trimWeights() keeps the design's postStrata, so the
#    standard errors still use the calibration residuals of the untrimmed
#    weights; our SurveyDesign must do the same.
# 2. Rake then trimWeights (postStrata of class "raking" kept, psw untrimmed).
# 3. A small hand-written panel of 40 respondents (gender, age band, district)
#    raked to gender, age band and district x gender, then trimmed at 400 with
#    strict=TRUE and raked again, repeated until every weight is at most
#    400 * (1 + 1e-6) -- what Trim(upper=400, strict=True, reweight=True) does.
#    Each rake() appends another "raking" entry to postStrata.
#    The panel design starts from equal weights N/n so that rake()'s epsilon
#    (< 1: a fraction of the total weight) is relative to the population.
#
# Tight controls (maxit=100, epsilon=1e-12) so that the references are the
# converged IPF solution and not R's default stopping point (maxit=10,
# epsilon=1 unit of weight).
source("weighting_helpers.R")
data(api)

clus <- apiclus1[, c("stype", "sch.wide", "comp.imp", "api00", "api99", "enroll", "pw")]
d <- svydesign(ids = ~1, weights = ~pw, data = clus)
ctl <- list(maxit = 100, epsilon = 1e-12)
pop.totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = 3914069)
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))

run <- function(design, code, vars) {
  list(r = code, weights = num(weights(design)), estimates = estimates(design, vars))
}

cases <- list()
dclus1g <- calibrate(d, ~stype + api99, pop.totals)
code <- 'trimWeights(calibrate(d, ~stype + api99, pop.totals), lower = 20, upper = 45)'
cases$api_linear_trim <- run(eval(parse(text = code)), code, c("api00", "enroll"))
code <- 'trimWeights(calibrate(d, ~stype + api99, pop.totals), lower = 20, upper = 45, strict = TRUE)'
cases$api_linear_trim_strict <- run(eval(parse(text = code)), code, c("api00", "enroll"))
code <- 'trimWeights(rake(d, list(~stype, ~sch.wide), list(pop.types, pop.schwide), control = ctl), upper = 40)'
cases$api_rake_trim <- run(eval(parse(text = code)), code, c("api00", "enroll"))

panel <- data.frame(
  gender = c("kvinna", "kvinna", "man", "kvinna", "man", "kvinna", "kvinna", "man", "kvinna", "kvinna",
             "man", "kvinna", "kvinna", "man", "kvinna", "man", "kvinna", "kvinna", "man", "kvinna",
             "kvinna", "man", "kvinna", "kvinna", "man", "kvinna", "man", "kvinna", "kvinna", "man",
             "kvinna", "kvinna", "man", "kvinna", "man", "kvinna", "kvinna", "man", "kvinna", "man"),
  age_group = c("35-64", "65+", "16-34", "35-64", "65+", "16-34", "35-64", "16-34", "65+", "35-64",
               "65+", "35-64", "16-34", "35-64", "65+", "35-64", "35-64", "65+", "16-34", "16-34",
               "65+", "35-64", "35-64", "16-34", "65+", "16-34", "35-64", "65+", "35-64", "65+",
               "35-64", "65+", "35-64", "16-34", "16-34", "35-64", "65+", "65+", "35-64", "35-64"),
  district = c("0101", "0101", "0101", "0102", "0101", "0101", "0101", "0102", "0102", "0101",
              "0102", "0102", "0101", "0101", "0101", "0101", "0102", "0101", "0102", "0101",
              "0102", "0102", "0101", "0102", "0101", "0102", "0102", "0101", "0101", "0102",
              "0102", "0101", "0101", "0101", "0101", "0102", "0101", "0102", "0102", "0102"),
  trust = c(4, 3, 2, 5, 3, 4, 4, 1, 3, 5, 2, 4, 3, 3, 4, 2, 5, 3, 1, 4,
            3, 2, 4, 5, 3, 4, 2, 3, 4, 3, 5, 2, 3, 4, 2, 4, 3, 3, 5, 2),
  stringsAsFactors = TRUE)
pop.gender <- data.frame(gender = c("kvinna", "man"), Freq = c(5100, 4900))
pop.age <- data.frame(age_group = c("16-34", "35-64", "65+"), Freq = c(3000, 4800, 2200))
pop.dg <- data.frame(district = c("0101", "0101", "0102", "0102"), gender = c("kvinna", "man", "kvinna", "man"),
                     Freq = c(2600, 2500, 2500, 2400))
panel$w0 <- 10000 / nrow(panel)
dp <- svydesign(ids = ~1, weights = ~w0, data = panel)
margins <- list(~gender, ~age_group, ~district + gender)
pops <- list(pop.gender, pop.age, pop.dg)
raked <- rake(dp, margins, pops, control = ctl)
cases$panel_rake <- run(raked, "rake(dp, margins, pops, control = ctl)", "trust")
cases$panel_rake_trim <- run(trimWeights(raked, upper = 400), "trimWeights(raked, upper = 400)", "trust")
des <- raked
rounds <- 0
if (any(weights(des) > 400)) repeat {
  des <- trimWeights(des, upper = 400, strict = TRUE)
  rounds <- rounds + 1
  des <- rake(des, margins, pops, control = ctl)
  if (all(weights(des) <= 400 * (1 + 1e-6)) || rounds >= 100) break
}
cases$panel_trim_rerake <- run(des, "repeat { trimWeights(strict = TRUE, upper = 400); rake(...) } until max <= 400 (1 + 1e-6)", "trust")
cases$panel_trim_rerake$rounds <- rounds

write_case("weighting_trim.json", list(
  r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  data = list(apiclus1 = frame(clus), panel = frame(panel[, c("gender", "age_group", "district", "trust")])),
  targets = list(stype = list(variables = "stype", labels = c("E", "H", "M"), counts = num(c(4421, 755, 1018))),
                 sch.wide = list(variables = "sch.wide", labels = c("No", "Yes"), counts = num(c(1072, 5122))),
                 api99 = scalar(3914069),
                 gender = list(variables = "gender", labels = c("kvinna", "man"), counts = num(pop.gender$Freq)),
                 age_group = list(variables = "age_group", labels = as.character(pop.age$age_group), counts = num(pop.age$Freq)),
                 district_gender = list(variables = c("district", "gender"),
                                        labels = lapply(1:4, function(i) c(pop.dg$district[i], pop.dg$gender[i])),
                                        counts = num(pop.dg$Freq))),
  cases = cases))
cat("rounds:", rounds, " max raked weight:", max(weights(raked)), "\n")
