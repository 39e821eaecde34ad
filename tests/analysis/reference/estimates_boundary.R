# Reference numbers for shares of exactly 0 % and 100 %: the Korn & Graubard
# (1998) Clopper-Pearson interval with an effective sample size.
#
# svyciprop(method = "beta") computes
#     n.eff <- coef(m) * (1 - coef(m)) / vcov(m)
#     n.eff <- n.eff * (qt(alpha/2, nrow(design) - 1) / qt(alpha/2, degf(design)))^2
#     ci    <- c(qbeta(alpha/2, n.eff * p, n.eff * (1 - p) + 1),
#                qbeta(1 - alpha/2, n.eff * p + 1, n.eff * (1 - p)))
# At p = 0 or 1 the linearization variance is 0, so n.eff = 0/0 = NaN and
# survey 4.1.1 returns the interval (NaN, NaN): the design effect of a share
# with no variation is undefined. analysis.estimates then takes the effective
# sample size from the weights instead (Kish 1965: n / deff_Kish =
# (sum w)^2 / sum w^2 over the answering respondents of the domain) and keeps
# everything else of svyciprop's formula (the degrees-of-freedom factor, the
# qbeta limits). This script records both: what svyciprop says (NaN) and the
# interval from svyciprop's own formula with the Kish n.eff. For the
# unweighted design it also checks that the interval is binom.test's exact
# Clopper-Pearson interval.
#
# Three cases of one synthetic panel ("Bingeby", 12 panelists, one without an
# answer, all travel by car; nobody anywhere answers "annat"; a 0/1 option
# nobody in Bingeby ticks and one everybody there ticks):
#   boundary_srs      svydesign(ids = ~1, weights = ~one)
#   boundary_weights  svydesign(ids = ~1, weights = ~base_weight)
#   boundary_rake     rake(boundary_weights, list(~district, ~gender), margins)
#
#   Rscript tests/analysis/reference/estimates_boundary.R   (from the repository root)
# Written against R 4 and survey 4.1.1.
source(file.path("tests", "analysis", "reference", "estimates_common.R"))

ALPHA <- 0.05
LEVELS <- c("bil", "buss", "cykel", "annat")

boundary_data <- function() {
  set.seed(20261123)
  n <- 150
  district <- c(rep("Bingeby", 12), rep("Centrum", 80), rep("Norr", 58))
  gender <- sample(c("K", "M"), n, replace = TRUE)
  age_band <- sample(c("18-39", "40-64", "65+"), n, replace = TRUE, prob = c(0.3, 0.4, 0.3))
  q_resa <- ifelse(district == "Bingeby", "bil",
                   sample(c("bil", "buss", "cykel"), n, replace = TRUE, prob = c(0.5, 0.3, 0.2)))
  q_resa[c(7, 40, 100)] <- NA  # one of them in Bingeby
  opt_natt <- ifelse(district == "Bingeby", 0, as.numeric(runif(n) < 0.3))
  opt_dag <- ifelse(district == "Bingeby", 1, as.numeric(runif(n) < 0.6))
  opt_natt[c(3, 60)] <- NA
  opt_dag[c(3, 60)] <- NA
  base_weight <- c("18-39" = 140, "40-64" = 75, "65+" = 45)[age_band] * ifelse(district == "Bingeby", 1.5, 1)
  data.frame(district, gender, age_band, q_resa, opt_natt, opt_dag, one = 1,
             base_weight = unname(base_weight), stringsAsFactors = FALSE)
}

# The domains of `by` as svyby forms them (estimates_common.R's domains()).
boundary_records <- function(design, check_binom) {
  out <- list()
  for (dd in domains(design, c("district", "gender"))) {
    d <- dd$d
    w <- weights(d)  # 0 for the rows a calibrated design keeps outside the domain
    shares <- list()
    for (lv in LEVELS) shares[[lv]] <- list(variable = "q_resa", level = lv,
                                           y = as.numeric(d$variables$q_resa == lv),
                                           f = fml("as.numeric(q_resa == '", lv, "')"))
    for (v in c("opt_natt", "opt_dag")) shares[[v]] <- list(variable = v, level = NULL,
                                                          y = d$variables[[v]], f = fml(v))
    for (s in shares) {
      ok <- !is.na(s$y) & w != 0
      p <- sum(w[ok] * s$y[ok]) / sum(w[ok])
      if (!(p == 0 || p == 1)) next
      m <- svymean(s$f, d, na.rm = TRUE)
      stopifnot(coef(m)[[1]] == p, SE(m)[[1]] == 0)
      beta_r <- ciprop(s$f, d, "beta")  # survey 4.1.1: NaN NaN
      n_kish <- sum(w[ok])^2 / sum(w[ok]^2)
      n_eff <- n_kish * (qt(ALPHA / 2, nrow(d) - 1) / qt(ALPHA / 2, degf(d)))^2
      ci <- c(qbeta(ALPHA / 2, n_eff * p, n_eff * (1 - p) + 1),
              qbeta(1 - ALPHA / 2, n_eff * p + 1, n_eff * (1 - p)))
      rec <- c(list(stat = "boundary", variable = s$variable), if (!is.null(s$level)) list(level = s$level),
               dom_fields(dd), list(
                 estimate = p, se = SE(m)[[1]], n = sum(ok), df = degf(d), nrow = nrow(d),
                 svyciprop_beta_low = beta_r[1], svyciprop_beta_high = beta_r[2],
                 n_kish = n_kish, deff_kish = sum(ok) / n_kish, n_eff = n_eff,
                 ci_low = ci[1], ci_high = ci[2]))
      if (check_binom) {
        exact <- binom.test(round(p * sum(ok)), sum(ok), conf.level = 1 - ALPHA)$conf.int
        stopifnot(isTRUE(all.equal(as.numeric(exact), ci, tolerance = 1e-12)))
        rec <- c(rec, list(binom_low = exact[1], binom_high = exact[2]))
      }
      out <- c(out, list(rec))
    }
  }
  out
}

boundary_case <- function(case, design, description, check_binom = FALSE) {
  # the usual records too (svymean, svyciprop for the interior shares); svymean
  # of a factor with one level stops with an error, so Bingeby has no q_resa record
  recs <- records_for(design, by = c("district", "gender"), binaries = c("opt_natt", "opt_dag"))
  for (dd in domains(design, c("district", "gender"))) {
    if (length(unique(na.omit(dd$d$variables$q_resa))) > 1) recs <- c(recs, rec_props(dd, "q_resa"))
  }
  write_case(case, list(case = case, description = description,
                        generated_by = "tests/analysis/reference/estimates_boundary.R",
                        r_version = R.version.string, survey_version = as.character(packageVersion("survey")),
                        alpha = ALPHA, data = design$variables, design = design_description(design),
                        records = c(recs, boundary_records(design, check_binom))))
}

panel <- boundary_data()
d1 <- svydesign(ids = ~1, weights = ~one, data = panel)
boundary_case("boundary_srs", d1, "svydesign(ids = ~1, weights = ~one, data = boundary_data())", check_binom = TRUE)
dw <- svydesign(ids = ~1, weights = ~base_weight, data = panel)
boundary_case("boundary_weights", dw, "svydesign(ids = ~1, weights = ~base_weight, data = boundary_data())")
drk <- rake(dw, list(~district, ~gender),
            list(data.frame(district = c("Bingeby", "Centrum", "Norr"), Freq = c(900, 6100, 4000)),
                 data.frame(gender = c("K", "M"), Freq = c(5600, 5400))),
            control = list(maxit = 50, epsilon = 1e-12))
boundary_case("boundary_rake", drk, "rake(boundary_weights, list(~district, ~gender), population margins)")
