# Reference weights and standard errors for a synthetic municipality with
# empty cells, from R's survey package. Run from this folder:
#   Rscript weighting_municipality.R
#
# Three districts x two genders x five age bands (30 population cells). A
# panel of 150 respondents drawn with unequal response by age; then the cells
# (0180, kvinna, 16-29), (0182, man, 75+) and (0181, man, 75+) are emptied.
# 1. postStratify on the full cross with partial=TRUE: the three empty
#    post-strata are ignored, the weights sum to the population of the rest.
# 2. The same cross with 65-74 and 75+ merged (recoded in R; collapse= in
#    Python): one empty cell is left, still partial=TRUE.
# 3. rake() on gender, merged age band and district x gender
#    (maxit=100, epsilon=1e-12, so that the reference is converged IPF and not
#    R's default stopping point).
# The design starts from equal weights N/n.
source("weighting_helpers.R")

set.seed(20261122)
districts <- c("0180", "0181", "0182")
genders <- c("kvinna", "man")
ages <- c("16-29", "30-44", "45-64", "65-74", "75+")
pop <- expand.grid(gender = genders, age_group = ages, district = districts, stringsAsFactors = FALSE)
pop$Freq <- round(runif(nrow(pop), 300, 2500))
propensity <- c(`16-29` = 0.5, `30-44` = 0.8, `45-64` = 1.2, `65-74` = 1.5, `75+` = 0.6)
picks <- sample(nrow(pop), 170, replace = TRUE, prob = pop$Freq * propensity[pop$age_group])
panel <- pop[picks, c("gender", "age_group", "district")]
empty <- (panel$district == "0180" & panel$gender == "kvinna" & panel$age_group == "16-29") |
         (panel$district == "0182" & panel$gender == "man" & panel$age_group == "75+") |
         (panel$district == "0181" & panel$gender == "man" & panel$age_group == "75+")
panel <- panel[!empty, ]
rownames(panel) <- NULL
panel$score <- round(runif(nrow(panel), 0, 10), 1) + (panel$age_group == "75+") * 2
N <- sum(pop$Freq)
panel$w0 <- N / nrow(panel)
panel$age5 <- panel$age_group
panel$age4 <- ifelse(panel$age_group %in% c("65-74", "75+"), "65-74/75+", panel$age_group)
pop4 <- pop
pop4$age4 <- ifelse(pop4$age_group %in% c("65-74", "75+"), "65-74/75+", pop4$age_group)
pop4 <- aggregate(Freq ~ gender + age4 + district, data = pop4, FUN = sum)

dp <- svydesign(ids = ~1, weights = ~w0, data = panel)
run <- function(design, code) {
  list(r = code, weights = num(weights(design)), estimates = estimates(design, "score"))
}
cases <- list()
popx <- pop; names(popx)[names(popx) == "age_group"] <- "age5"
code <- 'postStratify(dp, ~gender + age5 + district, popx, partial = TRUE)'
cases$poststratify_partial <- run(suppressWarnings(eval(parse(text = code))), code)
code <- 'postStratify(dp, ~gender + age4 + district, pop4, partial = TRUE)'
cases$poststratify_collapsed_partial <- run(suppressWarnings(eval(parse(text = code))), code)
pop.gender <- aggregate(Freq ~ gender, data = pop, FUN = sum)
pop.age4 <- aggregate(Freq ~ age4, data = pop4, FUN = sum)
pop.dg <- aggregate(Freq ~ district + gender, data = pop, FUN = sum)
code <- 'rake(dp, list(~gender, ~age4, ~district + gender), list(pop.gender, pop.age4, pop.dg), control = list(maxit = 100, epsilon = 1e-12))'
cases$rake_collapsed <- run(eval(parse(text = code)), code)

write_case("weighting_municipality.json", list(
  r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
  data = list(panel = frame(panel[, c("gender", "age_group", "district", "score")])),
  targets = list(gender_age_district = list(variables = c("gender", "age_group", "district"),
                                            labels = lapply(seq_len(nrow(pop)), function(i) unlist(pop[i, 1:3])),
                                            counts = num(pop$Freq))),
  cases = cases))
cat("n =", nrow(panel), " empty cells:", sum(!(interaction(pop$gender, pop$age_group, pop$district) %in%
    interaction(panel$gender, panel$age_group, panel$district))), "\n")
