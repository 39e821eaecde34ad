# Reference numbers for tests/analysis/test_representativeness.py and test_rindicator.py.
#
# Run from the repository root:
#   Rscript tests/analysis/reference/representativeness_reference.R
# It writes tests/analysis/reference/representativeness_reference.json next to this file.
#
# What is independent of the Python code:
#   * the propensity model is fitted by R's glm(), not statsmodels;
#   * chi-square goodness of fit comes from R's chisq.test();
#   * the R-indicator, its bias adjustment, its linearized variance and the partial
#     R-indicators are re-implemented here from the formulas in the docstring of
#     analysis/rindicator.py (Schouten, Cobben & Bethlehem 2009; Schouten, Shlomo &
#     Skinner 2011; Shlomo, Skinner & Schouten 2012), in plain matrix algebra.
# The data are drawn here with a fixed seed and stored in the JSON, so Python reads the
# very same rows.
suppressPackageStartupMessages(library(jsonlite))

args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))

# ---------------------------------------------------------------- composition ----
observed <- c(kvinna = 130, man = 95)                 # members with a population figure
population <- c(kvinna = 30152, man = 29972)          # Gotland 2020 (Källa: SCB)
chi <- chisq.test(observed, p = population / sum(population))
composition <- list(
  observed = as.list(observed),
  population = as.list(population),
  chi_square = unname(chi$statistic),
  dof = unname(chi$parameter),
  p_value = chi$p.value,
  expected = as.list(chi$expected),
  dissimilarity = 0.5 * sum(abs(observed / sum(observed) - population / sum(population)))
)

age_observed <- c("16-24" = 3, "25-44" = 40, "45-64" = 52, "65+" = 25)
age_population <- c("16-24" = 5500, "25-44" = 13000, "45-64" = 16000, "65+" = 15000)
age_chi <- suppressWarnings(chisq.test(age_observed, p = age_population / sum(age_population)))
composition_age <- list(
  observed = as.list(age_observed),
  population = as.list(age_population),
  chi_square = unname(age_chi$statistic),
  dof = unname(age_chi$parameter),
  p_value = age_chi$p.value,
  expected = as.list(age_chi$expected)
)

# ------------------------------------------------------------------ R-indicator ----
set.seed(20261101)
n <- 400
invited <- data.frame(
  gender = sample(c("kvinna", "man"), n, replace = TRUE),
  age_group = sample(c("16-24", "45-54", "75+"), n, replace = TRUE, prob = c(0.3, 0.4, 0.3)),
  district = sample(c("0101", "0102", "0103"), n, replace = TRUE),
  stringsAsFactors = FALSE
)
eta <- -0.4 + 0.35 * (invited$gender == "kvinna") - 0.6 * (invited$age_group == "16-24") +
  0.5 * (invited$age_group == "75+") + 0.3 * (invited$district == "0103")
invited$responded <- as.integer(runif(n) < plogis(eta))
# Design weights of a sample stratified by district (N_h / n_h), for the weighted case.
invited$design_weight <- c("0101" = 2.5, "0102" = 4, "0103" = 1.25)[invited$district]

total_variance <- function(y, d) {
  # Design variance of the HT total sum(d * y): one SRSWOR stratum per distinct weight.
  v <- 0
  for (value in unique(d)) {
    yh <- y[d == value]
    nh <- length(yh)
    if (nh < 2) next
    Nh <- value * nh
    v <- v + Nh^2 * max(1 - nh / Nh, 0) * var(yh) / nh
  }
  v
}

r_indicator <- function(data, d) {
  data$gender <- factor(data$gender)
  data$age_group <- factor(data$age_group)
  data$district <- factor(data$district)
  fit <- suppressWarnings(glm(responded ~ gender + age_group + district,
                              family = binomial, data = data, weights = d))
  rho <- unname(fitted(fit))
  X <- model.matrix(fit)
  N <- sum(d)
  m <- sum(d * rho) / N
  dev <- rho - m
  S2 <- sum(d * dev^2) / (N - 1)
  w <- rho * (1 - rho)
  Z <- w * X
  J <- t(X) %*% (d * w * X)
  K <- t(X) %*% (d^2 * w * X)
  Sigma <- solve(J) %*% K %*% solve(J)
  zbar <- colSums(d * Z) / N
  Zc <- sweep(Z, 2, zbar)
  B <- t(Zc) %*% (d * Zc) / (N - 1)
  g <- 2 * colSums(d * dev * Z) / (N - 1)
  var_linear <- drop(t(g) %*% Sigma %*% g)
  BS <- B %*% Sigma
  var_quadratic <- 2 * sum(diag(BS %*% BS))
  var_design <- total_variance(dev^2 - S2, d) / (N - 1)^2
  bias <- sum(diag(BS)) - total_variance(rho, d) / (N * (N - 1))
  S <- sqrt(S2)
  cv <- S / m
  a <- g / (2 * S * m) - (cv / m) * zbar
  u <- (dev^2 - S2) / ((N - 1) * 2 * S * m) - (cv / m) * dev / N
  cv_var <- drop(t(a) %*% Sigma %*% a) + var_quadratic / (4 * S2 * m^2) + total_variance(u, d)

  partial_cat <- list()
  partial_var <- list()
  vars <- c("gender", "age_group", "district")
  for (v in vars) {
    cats <- levels(data[[v]])
    others <- setdiff(vars, v)
    cell <- interaction(data[others], drop = TRUE)
    cell_mean <- ave(d * rho, cell, FUN = sum) / ave(d, cell, FUN = sum)
    pu <- pc <- numeric(length(cats))
    for (k in seq_along(cats)) {
      in_k <- data[[v]] == cats[k]
      Nk <- sum(d[in_k])
      pu[k] <- (sum(d[in_k] * rho[in_k]) / Nk - m) * sqrt(Nk / (N - 1))
      pc[k] <- sqrt(sum(d[in_k] * (rho[in_k] - cell_mean[in_k])^2) / (N - 1))
    }
    partial_cat[[v]] <- list(category = cats, unconditional = pu, conditional = pc)
    partial_var[[v]] <- list(unconditional = sqrt(sum(pu^2)), conditional = sqrt(sum(pc^2)))
  }
  list(
    coefficients = as.list(coef(fit)),
    propensities_head = head(rho, 10),
    mean_propensity = m,
    S2 = S2,
    r = 1 - 2 * S,
    bias = bias,
    r_adjusted = 1 - 2 * sqrt(max(S2 - bias, 0)),
    var_linear = var_linear,
    var_quadratic = var_quadratic,
    var_design = var_design,
    se = sqrt((var_linear + var_quadratic + var_design) / S2),
    cv = cv,
    cv_se = sqrt(cv_var),
    partial_variables = partial_var,
    partial_categories = partial_cat
  )
}

result <- list(
  generated_by = "tests/analysis/reference/representativeness_reference.R",
  r_version = R.version.string,
  composition_gender = composition,
  composition_age = composition_age,
  invited = invited,
  unweighted = r_indicator(invited, rep(1, n)),
  weighted = r_indicator(invited, invited$design_weight)
)
write_json(result, file.path(here, "representativeness_reference.json"),
           digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote", file.path(here, "representativeness_reference.json"), "\n")
