# Reference weights and standard errors for respondents whose gender has no
# population figures ("annan", "uppger_ej": the uncovered rule of
# analysis.weighting), from R's survey package. Run from this folder:
#   Rscript weighting_uncovered.R
#
# Data: the README's worked example, read here from the raw files and not from
# anything the Python code produced: the 600 respondents of
# tests/analysis/data/example_respondents.csv (4 with gender "annan"), SCB's
# Gotland 2020 export (panel/demo_data, single years summed over civil status
# into the bands 16-24 ... 75+) and the district x gender counts of
# tests/analysis/data/example_districts.csv.
#
# The rule, written as calibration constraints. For district c, covered gender
# g (kvinna, man) and s_gc = T_gc / T_c the population share of g in c, an
# uncovered respondent of c counts as s_gc of a member of (c, g):
#     x_gc = [district = c, gender = g] + s_gc [district = c, gender uncovered]
# with the known population total T_gc. Summed over g this is the indicator of
# c (total T_c, met by all respondents of c), and among covered respondents
# W_gc / sum_g W_gc = s_gc. No constraint names the uncovered respondents' own
# total: it is estimated from the sample, so the annan domain has a sampling
# variance. The age bands are ordinary margin indicators.
#
# 1. rake_age_district_gender: the README's margins (age_group and
#    district x gender; the gender margin is implied by district x gender), as
#    calibrate(calfun = "raking") on model.matrix(~ 0 + age_group) and the
#    x_gc (one x_gc dropped: it is the sum of the age indicators minus the
#    others). Python's rake() converges to the same weights (its IPF step is the
#    I-projection on each margin's constraints), and so does
#    weight(method = "raking_ratio").
# 2. poststratify_district_gender: the district x gender margin alone, as
#    calibrate(calfun = "raking") on the x_gc; Python's poststratify().
# 3. linear_age_district_gender: case 1 with calfun = "linear" (GREG); Python's
#    calibrate(calfun = "linear").
#
# The design starts from equal weights N / n. Reference numbers per case: the
# weights; svymean(~q2) and svymean(~q1) (factor shares) with na.rm = TRUE;
# svymean(~gender) (the population shares of kvinna, man and annan); and, in
# every gender domain (design[gender == value, ], as svyby forms it), svymean
# of q1 (shares), q2 and q3_bus. SEs are calibration-aware (svyrecvar's
# qr.resid on the calibration model).
source("weighting_helpers.R")

respondents <- read.csv("../data/example_respondents.csv", colClasses = "character",
                        na.strings = c("", "NA"), encoding = "UTF-8")
for (v in c("q2", "q3_bus", "q3_bike", "q3_car")) respondents[[v]] <- as.numeric(respondents[[v]])
respondents$q1 <- factor(respondents$q1)
respondents$gender <- factor(respondents$gender)
districts <- read.csv("../data/example_districts.csv", colClasses = c("character", "character", "numeric"))

scb <- read.csv2("../../../panel/demo_data/BE0101N1_20210513-223812_SE214-excerpt.csv", skip = 2,
                 fileEncoding = "latin1", check.names = FALSE, colClasses = "character")
years <- as.integer(sub("[^0-9].*$", "", scb[[3]]))
population <- as.numeric(scb[[5]])
bands <- c("16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+")
band <- as.character(cut(years, c(15, 24, 34, 44, 54, 64, 74, Inf), labels = bands))
age_totals <- tapply(population[!is.na(band)], band[!is.na(band)], sum)[bands]
stopifnot(sum(age_totals) == sum(districts$population))

uncovered <- respondents$gender %in% c("annan", "uppger_ej")
district_total <- tapply(districts$population, districts$district, sum)
x_names <- character(0)
x_totals <- numeric(0)
for (i in seq_len(nrow(districts))) {
  c_ <- districts$district[i]; g <- districts$gender[i]
  name <- paste0("x_", g, "_", c_)
  share <- districts$population[i] / district_total[[c_]]
  in_c <- respondents$district == c_
  respondents[[name]] <- as.numeric(in_c & respondents$gender == g) + share * (in_c & uncovered)
  x_names <- c(x_names, name)
  x_totals <- c(x_totals, districts$population[i])
}
names(x_totals) <- x_names

N <- sum(districts$population)
respondents$w0 <- N / nrow(respondents)
dp <- svydesign(ids = ~1, weights = ~w0, data = respondents)

records <- function(design) {
  one <- function(f, d) {
    m <- svymean(f, d, na.rm = TRUE)
    list(names = names(coef(m)), estimate = num(coef(m)), se = num(SE(m)))
  }
  out <- list(overall = list(q2 = one(~q2, design), q1 = one(~q1, design), gender = one(~gender, design)),
              domains = list())
  for (lv in c("kvinna", "man", "annan")) {
    d <- design[design$variables$gender == lv, ]
    out$domains[[lv]] <- list(q1 = one(~q1, d), q2 = one(~q2, d), q3_bus = one(~q3_bus, d))
  }
  out
}

cases <- list()
keep <- x_names[-length(x_names)]
f_rake <- as.formula(paste("~ 0 + age_group +", paste(keep, collapse = " + ")))
age_pop <- setNames(as.numeric(age_totals), paste0("age_group", bands))
pop_rake <- c(age_pop, x_totals[keep])
code <- 'calibrate(dp, f_rake, population = pop_rake, calfun = "raking", maxit = 100, epsilon = 1e-13)'
d1 <- eval(parse(text = code))
stopifnot(identical(colnames(model.matrix(f_rake, respondents)), names(pop_rake)))
cases$rake_age_district_gender <- c(list(r = paste(code, "with f_rake =", deparse1(f_rake)),
                                         weights = num(weights(d1))), records(d1))

f_ps <- as.formula(paste("~ 0 +", paste(x_names, collapse = " + ")))
code <- 'calibrate(dp, f_ps, population = x_totals, calfun = "raking", maxit = 100, epsilon = 1e-13)'
d2 <- eval(parse(text = code))
cases$poststratify_district_gender <- c(list(r = paste(code, "with f_ps =", deparse1(f_ps)),
                                             weights = num(weights(d2))), records(d2))

code <- 'calibrate(dp, f_rake, population = pop_rake, calfun = "linear")'
d3 <- eval(parse(text = code))
cases$linear_age_district_gender <- c(list(r = paste(code, "with f_rake =", deparse1(f_rake)),
                                           weights = num(weights(d3))), records(d3))

write_case("weighting_uncovered.json", list(
  r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  ids = respondents$id,
  targets = list(age_group = list(labels = bands, counts = num(age_totals)),
                 district_gender = list(district = districts$district, gender = districts$gender,
                                        counts = num(districts$population))),
  cases = cases))
cat("n =", nrow(respondents), " uncovered:", sum(uncovered), " N =", N, "\n")
