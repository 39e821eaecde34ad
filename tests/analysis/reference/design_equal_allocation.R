# Reference numbers: an equal-allocation stratified sample from a panel, weighted by
# its design weights d = N_h / E[n_h] and then raked to gender, age band and district
# population margins (what surveys.results does for an equal-allocation survey).
#
# The data are made here with a fixed seed and written into the JSON, so the Python
# test (tests/surveys/results/test_design_weights.py) weights exactly these rows.
# Two designs: svydesign(ids = ~1, weights = ~d), which is the design the Python
# package builds (weights and calibration, no strata), and svydesign(strata =, fpc =),
# the stratified design itself. Point estimates are the same; the standard errors
# of the stratified design (with its finite population correction) are written too,
# to show how far the weights-only standard errors are from it.
#   Rscript tests/analysis/reference/design_equal_allocation.R   (from the repository root)
# Written against R 4 and survey 4.1.1.
suppressMessages(library(survey))
library(jsonlite)
options(warn = 1)

num17 <- function(x) structure(paste0("[", paste(ifelse(is.finite(x), sprintf("%.17g", x), "null"),
                                                 collapse = ","), "]"), class = "json")

set.seed(20261123)
genders <- c("kvinna", "man")
bands <- c("16-34", "35-64", "65+")
districts <- c("D1", "D2")
strata <- expand.grid(gender = genders, age_group = bands, district = districts, stringsAsFactors = FALSE)
strata$eligible <- c(40, 25, 120, 90, 160, 70, 12, 30, 80, 60, 110, 45)   # N_h in the panel
n <- 120
# Equal allocation: n / H = 10 per stratum, a stratum smaller than that gives all its
# members and the rest goes round again (surveys.fielding.sampling.allocate_equal).
alloc <- rep(0, nrow(strata)); left <- n
while (left > 0) {
  open <- which(alloc < strata$eligible)
  share <- left %/% length(open)
  if (share == 0) { alloc[open[seq_len(left)]] <- alloc[open[seq_len(left)]] + 1; left <- 0; break }
  take <- pmin(share, strata$eligible[open] - alloc[open])
  alloc[open] <- alloc[open] + take; left <- left - sum(take)
}
strata$expected <- alloc   # n divides evenly here: E[n_h] = n_h
strata$stratum <- seq_len(nrow(strata))
rows <- strata[rep(strata$stratum, strata$expected), ]
# Response: older people and women answer more often.
p <- 0.35 + 0.15 * (match(rows$age_group, bands) - 1) + 0.1 * (rows$gender == "kvinna")
resp <- rows[runif(nrow(rows)) < p, ]
resp$d <- resp$eligible / resp$expected
resp$y <- as.numeric(runif(nrow(resp)) < 0.3 + 0.2 * (resp$district == "D2") + 0.1 * (resp$gender == "man"))
resp$x <- round(rnorm(nrow(resp), 50 + 10 * (match(resp$age_group, bands) - 1), 12), 1)
rownames(resp) <- NULL

pop <- list(gender = c(kvinna = 51000, man = 49000), age_group = c(`16-34` = 33000, `35-64` = 45000, `65+` = 22000),
            district = c(D1 = 64000, D2 = 36000))
margins <- list(~gender, ~age_group, ~district)
totals <- list(data.frame(gender = names(pop$gender), Freq = unname(pop$gender)),
               data.frame(age_group = names(pop$age_group), Freq = unname(pop$age_group)),
               data.frame(district = names(pop$district), Freq = unname(pop$district)))

plain <- svydesign(ids = ~1, weights = ~d, data = resp)
strat <- svydesign(ids = ~1, strata = ~stratum, fpc = ~eligible, weights = ~d, data = resp)
ctl <- list(maxit = 100, epsilon = 1e-12)
raked_plain <- rake(plain, margins, totals, control = ctl)
raked_strat <- rake(strat, margins, totals, control = ctl)

est <- function(design) {
  out <- list()
  for (v in c("y", "x")) {
    m <- svymean(as.formula(paste0("~", v)), design)
    out[[v]] <- list(estimate = num17(coef(m)), se = num17(SE(m)))
  }
  out
}
result <- list(
  note = "design_equal_allocation.R: equal-allocation sample, design weights N_h/E[n_h], rake to margins",
  data = list(gender = resp$gender, age_group = resp$age_group, district = resp$district,
              eligible = num17(resp$eligible), expected = num17(resp$expected), d = num17(resp$d),
              y = num17(resp$y), x = num17(resp$x)),
  population = lapply(pop, function(v) as.list(setNames(as.numeric(v), names(v)))),
  design_only = est(plain),
  design_only_stratified = est(strat),
  raked = c(est(raked_plain), list(weights = num17(weights(raked_plain)))),
  raked_stratified = est(raked_strat),
  unweighted = list(y = num17(mean(resp$y)), x = num17(mean(resp$x)))
)
writeLines(toJSON(result, auto_unbox = TRUE, pretty = TRUE, json_verbatim = TRUE, digits = NA),
           file.path("tests", "analysis", "reference", "design_equal_allocation.json"))
